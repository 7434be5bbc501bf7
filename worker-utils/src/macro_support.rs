//! Runtime support for the code `#[action]`, `#[worker]` and `#[derive(Classify)]`
//! generate, reached only through `__private`. Not public API.
//!
//! `#[action] async fn fetch_image` generates a marker type `fetch_image` implementing
//! [`ActionStack`] (the wrapper stack and how to build it) and [`ActionFn`] (how to call the
//! user's fn, and the user's hooks), and `type FetchImage = FnAction<fetch_image>`: the
//! [`Action`] impl is written once, here, for every [`FnAction`]. [`Call`] is the innermost
//! action of the wrapper stack. `#[worker]` asserts its pipeline with [`step`], [`link`]
//! and [`Feeds`], one call per step spanned on it, naming each step by its marker (or, for
//! a fn without `#[action]`, by a stand-in named like it). Everything else is the ordinary
//! runtime.
//!
//! The macros reject misuse at compile time, each case with a trybuild UI test
//! (`tests/ui/fail`, which checks the message and its span); the cases that are type
//! errors, with a code, are also here:
//!
//! ```compile_fail,E0277
//! # use worker_utils::prelude::*;
//! #[action] async fn parse(s: String) -> Result<u32, ActionError> { Ok(0) }
//! #[action] async fn shout(s: String) -> Result<String, ActionError> { Ok(s) }
//! // `shout` takes `String`, but `parse` before it returns `u32`
//! #[worker(queue = "q", pipeline = [parse, shout])]
//! struct Mismatch;
//! ```
//!
//! ```compile_fail,E0277
//! # use worker_utils::prelude::*;
//! async fn plain(s: String) -> Result<String, ActionError> { Ok(s) }
//! #[worker(queue = "q", pipeline = [plain])] // `plain` is not an `#[action]` fn
//! struct NotAnAction;
//! ```
//!
//! ```compile_fail,E0277
//! # use worker_utils::prelude::*;
//! struct Deps;
//! struct Other;
//! #[action] async fn step(x: u32, deps: &Other) -> Result<u32, ActionError> { Ok(x) }
//! #[worker(queue = "q", deps = Deps, pipeline = [step])] // `step` is not an action for deps `Deps`
//! struct WrongDeps;
//! ```

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use crate::action::Action;
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfigBuilder};
use crate::config::ConfigError;
use crate::context::ActionContext;
use crate::error::{ActionError, BoxError};
use crate::error_handling::{Cleanup, ErrorHandler};
use crate::finish::Finish;
use crate::retry::{RetryBudget, RetryConfig, RetryConfigBuilder};
use crate::validate::Validator;
use crate::worker::{RedeliveryPolicy, RedeliveryPolicyBuilder};

/// The action an `#[action] async fn` becomes: the fn in the wrapper stack its arguments
/// asked for. `#[action] async fn fetch_image` generates `type FetchImage =
/// FnAction<fetch_image>`, where the marker type `fetch_image` (named like the fn, in the
/// type namespace where the fn is not, so that compile errors name the fn) says how to
/// build the stack and call the fn; everything else, the [`Action`] impl included, is
/// written once here.
///
/// ```
/// use worker_utils::prelude::*;
///
/// #[action(retry(max_attempts = 3))]
/// async fn double(input: u32) -> Result<u32, ActionError> {
///     Ok(input * 2)
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let action: worker_utils::action::FnAction<_> = Double::new();
/// assert_eq!(Action::<()>::name(&action), "double");
/// assert_eq!(action.execute(21, &(), &ActionContext::detached()).await.unwrap(), 42);
/// # }
/// ```
pub struct FnAction<M: ActionStack>(M::Stack);

impl<M: ActionStack> FnAction<M> {
    /// The action's name, for logs, metrics and errors (`Action::name` without an instance).
    pub const NAME: &'static str = M::NAME;

    /// The longest one call can take, as [`Action::worst_case`] computes it: per-attempt
    /// `timeout` × attempts + `max_delay` per retry, capped by `total_timeout`; `None`
    /// without either.
    pub const WORST_CASE: Option<Duration> = M::WORST_CASE;

    /// Builds the action and its wrappers; the macro checked their configuration at
    /// compile time.
    #[must_use]
    pub fn new() -> Self {
        Self(M::stack())
    }

    /// The wrapper stack, outermost first: where a wrapper's state, such as the action's
    /// own circuit breaker, can be read.
    pub fn stack(&self) -> &M::Stack {
        &self.0
    }
}

impl<M: ActionStack> Default for FnAction<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: ActionStack> fmt::Debug for FnAction<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Named like the fn: `fetch_image(ErrorHandling { .. })`.
        f.debug_tuple(M::NAME).field(&self.0).finish()
    }
}

