//! The argument model of `#[action(...)]`: every key parses into a typed, spanned field.
//! Only the shape and type of each value is checked here; how values relate to each other
//! is [`validate`](super::validate)'s job.

use std::time::Duration;

use proc_macro2::{Ident, TokenStream};
use syn::{LitStr, Path};

use super::validate::RETRY_BACKOFF;
use crate::common::backoff::BackoffArgs;
use crate::common::items::Form;
use crate::common::kind::{KindList, kind_list};
use crate::common::once::set;
use crate::common::{Errors, Item, Once, Spanned, duration, items, unknown_key, value};

/// `#[action(...)]`'s arguments.
#[derive(Default)]
pub(crate) struct ActionArgs {
    pub(crate) retry: Once<RetryArgs>,
    pub(crate) error_handling: Once<ErrorHandlingArgs>,
    pub(crate) circuit_breaker: Once<BreakerArgs>,
    pub(crate) timeout: Once<Spanned<Duration>>,
    pub(crate) total_timeout: Once<Spanned<Duration>>,
    pub(crate) validate: Once<Path>,
    pub(crate) name: Once<LitStr>,
    pub(crate) krate: Once<Path>,
}

/// `retry` or `retry(...)`.
#[derive(Default)]
pub(crate) struct RetryArgs {
    pub(crate) max_attempts: Once<Spanned<u32>>,
    /// `base_delay`, `max_delay`, `backoff`, `factor`, `jitter` and `on`.
    pub(crate) backoff: BackoffArgs,
    pub(crate) when: Once<Path>,
    pub(crate) budget: Once<BudgetArgs>,
}

/// `budget = false`, `budget(ratio = .., per_second = ..)` or `budget = path::TO_SHARED`.
pub(crate) enum BudgetArgs {
    /// `budget = false`: retry without a budget.
    Off,
    /// The action's own budget.
    Own { ratio: Once<Spanned<f64>>, per_second: Once<Spanned<u32>> },
    /// A shared `RetryBudget`.
    Shared(Path),
}

/// `circuit_breaker`, `circuit_breaker(...)` or `circuit_breaker = path::TO_SHARED`.
pub(crate) enum BreakerArgs {
    /// The action's own breaker; no settings means the defaults.
    Own(Box<BreakerConfigArgs>),
    /// A shared `CircuitBreaker`.
    Shared(Path),
}

/// The settings of `circuit_breaker(...)`, named like `CircuitBreakerConfig`'s builder. A
/// `None` inside is a rule turned off with `false`.
#[derive(Default)]
pub(crate) struct BreakerConfigArgs {
    pub(crate) consecutive_failures: Once<Option<Spanned<u32>>>,
    pub(crate) failure_ratio: Once<Option<Spanned<f64>>>,
    pub(crate) window: Once<Spanned<WindowKind>>,
    pub(crate) min_calls: Once<Spanned<u32>>,
    pub(crate) slow_call: Once<Spanned<Duration>>,
    pub(crate) slow_call_ratio: Once<Spanned<f64>>,
    pub(crate) open_for: Once<Spanned<Duration>>,
    pub(crate) open_backoff: Once<OpenBackoffArgs>,
    pub(crate) half_open: Once<Spanned<u32>>,
    pub(crate) on: Once<KindList>,
}

/// `window = 20` (the last 20 calls) or `window = "60s"` (the calls of the last minute).
#[derive(Clone, Copy)]
pub(crate) enum WindowKind {
    Calls(u32),
    Time(Duration),
}

/// `open_backoff(factor = .., max = ..)`.
#[derive(Default)]
pub(crate) struct OpenBackoffArgs {
    pub(crate) factor: Once<Spanned<f64>>,
    pub(crate) max: Once<Spanned<Duration>>,
}

/// `error_handling` or `error_handling(...)`.
#[derive(Default)]
pub(crate) struct ErrorHandlingArgs {
    pub(crate) handler: Once<Path>,
    pub(crate) cleanup: Once<Path>,
}

/// What `when`, `handler` and `cleanup` name.
const FUNCTION: &str = "a path to a function";

impl ActionArgs {
    /// Every top-level key.
    pub(crate) const KEYS: &[&str] = &[
        "retry",
        "error_handling",
        "circuit_breaker",
        "timeout",
        "total_timeout",
        "validate",
        "name",
        "crate",
    ];

