//! The arguments against each other and against the runtime's rules: the [`Plan`] that
//! [`expand`](super::super::expand) turns into code without further decisions.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::{LitStr, Path};

use super::super::parse::{
    ActionArgs, BreakerArgs, BreakerConfigArgs, BudgetArgs, ErrorHandlingArgs, RetryArgs, WindowKind,
};
use crate::common::backoff::{BackoffArgs, BackoffPlan, BackoffProfile};
use crate::common::kind::kinds;
use crate::common::{Errors, Kind, Once, Spanned, naming};
use crate::rules::{self, Field, Problem, Violation};

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

/// What `retry`'s backoff keys mean: the runtime's retry defaults, no limit on
/// `max_delay`.
pub(crate) const RETRY_BACKOFF: BackoffProfile = BackoffProfile {
    defaults: rules::Retry::DEFAULT.schedule,
    // The retry rules set no limit on `max_delay`.
    too_long: "",
    base_delay_example: "base_delay = \"200ms\"",
    max_delay_example: "max_delay = \"10s\"",
    empty_on: "`on` lists no kinds, so nothing would be retried: list at least one kind or remove `retry`",
};

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

/// The breaker's checks: each setting parsed, then the runtime's rules on the settings the
/// runtime will build (the values given, the defaults for the rest), each broken rule
/// reported on the key that breaks it. A rejected value is left out of the config.
fn breaker_config(args: &BreakerConfigArgs, errors: &mut Errors) -> BreakerConfig {
    let mut config = BreakerConfig {
        consecutive_failures: args.consecutive_failures.get().map(|rule| rule.map(|n| n.value)),
        failure_ratio: args.failure_ratio.get().map(|rule| rule.map(|ratio| ratio.value)),
        window: args.window.get().map(|w| w.value),
        min_calls: args.min_calls.get().map(|n| n.value),
        slow_call: args.slow_call.get().map(|d| d.value),
        slow_call_ratio: args.slow_call_ratio.get().map(|r| r.value),
        open_for: args.open_for.get().map(|d| d.value),
        open_backoff: None,
        half_open: args.half_open.get().map(|n| n.value),
        on: kinds(
            &args.on,
            (!args.slow_call.is_set()).then_some(
                "`on` lists no kinds, so no error counts as a failure and, without `slow_call`, the breaker \
                 could never open: list at least one kind",
            ),
            errors,
        ),
    };
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
        missing(
            key,
            &[("factor", backoff.factor.is_set()), ("max", backoff.max.is_set())],
            "open_backoff(factor = 2.0, max = \"5m\")",
            errors,
        );
        config.open_backoff = backoff.factor.get().map(|f| f.value).zip(backoff.max.get().map(|m| m.value));
    }
    let rule = config.rules();
    rule.check(&mut |violation| reject_breaker(args, &rule, violation, &mut config, errors));
    config
}

impl BreakerConfig {
    /// The settings the runtime will build, as its rules see them.
    fn rules(&self) -> rules::Breaker {
        let d = rules::Breaker::DEFAULT;
        rules::Breaker {
            consecutive_failures: self.consecutive_failures.unwrap_or(d.consecutive_failures),
            failure_ratio: self.failure_ratio.unwrap_or(d.failure_ratio),
            window: match self.window {
                None => d.window,
                Some(WindowKind::Calls(calls)) => rules::Window::Calls(calls),
                Some(WindowKind::Time(span)) => rules::Window::Time(span),
            },
            min_calls: self.min_calls.unwrap_or(d.min_calls),
            slow_call_threshold: self.slow_call.or(d.slow_call_threshold),
            slow_call_ratio: self.slow_call_ratio.unwrap_or(d.slow_call_ratio),
            open_for: self.open_for.unwrap_or(d.open_for),
            open_backoff: self.open_backoff.or(d.open_backoff),
            half_open_permits: self.half_open.unwrap_or(d.half_open_permits),
            counts_failures: self.on.as_ref().is_none_or(|kinds| !kinds.is_empty()),
        }
    }
}

