package worker

import (
	"math"
	"sync/atomic"
	"time"
)

// aeron-go's client conductor reads the driver's answers and events (a new image, a
// publication added) and heartbeats; its idle strategy is also what blocking adds wait with.
// At a fixed 1 ms it woke a thousand times a second in an idle worker; at aeron-go's 4 ms the
// cold start waited for it. conductorIdler parks conductorShortPark while something is
// expected from the driver (the start, a publication being added, a doorbell ring, a moment
// after the conductor did work) and conductorLongPark otherwise, as Aeron's Java client does;
// conductorSleepingPark in a worker that sleeps when idle: what it must not miss there comes
// with a poke (a ring brings a new client's image, an add its answer), and heartbeats (every
// 500 ms, against a client liveness timeout of 3 s or more) do not need more. Measured on the
// 2-vCPU VM, idle worker with a doorbell: 16 ms parks 1.1-1.5 % of a core (360-490
// wake-ups/s in all threads: every timer wakes the Go scheduler's threads too), 100 ms 0.4 %.
const (
	conductorShortPark    = time.Millisecond
	conductorLongPark     = 16 * time.Millisecond
	conductorSleepingPark = 100 * time.Millisecond
	// conductorAfterWork keeps it short a little after work: a message often comes with more
	// (a publication's answer and its image). Heartbeats count as work 3 times a second.
	conductorAfterWork = 4 * time.Millisecond
	// conductorAfterAdd covers the driver's answer to an added publication (median 47 ms,
	// max 94 ms measured at load average 23).
	conductorAfterAdd = 200 * time.Millisecond
	// conductorAfterRing covers a new client's image, which may come with its first request.
	conductorAfterRing = 20 * time.Millisecond
)

type conductorIdler struct {
	base      time.Time
	longPark  atomic.Int64  // a time.Duration: the park when nothing is expected
	busyUntil atomic.Int64  // ns since base: park short until then
	poke      chan struct{} // capacity 1: cuts a park short
}

// newConductorIdler starts busy (short parks) until started is called: the worker's blocking
// adds at start wait on it.
func newConductorIdler() *conductorIdler {
	c := &conductorIdler{base: time.Now(), poke: make(chan struct{}, 1)}
	c.longPark.Store(int64(conductorLongPark))
	c.busyUntil.Store(math.MaxInt64)
	return c
}

// started ends the start's short parks (after a last conductorAfterAdd of them).
func (c *conductorIdler) started() {
	c.busyUntil.Store(int64(time.Since(c.base) + conductorAfterAdd))
}

// expect wakes the conductor now and keeps its parks short for d: something is coming from
// the driver. Any goroutine may call it.
func (c *conductorIdler) expect(d time.Duration) {
	c.extend(int64(time.Since(c.base) + d))
	select {
	case c.poke <- struct{}{}:
	default:
	}
}

func (c *conductorIdler) extend(until int64) {
	for {
		cur := c.busyUntil.Load()
		if cur >= until || c.busyUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// sleeping makes the idle park conductorSleepingPark: the worker sleeps when idle, and rings
// poke the conductor.
func (c *conductorIdler) sleeping() { c.longPark.Store(int64(conductorSleepingPark)) }

// Idle implements idlestrategy.Idler. The conductor goroutine and blocking adds call it at
// once; a poke wakes whichever is parked.
func (c *conductorIdler) Idle(workCount int) {
	now := int64(time.Since(c.base))
	if workCount > 0 {
		c.extend(now + int64(conductorAfterWork))
	}
	d := time.Duration(c.longPark.Load())
	if now < c.busyUntil.Load() {
		d = conductorShortPark
	}
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-c.poke:
		t.Stop()
	}
}
