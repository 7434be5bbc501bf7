//! The queue-level retry: which failed jobs go back to the queue, and after how long.

use std::fmt;
use std::time::Duration;

use crate::config::ConfigError;
use crate::error::{ActionError, ErrorKind};
use crate::error_handling::Panicked;
use crate::retry::backoff::{RngSource, jittered_delay, raw_delay, schedule_rules};
use crate::retry::{AttemptsExhausted, Backoff, Jitter, KindSet};
use crate::rules;

/// What the runner does with a job whose pipeline failed: send it back to the queue for a
/// later delivery, or dead-letter it.
///
/// This is the outer of the two levels of retry. The action's `retry` wrapper is the inner
/// one: short waits on the same worker. A failure that outlives it (attempts used up, the
/// retry budget refused a retry, an open circuit) goes back to the queue, invisible for a
/// delay, and may run on another worker or process. A job is dead-lettered only when
/// - its error's kind is not redelivered (`Permanent` and `BusinessLogic` by default),
/// - or the pipeline panicked (a panic is a bug; running it again would only panic again),
/// - or a step's validator rejected its input ([`ValidationFailed`](crate::validate::ValidationFailed)),
/// - or this was its last allowed delivery.
///
/// The delay before delivery `n + 1` is the error's retry-after hint if it has one
/// (`#[classify(retry_after = ..)]`, a [`CircuitOpen`](crate::CircuitOpen)'s remaining open
/// time, a retry-budget refusal), else the backoff for `n`; either way at most `max_delay`.
///
/// Defaults: 5 deliveries, exponential backoff from 10 s with full jitter, capped at
/// 10 min, `Transient` and `System` redelivered: the four waits of a job that fails every
/// time are drawn below 10, 20, 40 and 80 s, so it is dead-lettered within minutes (75 s of
/// waiting on average, 150 s at most), where someone can see it. Sidekiq's 25 retries over
/// 20 days suit jobs that wait for a person; a worker should surface a broken dependency
/// the same hour. Longer outages are what the cap and retry-after hints are for.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::{ActionError, ErrorKind};
/// use worker_utils::worker::{Redelivery, RedeliveryPolicy};
///
/// let policy = RedeliveryPolicy::builder()
///     .max_deliveries(3)
///     .base_delay(Duration::from_secs(1))
///     .max_delay(Duration::from_secs(60))
///     .jitter(false)
///     .build()
///     .unwrap();
///
/// let flaky = ActionError::transient(std::io::Error::other("reset"));
/// assert_eq!(policy.decide(&flaky, 1), Redelivery::After(Duration::from_secs(1)));
/// assert_eq!(policy.decide(&flaky, 2), Redelivery::After(Duration::from_secs(2)));
/// assert!(matches!(policy.decide(&flaky, 3), Redelivery::DeadLetter(_)));
///
/// let busy = flaky.with_retry_after(Duration::from_secs(600));
/// assert_eq!(policy.decide(&busy, 1), Redelivery::After(Duration::from_secs(60)), "clamped");
///
/// let bad = ActionError::permanent(std::io::Error::other("bad input"));
/// assert!(matches!(policy.decide(&bad, 1), Redelivery::DeadLetter(_)));
/// ```
#[derive(Clone)]
pub struct RedeliveryPolicy {
    max_deliveries: u32,
    base_delay: Duration,
    max_delay: Duration,
    backoff: Backoff,
    jitter: Jitter,
    redeliver_on: KindSet,
    rng: RngSource,
}

/// What [`RedeliveryPolicy::decide`] said.
///
/// ```
/// use worker_utils::ActionError;
/// use worker_utils::worker::{DeadLetterCause, Redelivery, RedeliveryPolicy};
///
/// let flaky = ActionError::transient(std::io::Error::other("reset"));
/// let last = RedeliveryPolicy::default().max_deliveries();
/// assert_eq!(RedeliveryPolicy::default().decide(&flaky, last), Redelivery::DeadLetter(DeadLetterCause::DeliveriesExhausted));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redelivery {
    /// Give the job back to the queue, reservable again after this delay.
    After(Duration),
    /// Move the job to the dead letters.
    DeadLetter(DeadLetterCause),
}

/// Why a failed job was dead-lettered rather than redelivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterCause {
    /// The error's kind is not redelivered.
    NotRedelivered(ErrorKind),
    /// The pipeline panicked.
    Panicked,
    /// A step's validator rejected its input (whatever kinds are redelivered: the same
    /// input would be rejected again).
    FailedValidation,
    /// It was the last delivery the policy allows.
    DeliveriesExhausted,
}

