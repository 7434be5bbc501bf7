//! [`action_fn`]: a plain `async fn` as an [`Action`], without `#[action]`, as tower's
//! `service_fn` makes a service of a closure.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;

use super::Action;
use crate::context::ActionContext;
use crate::error::ActionError;
use crate::finish::Finish;
use crate::macro_support::IntoActionError;

/// Makes the async fn `f` an action named `name`: the hand-written counterpart of
/// `#[action]`, for a setup without the macros or a stack built at run time. The result
/// takes every combinator of [`ActionExt`](super::ActionExt) and runs in a
/// [`Runner`](crate::worker::Runner).
///
/// `f` takes one of three of the forms `#[action]` accepts, and returns `Result<T, E>`
/// where `E` converts into an [`ActionError`] (a `#[derive(Classify)]` error, or
/// `ActionError` itself); its future must be `Send`:
///
/// | `f`'s parameters | the action is an `Action<D>` for |
/// |---|---|
/// | `(input)` | every deps type `D` |
/// | `(input, &Deps)` | `D = Deps` |
/// | `(input, &Deps, &ActionContext)` | `D = Deps` |
///
/// A second parameter is always the deps, since by type alone `(input, &ActionContext)`
/// would be the deps form with `D = ActionContext`: an fn that needs the context but no
/// deps takes the worker's deps type as well (`(input, _: &(), ctx: &ActionContext)` for a
/// worker without deps).
///
/// ```
/// use std::time::Duration;
/// use worker_utils::prelude::*;
///
/// #[derive(Debug, thiserror::Error, Classify)]
/// #[error("upstream timed out")]
/// #[classify(transient)]
/// struct Timeout;
///
/// struct Deps {
///     base: u64,
/// }
///
/// async fn fetch(id: u64, deps: &Deps, ctx: &ActionContext) -> Result<u64, Timeout> {
///     if ctx.attempt() < 2 { Err(Timeout) } else { Ok(deps.base + id) }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // What `#[action(timeout = "1s", retry(max_attempts = 3), error_handling)]` builds.
/// let retry = RetryConfig::builder().max_attempts(3).build()?;
/// let fetch = action_fn("fetch", fetch).timeout(Duration::from_secs(1)).retry(retry).error_handling();
///
/// let ctx = ActionContext::detached();
/// assert_eq!(fetch.execute(1, &Deps { base: 100 }, &ctx).await?, 101);
/// assert_eq!(ctx.attempt(), 2);
/// # Ok(()) }
/// ```
///
/// The fn's type cannot be named, so a hand-written [`Worker`](crate::worker::Worker)
/// holding such an action is generic over its pipeline:
///
/// ```
/// use std::sync::Arc;
/// use worker_utils::prelude::*;
/// use worker_utils::worker::Worker;
///
/// async fn double(n: u32) -> Result<u32, ActionError> {
///     Ok(n * 2)
/// }
///
/// struct Doubler<P>(Arc<P>);
///
/// impl<P: Action<Input = u32> + 'static> Worker for Doubler<P> {
///     type Deps = ();
///     type Pipeline = Arc<P>;
///
///     fn queue(&self) -> &str {
///         "numbers"
///     }
///
///     fn pipeline(&self) -> Arc<P> {
///         Arc::clone(&self.0)
///     }
/// }
///
/// let worker = Doubler(Arc::new(action_fn("double", double).error_handling()));
/// assert_eq!(worker.queue(), "numbers");
/// ```
///
/// Anything else is refused where it is passed:
///
/// ```compile_fail
/// use worker_utils::prelude::*;
///
/// async fn count(text: String) -> usize {
///     text.len()
/// }
///
/// let count = action_fn("count", count); // `count` does not return a `Result`
/// ```
pub fn action_fn<F, S>(name: &'static str, f: F) -> FromFn<F, S>
where
    F: AsyncActionFn<S>,
{
    FromFn { name, f, signature: PhantomData }
}

/// The action [`action_fn`] makes of an async fn `F`; `S` is the fn's signature as a fn
/// pointer type (`fn(u64, &Deps) -> Result<u64, Timeout>`), which tells the three forms
/// apart.
pub struct FromFn<F, S> {
    name: &'static str,
    f: F,
    signature: PhantomData<fn() -> S>,
}

impl<F: Clone, S> Clone for FromFn<F, S> {
    fn clone(&self) -> Self {
        Self { name: self.name, f: self.f.clone(), signature: PhantomData }
    }
}

impl<F, S> fmt::Debug for FromFn<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The fn itself has nothing to show; its name says which it is.
        f.debug_tuple("FromFn").field(&self.name).finish()
    }
}

impl<D, F, S> Action<D> for FromFn<F, S>
where
    D: ?Sized + Sync,
    S: Signature,
    F: for<'d, 'c> CallFn<S, &'d D, &'c ActionContext> + Send + Sync,
{
    type Input = S::Input;
    type Output = S::Ok;

    fn name(&self) -> &'static str {
        self.name
    }

    #[inline]
    fn execute(
        &self,
        input: S::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> impl Future<Output = Result<S::Ok, ActionError>> + Send {
        let name = self.name;
        // Stamped like an `#[action]`'s error: the action's name, the attempt, the job.
        let stamp = move |result: Result<S::Ok, S::Error>| {
            result.map_err(|error| error.into_action_error().in_context(name, ctx))
        };
        Finish::new(self.f.call(input, deps, ctx), stamp)
    }
}

