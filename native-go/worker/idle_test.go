package worker

import (
	"strings"
	"testing"
	"time"
)

// fakeClock is a Backoff's clock that moves only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) add(d time.Duration)     { c.t = c.t.Add(d) }
func newTestBackoff(c *fakeClock) *Backoff   { b := NewBackoff(); b.now = c.now; return b }
func closedChan() chan struct{}              { ch := make(chan struct{}); close(ch); return ch }
func signalled() chan struct{}               { ch := make(chan struct{}, 1); ch <- struct{}{}; return ch }
func sleepable(bell <-chan struct{}) Wakeups { return Wakeups{Doorbell: bell} }

func TestBackoffSpinsThenYieldsThenParksDoublingToMaxPark(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	b := newTestBackoff(clock)
	w := sleepable(make(chan struct{}))
	for i := 1; i <= DefaultIdleMaxSpins; i++ {
		b.IdleOrSleep(0, &w)
		if b.spins != i || b.yields != 0 || b.park != 0 {
			t.Fatalf("call %d: spins %d yields %d park %v; want a spin", i, b.spins, b.yields, b.park)
		}
	}
	for i := 1; i <= DefaultIdleMaxYields; i++ {
		b.IdleOrSleep(0, &w)
		if b.yields != i || b.park != 0 {
			t.Fatalf("yield %d: yields %d park %v", i, b.yields, b.park)
		}
	}
	var parks []time.Duration
	for b.park < b.MaxPark {
		b.IdleOrSleep(0, &w)
		parks = append(parks, b.park)
	}
	if parks[0] != time.Microsecond || len(parks) != 11 || parks[9] != 512*time.Microsecond || parks[10] != time.Millisecond {
		t.Errorf("parks %v; want 1µs doubling to 1ms", parks)
	}
	// At MaxPark but SleepAfter has not passed (the clock stood still): it parks, no sleep.
	if r := b.IdleOrSleep(0, &w); r != NotSlept || b.park != time.Millisecond {
		t.Errorf("before SleepAfter: %v, park %v", r, b.park)
	}
	// Work resets every phase.
	b.IdleOrSleep(1, &w)
	if b.spins != 0 || b.yields != 0 || b.park != 0 || !b.idleSince.IsZero() {
		t.Errorf("after work: spins %d yields %d park %v idleSince %v", b.spins, b.yields, b.park, b.idleSince)
	}
}

// idleUntilMaxPark runs b through its spins, yields and parks.
func idleUntilMaxPark(b *Backoff, w *Wakeups) {
	for b.park < b.MaxPark {
		b.IdleOrSleep(0, w)
	}
}

func TestBackoffSleepsOnlyAfterSleepAfterWithADoorbellAndNothingPending(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(b *Backoff, w *Wakeups)
		sleep bool
	}{
		{"idle for SleepAfter with a doorbell", func(*Backoff, *Wakeups) {}, true},
		{"no doorbell", func(_ *Backoff, w *Wakeups) { w.Doorbell = nil }, false},
		{"a handler running or a reply queued", func(_ *Backoff, w *Wakeups) { w.Pending = true }, false},
		{"sleep phase off (--idle-sleep-after 0)", func(b *Backoff, _ *Wakeups) { b.SleepAfter = 0 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1000, 0)}
			b := newTestBackoff(clock)
			b.Sleep = 5 * time.Millisecond
			w := sleepable(make(chan struct{}))
			tc.setup(b, &w)
			idleUntilMaxPark(b, &w)
			clock.add(DefaultIdleSleepAfter - time.Nanosecond)
			if r := b.IdleOrSleep(0, &w); r != NotSlept {
				t.Fatalf("slept (%v) before SleepAfter", r)
			}
			clock.add(time.Nanosecond)
			r := b.IdleOrSleep(0, &w)
			if (r == WokenByTimer) != tc.sleep || (r != NotSlept && r != WokenByTimer) {
				t.Errorf("after SleepAfter: %v, want sleep %v", r, tc.sleep)
			}
			// After a timer it sleeps on at once, until work.
			if tc.sleep {
				if r := b.IdleOrSleep(0, &w); r != WokenByTimer {
					t.Errorf("second call: %v, want another sleep", r)
				}
				b.IdleOrSleep(1, &w)
				if r := b.IdleOrSleep(0, &w); r != NotSlept {
					t.Errorf("after work: %v, want spinning again", r)
				}
			}
		})
	}
}

func TestBackoffSleepEndsOnEveryWakeSourceAndStartsOver(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(w *Wakeups)
		want WakeReason
	}{
		{"doorbell", func(w *Wakeups) { w.Doorbell = signalled() }, WokenByDoorbell},
		{"pool wake", func(w *Wakeups) { w.Work = signalled() }, WokenByWork},
		{"stop", func(w *Wakeups) { w.Stop = closedChan() }, WokenByStop},
		{"fatal", func(w *Wakeups) { w.Fatal = closedChan() }, WokenByStop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1000, 0)}
			b := newTestBackoff(clock)
			b.Sleep = time.Hour // only the wake source can end it
			w := sleepable(make(chan struct{}))
			idleUntilMaxPark(b, &w)
			clock.add(time.Second)
			tc.set(&w)
			done := make(chan WakeReason)
			go func() { done <- b.IdleOrSleep(0, &w) }()
			select {
			case r := <-done:
				if r != tc.want {
					t.Errorf("woken by %v, want %v", r, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the sleep did not end")
			}
			if b.spins != 0 || b.park != 0 || !b.idleSince.IsZero() {
				t.Errorf("after the wake-up: spins %d park %v; want the backoff started over", b.spins, b.park)
			}
		})
	}
}

func TestBackoffSleepEndsWhenTheLoopIsDue(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	b := newTestBackoff(clock)
	b.Sleep = time.Hour
	w := sleepable(make(chan struct{}))
	idleUntilMaxPark(b, &w)
	clock.add(time.Second)
	w.Until = clock.t.Add(20 * time.Millisecond) // the next announcement
	start := time.Now()
	if r := b.IdleOrSleep(0, &w); r != WokenByTimer {
		t.Fatalf("%v, want the timer", r)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("slept %v with the next announcement due in 20ms", took)
	}
}

func TestIdleOrWakeAndIdleNeverSleep(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	b := newTestBackoff(clock)
	b.Sleep = time.Hour
	for b.park < b.MaxPark {
		b.IdleOrWake(0, make(chan struct{}))
	}
	clock.add(time.Minute)
	start := time.Now()
	b.IdleOrWake(0, make(chan struct{}))
	b.Idle(0)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("IdleOrWake and Idle took %v: they slept", took)
	}
}

func TestValidateIdleSleep(t *testing.T) {
	for _, tc := range []struct {
		after, sleep time.Duration
		err          string
	}{
		{50 * time.Millisecond, 100 * time.Millisecond, ""},
		{0, 100 * time.Millisecond, ""},
		{20 * time.Millisecond, 10 * time.Second, ""},
		{19 * time.Millisecond, 100 * time.Millisecond, "at least 20ms"},
		{-time.Millisecond, 100 * time.Millisecond, "at least 20ms"},
		{50 * time.Millisecond, 0, "must be positive"},
		{50 * time.Millisecond, 11 * time.Second, "at most 10s"},
	} {
		err := ValidateIdleSleep(tc.after, tc.sleep)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("ValidateIdleSleep(%v, %v) = %v, want %q", tc.after, tc.sleep, err, tc.err)
		}
	}
}
