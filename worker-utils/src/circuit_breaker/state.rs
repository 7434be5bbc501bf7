//! The breaker's state machine: [`CircuitBreaker`], the state every caller reads without
//! the lock, and the bookkeeping behind the lock. Its permits are in `permit`.

mod permit;
mod word;

use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

pub use permit::CallPermit;

use super::CircuitOpen;
use super::config::CircuitBreakerConfig;
use super::window::Window;
use crate::metrics;
use word::{AtomicWord, Word};

/// The state of a [`CircuitBreaker`].
///
/// ```
/// use worker_utils::circuit_breaker::CircuitState;
/// assert_eq!(CircuitState::HalfOpen.as_str(), "half_open");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls go through; their outcomes are counted.
    Closed,
    /// Calls fail fast with [`CircuitOpen`] until the open duration has passed.
    Open,
    /// A bounded number of probe calls go through; the rest fail fast.
    HalfOpen,
}

impl CircuitState {
    /// The snake_case name used in logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }

    /// The value of the `worker_utils_circuit_state` gauge: 0 closed, 1 open, 2 half-open.
    pub(crate) fn gauge_value(self) -> f64 {
        self.code() as f64
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named circuit breaker, shared by every action that calls the same dependency.
///
/// Cloning is cheap (an `Arc`): all clones are the same breaker. It stays **closed** while
/// calls go well; when failures pile up (see [`CircuitBreakerConfig`]) it **opens** and
/// rejects calls at once with [`CircuitOpen`] for the open duration; the first call after
/// that makes it **half-open** and goes through as a probe, with at most
/// `half_open_permits` probes at a time. As many successful probes close it; one failed
/// (or slow) probe opens it again, for a duration that grows if `open_backoff` is set.
///
/// Every call that goes through holds a [`CallPermit`], which records the outcome when it
/// is dropped: a call that is cancelled (its future dropped, e.g. by a timeout) or that
/// panics counts as a failure, so a probe can never be lost and leave the breaker stuck
/// half-open. Rejected calls are not counted at all. An outcome that arrives after the
/// breaker changed state since the call started is ignored.
///
/// ```
/// use std::sync::LazyLock;
/// use std::time::Duration;
/// use worker_utils::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig, CircuitState};
/// use worker_utils::prelude::*;
/// use worker_utils::testing::FailTimes;
///
/// // One breaker for every action that calls the payments service.
/// static PAYMENTS: LazyLock<CircuitBreaker> = LazyLock::new(|| {
///     let config = CircuitBreakerConfig::builder()
///         .consecutive_failures(2)
///         .open_for(Duration::from_secs(10))
///         .build()
///         .expect("valid breaker config");
///     CircuitBreaker::new("payments", config)
/// });
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let charge = FailTimes::new(2, ErrorKind::Transient).circuit_breaker(PAYMENTS.clone());
/// let ctx = ActionContext::detached();
/// charge.execute(1_u32, &(), &ctx).await.unwrap_err();
/// charge.execute(1_u32, &(), &ctx).await.unwrap_err();
/// assert_eq!(PAYMENTS.state(), CircuitState::Open);
///
/// // Rejected without calling the action, with a hint of when to come back.
/// let err = charge.execute(1_u32, &(), &ctx).await.unwrap_err();
/// assert!(err.downcast_ref::<CircuitOpen>().is_some());
/// assert_eq!(err.retry_after(), Some(Duration::from_secs(10)));
/// assert_eq!(charge.inner().calls(), 2);
///
/// // After the open duration, a successful probe closes it.
/// tokio::time::sleep(Duration::from_secs(10)).await;
/// assert_eq!(charge.execute(1_u32, &(), &ctx).await.unwrap(), 1);
/// assert_eq!(PAYMENTS.state(), CircuitState::Closed);
/// # }
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

struct Shared {
    name: &'static str,
    config: CircuitBreakerConfig,
    /// The current state and generation: read without the lock to let calls through while
    /// closed.
    word: AtomicWord,
    /// When the breaker was created: permits note their start relative to it.
    epoch: Instant,
    /// Successes of a closed breaker not yet in its window, counted without the lock and
    /// folded into the window before the next failure is recorded. Used once the window
    /// holds `min_calls` outcomes (`warm`): from then on a success can never open the
    /// breaker, so nothing needs to look at it sooner.
    pending_successes: AtomicU32,
    /// The closed breaker's window holds at least `min_calls` outcomes (a call window never
    /// shrinks until the breaker opens).
    warm: AtomicBool,
    machine: Mutex<Machine>,
    rejected: OnceLock<::metrics::Counter>,
}

/// The bookkeeping, changed only under the lock and never across an `.await`.
struct Machine {
    phase: Phase,
    /// Bumped at every transition; a permit from an earlier generation records nothing.
    generation: u64,
    consecutive_failures: u32,
    window: Window,
    /// Failed probes since the breaker last closed: the exponent of the open backoff.
    reopens: u32,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { issued: u32, succeeded: u32 },
}

impl Phase {
    fn state(self) -> CircuitState {
        match self {
            Phase::Closed => CircuitState::Closed,
            Phase::Open { .. } => CircuitState::Open,
            Phase::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }
}

/// A state change to report once the lock is released.
#[derive(Debug, Clone, Copy)]
struct Transition {
    from: CircuitState,
    to: CircuitState,
    open_for: Option<Duration>,
}

impl CircuitBreaker {
    /// A closed breaker named `name` (used in errors, logs and metric labels).
    pub fn new(name: &'static str, config: CircuitBreakerConfig) -> Self {
        let epoch = Instant::now();
        let window = Window::new(config.window(), epoch);
        // Reported from creation, so that a scrape lists every breaker, not only those that
        // changed state.
        metrics::circuit_state_gauge(name).set(CircuitState::Closed.gauge_value());
        Self {
            shared: Arc::new(Shared {
                name,
                config,
                word: AtomicWord::new(Word::new(0, CircuitState::Closed)),
                epoch,
                pending_successes: AtomicU32::new(0),
                warm: AtomicBool::new(false),
                machine: Mutex::new(Machine {
                    phase: Phase::Closed,
                    generation: 0,
                    consecutive_failures: 0,
                    window,
                    reopens: 0,
                }),
                rejected: OnceLock::new(),
            }),
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &'static str {
        self.shared.name
    }

    /// The breaker's configuration.
    pub fn config(&self) -> &CircuitBreakerConfig {
        &self.shared.config
    }

    /// The current state. An open breaker whose open duration has passed still reads
    /// `Open` until the next call, which makes it half-open.
    pub fn state(&self) -> CircuitState {
        self.shared.word.load().state()
    }

    /// Lets one call through, or rejects it with [`CircuitOpen`] while the breaker is open
    /// or all its half-open probes are in flight.
    ///
    /// Report the call's outcome through the permit ([`CallPermit::success`],
    /// [`failure`](CallPermit::failure) or [`record`](CallPermit::record)); a permit
    /// dropped without one counts as a failure. [`Breaker`](super::Breaker) does this for
    /// an action; use the permit directly to guard any other call.
    ///
    /// ```
    /// use worker_utils::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig, CircuitState};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let config = CircuitBreakerConfig::builder().consecutive_failures(1).build().unwrap();
    /// let breaker = CircuitBreaker::new("ledger", config);
    ///
    /// let permit = breaker.try_acquire().unwrap();
    /// drop(permit); // e.g. the call was cancelled: a failure
    /// assert_eq!(breaker.state(), CircuitState::Open);
    /// assert_eq!(breaker.try_acquire().unwrap_err().name(), "ledger");
    /// # }
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<CallPermit<'_>, CircuitOpen> {
        let shared = &*self.shared;
        let word = shared.word.load();
        let ticket = if word.is_closed() { word } else { shared.admit_locked()? };
        Ok(CallPermit::new(shared, ticket))
    }
}

impl Shared {
    /// [`CircuitBreaker::try_acquire`] when the breaker is not closed: admits the call (its
    /// ticket: the word it was admitted under, half-open for a probe) or rejects it. Out of
    /// line, so that the closed breaker's check inlines into the caller and its permit is
    /// built in registers.
    #[inline(never)]
    fn admit_locked(&self) -> Result<Word, CircuitOpen> {
        let shared = self;
        let now = Instant::now();
        let mut machine = shared.lock();
        let (admitted, transition) = match machine.phase {
            Phase::Closed => (Ok(()), None),
            Phase::Open { until } if now < until => (Err(CircuitOpen::open(shared.name, until - now)), None),
            Phase::Open { .. } => {
                let transition = machine.enter(Phase::HalfOpen { issued: 1, succeeded: 0 }, &shared.word);
                (Ok(()), Some(transition))
            }
            Phase::HalfOpen { issued, succeeded } if issued < shared.config.half_open_permits() => {
                machine.phase = Phase::HalfOpen { issued: issued + 1, succeeded };
                (Ok(()), None)
            }
            Phase::HalfOpen { .. } => (Err(CircuitOpen::probing(shared.name)), None),
        };
        let ticket = machine.word();
        drop(machine);
        if let Some(transition) = transition {
            shared.report(transition);
        }
        match admitted {
            Ok(()) => Ok(ticket),
            Err(open) => {
                shared.rejected.get_or_init(|| metrics::circuit_rejected_counter(shared.name)).increment(1);
                Err(open)
            }
        }
    }
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.shared.name)
            .field("state", &self.state())
            .field("config", &self.shared.config)
            .finish()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Machine> {
        // The bookkeeping runs no user code, so a poisoned lock still holds whole counts.
        self.machine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `at` as a permit's start time.
    fn since_epoch(&self, at: Instant) -> NonZeroU64 {
        let nanos = u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        NonZeroU64::new(nanos).unwrap_or(NonZeroU64::MIN)
    }

    /// Records the outcome of a call admitted with `ticket` (see [`CallPermit`]).
    #[inline(always)]
    fn record(&self, ticket: Word, failed: bool, started: Option<NonZeroU64>) {
        // The success path of a closed breaker whose window needs no clock: no lock, no
        // atomic read-modify-write. Two racing increments may lose one success, which only
        // makes the breaker stricter.
        if !failed
            && !self.config.needs_clock()
            && self.word.load() == Word::new(ticket.generation(), CircuitState::Closed)
            && self.warm.load(Ordering::Relaxed)
        {
            let pending = self.pending_successes.load(Ordering::Relaxed);
            self.pending_successes.store(pending.saturating_add(1), Ordering::Relaxed);
            return;
        }
        self.record_locked(ticket, failed, started);
    }

    /// [`Self::record`] under the lock: every outcome but a warm closed breaker's success.
    #[inline(never)]
    fn record_locked(&self, ticket: Word, failed: bool, started: Option<NonZeroU64>) {
        let (generation, probe) = (ticket.generation(), ticket.is_probe());
        let started = started.map(|nanos| self.epoch + Duration::from_nanos(nanos.get()));
        let config = &self.config;
        let now = config.needs_clock().then(Instant::now);
        let slow = match (started, now) {
            (Some(started), Some(now)) => config.is_slow(now.saturating_duration_since(started)),
            _ => false,
        };
        let mut machine = self.lock();
        if machine.generation != generation {
            return;
        }
        let transition = match (machine.phase, probe) {
            (Phase::Closed, false) => {
                let pending = self.pending_successes.swap(0, Ordering::Relaxed);
                if pending > 0 {
                    machine.consecutive_failures = 0;
                    machine.window.record_successes(pending);
                }
                machine.consecutive_failures =
                    if failed { machine.consecutive_failures.saturating_add(1) } else { 0 };
                let counts = machine.window.record(failed, slow, now);
                if counts.calls >= config.min_calls() {
                    self.warm.store(true, Ordering::Relaxed);
                }
                config
                    .should_open(machine.consecutive_failures, counts.calls, counts.failures, counts.slow)
                    .then(|| machine.open(config, now, &self.word))
            }
            (Phase::HalfOpen { .. }, true) if failed || slow => {
                machine.reopens = machine.reopens.saturating_add(1);
                Some(machine.open(config, now, &self.word))
            }
            (Phase::HalfOpen { issued, succeeded }, true) => {
                let succeeded = succeeded + 1;
                if succeeded >= config.half_open_permits() {
                    machine.reopens = 0;
                    machine.consecutive_failures = 0;
                    machine.window.clear();
                    // A success counted late for an earlier closed period is forgotten too.
                    self.pending_successes.store(0, Ordering::Relaxed);
                    self.warm.store(false, Ordering::Relaxed);
                    Some(machine.enter(Phase::Closed, &self.word))
                } else {
                    machine.phase = Phase::HalfOpen { issued, succeeded };
                    None
                }
            }
            // Same generation means same phase as when the permit was issued.
            _ => None,
        };
        drop(machine);
        if let Some(transition) = transition {
            self.report(transition);
        }
    }

    /// Emits the tracing event and metrics of a state change.
    fn report(&self, transition: Transition) {
        let Transition { from, to, open_for } = transition;
        let name = self.name;
        if to == CircuitState::Open {
            let open_for_ms = open_for.map_or(0, |d| d.as_millis() as u64);
            tracing::warn!(
                breaker = name,
                from = from.as_str(),
                to = to.as_str(),
                open_for_ms,
                "circuit breaker opened"
            );
        } else {
            tracing::info!(
                breaker = name,
                from = from.as_str(),
                to = to.as_str(),
                "circuit breaker state changed"
            );
        }
        metrics::record_circuit_transition(name, from, to);
    }
}

impl Machine {
    /// The word of the current phase and generation.
    fn word(&self) -> Word {
        Word::new(self.generation, self.phase.state())
    }

    /// Moves to `phase` in a new generation, publishing it to lock-free readers.
    fn enter(&mut self, phase: Phase, word: &AtomicWord) -> Transition {
        let from = self.phase.state();
        self.phase = phase;
        self.generation += 1;
        word.store(self.word());
        Transition { from, to: phase.state(), open_for: None }
    }

    /// Opens for the duration `reopens` calls for.
    fn open(&mut self, config: &CircuitBreakerConfig, now: Option<Instant>, word: &AtomicWord) -> Transition {
        let open_for = config.open_duration(self.reopens);
        let now = now.unwrap_or_else(Instant::now);
        // An open duration too long for the clock means open for as long as it can count.
        let until = now.checked_add(open_for).unwrap_or_else(|| far_future(now));
        Transition { open_for: Some(open_for), ..self.enter(Phase::Open { until }, word) }
    }
}

/// About 30 years from `now`, or the furthest instant the clock can represent.
fn far_future(now: Instant) -> Instant {
    let mut ahead = Duration::from_secs(30 * 365 * 24 * 60 * 60);
    loop {
        if let Some(later) = now.checked_add(ahead) {
            return later;
        }
        if ahead.is_zero() {
            return now;
        }
        ahead /= 2;
    }
}
