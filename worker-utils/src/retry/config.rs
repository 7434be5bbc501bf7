use std::fmt;
use std::time::Duration;

use super::backoff::{Backoff, Jitter, RngSource, raw_delay, schedule_rules};
use super::budget::RetryBudget;
use crate::config::{ConfigError, RETRY_DEFAULTS};
use crate::error::{ActionError, ErrorKind};
use crate::rules;

/// A set of [`ErrorKind`]s, stored as a bit mask.
///
/// ```
/// use worker_utils::{ErrorKind, retry::KindSet};
/// let set = KindSet::of(&[ErrorKind::Transient, ErrorKind::System]);
/// assert!(set.contains(ErrorKind::System));
/// assert!(!set.contains(ErrorKind::Permanent));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KindSet(u8);

impl KindSet {
    /// No kinds.
    pub const EMPTY: KindSet = KindSet(0);

    /// The kinds in `kinds`.
    pub const fn of(kinds: &[ErrorKind]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < kinds.len() {
            bits |= kinds[i].bit();
            i += 1;
        }
        KindSet(bits)
    }

    /// Whether `kind` is in the set.
    pub const fn contains(self, kind: ErrorKind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// The kinds in the set, in [`ErrorKind::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = ErrorKind> {
        ErrorKind::ALL.into_iter().filter(move |k| self.contains(*k))
    }
}

impl fmt::Debug for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<ErrorKind> for KindSet {
    fn from_iter<I: IntoIterator<Item = ErrorKind>>(iter: I) -> Self {
        KindSet(iter.into_iter().fold(0, |bits, kind| bits | kind.bit()))
    }
}

/// A predicate that may veto retrying an error of a retryable kind.
pub type RetryPredicate = fn(&ActionError) -> bool;

/// How a [`Retry`](super::Retry) retries: attempts, delays, and which errors.
///
/// The defaults (`config::RETRY_DEFAULTS`): 3 attempts counting the first call,
/// 1000 ms base delay, 30000 ms cap, full jitter, exponential backoff, and only
/// `Transient` and `System` errors retried. Build another with [`RetryConfig::builder`],
/// which checks every field.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::{ErrorKind, RetryConfig};
///
/// let default = RetryConfig::default();
/// assert_eq!(default.max_attempts(), 3);
/// assert_eq!(default.base_delay(), Duration::from_millis(1000));
/// assert_eq!(default.max_delay(), Duration::from_millis(30_000));
/// assert!(default.retries(ErrorKind::Transient));
/// assert!(!default.retries(ErrorKind::Permanent));
///
/// let config = RetryConfig::builder()
///     .max_attempts(5)
///     .base_delay(Duration::from_millis(200))
///     .max_delay(Duration::from_secs(10))
///     .build()
///     .unwrap();
/// assert_eq!(config.max_attempts(), 5);
/// ```
#[derive(Clone)]
pub struct RetryConfig {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    backoff: Backoff,
    jitter: Jitter,
    retry_on: KindSet,
    predicate: Option<RetryPredicate>,
    budget: Option<RetryBudget>,
    pub(super) rng: RngSource,
}

impl RetryConfig {
    /// The kinds retried unless told otherwise.
    pub const DEFAULT_RETRY_ON: KindSet = KindSet::of(&[ErrorKind::Transient, ErrorKind::System]);

    /// Starts from the defaults; [`RetryConfigBuilder::build`] checks the result.
    pub fn builder() -> RetryConfigBuilder {
        RetryConfigBuilder { config: RetryConfig::default() }
    }