impl RedeliveryPolicy {
    /// Deliveries in all unless told otherwise, the first included.
    pub const DEFAULT_MAX_DELIVERIES: u32 = rules::Redelivery::DEFAULT.max_deliveries;
    /// The backoff's first delay unless told otherwise.
    pub const DEFAULT_BASE_DELAY: Duration = rules::Redelivery::DEFAULT.schedule.base_delay;
    /// The longest wait between deliveries unless told otherwise.
    pub const DEFAULT_MAX_DELAY: Duration = rules::Redelivery::DEFAULT.schedule.max_delay;
    /// The kinds redelivered unless told otherwise.
    pub const DEFAULT_REDELIVER_ON: KindSet = KindSet::of(&[ErrorKind::Transient, ErrorKind::System]);
    /// No delay may be longer than this: a job parked for longer is better dead-lettered
    /// where someone can see it.
    pub const MAX_DELAY_LIMIT: Duration = rules::Redelivery::MAX_DELAY_LIMIT;

    /// Starts from the defaults; [`RedeliveryPolicyBuilder::build`] checks the result.
    pub fn builder() -> RedeliveryPolicyBuilder {
        RedeliveryPolicyBuilder { policy: Self::default() }
    }

    /// A policy that never redelivers: every failure is dead-lettered at once.
    ///
    /// ```
    /// use worker_utils::worker::RedeliveryPolicy;
    /// assert_eq!(RedeliveryPolicy::never().max_deliveries(), 1);
    /// ```
    pub fn never() -> Self {
        Self { max_deliveries: 1, ..Self::default() }
    }

    /// Deliveries in all, the first included; 1 means never redeliver.
    pub fn max_deliveries(&self) -> u32 {
        self.max_deliveries
    }

    /// The backoff's first delay.
    pub fn base_delay(&self) -> Duration {
        self.base_delay
    }

    /// The longest wait between deliveries, retry-after hints included.
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

    /// The kinds redelivered.
    pub fn redeliver_on(&self) -> KindSet {
        self.redeliver_on
    }

    /// What to do with a job whose delivery number `delivery` (from 1) failed with `error`.
    pub fn decide(&self, error: &ActionError, delivery: u32) -> Redelivery {
        if panicked(error) {
            return Redelivery::DeadLetter(DeadLetterCause::Panicked);
        }
        if error.failed_validation() {
            return Redelivery::DeadLetter(DeadLetterCause::FailedValidation);
        }
        if !self.redeliver_on.contains(error.kind()) {
            return Redelivery::DeadLetter(DeadLetterCause::NotRedelivered(error.kind()));
        }
        if delivery >= self.max_deliveries {
            return Redelivery::DeadLetter(DeadLetterCause::DeliveriesExhausted);
        }
        let delay = match error.retry_after() {
            Some(hint) => hint.min(self.max_delay),
            None => self.backoff_delay(delivery),
        };
        Redelivery::After(delay)
    }

    /// The backoff's delay after failed delivery `n`. Decorrelated jitter keeps no state
    /// between deliveries, so it draws below the largest delay it could have reached.
    fn backoff_delay(&self, n: u32) -> Duration {
        let largest_before = raw_delay(self.backoff, self.base_delay, n.saturating_sub(1).max(1));
        jittered_delay(
            self.backoff,
            self.jitter,
            self.base_delay,
            self.max_delay,
            &self.rng,
            n,
            largest_before,
        )
    }
}

/// Whether `error` reports a panic, directly or as the last attempt of a retry loop.
fn panicked(error: &ActionError) -> bool {
    error.downcast_ref::<Panicked>().is_some()
        || error
            .downcast_ref::<AttemptsExhausted>()
            .and_then(|exhausted| exhausted.attempts().last())
            .is_some_and(|last| last.downcast_ref::<Panicked>().is_some())
}

impl Default for RedeliveryPolicy {
    fn default() -> Self {
        Self {
            max_deliveries: Self::DEFAULT_MAX_DELIVERIES,
            base_delay: Self::DEFAULT_BASE_DELAY,
            max_delay: Self::DEFAULT_MAX_DELAY,
            backoff: Backoff::default(),
            jitter: Jitter::Full,
            redeliver_on: Self::DEFAULT_REDELIVER_ON,
            rng: RngSource::default(),
        }
    }
}

impl fmt::Debug for RedeliveryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedeliveryPolicy")
            .field("max_deliveries", &self.max_deliveries)
            .field("base_delay", &self.base_delay)
            .field("max_delay", &self.max_delay)
            .field("backoff", &self.backoff)
            .field("jitter", &self.jitter)
            .field("redeliver_on", &self.redeliver_on)
            .field("rng", &self.rng)
            .finish()
    }
}