impl<D, M> Action<D> for FnAction<M>
where
    D: ?Sized + Sync,
    M: ActionFn<D>,
    M::Stack: Action<D, Input = M::Input, Output = OkOf<M, D>>,
{
    type Input = M::Input;
    type Output = OkOf<M, D>;

    fn name(&self) -> &'static str {
        M::NAME
    }

    fn worst_case(&self) -> Option<Duration> {
        self.0.worst_case()
    }

    #[inline]
    fn execute(
        &self,
        input: M::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> impl Future<Output = Result<OkOf<M, D>, ActionError>> + Send {
        self.0.execute(input, deps, ctx)
    }
}

/// What an `#[action]` is whatever the deps: its name, its wrapper stack and how to build
/// it. Implemented by the marker type the macro generates, and by nothing else: a type
/// without it is a fn without `#[action]` (to `#[worker]`, which names a step by the fn's
/// name, a stand-in named like the fn).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an `#[action]` fn: add `#[action]` to it",
    label = "not an `#[action]` fn",
    note = "a pipeline step is an `#[action] async fn`; `#[action]` generates what the worker runs"
)]
pub trait ActionStack: Sized + 'static {
    /// The action's name.
    const NAME: &'static str;
    /// See [`FnAction::WORST_CASE`]; `None` unless a timeout bounds the action.
    const WORST_CASE: Option<Duration> = None;
    /// The wrappers around [`Call`], outermost first.
    type Stack: fmt::Debug + Send + Sync;

    /// Builds the wrappers.
    fn stack() -> Self::Stack;
}

/// How an `#[action]` calls its fn with deps `D`: implemented by the marker type the macro
/// generates.
///
/// A macro that receives a path to an action fn (`pipeline = [fetch_image]`) names the
/// action by its marker (`fetch_image`) and checks it with [`step`] and [`link`], with a
/// clear error when the path is not an action or is one for other deps.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an action for deps `{D}`",
    label = "`{Self}` is an `#[action]` for other deps",
    note = "an action with a `deps: &D` parameter works only in a worker whose `deps` is that `D`; \
            leave the parameter out if the action needs no deps"
)]
pub trait ActionFn<D: ?Sized>: ActionStack {
    /// The fn's first parameter.
    type Input: Send;
    /// The fn's return type: `Result<T, E>` or an alias of it.
    type Result: Outcome<Output: Send, Error: IntoActionError>;

    /// Calls the fn.
    fn call(input: Self::Input, deps: &D, ctx: &ActionContext) -> impl Future<Output = Self::Result> + Send;

    /// The `error_handling(handler = ..)` hook; passes the error on by default.
    fn handle(error: ActionError, deps: &D, ctx: &ActionContext) -> Result<OkOf<Self, D>, ActionError> {
        let _ = (deps, ctx);
        Err(error)
    }

    /// The `error_handling(cleanup = ..)` hook; does nothing by default.
    fn cleanup(error: &ActionError, deps: &D, ctx: &ActionContext) {
        let _ = (error, deps, ctx);
    }

    /// The `validate = ..` hook; accepts every input by default.
    fn validate(input: &Self::Input, deps: &D) -> Result<(), BoxError> {
        let _ = (input, deps);
        Ok(())
    }
}

/// Asserts at compile time, spanned on a retried action's input type, that the input is
/// `Clone`: a retry runs the fn again on a copy.
#[diagnostic::on_unimplemented(
    message = "the input of a retried action must be `Clone`, and `{Self}` is not",
    label = "a retry runs the fn again on a clone of this input",
    note = "derive or implement `Clone` for it, or take a cheap handle to the data (an `Arc`, an id)"
)]
pub trait RetriedInput: Clone {}

impl<T: Clone> RetriedInput for T {}

/// See [`RetriedInput`].
pub const fn assert_clone<T: RetriedInput>() {}

/// The error type of an action fn: anything that converts into an [`ActionError`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error of an action: it does not convert into `ActionError`",
    label = "this error type has no `Classify` impl",
    note = "derive it: `#[derive(Debug, thiserror::Error, Classify)]` with a `#[classify(..)]` kind per variant, \
            or return `ActionError` directly"
)]
pub trait IntoActionError {
    /// Converts.
    fn into_action_error(self) -> ActionError;
}

impl<E: Into<ActionError>> IntoActionError for E {
    fn into_action_error(self) -> ActionError {
        self.into()
    }
}

/// Takes apart a return type that is a `Result` under another name (`io::Result<T>`).
#[diagnostic::on_unimplemented(
    message = "an `#[action]` fn must return `Result<T, E>`, not `{Self}`",
    label = "not a `Result`"
)]
pub trait Outcome {
    /// `T`.
    type Output;
    /// `E`.
    type Error;

