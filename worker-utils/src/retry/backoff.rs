use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::rules;

/// How the delay grows from one retry to the next, before jitter.
///
/// With `base` the base delay and `n` the retry number (1 for the wait after the first
/// attempt), the raw delay is:
///
/// | strategy | raw delay before retry `n` |
/// |---|---|
/// | `Exponential { factor }` | `base · factorⁿ⁻¹` (default, factor 2) |
/// | `Fixed` | `base` |
/// | `Linear` | `base · n` |
/// | `DecorrelatedJitter` | `random(base, previous · 3)` (AWS "decorrelated jitter"; the jitter mode is not applied again) |
///
/// The delay is then jittered and finally clamped to `max_delay`.
///
/// ```
/// use worker_utils::retry::Backoff;
/// assert_eq!(Backoff::default(), Backoff::Exponential { factor: 2.0 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Backoff {
    /// `base · factorⁿ⁻¹`.
    Exponential {
        /// The growth factor, at least 1.
        factor: f64,
    },
    /// Always `base`.
    Fixed,
    /// `base · n`.
    Linear,
    /// `random(base, previous · 3)`, never above `max_delay`.
    DecorrelatedJitter,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::Exponential { factor: rules::DEFAULT_FACTOR }
    }
}

/// How randomness spreads the delays of many clients (against the thundering herd).
///
/// With `d` the raw delay clamped to `max_delay`:
/// `Full` waits `random(0, d)` (default), `Equal` waits `d/2 + random(0, d/2)`, `None`
/// waits exactly `d`.
///
/// ```
/// use worker_utils::retry::Jitter;
/// assert_eq!(Jitter::default(), Jitter::Full);
/// assert_eq!(Jitter::from(false), Jitter::None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// `random(0, d)`.
    #[default]
    Full,
    /// `d/2 + random(0, d/2)`.
    Equal,
    /// Exactly `d`.
    None,
}

/// `true` is full jitter (the default), `false` is none.
impl From<bool> for Jitter {
    fn from(on: bool) -> Self {
        if on { Jitter::Full } else { Jitter::None }
    }
}

/// Where jitter comes from: the thread-local generator, or a seeded one for tests that
/// need the same schedule every run.
#[derive(Clone, Default)]
pub(crate) enum RngSource {
    #[default]
    Thread,
    Seeded(Arc<Mutex<StdRng>>),
}

impl RngSource {
    pub(crate) fn seeded(seed: u64) -> Self {
        RngSource::Seeded(Arc::new(Mutex::new(StdRng::seed_from_u64(seed))))
    }

    /// A uniformly random duration in `[low, high]`.
    pub(crate) fn between(&self, low: Duration, high: Duration) -> Duration {
        if high <= low {
            return low;
        }
        let (low, high) = (low.as_nanos() as u64, high.as_nanos() as u64);
        let nanos = match self {
            RngSource::Thread => rand::rng().random_range(low..=high),
            RngSource::Seeded(rng) => {
                rng.lock().unwrap_or_else(PoisonError::into_inner).random_range(low..=high)
            }
        };
        Duration::from_nanos(nanos)
    }
}

impl fmt::Debug for RngSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RngSource::Thread => "thread_rng",
            RngSource::Seeded(_) => "seeded",
        })
    }
}

/// The delay schedule of one retry loop; keeps the previous delay for decorrelated jitter.
#[derive(Debug)]
pub(crate) struct Schedule<'a> {
    backoff: Backoff,
    jitter: Jitter,
    base: Duration,
    max: Duration,
    rng: &'a RngSource,
    previous: Duration,
}

impl<'a> Schedule<'a> {
    pub(crate) fn new(config: &'a super::RetryConfig) -> Self {
        Self {
            backoff: config.backoff(),
            jitter: config.jitter(),
            base: config.base_delay(),
            max: config.max_delay(),
            rng: &config.rng,
            previous: config.base_delay(),
        }
    }

    /// The delay before retry `n` (1-based), never above `max_delay`.
    pub(crate) fn delay(&mut self, n: u32) -> Duration {
        let delay =
            jittered_delay(self.backoff, self.jitter, self.base, self.max, self.rng, n, self.previous);
        self.previous = delay.max(self.base);
        delay
    }
}

/// The delay before retry `n` (1-based) of a schedule from `base` capped at `max`, jittered;
/// `previous` is the delay before retry `n - 1`, which only decorrelated jitter reads.
pub(crate) fn jittered_delay(
    backoff: Backoff,
    jitter: Jitter,
    base: Duration,
    max: Duration,
    rng: &RngSource,
    n: u32,
    previous: Duration,
) -> Duration {
    let delay = match backoff {
        Backoff::DecorrelatedJitter => {
            let high = previous.saturating_mul(3).min(max);
            rng.between(base.min(high), high)
        }
        strategy => {
            let bound = raw_delay(strategy, base, n).min(max);
            match jitter {
                Jitter::Full => rng.between(Duration::ZERO, bound),
                Jitter::Equal => bound / 2 + rng.between(Duration::ZERO, bound - bound / 2),
                Jitter::None => bound,
            }
        }
    };
    delay.min(max)
}

/// A schedule's settings as the shared rules (`rules.rs`) check them: the exponential
/// factor is the only part of the strategy a rule reads.
pub(crate) fn schedule_rules(base_delay: Duration, max_delay: Duration, backoff: Backoff) -> rules::Schedule {
    let factor = match backoff {
        Backoff::Exponential { factor } => Some(factor),
        Backoff::Fixed | Backoff::Linear | Backoff::DecorrelatedJitter => None,
    };
    rules::Schedule { base_delay, max_delay, factor }
}

/// The un-jittered delay before retry `n`, saturating instead of overflowing.
pub(crate) fn raw_delay(backoff: Backoff, base: Duration, n: u32) -> Duration {
    match backoff {
        Backoff::Exponential { factor } => {
            let scaled = base.as_secs_f64() * factor.powi(n.saturating_sub(1).min(1024) as i32);
            Duration::try_from_secs_f64(scaled).unwrap_or(Duration::MAX)
        }
        Backoff::Fixed => base,
        Backoff::Linear => base.saturating_mul(n),
        Backoff::DecorrelatedJitter => base.saturating_mul(3u32.saturating_pow(n.saturating_sub(1))),
    }
}