/// An async fn that [`action_fn`] can make an action of, in form `S` (see there).
/// Implemented for every such fn and closure; never implemented by hand.
#[diagnostic::on_unimplemented(
    message = "`action_fn` cannot make an action of `{Self}`",
    label = "not an `async fn(input[, &deps[, &ActionContext]]) -> Result<T, E>` with a `Send` future",
    note = "an action fn takes its input, then optionally `&Deps`, then optionally `&ActionContext`, \
            returns `Result<T, E>` where `E` converts into `ActionError`, and its future is `Send`"
)]
pub trait AsyncActionFn<S>: Send + Sync {}

impl<F, I, T, E> AsyncActionFn<fn(I) -> Result<T, E>> for F
where
    F: for<'d, 'c> CallFn<fn(I) -> Result<T, E>, &'d (), &'c ActionContext> + Send + Sync,
    I: Send,
    T: Send,
    E: IntoActionError,
{
}

impl<F, I, D, T, E> AsyncActionFn<fn(I, &D) -> Result<T, E>> for F
where
    F: for<'d, 'c> CallFn<fn(I, &D) -> Result<T, E>, &'d D, &'c ActionContext> + Send + Sync,
    D: ?Sized,
    I: Send,
    T: Send,
    E: IntoActionError,
{
}

impl<F, I, D, T, E> AsyncActionFn<fn(I, &D, &ActionContext) -> Result<T, E>> for F
where
    F: for<'d, 'c> CallFn<fn(I, &D, &ActionContext) -> Result<T, E>, &'d D, &'c ActionContext> + Send + Sync,
    D: ?Sized,
    I: Send,
    T: Send,
    E: IntoActionError,
{
}

/// The signature of an fn [`action_fn`] accepts, as a fn pointer type: where the
/// action's input and output types are read from. Implemented for the three forms only.
pub trait Signature: sealed::Sealed {
    /// The fn's first parameter.
    type Input: Send;
    /// The `T` of its `Result<T, E>`.
    type Ok: Send;
    /// The `E` of its `Result<T, E>`.
    type Error: IntoActionError;
}

mod sealed {
    pub trait Sealed {}
}

impl<I: Send, T: Send, E: IntoActionError> sealed::Sealed for fn(I) -> Result<T, E> {}
impl<I: Send, D: ?Sized, T: Send, E: IntoActionError> sealed::Sealed for fn(I, &D) -> Result<T, E> {}
impl<I: Send, D: ?Sized, T: Send, E: IntoActionError> sealed::Sealed
    for fn(I, &D, &ActionContext) -> Result<T, E>
{
}

impl<I: Send, T: Send, E: IntoActionError> Signature for fn(I) -> Result<T, E> {
    type Input = I;
    type Ok = T;
    type Error = E;
}

impl<I: Send, D: ?Sized, T: Send, E: IntoActionError> Signature for fn(I, &D) -> Result<T, E> {
    type Input = I;
    type Ok = T;
    type Error = E;
}

impl<I: Send, D: ?Sized, T: Send, E: IntoActionError> Signature
    for fn(I, &D, &ActionContext) -> Result<T, E>
{
    type Input = I;
    type Ok = T;
    type Error = E;
}

/// Calls an fn of signature `S` with the deps reference `DepsRef` and the context
/// reference `CtxRef`, passing what its form takes. The references are trait parameters
/// rather than lifetimes so that `for<'d, 'c>` over them implies `D: 'd`, and the future
/// may borrow both, as an `async fn`'s does.
pub trait CallFn<S: Signature, DepsRef, CtxRef> {
    /// The fn's future.
    type Future: Future<Output = Result<S::Ok, S::Error>> + Send;

    /// Calls the fn.
    fn call(&self, input: S::Input, deps: DepsRef, ctx: CtxRef) -> Self::Future;
}

impl<'d, 'c, F, Fut, I, D, T, E> CallFn<fn(I) -> Result<T, E>, &'d D, &'c ActionContext> for F
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send,
    I: Send,
    D: ?Sized,
    T: Send,
    E: IntoActionError,
{
    type Future = Fut;

    #[inline]
    fn call(&self, input: I, _: &'d D, _: &'c ActionContext) -> Fut {
        self(input)
    }
}

impl<'d, 'c, F, Fut, I, D, T, E> CallFn<fn(I, &D) -> Result<T, E>, &'d D, &'c ActionContext> for F
where
    F: Fn(I, &'d D) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send,
    I: Send,
    D: ?Sized,
    T: Send,
    E: IntoActionError,
{
    type Future = Fut;

    #[inline]
    fn call(&self, input: I, deps: &'d D, _: &'c ActionContext) -> Fut {
        self(input, deps)
    }
}

impl<'d, 'c, F, Fut, I, D, T, E> CallFn<fn(I, &D, &ActionContext) -> Result<T, E>, &'d D, &'c ActionContext>
    for F
where
    F: Fn(I, &'d D, &'c ActionContext) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send,
    I: Send,
    D: ?Sized,
    T: Send,
    E: IntoActionError,
{
    type Future = Fut;

    #[inline]
    fn call(&self, input: I, deps: &'d D, ctx: &'c ActionContext) -> Fut {
        self(input, deps, ctx)
    }
}