    /// The `Result` itself.
    fn into_result(self) -> Result<Self::Output, Self::Error>;
}

impl<T, E> Outcome for Result<T, E> {
    type Output = T;
    type Error = E;

    #[inline]
    fn into_result(self) -> Self {
        self
    }
}

/// The `T` of an action fn's `Result<T, E>`.
pub type OkOf<M, D> = <<M as ActionFn<D>>::Result as Outcome>::Output;

/// The innermost action of a generated wrapper stack: calls `M`'s fn and stamps its error
/// with the action name and context.
pub struct Call<M>(PhantomData<fn() -> M>);

impl<M> Call<M> {
    /// The adapter for `M`.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<M> Default for Call<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: ActionStack> fmt::Debug for Call<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Call({})", M::NAME)
    }
}

impl<D: ?Sized + Sync, M: ActionFn<D>> Action<D> for Call<M> {
    type Input = M::Input;
    type Output = OkOf<M, D>;

    fn name(&self) -> &'static str {
        M::NAME
    }

    #[inline]
    fn execute(
        &self,
        input: M::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> impl Future<Output = Result<OkOf<M, D>, ActionError>> + Send {
        let stamp = move |result: M::Result| {
            result.into_result().map_err(|error| error.into_action_error().in_context(M::NAME, ctx))
        };
        Finish::new(M::call(input, deps, ctx), stamp)
    }
}

/// The error handler of an `error_handling(handler = ..)` action: calls [`ActionFn::handle`].
pub struct Handler<M>(PhantomData<fn() -> M>);

impl<M> Handler<M> {
    /// The handler of `M`.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<M> Default for Handler<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> fmt::Debug for Handler<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Handler")
    }
}

impl<D: ?Sized, M: ActionFn<D>> ErrorHandler<OkOf<M, D>, D> for Handler<M> {
    fn handle(&self, error: ActionError, deps: &D, ctx: &ActionContext) -> Result<OkOf<M, D>, ActionError> {
        M::handle(error, deps, ctx)
    }
}

/// The cleanup hook of an `error_handling(cleanup = ..)` action: calls [`ActionFn::cleanup`].
pub struct CleanupHook<M>(PhantomData<fn() -> M>);

impl<M> CleanupHook<M> {
    /// The cleanup hook of `M`.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<M> Default for CleanupHook<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> fmt::Debug for CleanupHook<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CleanupHook")
    }
}

impl<D: ?Sized, M: ActionFn<D>> Cleanup<D> for CleanupHook<M> {
    fn cleanup(&self, error: &ActionError, deps: &D, ctx: &ActionContext) {
        M::cleanup(error, deps, ctx);
    }
}

/// The validator of a `validate = ..` action: calls [`ActionFn::validate`].
pub struct InputCheck<M>(PhantomData<fn() -> M>);

impl<M> InputCheck<M> {
    /// The validator of `M`.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<M> Default for InputCheck<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> fmt::Debug for InputCheck<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InputCheck")
    }
}

impl<D: ?Sized, M: ActionFn<D>> Validator<M::Input, D> for InputCheck<M> {
    fn validate(&self, input: &M::Input, deps: &D) -> Result<(), BoxError> {
        M::validate(input, deps)
    }
}

/// The result of the user's validator, its error boxed; generated code calls it spanned on
/// the `validate = path`, so a validator of the wrong type is an error there.
pub fn validated(result: impl Validation) -> Result<(), BoxError> {
    result.into_result()
}

/// What a `validate = ..` fn returns: `Result<(), E>` with an error that boxes.
#[diagnostic::on_unimplemented(
    message = "a `validate` fn must return `Result<(), E>`, not `{Self}`",
    label = "this validator returns `{Self}`",
    note = "a validator is a sync `fn(&Input, &Deps) -> Result<(), E>` (without `&Deps` when the action takes \
            no deps); `E` is an error type, a `String` or a `&'static str`"
)]
pub trait Validation {
    /// The result with its error boxed.
    fn into_result(self) -> Result<(), BoxError>;
}

