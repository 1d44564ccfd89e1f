//! Idle strategies for the poll thread, as in Agrona: what to do after a duty cycle that
//! found no work. Parking (rather than sleeping) lets the handler pool wake the poll thread
//! the moment a result is ready, so replies do not wait out the idle period.

use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

/// Which idle strategy, chosen by configuration: a 2-core laptop and a 64-core server want
/// different ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleStrategy {
    /// Spin, then yield, then park from 1 µs doubling up to `max_park` (the default).
    Backoff { max_park: Duration },
    /// Park for `period` whenever idle.
    Sleeping { period: Duration },
    /// `thread::yield_now()` whenever idle.
    Yielding,
    /// Never give up the core: the lowest latency, one core fully used.
    BusySpin,
}

impl Default for IdleStrategy {
    fn default() -> Self {
        Self::Backoff { max_park: DEFAULT_MAX_PARK }
    }
}

/// Default longest park of `backoff` and period of `sleeping`.
pub const DEFAULT_MAX_PARK: Duration = Duration::from_millis(1);
const MAX_SPINS: u32 = 10;
const MAX_YIELDS: u32 = 20;
const MIN_PARK: Duration = Duration::from_micros(1);

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
            "backoff" => Ok(Self::Backoff { max_park: DEFAULT_MAX_PARK }),
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
/// fraction, and a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), e.g. `500us`, `1ms`, `1.5s`.
pub fn parse_duration(text: &str) -> Result<Duration, BadDuration> {
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

/// [`parse_duration`], refusing zero: for timeouts that must be positive.
pub fn parse_positive_duration(text: &str) -> Result<Duration, BadDuration> {
    parse_duration(text).and_then(|d| if d.is_zero() { Err(BadDuration(text.to_owned())) } else { Ok(d) })
}

impl IdleStrategy {
    /// The same strategy with `park` as backoff's longest park or sleeping's period.
    pub fn with_park(self, park: Duration) -> Self {
        match self {
            Self::Backoff { .. } => Self::Backoff { max_park: park.max(MIN_PARK) },
            Self::Sleeping { .. } => Self::Sleeping { period: park },
            other => other,
        }
    }

    /// A fresh idler of this strategy.
    pub fn idler(self) -> Idler {
        Idler { strategy: self, spins: 0, yields: 0, park: MIN_PARK }
    }
}

/// The running state of an [`IdleStrategy`] on one thread.
#[derive(Debug, Clone)]
pub struct Idler {
    strategy: IdleStrategy,
    spins: u32,
    yields: u32,
    park: Duration,
}

impl Idler {
    /// Call after every duty cycle with the amount of work it did.
    pub fn idle(&mut self, work: usize) {
        if work > 0 {
            self.reset();
            return;
        }
        match self.strategy {
            IdleStrategy::BusySpin => std::hint::spin_loop(),
            IdleStrategy::Yielding => std::thread::yield_now(),
            IdleStrategy::Sleeping { period } => std::thread::park_timeout(period),
            IdleStrategy::Backoff { max_park } => {
                if self.spins < MAX_SPINS {
                    self.spins += 1;
                    std::hint::spin_loop();
                } else if self.yields < MAX_YIELDS {
                    self.yields += 1;
                    std::thread::yield_now();
                } else {
                    std::thread::park_timeout(self.park);
                    self.park = (self.park * 2).min(max_park);
                }
            }
        }
    }

    pub fn reset(&mut self) {
        self.spins = 0;
        self.yields = 0;
        self.park = MIN_PARK;
    }
}
