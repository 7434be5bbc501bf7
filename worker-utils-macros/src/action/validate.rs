//! Checks of `#[action]`: the fn's signature, and the arguments against each other. The
//! result is a [`Plan`] that [`expand`](super::expand) turns into code without further
//! decisions.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned as _;
use syn::{FnArg, GenericArgument, ItemFn, LitStr, Path, PathArguments, ReturnType, Type, Visibility};

use super::parse::{
    ActionArgs, BreakerArgs, BreakerConfigArgs, BudgetArgs, ErrorHandlingArgs, RetryArgs, WindowKind,
};
use crate::common::backoff::{BackoffPlan, BackoffProfile};
use crate::common::kind::kinds;
use crate::common::{Errors, Kind, Once, Spanned, naming};

/// What the fn looks like, as far as the generated code cares.
pub(crate) struct Signature {
    /// The fn's name.
    pub(crate) fn_ident: syn::Ident,
    /// The generated type's name (see [`naming`]).
    pub(crate) type_ident: syn::Ident,
    /// The fn's visibility, given to the type as well.
    pub(crate) vis: Visibility,
    /// The first parameter's type.
    pub(crate) input: Type,
    /// `D` of a `deps: &D` parameter.
    pub(crate) deps: Option<Type>,
    /// The fn's parameters in order.
    pub(crate) params: Vec<Role>,
    /// The return type.
    pub(crate) output: Output,
}

/// What a parameter is for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Input,
    Deps,
    Ctx,
}

/// The fn's return type.
pub(crate) enum Output {
    /// Literally `Result<T, E>`: `T` and `E` are named in the generated code.
    Split { ok: Box<Type>, err: Box<Type> },
    /// Another path type, taken to be an alias of `Result<T, E>` (`io::Result<T>`); the
    /// runtime's `Outcome` trait takes it apart.
    Whole(Box<Type>),
}

/// The wrappers and settings the expansion builds.
pub(crate) struct Plan {
    /// Where the generated code reaches the runtime: `<crate>::__private`.
    pub(crate) runtime: TokenStream,
    /// The action's name for logs, metrics and errors.
    pub(crate) name: LitStr,
    /// The wrappers, outermost first, in the canonical order of [`Layer`].
    pub(crate) layers: Vec<Layer>,
    /// The stack's `Action::worst_case`, computed at compile time; `None` when unbounded.
    pub(crate) worst_case: Option<Duration>,
}

/// One wrapper. The declaration order is the canonical order, outermost first, whatever
/// order the user wrote the arguments in: error handling sees the final outcome; validation
/// runs once per call and rejects a bad input before the breaker counts it or a retry
/// repeats it; the breaker counts whole calls (a retry loop is one call, and a rejected call is not
/// retried); the total timeout bounds every attempt and wait; retry runs attempts; the
/// timeout bounds each attempt. A new wrapper is a new variant in its place here and an
/// arm in `expand::wrap`.
pub(crate) enum Layer {
    ErrorHandling { handler: Option<Path>, cleanup: Option<Path> },
    Validate(Path),
    CircuitBreaker(BreakerPlan),
    TotalTimeout(Duration),
    Retry(RetryPlan),
    Timeout(Duration),
}

impl Layer {
    fn rank(&self) -> u8 {
        match self {
            Layer::ErrorHandling { .. } => 0,
            Layer::Validate(_) => 1,
            Layer::CircuitBreaker(_) => 2,
            Layer::TotalTimeout(_) => 3,
            Layer::Retry(_) => 4,
            Layer::Timeout(_) => 5,
        }
    }

    /// The runtime wrapper's `Action::worst_case` around an action whose worst case is
    /// `inner`: a timeout caps it, retry multiplies it and adds `max_delay` per retry (the
    /// longest a retry-after hint can stretch a wait), the others add nothing.
    fn worst_case(&self, inner: Option<Duration>) -> Option<Duration> {
        match self {
            Layer::Timeout(limit) | Layer::TotalTimeout(limit) => {
                Some(inner.map_or(*limit, |d| d.min(*limit)))
            }
            Layer::Retry(retry) => {
                let retries = retry.attempts().saturating_sub(1);
                Some(
                    inner?
                        .saturating_mul(retry.attempts())
                        .saturating_add(retry.max_delay().saturating_mul(retries)),
                )
            }
            Layer::ErrorHandling { .. } | Layer::Validate(_) | Layer::CircuitBreaker(_) => inner,
        }
    }
}

