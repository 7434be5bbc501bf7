//! What the retry, retry budget, circuit breaker, redelivery and alert settings must
//! satisfy, and the defaults those rules read: the one place that decides both.
//!
//! This file is compiled into two crates. The runtime's builders run these checks in
//! `build()` and start from these defaults; the macro crate compiles the very same file
//! (`worker-utils-macros/src/rules.rs` is a symlink to it, which `cargo package` packs as a
//! copy) and runs the same checks at compile time, on the values it is about to emit with
//! the unset ones filled in from the same defaults. So a configuration that `#[action]` or
//! `#[worker]` accepts always builds: the two cannot drift apart. The macro may refuse
//! more (a key that would have no effect, an empty kind list), never less. Only `std` is
//! used, and every item is used by both crates.

use std::fmt;
use std::time::Duration;

/// A setting that breaks a rule: which one, and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Violation {
    pub(crate) field: Field,
    pub(crate) problem: Problem,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.field.name(), self.problem)
    }
}

/// A setting, named in errors as the runtime's builders name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    MaxAttempts,
    MaxDeliveries,
    BaseDelay,
    MaxDelay,
    Factor,
    BudgetRatio,
    ConsecutiveFailures,
    FailureRatio,
    Window,
    MinCalls,
    SlowCallThreshold,
    SlowCallRatio,
    OpenFor,
    OpenBackoffFactor,
    OpenBackoffMax,
    HalfOpenPermits,
    FailureKinds,
    Threshold,
    ResolveBelow,
    Action,
    Name,
}

impl Field {
    /// The name a `ConfigError` carries.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::MaxAttempts => "max_attempts",
            Field::MaxDeliveries => "max_deliveries",
            Field::BaseDelay => "base_delay",
            Field::MaxDelay => "max_delay",
            Field::Factor => "backoff.factor",
            Field::BudgetRatio => "budget.ratio",
            Field::ConsecutiveFailures => "consecutive_failures",
            Field::FailureRatio => "failure_ratio",
            Field::Window => "window",
            Field::MinCalls => "min_calls",
            Field::SlowCallThreshold => "slow_call_threshold",
            Field::SlowCallRatio => "slow_call_ratio",
            Field::OpenFor => "open_for",
            Field::OpenBackoffFactor => "open_backoff.factor",
            Field::OpenBackoffMax => "open_backoff.max",
            Field::HalfOpenPermits => "half_open_permits",
            Field::FailureKinds => "failure_kinds",
            Field::Threshold => "threshold",
            Field::ResolveBelow => "resolve_below",
            Field::Action => "action",
            Field::Name => "name",
        }
    }
}