    /// Parses the attribute's tokens, recording every problem in `errors`.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        for item in items::split(tokens, errors) {
            let key = &item.key;
            match item.name().as_str() {
                "retry" => {
                    let example = "retry(max_attempts = 5, base_delay = \"200ms\")";
                    if let Some(list) = item.nested(example, errors) {
                        args.retry.set(key, RetryArgs::parse(list, errors), errors);
                    }
                }
                "error_handling" => {
                    let example = "error_handling(handler = my_handler, cleanup = my_cleanup)";
                    if let Some(list) = item.nested(example, errors) {
                        args.error_handling.set(key, ErrorHandlingArgs::parse(list, errors), errors);
                    }
                }
                "circuit_breaker" => {
                    let breaker = match item.form(errors) {
                        Form::Nested(list) => {
                            Some(BreakerArgs::Own(Box::new(BreakerConfigArgs::parse(list, errors))))
                        }
                        Form::Assigned(tokens) => {
                            let shared = value::path(
                                "circuit_breaker",
                                tokens,
                                "a path to a shared `CircuitBreaker` (or write `circuit_breaker(...)`)",
                                "PAYMENTS_BREAKER",
                            );
                            errors.take(shared).map(BreakerArgs::Shared)
                        }
                    };
                    if let Some(breaker) = breaker {
                        args.circuit_breaker.set(key, breaker, errors);
                    }
                }
                "timeout" => set(&mut args.timeout, &item, errors, "timeout = \"30s\"", |t, _| {
                    duration::parse("timeout", t)
                }),
                "total_timeout" => {
                    set(&mut args.total_timeout, &item, errors, "total_timeout = \"2m\"", |t, _| {
                        duration::parse("total_timeout", t)
                    })
                }
                "validate" => set(&mut args.validate, &item, errors, "validate = check_input", |t, _| {
                    value::path(
                        "validate",
                        t,
                        "a path to a fn `fn(&Input, &Deps) -> Result<(), E>` (without `&Deps` when the action \
                         takes no deps)",
                        "check_input",
                    )
                }),
                "name" => set(&mut args.name, &item, errors, "name = \"fetch_image\"", |t, _| {
                    value::str_("name", t, "\"fetch_image\"")
                }),
                "crate" => {
                    set(&mut args.krate, &item, errors, "crate = \"my_crate::worker_utils\"", |t, _| {
                        value::crate_path(t)
                    })
                }
                _ => errors.push(unknown_key(key, "`#[action]`", Self::KEYS)),
            }
        }
        args
    }
}

impl RetryArgs {
    /// Every `retry(...)` key.
    pub(crate) fn keys() -> Vec<&'static str> {
        BackoffArgs::keys_with(&["max_attempts"], &["when", "budget"])
    }

    fn parse(list: Vec<Item>, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        for item in list {
            if args.backoff.parse_item(&item, &RETRY_BACKOFF, errors) {
                continue;
            }
            let key: &Ident = &item.key;
            match item.name().as_str() {
                "max_attempts" => {
                    set(&mut args.max_attempts, &item, errors, "max_attempts = 5", |t, _| {
                        value::u32_("max_attempts", t, "5")
                    });
                }
                "when" => {
                    set(&mut args.when, &item, errors, "when = is_retryable", |t, _| {
                        value::path("when", t, FUNCTION, "is_retryable")
                    });
                }
                "budget" => {
                    let budget = match item.form(errors) {
                        Form::Nested(list) => Some(BudgetArgs::own(list, errors)),
                        Form::Assigned(tokens) => {
                            let budget = value::off_or("budget", tokens, "SHARED_BUDGET", |t| {
                                value::path(
                                    "budget",
                                    t,
                                    "`false`, a path to a shared `RetryBudget`, or `budget(ratio = .., per_second = ..)`",
                                    "SHARED_BUDGET",
                                )
                            });
                            errors
                                .take(budget)
                                .map(|shared| shared.map_or(BudgetArgs::Off, BudgetArgs::Shared))
                        }
                    };
                    if let Some(budget) = budget {
                        args.budget.set(key, budget, errors);
                    }
                }
                _ => errors.push(unknown_key(key, "`retry`", &Self::keys())),
            }
        }
        args
    }
}

impl BudgetArgs {
    /// Every `budget(...)` key.
    pub(crate) const KEYS: &[&str] = &["ratio", "per_second"];

    fn own(list: Vec<Item>, errors: &mut Errors) -> Self {
        let (mut ratio, mut per_second) = (Once::default(), Once::default());
        for item in list {
            match item.name().as_str() {
                "ratio" => {
                    set(&mut ratio, &item, errors, "ratio = 0.1", |t, _| value::f64_("ratio", t, "0.1"))
                }
                "per_second" => set(&mut per_second, &item, errors, "per_second = 5", |t, _| {
                    value::u32_("per_second", t, "5")
                }),
                _ => errors.push(unknown_key(&item.key, "`budget`", Self::KEYS)),
            }
        }
        BudgetArgs::Own { ratio, per_second }
    }
}