/// Builds a [`RedeliveryPolicy`]; [`build`](Self::build) rejects a bad field with a
/// [`ConfigError`] that names it.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::worker::RedeliveryPolicy;
///
/// let err = RedeliveryPolicy::builder().max_deliveries(0).build().unwrap_err();
/// assert_eq!(err.field(), "max_deliveries");
/// let err = RedeliveryPolicy::builder().max_delay(Duration::MAX).build().unwrap_err();
/// assert_eq!(err.field(), "max_delay");
/// ```
#[derive(Debug, Clone)]
pub struct RedeliveryPolicyBuilder {
    policy: RedeliveryPolicy,
}

impl RedeliveryPolicyBuilder {
    /// Deliveries in all, the first included (at least 1; 1 never redelivers).
    pub fn max_deliveries(mut self, deliveries: u32) -> Self {
        self.policy.max_deliveries = deliveries;
        self
    }

    /// The backoff's first delay (at most `max_delay`).
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.policy.base_delay = delay;
        self
    }

    /// The longest wait between deliveries, retry-after hints included (at most 30 days).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.policy.max_delay = delay;
        self
    }

    /// The backoff strategy.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.policy.backoff = backoff;
        self
    }

    /// The jitter mode; `true` and `false` work too.
    pub fn jitter(mut self, jitter: impl Into<Jitter>) -> Self {
        self.policy.jitter = jitter.into();
        self
    }

    /// Redelivers exactly these kinds (replacing the default `Transient` and `System`).
    pub fn redeliver_on(mut self, kinds: impl IntoIterator<Item = ErrorKind>) -> Self {
        self.policy.redeliver_on = kinds.into_iter().collect();
        self
    }

    /// Draws jitter from a generator seeded with `seed`, for schedules that repeat exactly.
    pub fn seed(mut self, seed: u64) -> Self {
        self.policy.rng = RngSource::seeded(seed);
        self
    }

    /// Checks every field and returns the policy, or the first bad field.
    pub fn build(self) -> Result<RedeliveryPolicy, ConfigError> {
        let p = &self.policy;
        let rule = rules::Redelivery {
            max_deliveries: p.max_deliveries,
            schedule: schedule_rules(p.base_delay, p.max_delay, p.backoff),
        };
        ConfigError::first_of(|to| rule.check(to))?;
        Ok(self.policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transient() -> ActionError {
        ActionError::transient(std::io::Error::other("reset"))
    }

    #[test]
    fn defaults_redeliver_transient_and_system_five_times() {
        let policy = RedeliveryPolicy::default();
        for delivery in 1..5 {
            let Redelivery::After(delay) = policy.decide(&transient(), delivery) else {
                panic!("delivery {delivery} is redelivered");
            };
            assert!(delay <= Duration::from_secs(10) * 2u32.pow(delivery - 1));
        }
        assert_eq!(
            policy.decide(&transient(), 5),
            Redelivery::DeadLetter(DeadLetterCause::DeliveriesExhausted)
        );
        let system = ActionError::system(std::io::Error::other("disk full"));
        assert!(matches!(policy.decide(&system, 1), Redelivery::After(_)));
        let rule = ActionError::business_logic(std::io::Error::other("refused"));
        assert_eq!(
            policy.decide(&rule, 1),
            Redelivery::DeadLetter(DeadLetterCause::NotRedelivered(ErrorKind::BusinessLogic))
        );
    }

    #[test]
    fn a_panic_is_dead_lettered_at_once() {
        let panic = ActionError::system(Panicked::from_payload(Box::new("boom")));
        assert_eq!(
            RedeliveryPolicy::default().decide(&panic, 1),
            Redelivery::DeadLetter(DeadLetterCause::Panicked)
        );
    }

    #[test]
    fn a_rejected_input_is_dead_lettered_even_when_permanent_errors_are_redelivered() {
        let policy = RedeliveryPolicy::builder().redeliver_on([ErrorKind::Permanent]).build().unwrap();
        let rejected = ActionError::permanent(crate::validate::ValidationFailed::new("empty url"));
        assert_eq!(policy.decide(&rejected, 1), Redelivery::DeadLetter(DeadLetterCause::FailedValidation));
    }

    #[test]
    fn a_hint_wins_over_the_backoff_even_when_shorter() {
        let policy = RedeliveryPolicy::builder().jitter(false).build().unwrap();
        let hinted = transient().with_retry_after(Duration::from_millis(300));
        assert_eq!(policy.decide(&hinted, 3), Redelivery::After(Duration::from_millis(300)));
    }

    #[test]
    fn delays_never_pass_the_cap() {
        let policy = RedeliveryPolicy::builder()
            .max_deliveries(u32::MAX)
            .backoff(Backoff::DecorrelatedJitter)
            .max_delay(Duration::from_secs(60))
            .build()
            .unwrap();
        for delivery in [1, 2, 10, 1000, u32::MAX - 1] {
            let Redelivery::After(delay) = policy.decide(&transient(), delivery) else { panic!() };
            assert!(delay <= Duration::from_secs(60), "{delay:?} after delivery {delivery}");
        }
    }
}
