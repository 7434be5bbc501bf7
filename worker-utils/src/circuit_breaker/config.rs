use std::time::Duration;

use crate::config::ConfigError;
use crate::error::ErrorKind;
use crate::retry::KindSet;
use crate::rules;

/// Which recent calls the failure and slow-call ratios are computed over.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::circuit_breaker::{CircuitBreakerConfig, SlidingWindow};
///
/// let by_count = CircuitBreakerConfig::builder().window(SlidingWindow::Calls(50)).build().unwrap();
/// assert_eq!(by_count.window(), SlidingWindow::Calls(50));
///
/// let by_time = CircuitBreakerConfig::builder()
///     .window(SlidingWindow::Time(Duration::from_secs(60)))
///     .build()
///     .unwrap();
/// assert_eq!(by_time.window(), SlidingWindow::Time(Duration::from_secs(60)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlidingWindow {
    /// The last `n` completed calls (1 to [`SlidingWindow::MAX_CALLS`]).
    Calls(u32),
    /// The calls completed in the last `T`, at a resolution of `T / 10`: the window moves
    /// in [`SlidingWindow::TIME_BUCKETS`] steps, so a call stops counting between `0.9 T`
    /// and `T` after it completed.
    Time(Duration),
}

impl SlidingWindow {
    /// The largest count-based window: its outcomes are kept one byte each.
    pub const MAX_CALLS: u32 = rules::Breaker::MAX_WINDOW_CALLS;

    /// How many buckets a time-based window is divided into.
    pub const TIME_BUCKETS: u32 = 10;
}

/// When a [`CircuitBreaker`](super::CircuitBreaker) opens, for how long, and how it probes
/// its way back to closed.
///
/// | setting | default | meaning |
/// |---|---|---|
/// | `consecutive_failures` | 5 | open after this many failures in a row |
/// | `failure_ratio` | 0.5 | open when at least this share of the window failed… |
/// | `window` | last 20 calls | …over these calls… |
/// | `min_calls` | 10 | …once the window holds at least this many calls |
/// | `slow_call_threshold` | off | a call taking longer than this is slow |
/// | `slow_call_ratio` | 1.0 | open when at least this share of the window was slow |
/// | `open_for` | 30 s | how long the breaker stays open |
/// | `open_backoff` | off | multiply `open_for` by a factor at each re-open, up to a cap |
/// | `half_open_permits` | 1 | probes let through when half-open; all must succeed to close |
/// | `failure_kinds` | Transient, System | which error kinds count as failures |
///
/// Only `Transient` and `System` errors count as failures by default: they say the
/// dependency is unwell. A `Permanent` or `BusinessLogic` error is the caller's fault (bad
/// input, a domain rule): the dependency answered, so such a call counts as a success and
/// cannot open the breaker.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::ErrorKind;
/// use worker_utils::circuit_breaker::{CircuitBreakerConfig, SlidingWindow};
///
/// let default = CircuitBreakerConfig::default();
/// assert_eq!(default.consecutive_failures(), Some(5));
/// assert_eq!(default.failure_ratio(), Some(0.5));
/// assert_eq!(default.window(), SlidingWindow::Calls(20));
/// assert_eq!(default.open_for(), Duration::from_secs(30));
/// assert!(default.counts_as_failure(ErrorKind::Transient));
/// assert!(!default.counts_as_failure(ErrorKind::Permanent));
///
/// let config = CircuitBreakerConfig::builder()
///     .failure_ratio(0.25)
///     .window(SlidingWindow::Time(Duration::from_secs(60)))
///     .min_calls(20)
///     .slow_call_threshold(Duration::from_secs(2))
///     .open_for(Duration::from_secs(5))
///     .open_backoff(2.0, Duration::from_secs(60))
///     .half_open_permits(3)
///     .build()
///     .unwrap();
/// // 5 s, then 10 s, 20 s, 40 s, 60 s, 60 s… as probes keep failing.
/// assert_eq!(config.open_duration(2), Duration::from_secs(20));
/// assert_eq!(config.open_duration(9), Duration::from_secs(60));
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreakerConfig {
    consecutive_failures: Option<u32>,
    failure_ratio: Option<f64>,
    window: SlidingWindow,
    min_calls: u32,
    slow_call_threshold: Option<Duration>,
    slow_call_ratio: f64,
    open_for: Duration,
    open_backoff: Option<(f64, Duration)>,
    half_open_permits: u32,
    failure_kinds: KindSet,
}