/// `circuit_breaker`: the action's own breaker, or a shared one.
pub(crate) enum BreakerPlan {
    Own(BreakerConfig),
    Shared(Path),
}

/// The breaker settings the user gave; unset ones keep the runtime's defaults. An inner
/// `None` is a rule turned off.
#[derive(Default)]
pub(crate) struct BreakerConfig {
    pub(crate) consecutive_failures: Option<Option<u32>>,
    pub(crate) failure_ratio: Option<Option<f64>>,
    pub(crate) window: Option<WindowKind>,
    pub(crate) min_calls: Option<u32>,
    pub(crate) slow_call: Option<Duration>,
    pub(crate) slow_call_ratio: Option<f64>,
    pub(crate) open_for: Option<Duration>,
    pub(crate) open_backoff: Option<(f64, Duration)>,
    pub(crate) half_open: Option<u32>,
    pub(crate) on: Option<Vec<Kind>>,
}

/// `retry(budget = ..)`.
pub(crate) enum BudgetPlan {
    Off,
    Own { ratio: f64, per_second: u32 },
    Shared(Path),
}

/// The retry settings the user gave; unset ones keep the runtime's defaults.
#[derive(Default)]
pub(crate) struct RetryPlan {
    pub(crate) max_attempts: Option<u32>,
    pub(crate) backoff: BackoffPlan,
    pub(crate) when: Option<Path>,
    pub(crate) budget: Option<BudgetPlan>,
}

/// The runtime's `RETRY_DEFAULTS`, which `retry` alone means.
const DEFAULT_MAX_ATTEMPTS: u32 = 3;
const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(1000);
const DEFAULT_MAX_DELAY: Duration = Duration::from_millis(30_000);

/// What `retry`'s backoff keys mean: the defaults above, no limit on `max_delay`.
pub(crate) const RETRY_BACKOFF: BackoffProfile = BackoffProfile {
    default_base_delay: DEFAULT_BASE_DELAY,
    default_max_delay: DEFAULT_MAX_DELAY,
    max_delay_limit: None,
    base_delay_example: "base_delay = \"200ms\"",
    max_delay_example: "max_delay = \"10s\"",
    empty_on: "`on` lists no kinds, so nothing would be retried: list at least one kind or remove `retry`",
};

/// The runtime's `CircuitBreakerConfig::default()` and limits, as far as checks need them.
const DEFAULT_WINDOW_CALLS: u32 = 20;
const MAX_WINDOW_CALLS: u32 = 1_000_000;
const DEFAULT_MIN_CALLS: u32 = 10;
const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(30);

