package worker

import (
	"fmt"
	"runtime"
	"time"

	"github.com/lirm/aeron-go/aeron/idlestrategy"
)

// WakeableIdler is an idle strategy whose parking can be cut short: the poll loop passes the
// pool's wake channel, signalled when a handler finishes, so a parked loop publishes the
// response at once instead of after its park period. Strategies that do not implement it
// (any aeron-go Idler) are called through Idle and answer within their own period.
type WakeableIdler interface {
	idlestrategy.Idler
	IdleOrWake(workCount int, wake <-chan struct{})
}

// IdleStrategies lists the names NewIdleStrategy accepts.
const IdleStrategies = "backoff, sleep, yield, spin"

// NewIdleStrategy returns the poll loop's idle strategy by name:
//
//	backoff  spin 10, yield 20, then park from 1µs doubling to park (default 1ms); wakeable
//	sleep    park for park every time nothing was done; wakeable
//	yield    runtime.Gosched() when nothing was done (a core's worth of CPU, low latency)
//	spin     return at once (a whole core, lowest latency)
func NewIdleStrategy(name string, park time.Duration) (idlestrategy.Idler, error) {
	if park <= 0 && (name == "backoff" || name == "sleep") {
		return nil, fmt.Errorf("idle strategy %s needs a positive park period, got %v", name, park)
	}
	switch name {
	case "backoff":
		b := NewBackoff()
		b.MaxPark = park
		b.MinPark = min(b.MinPark, park)
		return b, nil
	case "sleep":
		return &Sleeping{Period: park}, nil
	case "yield":
		return idlestrategy.Yielding{}, nil
	case "spin":
		return idlestrategy.Busy{}, nil
	}
	return nil, fmt.Errorf("unknown idle strategy %q; one of: %s", name, IdleStrategies)
}

// Sleeping parks for Period after every call that did no work, or until woken.
type Sleeping struct {
	Period time.Duration
	timer  *time.Timer
}

// Idle implements idlestrategy.Idler.
func (s *Sleeping) Idle(workCount int) { s.IdleOrWake(workCount, nil) }

// IdleOrWake implements WakeableIdler.
func (s *Sleeping) IdleOrWake(workCount int, wake <-chan struct{}) {
	if workCount == 0 {
		s.timer = park(s.timer, s.Period, wake)
	}
}

// park sleeps for d or until wake is signalled, reusing timer (nil the first time).
func park(timer *time.Timer, d time.Duration, wake <-chan struct{}) *time.Timer {
	if wake == nil {
		time.Sleep(d)
		return timer
	}
	if timer == nil {
		timer = time.NewTimer(d)
	} else {
		timer.Reset(d) // Go 1.23+ timers: Reset needs no drain
	}
	select {
	case <-timer.C:
	case <-wake:
		timer.Stop()
	}
	return timer
}

// Backoff is the poll loop's idle strategy: after a call that did no work it spins a few
// times, then yields the processor a few times, then parks the thread for a period that
// doubles from MinPark to MaxPark. Any work resets it. With the defaults an idle worker wakes
// at most once a millisecond.
type Backoff struct {
	MaxSpins, MaxYields int
	MinPark, MaxPark    time.Duration

	spins, yields int
	park          time.Duration
	timer         *time.Timer
}

// Each park costs a wake-up of a thread locked to a goroutine (measured: ~3% of a core at
// 1000 wake-ups a second on a 2-vCPU VM), so MaxPark bounds both idle CPU and idle latency.
//
// NewBackoff returns the default: 10 spins, 20 yields, park 1µs doubling to 1ms.
func NewBackoff() *Backoff {
	return &Backoff{MaxSpins: 10, MaxYields: 20, MinPark: time.Microsecond, MaxPark: time.Millisecond}
}

// Idle implements aeron-go's idlestrategy.Idler.
func (b *Backoff) Idle(workCount int) { b.IdleOrWake(workCount, nil) }

// IdleOrWake implements WakeableIdler: a park ends early when wake is signalled, and then
// the backoff starts over, since there is work to do.
func (b *Backoff) IdleOrWake(workCount int, wake <-chan struct{}) {
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
		b.timer = park(b.timer, b.park, wake)
	}
}
