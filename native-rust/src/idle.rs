//! Idle strategies for the poll thread, as in Agrona: what to do after a duty cycle that
//! found no work. Parking (rather than sleeping) lets the handler pool, the doorbell and a
//! stop wake the poll thread the moment something is ready, so replies do not wait out the
//! idle period.
//!
//! `backoff`, the default, has the shape shared with the Go worker and the Java client: spin
//! (100 spin hints), yield (50 times), park from 1 µs doubling up to `max_park`, and once
//! nothing has been done for `sleep_after`, sleep: park for `sleep` or until woken. The poll
//! loop allows the sleep only while nothing is pending (no call in flight, no reply queued)
//! and something can wake it (the doorbell), and bounds it by its next timer; otherwise it
//! stays at `max_park`.

use std::str::FromStr;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Which idle strategy, chosen by configuration: a 2-core laptop and a 64-core server want
/// different ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleStrategy {
    /// Spin, then yield, then park from 1 µs doubling up to `max_park` (the default); after
    /// `sleep_after` without work (zero: never) park for `sleep` where the caller allows it.
    Backoff { max_park: Duration, sleep_after: Duration, sleep: Duration },
    /// Park for `period` whenever idle.
    Sleeping { period: Duration },
    /// `thread::yield_now()` whenever idle.
    Yielding,
    /// Never give up the core: the lowest latency, one core fully used.
    BusySpin,
}

impl Default for IdleStrategy {
    fn default() -> Self {
        Self::BACKOFF
    }
}

/// Default longest park of `backoff` and period of `sleeping`.
pub const DEFAULT_MAX_PARK: Duration = Duration::from_millis(1);
/// How long `backoff` goes without work before it sleeps (`--idle-sleep-after`).
pub const DEFAULT_SLEEP_AFTER: Duration = Duration::from_millis(50);
/// How long one sleep of `backoff` lasts unless woken (`--idle-sleep`).
pub const DEFAULT_SLEEP: Duration = Duration::from_millis(100);
/// The shortest `sleep_after` other than zero: a client rings a worker's doorbell when its
/// previous request to it is at least 10 ms old, which is sound only while a worker sleeps
/// after no less than that (twice, for a margin).
pub const MIN_SLEEP_AFTER: Duration = Duration::from_millis(20);
/// The longest `sleep`, as in the Go worker. The poll loop bounds each sleep further (see
/// [`Idler::idle_or_sleep`]): it never sleeps past its next announcement, nor (Rust) longer than
/// a second, since the parent and driver watch and the Aeron client's keepalives run from it.
pub const MAX_SLEEP: Duration = Duration::from_secs(10);
pub const MAX_SPINS: u32 = 100;
pub const MAX_YIELDS: u32 = 50;
const MIN_PARK: Duration = Duration::from_micros(1);

impl IdleStrategy {
    /// `backoff` with the default parameters.
    pub const BACKOFF: Self =
        Self::Backoff { max_park: DEFAULT_MAX_PARK, sleep_after: DEFAULT_SLEEP_AFTER, sleep: DEFAULT_SLEEP };
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown idle strategy '{0}'; one of: backoff, sleep, yield, spin")]
pub struct UnknownIdleStrategy(String);

/// The strategy's kind by name, as the Go worker names them (`backoff`, `sleep`, `yield`,
/// `spin`; Agrona's `sleeping`, `yielding`, `busy-spin` are accepted too), with the default
/// park time. [`IdleStrategy::with_park`] sets the time.
impl FromStr for IdleStrategy {
    type Err = UnknownIdleStrategy;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "backoff" => Ok(Self::BACKOFF),
            "sleep" | "sleeping" => Ok(Self::Sleeping { period: DEFAULT_MAX_PARK }),
            "yield" | "yielding" => Ok(Self::Yielding),
            "spin" | "busy-spin" => Ok(Self::BusySpin),
            other => Err(UnknownIdleStrategy(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("'{0}' is not a duration like 500us, 1ms, 1.5s or 2s (units ns, us, µs, ms, s, m, h)")]
pub struct BadDuration(String);

/// Parses a duration the way the Go worker's flags write them: a number, perhaps with a
/// fraction, and a unit (or a bare `0`) (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), e.g. `500us`, `1ms`, `1.5s`.
pub fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
    // As Go's time.ParseDuration: a bare zero needs no unit.
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let bad = || BadDuration(text.to_owned());
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(bad());
    }
    let unit_ns: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(bad()),
    };
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
    let mut nanos = whole.checked_mul(unit_ns).ok_or_else(bad)?;
    // The fraction, digit by digit, to the nanosecond.
    let mut scale = unit_ns;
    for digit in fraction.chars() {
        let digit = u64::from(digit.to_digit(10).ok_or_else(bad)?);
        scale /= 10;
        nanos = nanos.checked_add(digit * scale).ok_or_else(bad)?;
    }
    Ok(Duration::from_nanos(nanos))
}