/// Checks the signature; `None` if the type cannot be generated.
pub(crate) fn signature(func: &ItemFn, errors: &mut Errors) -> Option<Signature> {
    let sig = &func.sig;
    let mut ok = true;
    let mut fail = |errors: &mut Errors, span: Span, message: &str| {
        errors.at(span, message);
        ok = false;
    };
    if sig.asyncness.is_none() {
        fail(errors, sig.fn_token.span, "`#[action]` needs an `async fn`: add `async` before `fn`");
    }
    if let Some(unsafety) = sig.unsafety {
        fail(
            errors,
            unsafety.span,
            "`#[action]` does not support `unsafe fn`: the action calls the fn from safe code",
        );
    }
    if let Some(abi) = &sig.abi {
        fail(errors, abi.span(), "`#[action]` does not support `extern` fns");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let span = if sig.generics.params.is_empty() {
            sig.generics.where_clause.span()
        } else {
            sig.generics.span()
        };
        fail(
            errors,
            span,
            "`#[action]` does not support generic fns: an action has one input and one output type; \
             leave out the `deps` parameter to accept any deps type",
        );
    }
    let type_ident = match naming::action_type(&sig.ident) {
        Ok(type_ident) => type_ident,
        Err(error) => {
            errors.push(error);
            return None;
        }
    };
    if type_ident == naming::unraw(&sig.ident) {
        fail(
            errors,
            sig.ident.span(),
            &format!(
                "name the action fn in snake_case: its type is named `{type_ident}` by converting the fn name to CamelCase"
            ),
        );
    }

    let mut input = None;
    let mut deps = None;
    let mut params = Vec::new();
    let mut has_ctx = false;
    for (index, arg) in sig.inputs.iter().enumerate() {
        let ty = match arg {
            FnArg::Receiver(receiver) => {
                fail(
                    errors,
                    receiver.span(),
                    "`#[action]` does not support methods: write a free fn and pass shared state through a `deps: &D` parameter",
                );
                break;
            }
            FnArg::Typed(pat) => &*pat.ty,
        };
        if index >= 3 {
            fail(
                errors,
                arg.span(),
                "too many parameters: an action fn takes its input, then optionally `deps: &D` and `ctx: &ActionContext`",
            );
            continue;
        }
        if matches!(ty, Type::ImplTrait(_)) {
            fail(
                errors,
                ty.span(),
                "`impl Trait` parameters make the fn generic, which `#[action]` does not support; name a concrete type",
            );
            continue;
        }
        if index == 0 {
            if let Type::Reference(_) = ty {
                let message = if is_context(ty) {
                    "the first parameter is the action's input; put `ctx: &ActionContext` after it (use `_: ()` for no input)"
                } else {
                    "the input is moved into the action and cannot be a reference: take an owned type (`&str` → `String`)"
                };
                fail(errors, ty.span(), message);
                continue;
            }
            input = Some(ty.clone());
            params.push(Role::Input);
            continue;
        }
        let Type::Reference(reference) = ty else {
            fail(
                errors,
                ty.span(),
                "unknown parameter: after the input, an action fn takes `deps: &D` and `ctx: &ActionContext`, each optional and by shared reference",
            );
            continue;
        };
        if let Some(mutability) = reference.mutability {
            fail(errors, mutability.span, "`deps` and `ctx` are shared references: remove `mut`");
            continue;
        }
        if is_context(ty) {
            if has_ctx {
                fail(errors, ty.span(), "a second `&ActionContext` parameter: an action fn takes one `ctx`");
                continue;
            }
            has_ctx = true;
            params.push(Role::Ctx);
        } else {
            if deps.is_some() {
                fail(
                    errors,
                    ty.span(),
                    "a second deps parameter: an action fn takes one `deps: &D`; group what it needs in one struct",
                );
                continue;
            }
            deps = Some((*reference.elem).clone());
            params.push(Role::Deps);
        }
    }
    if sig.inputs.is_empty() {
        fail(
            errors,
            sig.paren_token.span.join(),
            "an action fn takes its input as the first parameter; add one (`_: ()` for an action without input)",
        );
    }

    let output = match &sig.output {
        ReturnType::Default => {
            fail(
                errors,
                sig.paren_token.span.close(),
                "an action fn returns `Result<T, E>`: add a return type, e.g. `-> Result<(), MyError>`",
            );
            None
        }
        ReturnType::Type(_, ty) => match output(ty) {
            Some(output) => Some(output),
            None => {
                fail(
                    errors,
                    ty.span(),
                    &format!("an action fn returns `Result<T, E>`, not `{}`", ty.to_token_stream()),
                );
                None
            }
        },
    };
    if !ok {
        return None;
    }
    Some(Signature {
        fn_ident: sig.ident.clone(),
        type_ident,
        vis: func.vis.clone(),
        input: input?,
        deps,
        params,
        output: output?,
    })
}

/// Whether `ty` is `&ActionContext` (by the last path segment, so `&worker_utils::ActionContext`
/// counts too).
fn is_context(ty: &Type) -> bool {
    let Type::Reference(reference) = ty else { return false };
    matches!(&*reference.elem, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "ActionContext" && s.arguments.is_none()))
}