/// How a setting breaks its rule, with the values a message needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Problem {
    /// A count that must be at least 1 is 0; `counts` is what its first unit is, if it
    /// counts one ("call": `max_attempts` counts the first call).
    Zero { counts: Option<&'static str> },
    /// A duration that must be longer than zero is zero.
    ZeroDuration,
    /// A share of calls outside (0, 1].
    NotAShare(f64),
    /// A number that must be finite and at least `min`.
    Below { value: f64, min: f64 },
    /// A count-based window longer than `max` calls.
    TooManyCalls { calls: u32, max: u32 },
    /// A duration above its limit.
    TooLong { value: Duration, limit: Duration },
    /// `base_delay` above `max_delay`.
    BaseAboveMax { base: Duration, max: Duration },
    /// `min_calls` above a count-based window's size.
    MinCallsAboveWindow { min_calls: u32, window: u32 },
    /// `open_backoff`'s cap below `open_for`.
    ShorterThanOpenFor { max: Duration, open_for: Duration },
    /// No rule could ever open the breaker.
    NeverOpens,
    /// No error kind counts as a failure and slow calls are not tracked.
    NoFailureKinds,
    /// `resolve_below` not in `[0, threshold)`.
    NotBelowThreshold { below: f64, threshold: f64 },
    /// An empty name.
    Empty,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Problem::Zero { counts: None } => f.write_str("must be at least 1"),
            Problem::Zero { counts: Some(first) } => write!(f, "must be at least 1 (it counts the first {first})"),
            Problem::ZeroDuration => f.write_str("must be longer than zero"),
            Problem::NotAShare(value) => write!(f, "{value} must be above 0 and at most 1"),
            Problem::Below { value, min } => write!(f, "{value} must be a finite number of at least {min:?}"),
            Problem::TooManyCalls { calls, max } => write!(f, "{calls} calls is more than the maximum of {max}"),
            Problem::TooLong { value, limit } => write!(f, "{value:?} is longer than the limit of {limit:?}"),
            Problem::BaseAboveMax { base, max } => write!(f, "{base:?} is greater than max_delay {max:?}"),
            Problem::MinCallsAboveWindow { min_calls, window } => {
                write!(f, "{min_calls} is more than the window's {window} calls, so no ratio could ever count")
            }
            Problem::ShorterThanOpenFor { max, open_for } => write!(f, "{max:?} is shorter than open_for {open_for:?}"),
            Problem::NeverOpens => f.write_str(
                "the breaker could never open: consecutive_failures, failure_ratio and slow_call_threshold are all off",
            ),
            Problem::NoFailureKinds => {
                f.write_str("is empty and slow_call_threshold is off, so the breaker could never open")
            }
            Problem::NotBelowThreshold { below, threshold } => {
                write!(f, "{below} must be at least 0 and below the threshold ({threshold})")
            }
            Problem::Empty => f.write_str("must not be empty"),
        }
    }
}

/// Where a check reports each rule broken; a check reports every one it finds, and skips a
/// rule between two settings when one of them was reported already.
pub(crate) type Report<'a> = &'a mut dyn FnMut(Violation);

fn report(to: Report<'_>, field: Field, problem: Problem) {
    to(Violation { field, problem });
}

/// The growth factor of exponential backoff unless told otherwise.
pub(crate) const DEFAULT_FACTOR: f64 = 2.0;

/// The delays of a retry or redelivery schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Schedule {
    pub(crate) base_delay: Duration,
    pub(crate) max_delay: Duration,
    /// The exponential backoff's factor; `None` for the other strategies.
    pub(crate) factor: Option<f64>,
}

impl Schedule {
    /// `max_delay` within `limit` (if any), `base_delay` at most `max_delay`, a factor that
    /// is finite and at least 1.
    fn check(&self, limit: Option<Duration>, to: Report<'_>) {
        match limit {
            Some(limit) if self.max_delay > limit => {
                report(to, Field::MaxDelay, Problem::TooLong { value: self.max_delay, limit });
            }
            _ if self.base_delay > self.max_delay => report(
                to,
                Field::BaseDelay,
                Problem::BaseAboveMax { base: self.base_delay, max: self.max_delay },
            ),
            _ => {}
        }
        if let Some(factor) = self.factor
            && !(factor.is_finite() && factor >= 1.0)
        {
            report(to, Field::Factor, Problem::Below { value: factor, min: 1.0 });
        }
    }
}

/// A retry loop's settings that rules apply to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Retry {
    pub(crate) max_attempts: u32,
    pub(crate) schedule: Schedule,
}

impl Retry {
    /// 3 attempts, 1 s base delay, 30 s cap, exponential backoff by 2.
    pub(crate) const DEFAULT: Retry = Retry {
        max_attempts: 3,
        schedule: Schedule {
            base_delay: Duration::from_millis(1000),
            max_delay: Duration::from_millis(30_000),
            factor: Some(DEFAULT_FACTOR),
        },
    };

    /// At least 1 attempt, and a valid schedule.
    pub(crate) fn check(&self, to: Report<'_>) {
        if self.max_attempts == 0 {
            report(to, Field::MaxAttempts, Problem::Zero { counts: Some("call") });
        }
        self.schedule.check(None, to);
    }
}

