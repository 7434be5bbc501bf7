use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::ConfigError;
use crate::rules;

/// Caps retries to a fraction of calls plus a floor per second, so that retries cannot
/// turn an outage into a storm (the retry budgets of Finagle, gRPC and tower).
///
/// Within each 10-second window, a retry is allowed while the retries so far stay under
/// `ratio × calls + min_per_second × seconds into the window (at least 1)`. When the budget
/// is spent, the failing call returns at once with an
/// [`AttemptsExhausted`](super::AttemptsExhausted) of reason `BudgetExhausted` (even after
/// its first attempt, so that the refusal is visible), whose retry-after hint is the time
/// until the account starts over: a runner's redelivery waits that long, and
/// `worker_utils_retry_budget_exhausted_total` counts it.
///
/// By default every [`Retry`](super::Retry) has its own budget of 20 % of calls plus 10
/// retries per second; [`shared`](Self::shared) makes one budget cover several actions.
///
/// ```
/// use worker_utils::RetryConfig;
/// use worker_utils::retry::RetryBudget;
///
/// let strict = RetryBudget::new(0.1, 1).unwrap();
/// let config = RetryConfig::builder().budget(strict).build().unwrap();
/// assert_eq!(config.budget().unwrap().ratio(), 0.1);
///
/// // One budget for every action that talks to the same upstream:
/// let upstream = RetryBudget::default().shared();
/// let a = RetryConfig::builder().budget(upstream.clone()).build().unwrap();
/// let b = RetryConfig::builder().budget(upstream).build().unwrap();
///
/// assert_eq!(RetryBudget::new(-1.0, 1).unwrap_err().field(), "budget.ratio");
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    ratio: f64,
    min_per_second: u32,
    shared: Option<Arc<BudgetState>>,
}

impl RetryBudget {
    /// A budget allowing `ratio` retries per call (0.2: one retry per five calls) plus
    /// `min_per_second` retries per second whatever the traffic.
    pub fn new(ratio: f64, min_per_second: u32) -> Result<Self, ConfigError> {
        ConfigError::first_of(|to| rules::budget_ratio(ratio, to))?;
        Ok(Self { ratio, min_per_second, shared: None })
    }

    /// Makes every action configured with this budget (or a clone of it) draw from one
    /// shared account, instead of one account per action.
    pub fn shared(mut self) -> Self {
        self.shared = Some(Arc::new(BudgetState::new(self.ratio, self.min_per_second)));
        self
    }

    /// Retries allowed per call.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Retries allowed per second whatever the traffic.
    pub fn min_per_second(&self) -> u32 {
        self.min_per_second
    }

    /// The account a new [`Retry`](super::Retry) draws from: the shared one, or its own.
    pub(crate) fn account(&self) -> Arc<BudgetState> {
        self.shared.clone().unwrap_or_else(|| Arc::new(BudgetState::new(self.ratio, self.min_per_second)))
    }
}

impl Default for RetryBudget {
    /// 20 % of calls plus 10 retries per second: generous for healthy traffic, a cap in an
    /// outage.
    fn default() -> Self {
        Self { ratio: 0.2, min_per_second: 10, shared: None }
    }
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ratio", &self.ratio)
            .field("min_per_second", &self.min_per_second)
            .field("shared", &self.shared.is_some())
            .finish()
    }
}

/// How long calls and retries are counted before the account starts over.
const WINDOW: Duration = Duration::from_secs(10);

/// One account: calls and retries in the current window.
pub(crate) struct BudgetState {
    ratio: f64,
    min_per_second: u64,
    created: Instant,
    window: AtomicU64,
    calls: AtomicU64,
    retries: AtomicU64,
}

impl BudgetState {
    fn new(ratio: f64, min_per_second: u32) -> Self {
        Self {
            ratio,
            min_per_second: u64::from(min_per_second),
            created: Instant::now(),
            window: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            retries: AtomicU64::new(0),
        }
    }

    /// Counts a call. On the success path, so it is a plain load and store rather than an
    /// atomic add: an increment lost to a concurrent one only makes the budget stricter.
    #[inline]
    pub(crate) fn record_call(&self) {
        self.calls.store(self.calls.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }

    /// Takes one retry from the account if it allows one; otherwise says how long until
    /// the account starts over.
    pub(crate) fn try_retry(&self) -> Result<(), Duration> {
        let elapsed = self.created.elapsed();
        let window = (elapsed.as_millis() / WINDOW.as_millis()) as u64;
        if self.window.swap(window, Ordering::Relaxed) != window {
            self.calls.store(1, Ordering::Relaxed);
            self.retries.store(0, Ordering::Relaxed);
        }
        let seconds_in = (elapsed.as_secs() % WINDOW.as_secs()).max(1);
        let allowed = (self.calls.load(Ordering::Relaxed) as f64 * self.ratio) as u64
            + self.min_per_second * seconds_in;
        if self.retries.fetch_add(1, Ordering::Relaxed) < allowed {
            return Ok(());
        }
        self.retries.fetch_sub(1, Ordering::Relaxed);
        let into_window = Duration::from_millis((elapsed.as_millis() % WINDOW.as_millis()) as u64);
        Err(WINDOW - into_window)
    }
}

impl fmt::Debug for BudgetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BudgetState")
            .field("ratio", &self.ratio)
            .field("min_per_second", &self.min_per_second)
            .field("calls", &self.calls.load(Ordering::Relaxed))
            .field("retries", &self.retries.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