/// `Result<T, E>` split in two; a path type named `…Result` (an alias such as
/// `io::Result<T>`) whole; anything else is not a `Result`.
fn output(ty: &Type) -> Option<Output> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if !last.ident.to_string().ends_with("Result") {
        return None;
    }
    if last.ident == "Result"
        && let PathArguments::AngleBracketed(args) = &last.arguments
        && args.args.len() == 2
        && let (Some(GenericArgument::Type(ok)), Some(GenericArgument::Type(err))) =
            (args.args.first(), args.args.last())
    {
        return Some(Output::Split { ok: Box::new(ok.clone()), err: Box::new(err.clone()) });
    }
    Some(Output::Whole(Box::new(ty.clone())))
}

/// Checks the arguments against each other and builds the plan. Values that failed their
/// checks are left out, so the plan is still usable for an expansion beside the errors.
pub(crate) fn plan(args: &ActionArgs, fn_ident: &syn::Ident, errors: &mut Errors) -> Plan {
    let runtime = crate::common::runtime(args.krate.get());
    let name = match args.name.get() {
        Some(name) if name.value().is_empty() => {
            errors.at(name.span(), "`name` must not be empty");
            LitStr::new(&naming::unraw(fn_ident), fn_ident.span())
        }
        Some(name) => name.clone(),
        None => LitStr::new(&naming::unraw(fn_ident), fn_ident.span()),
    };
    let mut layers = Vec::new();
    if let Some(eh) = args.error_handling.get() {
        layers.push(error_handling(eh));
    }
    layers.extend(args.validate.get().cloned().map(Layer::Validate));
    if let Some(breaker) = args.circuit_breaker.get() {
        layers.push(Layer::CircuitBreaker(match breaker {
            BreakerArgs::Own(config) => BreakerPlan::Own(breaker_config(config, errors)),
            BreakerArgs::Shared(path) => BreakerPlan::Shared(path.clone()),
        }));
    }
    layers.extend(args.retry.get().map(|retry| Layer::Retry(retry_plan(retry, errors))));
    let timeout = checked(&args.timeout, |d| !d.is_zero(), "`timeout` must be greater than zero", errors);
    let total =
        checked(&args.total_timeout, |d| !d.is_zero(), "`total_timeout` must be greater than zero", errors);
    if let (Some(total_arg), Some(total_value), Some(timeout)) = (args.total_timeout.get(), total, timeout)
        && total_value < timeout
    {
        errors.at(
            total_arg.span,
            format!(
                "`total_timeout` ({total_value:?}) is shorter than the per-attempt `timeout` ({timeout:?}), which could \
                 then never fire: raise `total_timeout` or lower `timeout`"
            ),
        );
    }
    layers.extend(total.map(Layer::TotalTimeout));
    layers.extend(timeout.map(Layer::Timeout));
    layers.sort_by_key(Layer::rank);
    let worst_case = layers.iter().rev().fold(None, |inner, layer| layer.worst_case(inner));
    Plan { runtime, name, layers, worst_case }
}

/// The value in `slot` if `valid` holds for it; otherwise reports `message` on it.
fn checked<T: Copy>(
    slot: &Once<Spanned<T>>,
    valid: impl FnOnce(T) -> bool,
    message: &str,
    errors: &mut Errors,
) -> Option<T> {
    let spanned = slot.get()?;
    if valid(spanned.value) {
        Some(spanned.value)
    } else {
        errors.at(spanned.span, message);
        None
    }
}

/// [`checked`] for a rule that `false` may turn off (an inner `None`).
fn checked_rule<T: Copy>(
    slot: &Once<Option<Spanned<T>>>,
    valid: impl FnOnce(T) -> bool,
    message: &str,
    errors: &mut Errors,
) -> Option<Option<T>> {
    match slot.get()? {
        None => Some(None),
        Some(spanned) if valid(spanned.value) => Some(Some(spanned.value)),
        Some(spanned) => {
            errors.at(spanned.span, message);
            None
        }
    }
}

/// What a setting is for the checks between settings: its checked value, the runtime's
/// default when unset, or `None` when its value was rejected (and reported) already.
fn or_default<T, A>(checked: Option<T>, arg: &Once<A>, default: T) -> Option<T> {
    if arg.is_set() { checked } else { Some(default) }
}

/// A share of a window's calls.
fn is_ratio(ratio: f64) -> bool {
    ratio > 0.0 && ratio <= 1.0
}