/// Reports one broken rule of the breaker on the key that breaks it, with how to fix it,
/// and leaves the values involved out of `config`.
fn reject_breaker(
    args: &BreakerConfigArgs,
    rule: &rules::Breaker,
    violation: Violation,
    config: &mut BreakerConfig,
    errors: &mut Errors,
) {
    // The key's value, or the attribute when the rule is broken by a default.
    let on = |span: Option<Span>| span.unwrap_or_else(Span::call_site);
    match (violation.field, violation.problem) {
        (Field::ConsecutiveFailures, _) => {
            errors.at(
                on(args.consecutive_failures.get().copied().flatten().map(|n| n.span)),
                "`consecutive_failures` must be at least 1, or `false` to open on the ratios only",
            );
            config.consecutive_failures = None;
        }
        (Field::FailureRatio, Problem::NeverOpens) => {
            errors.at(
                on(args.failure_ratio.key().map(syn::Ident::span)),
                "the breaker could never open: `consecutive_failures` and `failure_ratio` are both off and \
                 `slow_call` is not set; keep a rule on or set `slow_call`",
            );
            config.consecutive_failures = None;
            config.failure_ratio = None;
        }
        (Field::FailureRatio, _) => {
            errors.at(
                on(args.failure_ratio.get().copied().flatten().map(|r| r.span)),
                "`failure_ratio` is a share of the window's calls: above 0 and at most 1, e.g. `failure_ratio = 0.5`",
            );
            config.failure_ratio = None;
        }
        (Field::Window, problem) => {
            let message = match problem {
                Problem::TooManyCalls { max, .. } => format!(
                    "`window` holds at most {max} calls; for a longer memory use a time window such as \
                     `window = \"10m\"`"
                ),
                Problem::ZeroDuration => "`window` must be longer than zero".to_owned(),
                _ => "`window` must hold at least 1 call".to_owned(),
            };
            errors.at(on(args.window.get().map(|w| w.span)), message);
            config.window = None;
        }
        (Field::MinCalls, Problem::MinCallsAboveWindow { min_calls, window }) => {
            match (args.min_calls.get(), args.window.get()) {
                (Some(min_arg), _) => errors.at(
                    min_arg.span,
                    format!(
                        "`min_calls` ({min_calls}) is more than the window's {window} calls{}, so no ratio could \
                         ever count: lower `min_calls` or widen `window`",
                        if args.window.is_set() { "" } else { " (the default `window`)" }
                    ),
                ),
                (None, window_arg) => errors.at(
                    on(window_arg.map(|w| w.span)),
                    format!(
                        "`window = {window}` holds fewer calls than the default `min_calls` ({min_calls}): set \
                         `min_calls` to at most {window} too"
                    ),
                ),
            }
            config.window = None;
            config.min_calls = None;
        }
        (Field::MinCalls, _) => {
            errors.at(on(args.min_calls.get().map(|n| n.span)), "`min_calls` must be at least 1");
            config.min_calls = None;
        }
        (Field::SlowCallThreshold, _) => {
            errors.at(on(args.slow_call.get().map(|d| d.span)), "`slow_call` must be longer than zero");
            config.slow_call = None;
        }
        (Field::SlowCallRatio, _) => {
            errors.at(
                on(args.slow_call_ratio.get().map(|r| r.span)),
                "`slow_call_ratio` is a share of the window's calls: above 0 and at most 1, e.g. `slow_call_ratio = 0.8`",
            );
            config.slow_call_ratio = None;
        }
        (Field::OpenFor, _) => {
            errors.at(on(args.open_for.get().map(|d| d.span)), "`open_for` must be longer than zero");
            config.open_for = None;
        }
        (Field::OpenBackoffFactor, _) => {
            let factor = args.open_backoff.get().and_then(|b| b.factor.get()).map(|f| f.span);
            errors.at(
                on(factor),
                "`factor` must be at least 1.0: a smaller factor would shorten each re-opening",
            );
            config.open_backoff = None;
        }
        (Field::OpenBackoffMax, _) => {
            let max = args.open_backoff.get().and_then(|b| b.max.get()).map(|m| m.span);
            errors.at(
                on(max),
                format!(
                    "`max` is shorter than `open_for` ({:?}{}): raise `max` or lower `open_for`",
                    rule.open_for,
                    if args.open_for.is_set() { "" } else { ", the default" }
                ),
            );
            config.open_backoff = None;
        }
        (Field::HalfOpenPermits, _) => {
            errors.at(
                on(args.half_open.get().map(|n| n.span)),
                "`half_open` must be at least 1: it is how many probe calls a half-open breaker lets through",
            );
            config.half_open = None;
        }
        // Only a written `on` can be empty, and `kinds` reported it (or its entries that
        // did not parse) in the words of the attribute.
        (Field::FailureKinds, _) => config.on = None,
        _ => errors.at(Span::call_site(), violation.to_string()),
    }
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
            let ratio_arg = ratio.get()?;
            let mut valid = true;
            rules::budget_ratio(ratio_arg.value, &mut |_| {
                errors.at(
                    ratio_arg.span,
                    "`ratio` must be a finite number of retries per call, e.g. `ratio = 0.1`",
                );
                valid = false;
            });
            let ratio_value = valid.then_some(ratio_arg.value)?;
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

/// The retry's checks: its budget, how its backoff keys are written, then the runtime's
/// rules on the config the runtime will build, each broken rule reported on its key.
fn retry_plan(args: &RetryArgs, errors: &mut Errors) -> RetryPlan {
    let mut plan = RetryPlan {
        max_attempts: args.max_attempts.get().map(|n| n.value),
        backoff: args.backoff.check(&RETRY_BACKOFF, errors),
        when: args.when.get().cloned(),
        budget: args
            .budget
            .get()
            .zip(args.budget.key())
            .and_then(|(budget, key)| self::budget(budget, key, errors)),
    };
    let rule = rules::Retry {
        max_attempts: plan.attempts(),
        schedule: BackoffArgs::schedule(&plan.backoff, &RETRY_BACKOFF),
    };
    rule.check(&mut |violation| {
        if violation.field == Field::MaxAttempts {
            if let Some(max_attempts) = args.max_attempts.get() {
                errors.at(max_attempts.span, "`max_attempts` must be at least 1 (it counts the first call)");
            }
            plan.max_attempts = None;
        } else if !args.backoff.reject(violation, &RETRY_BACKOFF, &mut plan.backoff, errors) {
            errors.at(Span::call_site(), violation.to_string());
        }
    });
    plan
}

impl RetryPlan {
    /// Attempts in all.
    pub(crate) fn attempts(&self) -> u32 {
        self.max_attempts.unwrap_or(rules::Retry::DEFAULT.max_attempts)
    }

    /// The cap on any single wait.
    pub(crate) fn max_delay(&self) -> Duration {
        self.backoff.max_delay.unwrap_or(rules::Retry::DEFAULT.schedule.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use worker_utils::circuit_breaker::{CircuitBreakerConfig, SlidingWindow};
    use worker_utils::worker::RedeliveryPolicy;
    use worker_utils::{ErrorKind, RetryConfig};

    use crate::rules;

    /// The rules this crate compiles are the runtime's file (through a symlink), not a copy
    /// that could drift from it.
    #[test]
    fn the_rules_are_the_runtimes_file() {
        assert_eq!(include_str!("../../rules.rs"), include_str!("../../../../worker-utils/src/rules.rs"));
    }

    /// Whether the rules as this crate compiled them accept `check`'s settings.
    fn accepts(check: impl FnOnce(rules::Report<'_>)) -> bool {
        let mut ok = true;
        check(&mut |_| ok = false);
        ok
    }

    /// The macro's checks and the runtime's builders decide alike, and start from the same
    /// defaults: what would fail if one side stopped calling the shared rules.
    #[test]
    fn the_macro_and_the_runtime_agree() {
        let default = RetryConfig::default();
        assert_eq!(
            (default.max_attempts(), default.base_delay(), default.max_delay()),
            (
                rules::Retry::DEFAULT.max_attempts,
                rules::Retry::DEFAULT.schedule.base_delay,
                rules::Retry::DEFAULT.schedule.max_delay
            )
        );
        let policy = RedeliveryPolicy::default();
        assert_eq!(
            (policy.max_deliveries(), policy.base_delay(), policy.max_delay()),
            (
                rules::Redelivery::DEFAULT.max_deliveries,
                rules::Redelivery::DEFAULT.schedule.base_delay,
                rules::Redelivery::DEFAULT.schedule.max_delay
            )
        );

        let second = Duration::from_secs(1);
        for (attempts, base, max) in [(0, second, second), (1, second * 2, second), (3, second, second * 2)] {
            let rule = rules::Retry {
                max_attempts: attempts,
                schedule: rules::Schedule {
                    base_delay: base,
                    max_delay: max,
                    factor: Some(rules::DEFAULT_FACTOR),
                },
            };
            let built = RetryConfig::builder().max_attempts(attempts).base_delay(base).max_delay(max).build();
            assert_eq!(accepts(|to| rule.check(to)), built.is_ok(), "{rule:?}: {built:?}");
        }

        let breaker = CircuitBreakerConfig::default();
        let d = rules::Breaker::DEFAULT;
        assert_eq!(breaker.window(), SlidingWindow::Calls(20));
        assert_eq!(
            (
                breaker.consecutive_failures(),
                breaker.failure_ratio(),
                breaker.min_calls(),
                breaker.open_for()
            ),
            (d.consecutive_failures, d.failure_ratio, d.min_calls, d.open_for)
        );
        for (window, min_calls, kinds) in [(20, 10, true), (5, 10, true), (0, 1, true), (20, 10, false)] {
            let rule = rules::Breaker {
                window: rules::Window::Calls(window),
                min_calls,
                counts_failures: kinds,
                ..d
            };
            let failure_kinds: &[ErrorKind] = if kinds { &[ErrorKind::Transient] } else { &[] };
            let built = CircuitBreakerConfig::builder()
                .window(SlidingWindow::Calls(window))
                .min_calls(min_calls)
                .failure_kinds(failure_kinds.iter().copied())
                .build();
            assert_eq!(accepts(|to| rule.check(to)), built.is_ok(), "{rule:?}: {built:?}");
        }
    }
}