/// `--idle-sleep-after`: zero (never sleep) or at least [`MIN_SLEEP_AFTER`].
pub fn parse_sleep_after(text: &str) -> Result<Duration, String> {
    let after = parse_duration(text).map_err(|e| e.to_string())?;
    if !after.is_zero() && after < MIN_SLEEP_AFTER {
        return Err(format!(
            "'{text}' is too short: 0 (never sleep) or at least {MIN_SLEEP_AFTER:?} (clients ring the doorbell of a \
             worker they have sent nothing to for 10 ms)"
        ));
    }
    Ok(after)
}

/// `--idle-sleep`: more than zero and at most [`MAX_SLEEP`].
pub fn parse_sleep(text: &str) -> Result<Duration, String> {
    let sleep = parse_duration(text).map_err(|e| e.to_string())?;
    if sleep.is_zero() || sleep > MAX_SLEEP {
        return Err(format!("'{text}' is out of range: more than 0 and at most {MAX_SLEEP:?}"));
    }
    Ok(sleep)
}

/// [`parse_duration`], refusing zero: for timeouts that must be positive.
pub fn parse_positive_duration(text: &str) -> Result<Duration, BadDuration> {
    parse_duration(text).and_then(|d| if d.is_zero() { Err(BadDuration(text.to_owned())) } else { Ok(d) })
}

impl IdleStrategy {
    /// The same strategy with `park` as backoff's longest park or sleeping's period.
    pub fn with_park(self, park: Duration) -> Self {
        match self {
            Self::Backoff { sleep_after, sleep, .. } => {
                Self::Backoff { max_park: park.max(MIN_PARK), sleep_after, sleep }
            }
            Self::Sleeping { .. } => Self::Sleeping { period: park },
            other => other,
        }
    }

    /// The same strategy with backoff's sleep phase: after `sleep_after` without work (zero:
    /// never), park for `sleep`. Other strategies have no sleep phase.
    pub fn with_sleep(self, sleep_after: Duration, sleep: Duration) -> Self {
        match self {
            Self::Backoff { max_park, .. } => Self::Backoff { max_park, sleep_after, sleep },
            other => other,
        }
    }

    /// Whether this strategy has a sleep phase (`backoff` with a `sleep_after`).
    pub fn sleeps(self) -> bool {
        matches!(self, Self::Backoff { sleep_after, .. } if !sleep_after.is_zero())
    }

    /// A fresh idler of this strategy.
    pub fn idler(self) -> Idler {
        Idler { strategy: self, spins: 0, yields: 0, park: MIN_PARK, parking_since: None, asleep: false, sleeps: 0 }
    }
}

/// What one call of [`Idler::idle`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idled {
    /// There was work: the back-off starts over.
    Reset,
    Spun,
    Yielded,
    /// Parked for at most this long (or until unparked).
    Parked(Duration),
    /// The sleep phase: parked for at most this long (or until unparked).
    Slept(Duration),
}

/// The running state of an [`IdleStrategy`] on one thread.
#[derive(Debug, Clone)]
pub struct Idler {
    strategy: IdleStrategy,
    spins: u32,
    yields: u32,
    park: Duration,
    /// When the back-off first parked since the last work: the sleep clock.
    parking_since: Option<Instant>,
    asleep: bool,
    sleeps: u64,
}