fn breaker_config(args: &BreakerConfigArgs, errors: &mut Errors) -> BreakerConfig {
    let mut config = BreakerConfig {
        consecutive_failures: checked_rule(
            &args.consecutive_failures,
            |n| n >= 1,
            "`consecutive_failures` must be at least 1, or `false` to open on the ratios only",
            errors,
        ),
        failure_ratio: checked_rule(
            &args.failure_ratio,
            is_ratio,
            "`failure_ratio` is a share of the window's calls: above 0 and at most 1, e.g. `failure_ratio = 0.5`",
            errors,
        ),
        window: checked(
            &args.window,
            |w| !matches!(w, WindowKind::Calls(0) | WindowKind::Time(Duration::ZERO)),
            match args.window.get().map(|w| w.value) {
                Some(WindowKind::Time(_)) => "`window` must be longer than zero",
                _ => "`window` must hold at least 1 call",
            },
            errors,
        ),
        min_calls: checked(&args.min_calls, |n| n >= 1, "`min_calls` must be at least 1", errors),
        slow_call: checked(&args.slow_call, |d| !d.is_zero(), "`slow_call` must be longer than zero", errors),
        slow_call_ratio: checked(
            &args.slow_call_ratio,
            is_ratio,
            "`slow_call_ratio` is a share of the window's calls: above 0 and at most 1, e.g. `slow_call_ratio = 0.8`",
            errors,
        ),
        open_for: checked(&args.open_for, |d| !d.is_zero(), "`open_for` must be longer than zero", errors),
        open_backoff: None,
        half_open: checked(
            &args.half_open,
            |n| n >= 1,
            "`half_open` must be at least 1: it is how many probe calls a half-open breaker lets through",
            errors,
        ),
        on: kinds(
            &args.on,
            (!args.slow_call.is_set()).then_some(
                "`on` lists no kinds, so no error counts as a failure and, without `slow_call`, the breaker \
                 could never open: list at least one kind",
            ),
            errors,
        ),
    };
    if let (Some(window), Some(WindowKind::Calls(calls))) = (args.window.get(), config.window)
        && calls > MAX_WINDOW_CALLS
    {
        errors.at(
            window.span,
            format!(
                "`window` holds at most {MAX_WINDOW_CALLS} calls; for a longer memory use a time window such as \
                 `window = \"10m\"`"
            ),
        );
        config.window = None;
    }
    let window = or_default(config.window, &args.window, WindowKind::Calls(DEFAULT_WINDOW_CALLS));
    if let (Some(WindowKind::Calls(calls)), Some(min_calls)) =
        (window, or_default(config.min_calls, &args.min_calls, DEFAULT_MIN_CALLS))
        && min_calls > calls
    {
        match (args.min_calls.get(), args.window.get()) {
            (Some(min_arg), _) => errors.at(
                min_arg.span,
                format!(
                    "`min_calls` ({min_calls}) is more than the window's {calls} calls{}, so no ratio could ever \
                     count: lower `min_calls` or widen `window`",
                    if args.window.is_set() { "" } else { " (the default `window`)" }
                ),
            ),
            (None, Some(window_arg)) => errors.at(
                window_arg.span,
                format!(
                    "`window = {calls}` holds fewer calls than the default `min_calls` ({min_calls}): set \
                     `min_calls` to at most {calls} too"
                ),
            ),
            (None, None) => {}
        }
        config.window = None;
        config.min_calls = None;
    }
    if let Some(key) = args.slow_call_ratio.key()
        && !args.slow_call.is_set()
    {
        errors.at(
            key.span(),
            "`slow_call_ratio` has no effect without `slow_call`: add `slow_call = \"2s\"` or remove it",
        );
        config.slow_call_ratio = None;
    }
    if let (Some(backoff), Some(key)) = (args.open_backoff.get(), args.open_backoff.key()) {
        let factor = checked(
            &backoff.factor,
            |f| f.is_finite() && f >= 1.0,
            "`factor` must be at least 1.0: a smaller factor would shorten each re-opening",
            errors,
        );
        let open_for = or_default(config.open_for, &args.open_for, DEFAULT_OPEN_FOR);
        let max = checked(
            &backoff.max,
            |max| open_for.is_none_or(|open_for| max >= open_for),
            &format!(
                "`max` is shorter than `open_for` ({:?}{}): raise `max` or lower `open_for`",
                open_for.unwrap_or_default(),
                if args.open_for.is_set() { "" } else { ", the default" }
            ),
            errors,
        );
        missing(
            key,
            &[("factor", backoff.factor.is_set()), ("max", backoff.max.is_set())],
            "open_backoff(factor = 2.0, max = \"5m\")",
            errors,
        );
        config.open_backoff = factor.zip(max);
    }
    if !args.slow_call.is_set()
        && config.consecutive_failures == Some(None)
        && config.failure_ratio == Some(None)
        && let Some(key) = args.failure_ratio.key()
    {
        errors.at(
            key.span(),
            "the breaker could never open: `consecutive_failures` and `failure_ratio` are both off and `slow_call` \
             is not set; keep a rule on or set `slow_call`",
        );
        config.consecutive_failures = None;
        config.failure_ratio = None;
    }
    config
}

