package worker

import (
	"fmt"
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

// SleepingIdler is a WakeableIdler with a sleep phase (docs/protocol.md "Idle"): after a
// while without work it parks for long, and the poll loop passes everything that may end
// that early. Backoff is one.
type SleepingIdler interface {
	WakeableIdler
	// IdleOrSleep is IdleOrWake that may sleep when w allows it; it says what ended a sleep,
	// NotSlept when it did not sleep.
	IdleOrSleep(workCount int, w *Wakeups) WakeReason
	// Sleeps tells whether the sleep phase is on (the worker then opens its doorbell).
	Sleeps() bool
}

// Wakeups are what may end a park or a sleep early (a nil channel never does) and whether the
// poll loop may sleep now.
type Wakeups struct {
	Work     <-chan struct{} // the pool: a handler finished
	Doorbell <-chan struct{} // a client rang; nil when the worker has no doorbell: it then never sleeps
	Stop     <-chan struct{} // the worker is stopping (its context is done)
	Fatal    <-chan struct{} // closed when the driver or the parent has gone
	// Pending is true while something is in hand: a pooled handler running or queued, a reply
	// in an outbox. Nothing would wake the loop for it, so it must not sleep.
	Pending bool
	// Until, when not zero, is when the loop has to run again at the latest (its next
	// announcement): a sleep ends then.
	Until time.Time
}

// WakeReason says what ended a sleep.
type WakeReason int

// What IdleOrSleep returns.
const (
	NotSlept        WakeReason = iota // it only spun, yielded or parked
	WokenByTimer                      // the sleep period passed
	WokenByWork                       // a handler finished
	WokenByDoorbell                   // a client rang the doorbell
	WokenByStop                       // stop or fatal
)

// IdleStrategies lists the names NewIdleStrategy accepts.
const IdleStrategies = "backoff, sleep, yield, spin"

// Defaults of the backoff strategy (docs/protocol.md "Idle": the same in Java, Go and Rust).
const (
	DefaultIdleMaxSpins   = 100
	DefaultIdleMaxYields  = 50
	DefaultIdlePark       = time.Millisecond
	DefaultIdleSleepAfter = 50 * time.Millisecond
	DefaultIdleSleep      = 100 * time.Millisecond
	// MinIdleSleepAfter is the least sleepAfter other than 0 (never): a client rings a worker's
	// doorbell when its previous request to it is at least 10 ms old, which is only sure to
	// cover every sleep if the worker sleeps after 20 ms or more without a request.
	MinIdleSleepAfter = 20 * time.Millisecond
	// MaxIdleSleep bounds the sleep. Announcements do not wait for it (a sleep ends when the
	// next one is due) and the driver and parent checks wake the loop, so it bounds only what
	// the loop does every 100 ms: closing unused reply publications, forgetting gone images.
	MaxIdleSleep = 10 * time.Second
)

// NewIdleStrategy returns the poll loop's idle strategy by name:
//
//	backoff  spin 100, yield 50, park 1µs doubling to park (default 1ms), then sleep (Backoff); wakeable
//	sleep    park for park every time nothing was done; wakeable
//	yield    sched_yield when nothing was done (a core's worth of CPU, low latency)
//	spin     return at once (a whole core, lowest latency)
//
// The backoff's sleep phase is set by Config.IdleSleepAfter and Config.IdleSleep.
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
		return Yielding{}, nil
	case "spin":
		return idlestrategy.Busy{}, nil
	}
	return nil, fmt.Errorf("unknown idle strategy %q; one of: %s", name, IdleStrategies)
}

// ValidateIdleSleep checks the sleep phase's settings: sleepAfter 0 (never) or at least
// MinIdleSleepAfter, sleep positive and at most MaxIdleSleep.
func ValidateIdleSleep(sleepAfter, sleep time.Duration) error {
	if sleepAfter < 0 || (sleepAfter > 0 && sleepAfter < MinIdleSleepAfter) {
		return fmt.Errorf("idle sleep-after %v must be 0 (never sleep) or at least %v: a client rings a sleeping worker only when its previous request is 10 ms old or more", sleepAfter, MinIdleSleepAfter)
	}
	if sleep <= 0 || sleep > MaxIdleSleep {
		return fmt.Errorf("idle sleep %v must be positive and at most %v", sleep, MaxIdleSleep)
	}
	return nil
}

// Yielding gives the processor up (sched_yield on the poll loop's locked thread, which keeps
// its goroutine) after every call that did no work.
type Yielding struct{}

// Idle implements idlestrategy.Idler.
func (Yielding) Idle(workCount int) {
	if workCount == 0 {
		osYield()
	}
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
	timer = resetTimer(timer, d)
	select {
	case <-timer.C:
	case <-wake:
		timer.Stop()
	}
	return timer
}