impl<E: Into<BoxError>> Validation for Result<(), E> {
    fn into_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

/// The value of a builder whose settings the macro checked at compile time with the same
/// rules (`rules.rs`, compiled into both crates) that `build()` runs, on the same values
/// and defaults: `build()` cannot refuse them. A refusal would be a bug in worker-utils,
/// so it is reported as one, loudly, instead of being replaced by a default the user did
/// not ask for.
///
/// # Panics
///
/// If `built` is an error, which the shared rules make impossible.
fn checked<T>(built: Result<T, ConfigError>, what: &str) -> T {
    match built {
        Ok(value) => value,
        Err(error) => panic!(
            "worker-utils bug: the macro accepted this `{what}`, but the runtime refused it ({error}); please report it"
        ),
    }
}

/// Builds the config of `retry(...)`; see `checked`.
pub fn retry_config(builder: RetryConfigBuilder) -> RetryConfig {
    checked(builder.build(), "retry(..)")
}

/// Builds the budget of `retry(budget(ratio = .., per_second = ..))`; see `checked`.
pub fn retry_budget(ratio: f64, per_second: u32) -> RetryBudget {
    checked(RetryBudget::new(ratio, per_second), "budget(..)")
}

/// Builds the breaker of `circuit_breaker(...)`, named like the action; see `checked`.
pub fn circuit_breaker(name: &'static str, config: CircuitBreakerConfigBuilder) -> CircuitBreaker {
    CircuitBreaker::new(name, checked(config.build(), "circuit_breaker(..)"))
}

/// Builds the policy of `#[worker(redeliver(...))]`; see `checked`.
pub fn redelivery_policy(builder: RedeliveryPolicyBuilder) -> RedeliveryPolicy {
    checked(builder.build(), "redeliver(..)")
}

/// A field that `#[classify(retry_after = field)]` reads the hint from.
#[diagnostic::on_unimplemented(
    message = "a `retry_after` field must be a `Duration` or an `Option<Duration>`, not `{Self}`",
    label = "this field is not a `Duration`"
)]
pub trait RetryAfter {
    /// The hint.
    fn retry_after_hint(&self) -> Option<Duration>;
}

impl RetryAfter for Duration {
    fn retry_after_hint(&self) -> Option<Duration> {
        Some(*self)
    }
}

impl RetryAfter for Option<Duration> {
    fn retry_after_hint(&self) -> Option<Duration> {
        *self
    }
}

/// What a checked `#[worker]` pipeline step returns, and which step that is: the value
/// that [`step`] and [`link`] pass from one step's check to the next.
pub struct StepOutput<O, S>(PhantomData<fn() -> (O, S)>);

impl<O, S> fmt::Debug for StepOutput<O, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StepOutput")
    }
}

/// Asserts, spanned on a `#[worker]` pipeline's first step, that `M` is the marker of an
/// `#[action]` for the worker's deps `D`. Only evaluated at compile time.
///
/// The deps are checked on `M`'s wrapper stack, a type only `M: ActionStack` defines: for
/// a fn without `#[action]` the stack cannot be named, so the one error is "not an
/// `#[action]` fn" and not a second one about deps.
pub const fn step<D, M>() -> StepOutput<OutputOf<D, M>, M>
where
    D: ?Sized + Sync,
    M: ActionStack<Stack: Action<D>>,
{
    StepOutput(PhantomData)
}

/// Asserts, spanned on a later `#[worker]` pipeline step, that `Next` is the marker of an
/// `#[action]` for the worker's deps `D` that takes what the step before it returns. Only
/// evaluated at compile time.
pub const fn link<D, Next, Output, Prev>(
    previous: StepOutput<Output, Prev>,
) -> StepOutput<OutputOf<D, Next>, Next>
where
    D: ?Sized + Sync,
    Next: ActionStack<Stack: Action<D>>,
    Output: Feeds<InputOf<D, Next>, Prev, Next>,
{
    let _ = previous;
    StepOutput(PhantomData)
}

/// The input of the `#[action]` whose marker is `M`, with deps `D`.
pub type InputOf<D, M> = <<M as ActionStack>::Stack as Action<D>>::Input;

/// The output of the `#[action]` whose marker is `M`, with deps `D`.
pub type OutputOf<D, M> = <<M as ActionStack>::Stack as Action<D>>::Output;

/// `Self`, the output of pipeline step `Prev`, is the input of the next step `Next` (both
/// the marker types named like the steps' fns).
/// Implemented only when `Self` and `Input` are the same type, with an error naming both.
#[diagnostic::on_unimplemented(
    message = "`{Next}` takes `{Input}`, but `{Prev}` before it returns `{Self}`",
    label = "`{Next}` expects `{Input}`, but `{Prev}` returns `{Self}`",
    note = "each step's output must be the next step's input: change one of the two fns, or put a step \
            turning `{Self}` into `{Input}` between them"
)]
pub trait Feeds<Input, Prev, Next> {}

impl<T, Prev, Next> Feeds<T, Prev, Next> for T {}

/// Builds the rules of `#[worker(alert(..))]`; see `checked`.
pub fn alert_rules<const N: usize>(
    builders: [crate::alert::AlertRuleBuilder; N],
) -> Vec<crate::alert::AlertRule> {
    builders.into_iter().map(|builder| checked(builder.build(), "alert(..)")).collect()
}