/// A retry budget's ratio: a finite number of retries per call, at least 0.
pub(crate) fn budget_ratio(ratio: f64, to: Report<'_>) {
    if !(ratio.is_finite() && ratio >= 0.0) {
        report(to, Field::BudgetRatio, Problem::Below { value: ratio, min: 0.0 });
    }
}

/// A redelivery policy's settings that rules apply to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Redelivery {
    pub(crate) max_deliveries: u32,
    pub(crate) schedule: Schedule,
}

impl Redelivery {
    /// 5 deliveries, backoff from 10 s by 2, capped at 10 min.
    pub(crate) const DEFAULT: Redelivery = Redelivery {
        max_deliveries: 5,
        schedule: Schedule {
            base_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(600),
            factor: Some(DEFAULT_FACTOR),
        },
    };

    /// The longest `max_delay`: a job parked for longer is better dead-lettered.
    pub(crate) const MAX_DELAY_LIMIT: Duration = Duration::from_secs(30 * 24 * 3600);

    /// At least 1 delivery, and a valid schedule within the limit.
    pub(crate) fn check(&self, to: Report<'_>) {
        if self.max_deliveries == 0 {
            report(to, Field::MaxDeliveries, Problem::Zero { counts: Some("delivery") });
        }
        self.schedule.check(Some(Self::MAX_DELAY_LIMIT), to);
    }
}

/// The calls a breaker's ratios are computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    Calls(u32),
    Time(Duration),
}

/// A circuit breaker's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Breaker {
    pub(crate) consecutive_failures: Option<u32>,
    pub(crate) failure_ratio: Option<f64>,
    pub(crate) window: Window,
    pub(crate) min_calls: u32,
    pub(crate) slow_call_threshold: Option<Duration>,
    pub(crate) slow_call_ratio: f64,
    pub(crate) open_for: Duration,
    pub(crate) open_backoff: Option<(f64, Duration)>,
    pub(crate) half_open_permits: u32,
    /// Whether any error kind counts as a failure.
    pub(crate) counts_failures: bool,
}

impl Breaker {
    /// The largest count-based window: its outcomes are kept one byte each.
    pub(crate) const MAX_WINDOW_CALLS: u32 = 1_000_000;

    /// Opens after 5 failures in a row or half of the last 20 calls (once 10 are in), for
    /// 30 s, then lets 1 probe through; Transient and System errors count as failures.
    pub(crate) const DEFAULT: Breaker = Breaker {
        consecutive_failures: Some(5),
        failure_ratio: Some(0.5),
        window: Window::Calls(20),
        min_calls: 10,
        slow_call_threshold: None,
        slow_call_ratio: 1.0,
        open_for: Duration::from_secs(30),
        open_backoff: None,
        half_open_permits: 1,
        counts_failures: true,
    };