impl Idler {
    /// Call after every duty cycle with the amount of work it did. Never sleeps: for a thread
    /// that nothing would wake.
    pub fn idle(&mut self, work: usize) -> Idled {
        self.idle_or_sleep(work, None)
    }

    /// [`Idler::idle`], allowing backoff's sleep phase when `sleep_limit` is given: the caller
    /// has nothing pending and whatever brings new work unparks this thread. A sleep lasts the
    /// strategy's `sleep`, at most `sleep_limit` (the caller's next timer).
    pub fn idle_or_sleep(&mut self, work: usize, sleep_limit: Option<Duration>) -> Idled {
        if work > 0 {
            self.reset();
            return Idled::Reset;
        }
        match self.strategy {
            IdleStrategy::BusySpin => {
                std::hint::spin_loop();
                Idled::Spun
            }
            IdleStrategy::Yielding => {
                std::thread::yield_now();
                Idled::Yielded
            }
            IdleStrategy::Sleeping { period } => {
                std::thread::park_timeout(period);
                Idled::Parked(period)
            }
            IdleStrategy::Backoff { max_park, sleep_after, sleep } => {
                if self.spins < MAX_SPINS {
                    self.spins += 1;
                    std::hint::spin_loop();
                    return Idled::Spun;
                }
                if self.yields < MAX_YIELDS {
                    self.yields += 1;
                    std::thread::yield_now();
                    return Idled::Yielded;
                }
                let now = Instant::now();
                let since = *self.parking_since.get_or_insert(now);
                if let Some(limit) = sleep_limit.filter(|_| !sleep_after.is_zero()) {
                    if now.duration_since(since) >= sleep_after {
                        if !self.asleep {
                            self.asleep = true;
                            self.sleeps += 1;
                        }
                        let sleep = sleep.min(limit);
                        std::thread::park_timeout(sleep);
                        return Idled::Slept(sleep);
                    }
                }
                self.asleep = false;
                let park = self.park;
                std::thread::park_timeout(park);
                self.park = (park * 2).min(max_park);
                Idled::Parked(park)
            }
        }
    }

    /// Starts the back-off over, as work does.
    pub fn reset(&mut self) {
        self.spins = 0;
        self.yields = 0;
        self.park = MIN_PARK;
        self.parking_since = None;
        self.asleep = false;
    }