impl BreakerConfigArgs {
    /// Every `circuit_breaker(...)` key.
    pub(crate) const KEYS: &[&str] = &[
        "consecutive_failures",
        "failure_ratio",
        "window",
        "min_calls",
        "slow_call",
        "slow_call_ratio",
        "open_for",
        "open_backoff",
        "half_open",
        "on",
    ];

    fn parse(list: Vec<Item>, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        for item in list {
            let key = &item.key;
            match item.name().as_str() {
                "consecutive_failures" => {
                    set(&mut args.consecutive_failures, &item, errors, "consecutive_failures = 5", |t, _| {
                        value::off_or("consecutive_failures", t, "5", |t| {
                            value::u32_("consecutive_failures", t, "5")
                        })
                    });
                }
                "failure_ratio" => {
                    set(&mut args.failure_ratio, &item, errors, "failure_ratio = 0.5", |t, _| {
                        value::off_or("failure_ratio", t, "0.5", |t| value::f64_("failure_ratio", t, "0.5"))
                    });
                }
                "window" => set(&mut args.window, &item, errors, "window = 20", |t, _| window(t)),
                "min_calls" => {
                    set(&mut args.min_calls, &item, errors, "min_calls = 10", |t, _| {
                        value::u32_("min_calls", t, "10")
                    });
                }
                "slow_call" => set(&mut args.slow_call, &item, errors, "slow_call = \"2s\"", |t, _| {
                    duration::parse("slow_call", t)
                }),
                "slow_call_ratio" => {
                    set(&mut args.slow_call_ratio, &item, errors, "slow_call_ratio = 0.8", |t, _| {
                        value::f64_("slow_call_ratio", t, "0.8")
                    });
                }
                "open_for" => set(&mut args.open_for, &item, errors, "open_for = \"30s\"", |t, _| {
                    duration::parse("open_for", t)
                }),
                "open_backoff" => {
                    if let Some(list) = item.nested("open_backoff(factor = 2.0, max = \"5m\")", errors) {
                        args.open_backoff.set(key, OpenBackoffArgs::parse(list, errors), errors);
                    }
                }
                "half_open" => {
                    set(&mut args.half_open, &item, errors, "half_open = 1", |t, _| {
                        value::u32_("half_open", t, "1")
                    });
                }
                "on" => set(&mut args.on, &item, errors, "on = [Transient, System]", kind_list),
                _ => errors.push(unknown_key(key, "`circuit_breaker`", Self::KEYS)),
            }
        }
        args
    }
}

/// An integer is a count of calls; a string, a time span.
fn window(tokens: &TokenStream) -> syn::Result<Spanned<WindowKind>> {
    match syn::parse2::<syn::Lit>(tokens.clone()) {
        Ok(syn::Lit::Int(_)) => Ok(value::u32_("window", tokens, "20")?.map(WindowKind::Calls)),
        Ok(syn::Lit::Str(_)) => Ok(duration::parse("window", tokens)?.map(WindowKind::Time)),
        _ => Err(syn::Error::new_spanned(
            tokens,
            "`window` expects a number of calls, e.g. `window = 20`, or a time span, e.g. `window = \"60s\"`",
        )),
    }
}

impl OpenBackoffArgs {
    /// Every `open_backoff(...)` key.
    pub(crate) const KEYS: &[&str] = &["factor", "max"];

    fn parse(list: Vec<Item>, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        for item in list {
            match item.name().as_str() {
                "factor" => {
                    set(&mut args.factor, &item, errors, "factor = 2.0", |t, _| {
                        value::f64_("factor", t, "2.0")
                    });
                }
                "max" => set(&mut args.max, &item, errors, "max = \"5m\"", |t, _| duration::parse("max", t)),
                _ => errors.push(unknown_key(&item.key, "`open_backoff`", Self::KEYS)),
            }
        }
        args
    }
}

impl ErrorHandlingArgs {
    /// Every `error_handling(...)` key.
    pub(crate) const KEYS: &[&str] = &["handler", "cleanup"];

    fn parse(list: Vec<Item>, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        for item in list {
            let key = &item.key;
            match item.name().as_str() {
                "handler" => {
                    set(&mut args.handler, &item, errors, "handler = my_handler", |t, _| {
                        value::path("handler", t, FUNCTION, "my_handler")
                    });
                }
                "cleanup" => {
                    set(&mut args.cleanup, &item, errors, "cleanup = my_cleanup", |t, _| {
                        value::path("cleanup", t, FUNCTION, "my_cleanup")
                    });
                }
                _ => errors.push(unknown_key(key, "`error_handling`", Self::KEYS)),
            }
        }
        args
    }
}