impl CircuitBreakerConfig {
    /// The kinds counted as failures unless told otherwise.
    pub const DEFAULT_FAILURE_KINDS: KindSet = KindSet::of(&[ErrorKind::Transient, ErrorKind::System]);

    /// Starts from the defaults; [`CircuitBreakerConfigBuilder::build`] checks the result.
    pub fn builder() -> CircuitBreakerConfigBuilder {
        CircuitBreakerConfigBuilder { config: Self::default() }
    }

    /// Failures in a row that open the breaker, if that rule is on.
    pub fn consecutive_failures(&self) -> Option<u32> {
        self.consecutive_failures
    }

    /// The share of failed calls in the window that opens the breaker, if that rule is on.
    pub fn failure_ratio(&self) -> Option<f64> {
        self.failure_ratio
    }

    /// The calls the ratios are computed over.
    pub fn window(&self) -> SlidingWindow {
        self.window
    }

    /// Calls the window must hold before either ratio can open the breaker.
    pub fn min_calls(&self) -> u32 {
        self.min_calls
    }

    /// A call taking longer than this is slow, if slow calls are tracked.
    pub fn slow_call_threshold(&self) -> Option<Duration> {
        self.slow_call_threshold
    }

    /// The share of slow calls in the window that opens the breaker.
    pub fn slow_call_ratio(&self) -> f64 {
        self.slow_call_ratio
    }

    /// How long the breaker stays open the first time.
    pub fn open_for(&self) -> Duration {
        self.open_for
    }

    /// The factor and cap of the open duration's growth, if it grows.
    pub fn open_backoff(&self) -> Option<(f64, Duration)> {
        self.open_backoff
    }

    /// How long the breaker stays open after `reopens` failed probes in a row: `open_for`,
    /// times the backoff factor per re-open, capped (just `open_for` without a backoff).
    pub fn open_duration(&self, reopens: u32) -> Duration {
        let Some((factor, max)) = self.open_backoff else {
            return self.open_for;
        };
        let exponent = i32::try_from(reopens).unwrap_or(i32::MAX);
        let secs = self.open_for.as_secs_f64() * factor.powi(exponent);
        Duration::try_from_secs_f64(secs).map_or(max, |grown| grown.min(max))
    }

    /// Probes let through when half-open.
    pub fn half_open_permits(&self) -> u32 {
        self.half_open_permits
    }

    /// The error kinds that count as failures.
    pub fn failure_kinds(&self) -> KindSet {
        self.failure_kinds
    }

    /// Whether an error of `kind` counts as a failure (otherwise as a success).
    pub fn counts_as_failure(&self, kind: ErrorKind) -> bool {
        self.failure_kinds.contains(kind)
    }

    /// Whether a call of this duration is slow.
    pub(super) fn is_slow(&self, took: Duration) -> bool {
        self.slow_call_threshold.is_some_and(|threshold| took > threshold)
    }

    /// Whether recording an outcome needs the clock (a time window, or slow calls).
    pub(super) fn needs_clock(&self) -> bool {
        self.slow_call_threshold.is_some() || matches!(self.window, SlidingWindow::Time(_))
    }

    /// Whether the counts of a closed breaker's window call for opening it.
    pub(super) fn should_open(&self, consecutive: u32, calls: u32, failures: u32, slow: u32) -> bool {
        if self.consecutive_failures.is_some_and(|limit| consecutive >= limit) {
            return true;
        }
        if calls < self.min_calls {
            return false;
        }
        let calls = f64::from(calls);
        self.failure_ratio.is_some_and(|ratio| f64::from(failures) >= ratio * calls)
            || (self.slow_call_threshold.is_some() && f64::from(slow) >= self.slow_call_ratio * calls)
    }
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        let d = rules::Breaker::DEFAULT;
        Self {
            consecutive_failures: d.consecutive_failures,
            failure_ratio: d.failure_ratio,
            window: SlidingWindow::from(d.window),
            min_calls: d.min_calls,
            slow_call_threshold: d.slow_call_threshold,
            slow_call_ratio: d.slow_call_ratio,
            open_for: d.open_for,
            open_backoff: d.open_backoff,
            half_open_permits: d.half_open_permits,
            failure_kinds: Self::DEFAULT_FAILURE_KINDS,
        }
    }
}

impl From<rules::Window> for SlidingWindow {
    fn from(window: rules::Window) -> Self {
        match window {
            rules::Window::Calls(calls) => SlidingWindow::Calls(calls),
            rules::Window::Time(span) => SlidingWindow::Time(span),
        }
    }
}

