//! Test doubles and paused-clock helpers (feature `testing`).
//!
//! - [`FailTimes`]: fails a set number of times with a chosen kind, then returns its input,
//!   and records when each call started (on tokio's clock);
//! - [`Mock`]: an action from a closure, counting its calls;
//! - [`Panics`], [`Sleep`]: an action that panics, one that takes a while;
//! - [`RecordingHandler`]: an error handler that remembers every error it saw;
//! - [`paused_runtime`]: a current-thread runtime on a paused clock, for tests (such as
//!   property tests) that cannot use `#[tokio::test(start_paused = true)]`.

use std::marker::PhantomData;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::action::Action;
use crate::context::ActionContext;
use crate::error::{ActionError, ErrorKind};
use crate::error_handling::ErrorHandler;

/// The error [`FailTimes`] and [`Mock`] fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("injected {kind} failure #{number}")]
pub struct InjectedFailure {
    /// The kind it was injected as.
    pub kind: ErrorKind,
    /// Which failure this was, from 1.
    pub number: u32,
}

/// Fails its first `failures` calls with an error of `kind`, then returns its input.
///
/// ```
/// use worker_utils::prelude::*;
/// use worker_utils::testing::FailTimes;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let action = FailTimes::new(1, ErrorKind::Transient);
/// let ctx = ActionContext::detached();
/// assert!(action.execute("x", &(), &ctx).await.is_err());
/// assert_eq!(action.execute("x", &(), &ctx).await.unwrap(), "x");
/// assert_eq!(action.calls(), 2);
/// # }
/// ```
#[derive(Debug)]
pub struct FailTimes<T> {
    failures: u32,
    kind: ErrorKind,
    retry_after: Option<Duration>,
    calls: AtomicU32,
    started: Mutex<Vec<Instant>>,
    input: PhantomData<fn(T) -> T>,
}

impl<T> FailTimes<T> {
    /// Fails `failures` times with `kind`, then succeeds.
    pub fn new(failures: u32, kind: ErrorKind) -> Self {
        Self {
            failures,
            kind,
            retry_after: None,
            calls: AtomicU32::new(0),
            started: Mutex::new(Vec::new()),
            input: PhantomData,
        }
    }

    /// Attaches a retry-after hint to every injected error.
    pub fn retry_after(mut self, hint: Duration) -> Self {
        self.retry_after = Some(hint);
        self
    }

    /// How many times it was called.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// When each call started, on tokio's clock.
    pub fn call_times(&self) -> Vec<Instant> {
        self.started.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The gaps between consecutive calls: the backoff delays a retry loop waited.
    pub fn gaps(&self) -> Vec<Duration> {
        self.call_times().windows(2).map(|w| w[1] - w[0]).collect()
    }
}

impl<T: Send, D: ?Sized + Sync> Action<D> for FailTimes<T> {
    type Input = T;
    type Output = T;

    fn name(&self) -> &'static str {
        "fail_times"
    }

    async fn execute(&self, input: T, _: &D, ctx: &ActionContext) -> Result<T, ActionError> {
        self.started.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(Instant::now());
        let number = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if number > self.failures {
            return Ok(input);
        }
        let mut error = ActionError::new(self.kind, InjectedFailure { kind: self.kind, number });
        if let Some(hint) = self.retry_after {
            error = error.with_retry_after(hint);
        }
        Err(error.in_context(Action::<D>::name(self), ctx))
    }
}

/// An action made from a closure; counts its calls.
///
/// ```
/// use worker_utils::prelude::*;
/// use worker_utils::testing::Mock;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let double = Mock::new(|x: u32| Ok(x * 2));
/// assert_eq!(double.execute(4, &(), &ActionContext::detached()).await.unwrap(), 8);
/// assert_eq!(double.calls(), 1);
/// # }
/// ```
#[derive(Debug)]
pub struct Mock<F, I, O> {
    respond: F,
    name: &'static str,
    calls: AtomicU32,
    types: PhantomData<fn(I) -> O>,
}

