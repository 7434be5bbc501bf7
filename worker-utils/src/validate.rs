//! [`Validate`]: a pre-flight check of an action's input, run once before the action; a
//! rejected input is [`ValidationFailed`], which is never retried or redelivered.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::action::Action;
use crate::context::ActionContext;
use crate::error::{ActionError, BoxError};

/// Checks an action's input (and the worker's dependencies) before the action runs, so that
/// bad input is refused before anything is tried. Put it outside the retry loop (`.retry(..).validate_with(..)`, the
/// place `#[action(validate = ..)]` gives it), so that it runs once per call.
///
/// A rejected input fails the call at once with a [`Permanent`](crate::ErrorKind::Permanent)
/// [`ValidationFailed`] error carrying the validator's error as its source, whatever kind
/// that error would have: the input will not get better by waiting. The runner's
/// redelivery policy dead-letters it on the first delivery, whatever kinds it redelivers,
/// and the dead letter's message reads `…: validation failed: <the validator's message>`.
///
/// The check runs when the call is first polled, like the action itself, so a panicking
/// validator is caught by an [`ErrorHandling`](crate::ErrorHandling) around it.
///
/// ```
/// use worker_utils::prelude::*;
/// use worker_utils::testing::Mock;
/// use worker_utils::validate::ValidationFailed;
///
/// fn not_empty(url: &String, _deps: &()) -> Result<(), &'static str> {
///     if url.is_empty() { Err("the url is empty") } else { Ok(()) }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let fetch = Mock::new(|url: String| Ok(url.len())).named("fetch");
/// let action = fetch.retry(RetryConfig::default()).validate_with(not_empty);
/// let ctx = ActionContext::detached();
/// assert_eq!(action.execute("https://a.example".to_owned(), &(), &ctx).await.unwrap(), 17);
///
/// let err = action.execute(String::new(), &(), &ctx).await.unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Permanent);
/// assert!(err.failed_validation());
/// assert!(err.downcast_ref::<ValidationFailed>().is_some());
/// assert_eq!(err.chain().to_string(), "fetch, attempt 1: validation failed: the url is empty");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Validate<A, V> {
    inner: A,
    validator: V,
}

impl<A, V> Validate<A, V> {
    /// Runs `validator` on each input before `inner`.
    pub fn new(inner: A, validator: V) -> Self {
        Self { inner, validator }
    }

    /// The wrapped action.
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

/// A pre-flight check of an action's input: any `Fn(&I, &D) -> Result<(), E>` whose error
/// converts into a [`BoxError`] (an error type, a `String`, a `&'static str`).
pub trait Validator<I, D: ?Sized>: Send + Sync {
    /// `Ok(())` lets the action run; an error rejects the input.
    fn validate(&self, input: &I, deps: &D) -> Result<(), BoxError>;
}

impl<I, D, F, E> Validator<I, D> for F
where
    D: ?Sized,
    F: Fn(&I, &D) -> Result<(), E> + Send + Sync,
    E: Into<BoxError>,
{
    fn validate(&self, input: &I, deps: &D) -> Result<(), BoxError> {
        self(input, deps).map_err(Into::into)
    }
}

impl<D, A, V> Action<D> for Validate<A, V>
where
    D: ?Sized + Sync,
    A: Action<D>,
    V: Validator<A::Input, D>,
{
    type Input = A::Input;
    type Output = A::Output;

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn step_names(&self) -> Vec<&'static str> {
        self.inner.step_names()
    }

    fn worst_case(&self) -> Option<std::time::Duration> {
        self.inner.worst_case()
    }

    fn execute(
        &self,
        input: A::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> impl Future<Output = Result<A::Output, ActionError>> + Send {
        Checked::Check {
            start: Some(move || match self.validator.validate(&input, deps) {
                Ok(()) => Ok(self.inner.execute(input, deps, ctx)),
                Err(source) => Err(rejected(source, self.inner.name(), ctx)),
            }),
        }
    }
}

/// The error of a rejected input. Out of line: only failures pay for it.
#[cold]
fn rejected(source: BoxError, action: &'static str, ctx: &ActionContext) -> ActionError {
    ActionError::permanent(ValidationFailed { source }).in_context(action, ctx)
}

pin_project! {
    /// The future of [`Validate`]: at the first poll, `start` checks the input and starts
    /// the inner call (or fails); after that, the inner call.
    #[project = CheckedProj]
    enum Checked<S, F> {
        Check { start: Option<S> },
        Run { #[pin] call: F },
    }
}

impl<S, F, T> Future for Checked<S, F>
where
    S: FnOnce() -> Result<F, ActionError>,
    F: Future<Output = Result<T, ActionError>>,
{
    type Output = Result<T, ActionError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let CheckedProj::Check { start } = self.as_mut().project() {
            // `None` only when polled again after a rejection, which a future may ignore.
            let Some(start) = start.take() else { return Poll::Pending };
            match start() {
                Ok(call) => self.set(Checked::Run { call }),
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
        match self.project() {
            CheckedProj::Run { call } => call.poll(cx),
            CheckedProj::Check { .. } => Poll::Pending,
        }
    }
}

/// An input that its action's validator rejected: always
/// [`Permanent`](crate::ErrorKind::Permanent), never retried or redelivered. Its source is
/// the validator's error; test for it with [`ActionError::failed_validation`].
///
/// ```
/// use worker_utils::validate::ValidationFailed;
///
/// let err = ValidationFailed::new("the url is empty");
/// assert_eq!(err.to_string(), "validation failed");
/// assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "the url is empty");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("validation failed")]
pub struct ValidationFailed {
    #[source]
    source: BoxError,
}

impl ValidationFailed {
    /// The rejection `source` (the validator's error).
    pub fn new(source: impl Into<BoxError>) -> Self {
        Self { source: source.into() }
    }
}