impl From<SlidingWindow> for rules::Window {
    fn from(window: SlidingWindow) -> Self {
        match window {
            SlidingWindow::Calls(calls) => rules::Window::Calls(calls),
            SlidingWindow::Time(span) => rules::Window::Time(span),
        }
    }
}

/// Builds a [`CircuitBreakerConfig`]; [`build`](Self::build) rejects a bad field with a
/// [`ConfigError`] that names it.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::circuit_breaker::{CircuitBreakerConfig, SlidingWindow};
///
/// let err = CircuitBreakerConfig::builder().failure_ratio(1.5).build().unwrap_err();
/// assert_eq!(err.field(), "failure_ratio");
///
/// let err = CircuitBreakerConfig::builder()
///     .window(SlidingWindow::Calls(5))
///     .min_calls(10)
///     .build()
///     .unwrap_err();
/// assert_eq!(err.field(), "min_calls");
/// ```
#[derive(Debug, Clone)]
pub struct CircuitBreakerConfigBuilder {
    config: CircuitBreakerConfig,
}

impl CircuitBreakerConfigBuilder {
    /// Opens after `failures` failures in a row (at least 1).
    pub fn consecutive_failures(mut self, failures: u32) -> Self {
        self.config.consecutive_failures = Some(failures);
        self
    }

    /// Turns the consecutive-failure rule off: only the ratios open the breaker.
    pub fn no_consecutive_failures(mut self) -> Self {
        self.config.consecutive_failures = None;
        self
    }

    /// Opens when at least `ratio` of the window's calls failed (above 0, at most 1).
    pub fn failure_ratio(mut self, ratio: f64) -> Self {
        self.config.failure_ratio = Some(ratio);
        self
    }

    /// Turns the failure-ratio rule off.
    pub fn no_failure_ratio(mut self) -> Self {
        self.config.failure_ratio = None;
        self
    }

    /// The calls the ratios are computed over: the last N, or those of the last T.
    pub fn window(mut self, window: SlidingWindow) -> Self {
        self.config.window = window;
        self
    }

    /// Calls the window must hold before a ratio counts (at least 1, at most a
    /// count-based window's size).
    pub fn min_calls(mut self, calls: u32) -> Self {
        self.config.min_calls = calls;
        self
    }

    /// Counts a call taking longer than `threshold` as slow (above zero), and opens the
    /// breaker when the slow-call ratio is reached.
    pub fn slow_call_threshold(mut self, threshold: Duration) -> Self {
        self.config.slow_call_threshold = Some(threshold);
        self
    }

    /// Opens when at least `ratio` of the window's calls were slow (above 0, at most 1).
    pub fn slow_call_ratio(mut self, ratio: f64) -> Self {
        self.config.slow_call_ratio = ratio;
        self
    }

    /// How long the breaker stays open (above zero).
    pub fn open_for(mut self, duration: Duration) -> Self {
        self.config.open_for = duration;
        self
    }

    /// Grows the open duration by `factor` (finite, at least 1) each time a failed probe
    /// re-opens the breaker, up to `max` (at least `open_for`); closing resets it.
    pub fn open_backoff(mut self, factor: f64, max: Duration) -> Self {
        self.config.open_backoff = Some((factor, max));
        self
    }

    /// Probes let through when half-open (at least 1); that many successes close the
    /// breaker, one failure re-opens it.
    pub fn half_open_permits(mut self, permits: u32) -> Self {
        self.config.half_open_permits = permits;
        self
    }

    /// Counts exactly these kinds as failures (replacing the default Transient and
    /// System); errors of other kinds count as successes.
    pub fn failure_kinds(mut self, kinds: impl IntoIterator<Item = ErrorKind>) -> Self {
        self.config.failure_kinds = kinds.into_iter().collect();
        self
    }

    /// Checks every field and returns the config, or the first bad field.
    pub fn build(self) -> Result<CircuitBreakerConfig, ConfigError> {
        let c = &self.config;
        let rule = rules::Breaker {
            consecutive_failures: c.consecutive_failures,
            failure_ratio: c.failure_ratio,
            window: c.window.into(),
            min_calls: c.min_calls,
            slow_call_threshold: c.slow_call_threshold,
            slow_call_ratio: c.slow_call_ratio,
            open_for: c.open_for,
            open_backoff: c.open_backoff,
            half_open_permits: c.half_open_permits,
            counts_failures: c.failure_kinds != KindSet::EMPTY,
        };
        ConfigError::first_of(|to| rule.check(to))?;
        Ok(self.config)
    }
}
