//! The [`CallPermit`] a call through a breaker holds: it records the call's outcome,
//! a failure when dropped unspent.

use std::fmt;
use std::num::NonZeroU64;

use tokio::time::Instant;

use super::Shared;
use super::word::Word;
use crate::error::ActionError;

/// Permission for one call to go through a [`CircuitBreaker`](crate::CircuitBreaker); records the call's outcome.
///
/// Consume it with [`success`](Self::success), [`failure`](Self::failure) or
/// [`record`](Self::record). Dropping it unconsumed — the call's future was dropped, or it
/// panicked — records a failure, so every admitted call is accounted for exactly once.
///
/// ```
/// use worker_utils::ActionError;
/// use worker_utils::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig, CircuitState};
///
/// let config = CircuitBreakerConfig::builder().consecutive_failures(2).build().unwrap();
/// let breaker = CircuitBreaker::new("search", config);
///
/// let outcome: Result<(), ActionError> = Err(ActionError::permanent(std::io::Error::other("bad query")));
/// breaker.try_acquire().unwrap().record(&outcome); // the caller's fault: not a failure
/// breaker.try_acquire().unwrap().failure();
/// assert_eq!(breaker.state(), CircuitState::Closed);
/// breaker.try_acquire().unwrap().failure();
/// assert_eq!(breaker.state(), CircuitState::Open);
/// ```
#[must_use = "a permit dropped without an outcome records a failure"]
pub struct CallPermit<'a> {
    shared: Option<&'a Shared>,
    /// The breaker's word when the call was admitted: its generation, and half-open for a
    /// probe. The permit moves into the caller's future on every call: with no padding in
    /// it, every word is copied with the width it was written with, which the CPU forwards
    /// from its store buffer instead of stalling.
    ticket: Word,
    /// When the call started, as nanoseconds since the breaker was created (at least 1);
    /// only when slow calls are tracked.
    started: Option<NonZeroU64>,
}

impl<'a> CallPermit<'a> {
    #[inline]
    pub(super) fn new(shared: &'a Shared, ticket: Word) -> Self {
        let started = shared.config.slow_call_threshold().map(|_| shared.since_epoch(Instant::now()));
        Self { shared: Some(shared), ticket, started }
    }

    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.ticket.is_probe()
    }

    /// Records a successful call (still a slow one if it took too long).
    pub fn success(mut self) {
        self.finish(false);
    }

    /// Records a failed call.
    pub fn failure(mut self) {
        self.finish(true);
    }

    /// Records a call's result: a failure if it is an error of a kind the config counts
    /// as failures, a success otherwise.
    #[inline]
    pub fn record<T>(mut self, result: &Result<T, ActionError>) {
        self.record_in_place(result);
    }

    /// [`Self::record`] without moving the permit: a permit held in a future records its
    /// call's outcome where it lies, and is spent.
    #[inline]
    pub(in crate::circuit_breaker) fn record_in_place<T>(&mut self, result: &Result<T, ActionError>) {
        let failed = result.as_ref().is_err_and(|e| self.counts_as_failure(e));
        self.finish(failed);
    }

    #[inline]
    fn counts_as_failure(&self, error: &ActionError) -> bool {
        self.shared.is_some_and(|shared| shared.config.counts_as_failure(error.kind()))
    }

    #[inline(always)]
    fn finish(&mut self, failed: bool) {
        if let Some(shared) = self.shared.take() {
            shared.record(self.ticket, failed, self.started);
        }
    }
}

impl Drop for CallPermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.finish(true);
    }
}

impl fmt::Debug for CallPermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallPermit")
            .field("breaker", &self.shared.map(|shared| shared.name))
            .field("generation", &self.ticket.generation())
            .field("probe", &self.is_probe())
            .finish_non_exhaustive()
    }
}