/// Reports the keys of a `key(...)` list that must be given but were not.
fn missing(key: &syn::Ident, required: &[(&str, bool)], example: &str, errors: &mut Errors) {
    let absent: Vec<String> =
        required.iter().filter(|(_, given)| !given).map(|(name, _)| format!("`{name}`")).collect();
    if !absent.is_empty() {
        errors.at(key.span(), format!("`{key}(...)` needs {}, e.g. `{example}`", absent.join(" and ")));
    }
}

fn budget(args: &BudgetArgs, key: &syn::Ident, errors: &mut Errors) -> Option<BudgetPlan> {
    match args {
        BudgetArgs::Off => Some(BudgetPlan::Off),
        BudgetArgs::Shared(path) => Some(BudgetPlan::Shared(path.clone())),
        BudgetArgs::Own { ratio, per_second } => {
            let example = "budget(ratio = 0.1, per_second = 5)";
            missing(key, &[("ratio", ratio.is_set()), ("per_second", per_second.is_set())], example, errors);
            let ratio_value = checked(
                ratio,
                f64::is_finite,
                "`ratio` must be a finite number of retries per call, e.g. `ratio = 0.1`",
                errors,
            )?;
            let per_second_value = per_second.get()?.value;
            if ratio_value == 0.0 && per_second_value == 0 {
                errors.at(
                    key.span(),
                    "this budget allows no retries (`ratio = 0` and `per_second = 0`): raise one of them, or use \
                     `retry(max_attempts = 1)`",
                );
                return None;
            }
            Some(BudgetPlan::Own { ratio: ratio_value, per_second: per_second_value })
        }
    }
}

fn error_handling(args: &ErrorHandlingArgs) -> Layer {
    Layer::ErrorHandling { handler: args.handler.get().cloned(), cleanup: args.cleanup.get().cloned() }
}

fn retry_plan(args: &RetryArgs, errors: &mut Errors) -> RetryPlan {
    RetryPlan {
        max_attempts: checked(
            &args.max_attempts,
            |n| n >= 1,
            "`max_attempts` must be at least 1 (it counts the first call)",
            errors,
        ),
        backoff: args.backoff.check(&RETRY_BACKOFF, errors),
        when: args.when.get().cloned(),
        budget: args
            .budget
            .get()
            .zip(args.budget.key())
            .and_then(|(budget, key)| self::budget(budget, key, errors)),
    }
}

impl RetryPlan {
    /// Attempts in all.
    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS)
    }

    /// The cap on any single wait.
    pub(crate) fn max_delay(&self) -> Duration {
        self.backoff.max_delay.unwrap_or(DEFAULT_MAX_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use worker_utils::RetryConfig;

    use super::{DEFAULT_MAX_ATTEMPTS, RETRY_BACKOFF};

    /// The checks compare against the runtime's defaults, copied here.
    #[test]
    fn retry_defaults_match_the_runtime() {
        let default = RetryConfig::default();
        assert_eq!(DEFAULT_MAX_ATTEMPTS, default.max_attempts());
        assert_eq!(RETRY_BACKOFF.default_base_delay, default.base_delay());
        assert_eq!(RETRY_BACKOFF.default_max_delay, default.max_delay());
    }
}
