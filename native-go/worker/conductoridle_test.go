package worker

import (
	"testing"
	"time"
)

// idleReturns runs c.Idle(work) and reports whether it returned within limit (it is left to
// return later otherwise).
func idleReturns(c *conductorIdler, work int, limit time.Duration) (<-chan struct{}, bool) {
	done := make(chan struct{})
	go func() { c.Idle(work); close(done) }()
	select {
	case <-done:
		return done, true
	case <-time.After(limit):
		return done, false
	}
}

func TestConductorIdlerParksLongOnlyWhenNothingIsExpectedAndAPokeWakesIt(t *testing.T) {
	c := newConductorIdler()
	c.longPark.Store(int64(time.Hour)) // a long park would not end by itself in this test
	if _, ok := idleReturns(c, 0, 10*time.Second); !ok {
		t.Fatal("parked long while starting: blocking adds wait on it")
	}
	c.busyUntil.Store(0) // started long ago, nothing expected
	done, ok := idleReturns(c, 0, 100*time.Millisecond)
	if ok {
		t.Fatal("parked short with nothing expected")
	}
	c.expect(conductorAfterAdd) // an add: the driver's answer is coming
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a poke did not end the park")
	}
	if _, ok := idleReturns(c, 0, 10*time.Second); !ok {
		t.Error("parked long right after a poke")
	}
	c.busyUntil.Store(0)
	if _, ok := idleReturns(c, 1, 10*time.Second); !ok {
		t.Error("parked long right after work")
	}
	c.expect(0) // release anything left parked
}

func TestConductorIdlerParks16msOr100msInASleepingWorker(t *testing.T) {
	c := newConductorIdler()
	if d := time.Duration(c.longPark.Load()); d != 16*time.Millisecond {
		t.Errorf("idle park %v, want 16ms", d)
	}
	c.sleeping()
	if d := time.Duration(c.longPark.Load()); d != 100*time.Millisecond {
		t.Errorf("idle park of a sleeping worker %v, want 100ms", d)
	}
}