    /// Every setting in range, `min_calls` within a count-based window, an open backoff
    /// that grows up to at least `open_for`, and some way to open.
    pub(crate) fn check(&self, to: Report<'_>) {
        if self.consecutive_failures == Some(0) {
            report(to, Field::ConsecutiveFailures, Problem::Zero { counts: None });
        }
        if let Some(ratio) = self.failure_ratio {
            share(Field::FailureRatio, ratio, to);
        }
        let window_ok = match self.window {
            Window::Calls(0) => {
                report(to, Field::Window, Problem::Zero { counts: None });
                false
            }
            Window::Calls(calls) if calls > Self::MAX_WINDOW_CALLS => {
                report(to, Field::Window, Problem::TooManyCalls { calls, max: Self::MAX_WINDOW_CALLS });
                false
            }
            Window::Time(Duration::ZERO) => {
                report(to, Field::Window, Problem::ZeroDuration);
                false
            }
            Window::Calls(_) | Window::Time(_) => true,
        };
        if self.min_calls == 0 {
            report(to, Field::MinCalls, Problem::Zero { counts: None });
        } else if let Window::Calls(window) = self.window
            && window_ok
            && self.min_calls > window
        {
            report(to, Field::MinCalls, Problem::MinCallsAboveWindow { min_calls: self.min_calls, window });
        }
        if self.slow_call_threshold == Some(Duration::ZERO) {
            report(to, Field::SlowCallThreshold, Problem::ZeroDuration);
        }
        share(Field::SlowCallRatio, self.slow_call_ratio, to);
        if self.open_for.is_zero() {
            report(to, Field::OpenFor, Problem::ZeroDuration);
        }
        if let Some((factor, max)) = self.open_backoff {
            if !(factor.is_finite() && factor >= 1.0) {
                report(to, Field::OpenBackoffFactor, Problem::Below { value: factor, min: 1.0 });
            }
            if !self.open_for.is_zero() && max < self.open_for {
                report(
                    to,
                    Field::OpenBackoffMax,
                    Problem::ShorterThanOpenFor { max, open_for: self.open_for },
                );
            }
        }
        if self.half_open_permits == 0 {
            report(to, Field::HalfOpenPermits, Problem::Zero { counts: None });
        }
        if self.slow_call_threshold.is_none() {
            if self.consecutive_failures.is_none() && self.failure_ratio.is_none() {
                report(to, Field::FailureRatio, Problem::NeverOpens);
            }
            if !self.counts_failures {
                report(to, Field::FailureKinds, Problem::NoFailureKinds);
            }
        }
    }
}

/// A share of a window's calls: above 0 and at most 1.
fn share(field: Field, value: f64, to: Report<'_>) {
    if !(value > 0.0 && value <= 1.0) {
        report(to, field, Problem::NotAShare(value));
    }
}

/// An alert rule's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Alert<'a> {
    pub(crate) threshold: f64,
    /// `None`: half the threshold.
    pub(crate) resolve_below: Option<f64>,
    pub(crate) window: Duration,
    pub(crate) min_calls: u32,
    pub(crate) action: Option<&'a str>,
    pub(crate) name: Option<&'a str>,
}

impl Alert<'_> {
    /// The window unless told otherwise.
    pub(crate) const DEFAULT_WINDOW: Duration = Duration::from_secs(60);
    /// The longest window.
    pub(crate) const MAX_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);
    /// The fewest calls in the window for a rule to fire, unless told otherwise.
    pub(crate) const DEFAULT_MIN_CALLS: u32 = 20;

    /// The rate below which a firing alert resolves.
    pub(crate) fn resolve_below(&self) -> f64 {
        self.resolve_below.unwrap_or(self.threshold / 2.0)
    }

    /// A threshold in (0, 1], a resolve rate below it, a window in (0, a day], at least one
    /// call, and no empty names.
    pub(crate) fn check(&self, to: Report<'_>) {
        let threshold_ok = self.threshold > 0.0 && self.threshold <= 1.0;
        if !threshold_ok {
            report(to, Field::Threshold, Problem::NotAShare(self.threshold));
        }
        let below = self.resolve_below();
        if threshold_ok && !(0.0..self.threshold).contains(&below) {
            report(to, Field::ResolveBelow, Problem::NotBelowThreshold { below, threshold: self.threshold });
        }
        if self.window.is_zero() {
            report(to, Field::Window, Problem::ZeroDuration);
        } else if self.window > Self::MAX_WINDOW {
            report(to, Field::Window, Problem::TooLong { value: self.window, limit: Self::MAX_WINDOW });
        }
        if self.min_calls == 0 {
            report(to, Field::MinCalls, Problem::Zero { counts: None });
        }
        if self.action == Some("") {
            report(to, Field::Action, Problem::Empty);
        }
        if self.name == Some("") {
            report(to, Field::Name, Problem::Empty);
        }
    }
}
