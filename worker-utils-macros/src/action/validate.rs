//! Checks of `#[action]`: the fn's signature, and the arguments against each other. The
//! result is a [`Plan`] that [`expand`](super::expand) turns into code without further
//! decisions.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned as _;
use syn::{FnArg, GenericArgument, ItemFn, LitStr, Path, PathArguments, ReturnType, Type, Visibility};

use super::parse::{ActionArgs, BackoffKind, ErrorHandlingArgs, JitterKind, RetryArgs};
use crate::common::{Errors, Kind, naming};

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
    /// Worst-case total time over every attempt; `None` when an attempt is unbounded.
    pub(crate) worst_case: Option<Duration>,
}

/// One wrapper. The declaration order is the canonical order, outermost first, whatever
/// order the user wrote the arguments in: error handling sees the final outcome, retry
/// runs attempts, the timeout bounds each attempt. A new wrapper (a circuit breaker between
/// error handling and retry, a total timeout) is a new variant in its place here and an
/// arm in `expand::wrap`.
pub(crate) enum Layer {
    ErrorHandling { handler: Option<Path>, cleanup: Option<Path> },
    Retry(RetryPlan),
    Timeout(Duration),
}

impl Layer {
    fn rank(&self) -> u8 {
        match self {
            Layer::ErrorHandling { .. } => 0,
            Layer::Retry(_) => 1,
            Layer::Timeout(_) => 2,
        }
    }
}

/// The retry settings the user gave; unset ones keep the runtime's defaults.
#[derive(Default)]
pub(crate) struct RetryPlan {
    pub(crate) max_attempts: Option<u32>,
    pub(crate) base_delay: Option<Duration>,
    pub(crate) max_delay: Option<Duration>,
    pub(crate) backoff: Option<BackoffKind>,
    pub(crate) factor: Option<f64>,
    pub(crate) jitter: Option<JitterKind>,
    pub(crate) on: Option<Vec<Kind>>,
    pub(crate) when: Option<Path>,
}

/// The runtime's `RETRY_DEFAULTS`, which `retry` alone means.
const DEFAULT_MAX_ATTEMPTS: u32 = 3;
const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(1000);
const DEFAULT_MAX_DELAY: Duration = Duration::from_millis(30_000);
const DEFAULT_FACTOR: f64 = 2.0;

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
    let type_ident = naming::action_type(&sig.ident);
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
    let retry = args.retry.get().map(|retry| retry_plan(retry, errors));
    let timeout = args.timeout.get().and_then(|timeout| {
        if timeout.value.is_zero() {
            errors.at(timeout.span, "`timeout` must be greater than zero");
            None
        } else {
            Some(timeout.value)
        }
    });
    let worst_case = timeout.map(|limit| match &retry {
        Some(retry) => limit.saturating_mul(retry.attempts()).saturating_add(retry.worst_case_backoff()),
        None => limit,
    });
    layers.extend(retry.map(Layer::Retry));
    layers.extend(timeout.map(Layer::Timeout));
    layers.sort_by_key(Layer::rank);
    Plan { runtime, name, layers, worst_case }
}

fn error_handling(args: &ErrorHandlingArgs) -> Layer {
    Layer::ErrorHandling { handler: args.handler.get().cloned(), cleanup: args.cleanup.get().cloned() }
}

fn retry_plan(args: &RetryArgs, errors: &mut Errors) -> RetryPlan {
    let mut plan = RetryPlan {
        max_attempts: args.max_attempts.get().map(|v| v.value),
        base_delay: args.base_delay.get().map(|v| v.value),
        max_delay: args.max_delay.get().map(|v| v.value),
        backoff: args.backoff.get().map(|v| v.value),
        factor: args.factor.get().map(|v| v.value),
        jitter: args.jitter.get().map(|v| v.value),
        on: None,
        when: args.when.get().cloned(),
    };
    if let Some(attempts) = args.max_attempts.get()
        && attempts.value == 0
    {
        errors.at(attempts.span, "`max_attempts` must be at least 1 (it counts the first call)");
        plan.max_attempts = None;
    }
    let base = plan.base_delay.unwrap_or(DEFAULT_BASE_DELAY);
    let max = plan.max_delay.unwrap_or(DEFAULT_MAX_DELAY);
    if base > max {
        match (args.base_delay.get(), args.max_delay.get()) {
            (Some(base_arg), _) => errors.at(
                base_arg.span,
                format!(
                    "`base_delay` ({base:?}) is greater than `max_delay` ({max:?}{}): lower `base_delay` or raise `max_delay`",
                    if args.max_delay.is_set() { "" } else { ", the default" }
                ),
            ),
            (None, Some(max_arg)) => errors.at(
                max_arg.span,
                format!("`max_delay` ({max:?}) is less than the default `base_delay` ({base:?}): set a smaller `base_delay` too"),
            ),
            (None, None) => {}
        }
        plan.base_delay = None;
        plan.max_delay = None;
    }
    if let Some(factor) = args.factor.get() {
        if !(factor.value.is_finite() && factor.value >= 1.0) {
            errors.at(factor.span, "`factor` must be at least 1.0: a smaller factor would shrink the delays");
            plan.factor = None;
        }
        if let Some(backoff) = args.backoff.get()
            && backoff.value != BackoffKind::Exponential
            && let Some(key) = args.factor.key()
        {
            errors.at(key.span(), "`factor` applies only to `backoff = exponential`; remove it");
            plan.factor = None;
        }
    }
    if let (Some(key), Some(backoff)) = (args.jitter.key(), args.backoff.get())
        && backoff.value == BackoffKind::Decorrelated
    {
        errors.at(
            key.span(),
            "`jitter` has no effect with `backoff = decorrelated`, which draws its own random delays; remove `jitter`",
        );
        plan.jitter = None;
    }
    if let (Some(list), Some(key)) = (args.on.get(), args.on.key()) {
        let mut seen: Vec<Kind> = Vec::new();
        for kind in &list.kinds {
            if seen.contains(&kind.value) {
                errors.at(kind.span, format!("`{}` is listed twice in `on`", kind.value.variant()));
            } else {
                seen.push(kind.value);
            }
        }
        if list.written == 0 {
            errors.at(
                key.span(),
                "`on` lists no kinds, so nothing would be retried: list at least one kind or remove `retry`",
            );
        }
        plan.on = Some(seen);
    }
    plan
}