impl<F, I, O> Mock<F, I, O>
where
    F: Fn(I) -> Result<O, ActionError>,
{
    /// An action that answers each input with `respond(input)`.
    pub fn new(respond: F) -> Self {
        Self { respond, name: "mock", calls: AtomicU32::new(0), types: PhantomData }
    }

    /// Names the action `name` (default `mock`), as in logs, errors and status events.
    ///
    /// ```
    /// use worker_utils::prelude::*;
    /// use worker_utils::testing::Mock;
    /// let parse = Mock::new(|s: String| s.parse::<u32>().map_err(ActionError::permanent)).named("parse");
    /// assert_eq!(Action::<()>::name(&parse), "parse");
    /// ```
    pub fn named(mut self, name: &'static str) -> Self {
        self.name = name;
        self
    }

    /// How many times it was called.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl<F, I, O, D> Action<D> for Mock<F, I, O>
where
    F: Fn(I) -> Result<O, ActionError> + Send + Sync,
    I: Send,
    O: Send,
    D: ?Sized + Sync,
{
    type Input = I;
    type Output = O;

    fn name(&self) -> &'static str {
        self.name
    }

    async fn execute(&self, input: I, _: &D, _: &ActionContext) -> Result<O, ActionError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        (self.respond)(input)
    }
}

/// An action that panics with a message; takes any input type.
#[derive(Debug)]
pub struct Panics<T> {
    message: &'static str,
    input: PhantomData<fn(T)>,
}

impl<T> Panics<T> {
    /// Panics with `message` when called.
    pub fn new(message: &'static str) -> Self {
        Self { message, input: PhantomData }
    }
}

impl<T: Send, D: ?Sized + Sync> Action<D> for Panics<T> {
    type Input = T;
    type Output = u32;

    fn name(&self) -> &'static str {
        "panics"
    }

    async fn execute(&self, _: T, _: &D, _: &ActionContext) -> Result<u32, ActionError> {
        panic!("{}", self.message)
    }
}

/// An action that sleeps (on tokio's clock) and returns `()`.
#[derive(Debug, Clone, Copy)]
pub struct Sleep {
    duration: Duration,
}

impl Sleep {
    /// Sleeps for `duration` when called.
    pub fn new(duration: Duration) -> Self {
        Self { duration }
    }
}

impl<D: ?Sized + Sync> Action<D> for Sleep {
    type Input = ();
    type Output = ();

    fn name(&self) -> &'static str {
        "sleep"
    }

    async fn execute(&self, (): (), _: &D, _: &ActionContext) -> Result<(), ActionError> {
        tokio::time::sleep(self.duration).await;
        Ok(())
    }
}

/// An error handler that records the kind and message of every error, then passes it on.
///
/// ```
/// use worker_utils::prelude::*;
/// use worker_utils::testing::{FailTimes, RecordingHandler};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let recorder = RecordingHandler::default(); // clones share what they saw
/// let action = FailTimes::new(1, ErrorKind::Permanent).error_handling().handler(recorder.clone());
/// let _ = action.execute(0_u8, &(), &ActionContext::detached()).await;
/// assert_eq!(recorder.kinds(), vec![ErrorKind::Permanent]);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct RecordingHandler {
    seen: std::sync::Arc<Mutex<Vec<(ErrorKind, String)>>>,
}

impl RecordingHandler {
    /// The kinds seen, in order.
    pub fn kinds(&self) -> Vec<ErrorKind> {
        self.seen().into_iter().map(|(kind, _)| kind).collect()
    }

    /// The kind and full message chain of every error seen, in order.
    pub fn seen(&self) -> Vec<(ErrorKind, String)> {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl<T, D: ?Sized> ErrorHandler<T, D> for RecordingHandler {
    fn handle(&self, error: ActionError, _: &D, _: &ActionContext) -> Result<T, ActionError> {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((error.kind(), error.chain().to_string()));
        Err(error)
    }
}

/// A current-thread runtime whose clock starts paused: sleeps finish instantly, in order,
/// and `Instant` differences are exact.
///
/// ```
/// use std::time::Duration;
/// let rt = worker_utils::testing::paused_runtime();
/// rt.block_on(async {
///     let start = tokio::time::Instant::now();
///     tokio::time::sleep(Duration::from_secs(3600)).await;
///     assert_eq!(start.elapsed(), Duration::from_secs(3600));
/// });
/// ```
pub fn paused_runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot build a paused tokio runtime: {e}"),
    }
}