    /// The defaults with `RETRY_DEFAULTS` overridden from `WORKER_UTILS_RETRY_*`
    /// environment variables; see [`RetryDefaults::from_env`](crate::config::RetryDefaults::from_env).
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = crate::config::RetryDefaults::from_env()?;
        RetryConfig::builder()
            .max_attempts(defaults.max_attempts)
            .base_delay(defaults.base_delay)
            .max_delay(defaults.max_delay)
            .jitter(defaults.jitter)
            .build()
    }

    /// Attempts in all, counting the first call.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The delay the backoff starts from.
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// No wait between attempts is longer than this.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The backoff strategy.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// The jitter mode.
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The kinds that are retried.
    pub fn retry_on(&self) -> KindSet {
        self.retry_on
    }

    /// Whether errors of `kind` are retried (before the predicate has its say).
    pub fn retries(&self, kind: ErrorKind) -> bool {
        self.retry_on.contains(kind)
    }

    /// Whether this error may be retried: its kind is listed and the predicate, if any,
    /// agrees.
    pub fn should_retry(&self, error: &ActionError) -> bool {
        self.retries(error.kind()) && self.predicate.is_none_or(|allow| allow(error))
    }

    /// The retry budget, if retries are capped (on by default).
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.budget.as_ref()
    }

    /// The longest the backoff schedule waits between attempts, summed: the largest
    /// possible delay before each retry. A retry-after hint can stretch any single wait up
    /// to `max_delay`; [`worst_case_wait`](Self::worst_case_wait) includes that.
    ///
    /// ```
    /// use std::time::Duration;
    /// use worker_utils::RetryConfig;
    /// // 1 s + 2 s before the 2nd and 3rd attempts.
    /// assert_eq!(RetryConfig::default().worst_case_backoff(), Duration::from_secs(3));
    /// ```
    pub fn worst_case_backoff(&self) -> Duration {
        (1..self.max_attempts)
            .map(|n| raw_delay(self.backoff, self.base_delay, n).min(self.max_delay))
            .fold(Duration::ZERO, Duration::saturating_add)
    }

    /// The longest the loop can wait between attempts whatever the errors say:
    /// `max_delay` before each retry, since a retry-after hint may ask for that much.
    ///
    /// ```
    /// use std::time::Duration;
    /// use worker_utils::RetryConfig;
    /// assert_eq!(RetryConfig::default().worst_case_wait(), Duration::from_secs(60));
    /// ```
    pub fn worst_case_wait(&self) -> Duration {
        self.max_delay.saturating_mul(self.max_attempts.saturating_sub(1))
    }
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: RETRY_DEFAULTS.max_attempts,
            base_delay: RETRY_DEFAULTS.base_delay,
            max_delay: RETRY_DEFAULTS.max_delay,
            backoff: Backoff::default(),
            jitter: Jitter::from(RETRY_DEFAULTS.jitter),
            retry_on: Self::DEFAULT_RETRY_ON,
            predicate: None,
            budget: Some(RetryBudget::default()),
            rng: RngSource::default(),
        }
    }
}

impl fmt::Debug for RetryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryConfig")
            .field("max_attempts", &self.max_attempts)
            .field("base_delay", &self.base_delay)
            .field("max_delay", &self.max_delay)
            .field("backoff", &self.backoff)
            .field("jitter", &self.jitter)
            .field("retry_on", &self.retry_on)
            .field("predicate", &self.predicate.is_some())
            .field("budget", &self.budget)
            .field("rng", &self.rng)
            .finish()
    }
}

/// Builds a [`RetryConfig`]; [`build`](Self::build) rejects a bad field with a
/// [`ConfigError`] that names it.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::RetryConfig;
///
/// let err = RetryConfig::builder().max_attempts(0).build().unwrap_err();
/// assert_eq!(err.field(), "max_attempts");
///
/// let err = RetryConfig::builder()
///     .base_delay(Duration::from_secs(60))
///     .max_delay(Duration::from_secs(1))
///     .build()
///     .unwrap_err();
/// assert_eq!(err.field(), "base_delay");
/// ```
#[derive(Debug, Clone)]
pub struct RetryConfigBuilder {
    config: RetryConfig,
}

impl RetryConfigBuilder {
    /// Attempts in all, counting the first call (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.config.max_attempts = attempts;
        self
    }

    /// The delay the backoff starts from (at most `max_delay`).
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.config.base_delay = delay;
        self
    }

    /// The cap on any single wait.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.config.max_delay = delay;
        self
    }

    /// The backoff strategy.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// The jitter mode; `true` and `false` work too.
    pub fn jitter(mut self, jitter: impl Into<Jitter>) -> Self {
        self.config.jitter = jitter.into();
        self
    }

    /// Retries exactly these kinds (replacing the default Transient and System).
    pub fn retry_on(mut self, kinds: impl IntoIterator<Item = ErrorKind>) -> Self {
        self.config.retry_on = kinds.into_iter().collect();
        self
    }

    /// Retries an error of a listed kind only if `predicate` returns `true` for it.
    pub fn retry_if(mut self, predicate: RetryPredicate) -> Self {
        self.config.predicate = Some(predicate);
        self
    }

    /// Caps retries with `budget` instead of the default (20 % of calls + 10 per second).
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.config.budget = Some(budget);
        self
    }

    /// Retries without a budget: every retryable failure is retried up to `max_attempts`.
    pub fn no_budget(mut self) -> Self {
        self.config.budget = None;
        self
    }

    /// Draws jitter from a generator seeded with `seed`, so the schedule repeats exactly
    /// from run to run.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.rng = RngSource::seeded(seed);
        self
    }

    /// Checks every field and returns the config, or the first bad field.
    pub fn build(self) -> Result<RetryConfig, ConfigError> {
        let c = &self.config;
        let rule = rules::Retry {
            max_attempts: c.max_attempts,
            schedule: schedule_rules(c.base_delay, c.max_delay, c.backoff),
        };
        ConfigError::first_of(|to| rule.check(to))?;
        Ok(self.config)
    }
}