impl RetryPlan {
    /// Attempts in all.
    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS)
    }

    /// The longest the retry loop can wait in all: the same formula as the runtime's
    /// `RetryConfig::worst_case_backoff` (the sum over retries `n` of the un-jittered delay
    /// before retry `n`, clamped to `max_delay`), evaluated at compile time.
    pub(crate) fn worst_case_backoff(&self) -> Duration {
        let base = self.base_delay.unwrap_or(DEFAULT_BASE_DELAY);
        let max = self.max_delay.unwrap_or(DEFAULT_MAX_DELAY);
        let retries = self.attempts().saturating_sub(1);
        let backoff = self.backoff.unwrap_or(BackoffKind::Exponential);
        let factor = self.factor.unwrap_or(DEFAULT_FACTOR);
        match backoff {
            BackoffKind::Fixed => base.min(max).saturating_mul(retries),
            BackoffKind::Linear => linear_sum(base, max, retries),
            BackoffKind::Exponential | BackoffKind::Decorrelated => {
                // Both grow geometrically, so the cap is reached after a few dozen retries;
                // from then on every retry adds `max`.
                let mut total = Duration::ZERO;
                for n in 1..=retries {
                    let delay = raw_delay(backoff, factor, base, n).min(max);
                    if delay == max || (delay.is_zero() && n > 1) || n > 100_000 {
                        return total.saturating_add(delay.saturating_mul(retries - n + 1));
                    }
                    total = total.saturating_add(delay);
                }
                total
            }
        }
    }
}

/// `Σ min(base·n, max)` for `n` in `1..=retries`, in closed form.
fn linear_sum(base: Duration, max: Duration, retries: u32) -> Duration {
    let (base, max, retries) = (base.as_nanos(), max.as_nanos(), u128::from(retries));
    let below_cap = max.checked_div(base).map_or(retries, |n| n.min(retries));
    let nanos = base.saturating_mul(below_cap).saturating_mul(below_cap + 1) / 2
        + max.saturating_mul(retries - below_cap);
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    let subsec = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    if secs == u64::MAX { Duration::MAX } else { Duration::new(secs, subsec) }
}

/// The runtime's `raw_delay`, to the bit.
fn raw_delay(backoff: BackoffKind, factor: f64, base: Duration, n: u32) -> Duration {
    match backoff {
        BackoffKind::Exponential => {
            let exponent = i32::try_from(n.saturating_sub(1).min(1024)).unwrap_or(1024);
            Duration::try_from_secs_f64(base.as_secs_f64() * factor.powi(exponent)).unwrap_or(Duration::MAX)
        }
        BackoffKind::Fixed => base,
        BackoffKind::Linear => base.saturating_mul(n),
        BackoffKind::Decorrelated => base.saturating_mul(3u32.saturating_pow(n.saturating_sub(1))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(attempts: u32, base_ms: u64, max_ms: u64, backoff: BackoffKind) -> RetryPlan {
        RetryPlan {
            max_attempts: Some(attempts),
            base_delay: Some(Duration::from_millis(base_ms)),
            max_delay: Some(Duration::from_millis(max_ms)),
            backoff: Some(backoff),
            ..RetryPlan::default()
        }
    }

    #[test]
    fn defaults_wait_three_seconds() {
        assert_eq!(RetryPlan::default().worst_case_backoff(), Duration::from_secs(3));
    }

    #[test]
    fn each_strategy() {
        let ms = Duration::from_millis;
        // 200 + 400 + 800 + 1000 (capped)
        assert_eq!(plan(5, 200, 1000, BackoffKind::Exponential).worst_case_backoff(), ms(2400));
        assert_eq!(plan(5, 200, 1000, BackoffKind::Fixed).worst_case_backoff(), ms(800));
        // 200 + 400 + 600 + 800
        assert_eq!(plan(5, 200, 1000, BackoffKind::Linear).worst_case_backoff(), ms(2000));
        // 200 + 600 + 1000 + 1000
        assert_eq!(plan(5, 200, 1000, BackoffKind::Decorrelated).worst_case_backoff(), ms(2800));
        assert_eq!(plan(1, 200, 1000, BackoffKind::Exponential).worst_case_backoff(), Duration::ZERO);
    }

    #[test]
    fn huge_attempt_counts_finish() {
        let linear = plan(u32::MAX, 1, 3_600_000_000, BackoffKind::Linear).worst_case_backoff();
        assert!(linear > Duration::from_secs(3_600_000));
        let zero = plan(u32::MAX, 0, 0, BackoffKind::Exponential).worst_case_backoff();
        assert_eq!(zero, Duration::ZERO);
        let capped = plan(u32::MAX, 1, 1, BackoffKind::Exponential).worst_case_backoff();
        assert_eq!(capped, Duration::from_millis(u64::from(u32::MAX - 1)));
    }
}