    /// Times the sleep phase was entered (`idle_sleeps`).
    pub fn sleeps(&self) -> u64 {
        self.sleeps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(max_park: Duration, sleep_after: Duration, sleep: Duration) -> Idler {
        IdleStrategy::Backoff { max_park, sleep_after, sleep }.idler()
    }

    #[test]
    fn backoff_spins_then_yields_then_parks_doubling_up_to_the_longest_park() {
        let mut idler = backoff(Duration::from_micros(20), Duration::ZERO, DEFAULT_SLEEP);
        for _ in 0..MAX_SPINS {
            assert_eq!(idler.idle(0), Idled::Spun);
        }
        for _ in 0..MAX_YIELDS {
            assert_eq!(idler.idle(0), Idled::Yielded);
        }
        let parks: Vec<Idled> = (0..8).map(|_| idler.idle(0)).collect();
        let us = |n| Idled::Parked(Duration::from_micros(n));
        assert_eq!(parks, [us(1), us(2), us(4), us(8), us(16), us(20), us(20), us(20)]);
        assert_eq!(idler.sleeps(), 0);
    }

    #[test]
    fn work_resets_every_phase() {
        let mut idler = backoff(Duration::from_micros(4), Duration::ZERO, DEFAULT_SLEEP);
        for _ in 0..MAX_SPINS + MAX_YIELDS + 3 {
            idler.idle(0);
        }
        assert_eq!(idler.idle(0), Idled::Parked(Duration::from_micros(4)));
        assert_eq!(idler.idle(1), Idled::Reset);
        assert_eq!(idler.idle(0), Idled::Spun);
    }

    /// Idles until the first sleep; returns when it came and the parks before it.
    fn until_asleep(idler: &mut Idler, give_up: Duration) -> (Duration, usize) {
        let start = Instant::now();
        let mut parks = 0;
        loop {
            match idler.idle_or_sleep(0, Some(Duration::from_millis(5))) {
                Idled::Slept(_) => return (start.elapsed(), parks),
                Idled::Parked(_) => parks += 1,
                _ => {}
            }
            assert!(start.elapsed() < give_up, "no sleep within {give_up:?}");
        }
    }

    #[test]
    fn backoff_sleeps_once_nothing_was_done_for_sleep_after_and_counts_each_entry() {
        let sleep_after = Duration::from_millis(20);
        let mut idler = backoff(Duration::from_millis(1), sleep_after, Duration::from_millis(5));
        let (after, parks) = until_asleep(&mut idler, Duration::from_secs(10));
        let asleep = Some(Duration::from_secs(1));
        assert!(after >= sleep_after, "slept after {after:?}");
        assert!(parks >= 10, "{parks} parks of at most 1 ms before the sleep");
        assert_eq!(idler.sleeps(), 1);
        // Still asleep: the same entry.
        assert_eq!(idler.idle_or_sleep(0, asleep), Idled::Slept(Duration::from_millis(5)));
        assert_eq!(idler.sleeps(), 1);
        // Work starts everything over, and the next sleep is a new entry.
        idler.idle_or_sleep(1, asleep);
        let (after, _) = until_asleep(&mut idler, Duration::from_secs(10));
        assert!(after >= sleep_after, "slept after {after:?}");
        assert_eq!(idler.sleeps(), 2);
    }

    #[test]
    fn backoff_never_sleeps_while_the_caller_has_something_pending_or_with_sleep_after_zero() {
        let asleep = Some(Duration::from_secs(1));
        for (sleep_after, limit) in [(Duration::from_millis(20), None), (Duration::ZERO, asleep)] {
            let mut idler = backoff(Duration::from_millis(1), sleep_after, Duration::from_secs(1));
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(60) {
                let idled = idler.idle_or_sleep(0, limit);
                assert!(!matches!(idled, Idled::Slept(_)), "{sleep_after:?} {limit:?}: {idled:?}");
            }
            assert_eq!(idler.sleeps(), 0);
        }
        // Pending work ends: the clock kept running, so it sleeps at once.
        let mut idler = backoff(Duration::from_millis(1), Duration::from_millis(20), Duration::from_millis(5));
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            idler.idle_or_sleep(0, None);
        }
        assert_eq!(idler.idle_or_sleep(0, asleep), Idled::Slept(Duration::from_millis(5)));
    }

    #[test]
    fn a_sleep_never_outlasts_the_callers_limit() {
        let mut idler = backoff(Duration::from_millis(1), MIN_SLEEP_AFTER, MAX_SLEEP);
        until_asleep(&mut idler, Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(idler.idle_or_sleep(0, Some(Duration::from_millis(30))), Idled::Slept(Duration::from_millis(30)));
        assert!(start.elapsed() < MAX_SLEEP / 2, "slept {:?}", start.elapsed());
    }

    #[test]
    fn an_unpark_ends_a_sleep_at_once() {
        let mut idler = backoff(Duration::from_millis(1), MIN_SLEEP_AFTER, MAX_SLEEP);
        until_asleep(&mut idler, Duration::from_secs(10));
        let sleeper = std::thread::current();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            sleeper.unpark();
        });
        let start = Instant::now();
        assert_eq!(idler.idle_or_sleep(0, Some(MAX_SLEEP)), Idled::Slept(MAX_SLEEP));
        let slept = start.elapsed();
        waker.join().unwrap();
        assert!(slept < MAX_SLEEP / 2, "woken after {slept:?}");
    }

    #[test]
    fn sleep_flags_are_checked() {
        assert_eq!(parse_sleep_after("0"), Ok(Duration::ZERO));
        assert_eq!(parse_sleep_after("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_sleep_after("20ms"), Ok(MIN_SLEEP_AFTER));
        assert!(parse_sleep_after("19ms").unwrap_err().contains("at least 20ms"));
        assert_eq!(parse_sleep("10s"), Ok(MAX_SLEEP));
        assert!(parse_sleep("10001ms").unwrap_err().contains("at most 10s"));
        assert!(parse_sleep("0ms").unwrap_err().contains("more than 0"));
        assert!(parse_sleep("soon").is_err());
    }
}