func resetTimer(timer *time.Timer, d time.Duration) *time.Timer {
	if timer == nil {
		return time.NewTimer(d)
	}
	timer.Reset(d) // Go 1.23+ timers: Reset needs no drain
	return timer
}

// Backoff is the poll loop's default idle strategy, the same shape as the Java client's and
// the Rust worker's: after a call that did no work it spins MaxSpins times (the next duty
// cycle is the spin), then yields the processor MaxYields times (sched_yield on the locked
// thread: the goroutine is not parked), then parks for a period that doubles from MinPark to
// MaxPark, and once SleepAfter has passed without work (0: never) it sleeps for Sleep or until
// woken: by the doorbell, a finished handler, stop, or when Wakeups.Until comes. Any work
// resets it. It sleeps only through
// IdleOrSleep, when the loop has a doorbell and nothing pending; Idle and IdleOrWake never do.
type Backoff struct {
	MaxSpins, MaxYields int
	MinPark, MaxPark    time.Duration
	SleepAfter, Sleep   time.Duration

	now           func() time.Time // time.Now; tests replace it
	spins, yields int
	park          time.Duration
	idleSince     time.Time // the first idle call after work; zero after work
	timer         *time.Timer
}

// Each park costs a wake-up of a thread locked to a goroutine (measured: ~3% of a core at
// 1000 wake-ups a second on a 2-vCPU VM), so MaxPark bounds idle latency and the sleep phase
// idle CPU (about 10 wake-ups a second at the default Sleep).
//
// NewBackoff returns the default: 100 spins, 50 yields, park 1µs doubling to 1ms, sleep
// 100ms after 50ms without work.
func NewBackoff() *Backoff {
	return &Backoff{MaxSpins: DefaultIdleMaxSpins, MaxYields: DefaultIdleMaxYields,
		MinPark: time.Microsecond, MaxPark: DefaultIdlePark,
		SleepAfter: DefaultIdleSleepAfter, Sleep: DefaultIdleSleep}
}

// Sleeps implements SleepingIdler.
func (b *Backoff) Sleeps() bool { return b.SleepAfter > 0 && b.Sleep > 0 }

// Idle implements aeron-go's idlestrategy.Idler (never sleeps).
func (b *Backoff) Idle(workCount int) { b.IdleOrSleep(workCount, nil) }

// IdleOrWake implements WakeableIdler: a park ends early when wake is signalled, and then
// the backoff starts over, since there is work to do. It never sleeps.
func (b *Backoff) IdleOrWake(workCount int, wake <-chan struct{}) {
	b.IdleOrSleep(workCount, &Wakeups{Work: wake, Pending: true})
}

// IdleOrSleep implements SleepingIdler.
func (b *Backoff) IdleOrSleep(workCount int, w *Wakeups) WakeReason {
	if workCount > 0 {
		b.reset()
		return NotSlept
	}
	if b.idleSince.IsZero() {
		b.idleSince = b.clock()
	}
	switch {
	case b.spins < b.MaxSpins:
		b.spins++ // Go has no pause instruction to offer: the next duty cycle is the spin
	case b.yields < b.MaxYields:
		b.yields++
		osYield()
	default:
		if b.park < b.MaxPark {
			b.park = max(min(2*b.park, b.MaxPark), b.MinPark)
		} else if w != nil && w.Doorbell != nil && !w.Pending && b.Sleeps() {
			if now := b.clock(); now.Sub(b.idleSince) >= b.SleepAfter {
				return b.sleep(w, now)
			}
		}
		var wake <-chan struct{}
		if w != nil {
			wake = w.Work
		}
		b.timer = park(b.timer, b.park, wake)
	}
	return NotSlept
}

// sleep parks for Sleep or until one of w's channels is signalled. After a wake-up other than
// the timer the backoff starts over (spin, yield, park, then SleepAfter before the next
// sleep): the doorbell may have rung for a request whose image the client conductor has not
// shown the loop yet. After the timer it sleeps again at the next idle call.
func (b *Backoff) sleep(w *Wakeups, now time.Time) WakeReason {
	d := b.Sleep
	if !w.Until.IsZero() {
		d = max(min(d, w.Until.Sub(now)), 0)
	}
	b.timer = resetTimer(b.timer, d)
	reason := WokenByTimer
	select {
	case <-b.timer.C:
		return WokenByTimer
	case <-w.Doorbell:
		reason = WokenByDoorbell
	case <-w.Work:
		reason = WokenByWork
	case <-w.Stop:
		reason = WokenByStop
	case <-w.Fatal:
		reason = WokenByStop
	}
	b.timer.Stop()
	b.reset()
	return reason
}

func (b *Backoff) reset() {
	b.spins, b.yields, b.park, b.idleSince = 0, 0, 0, time.Time{}
}

func (b *Backoff) clock() time.Time {
	if b.now != nil {
		return b.now()
	}
	return time.Now()
}
