//! Checks of `#[worker]`: the item it is applied to, and the arguments' values. The result
//! is a [`Plan`] that [`expand`](super::expand) turns into code without further decisions.
//!
//! Whether each step is an `#[action]` and whether each step's output is the next step's
//! input can only be known to the compiler; the expansion asserts both, spanned on the step.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::{Generics, Ident, LitStr, Path, Type};

use super::parse::{ALERT_EXAMPLE, AlertArgs, RedeliverArgs, RedeliveryPolicyArgs, WorkerArgs};
use crate::common::backoff::{BackoffArgs, BackoffPlan, BackoffProfile};
use crate::common::suggest::did_you_mean;
use crate::common::{Errors, backticked};
use crate::rules::{self, Field, Problem};

/// More concurrent jobs than this per worker is taken for a typo. A runner can still be
/// given more with `Runner::builder(..).concurrency(n)`.
const MAX_CONCURRENCY: u64 = 10_000;

/// What `redeliver`'s backoff keys mean: `RedeliveryPolicy`'s defaults and limit.
pub(crate) const REDELIVERY_BACKOFF: BackoffProfile = BackoffProfile {
    defaults: rules::Redelivery::DEFAULT.schedule,
    too_long: "a job parked that long is better dead-lettered, where someone can see it",
    base_delay_example: "base_delay = \"30s\"",
    max_delay_example: "max_delay = \"10m\"",
    empty_on: "`on` lists no kinds, so nothing would be redelivered: list at least one kind, or write \
               `redeliver = false` to dead-letter every failure at once",
};

/// The generated `impl Worker`, decided.
pub(crate) struct Plan {
    /// Where the generated code reaches the runtime: `<crate>::__private`.
    pub(crate) runtime: TokenStream,
    /// The queue's name.
    pub(crate) queue: LitStr,
    /// `Worker::Deps`: the `deps` type, or `()`.
    pub(crate) deps: Option<Type>,
    /// The steps in order; empty when the pipeline is missing or unusable, in which case no
    /// impl is generated (its types would only add errors to the ones reported).
    pub(crate) steps: Vec<Step>,
    /// `concurrency`, if given.
    pub(crate) concurrency: Option<u32>,
    /// `redeliver`, if given.
    pub(crate) redelivery: Option<RedeliveryPlan>,
    /// The `alert(...)` rules that passed their checks.
    pub(crate) alerts: Vec<AlertPlan>,
}

/// One `AlertRule`, decided; unset settings keep the runtime's defaults.
pub(crate) struct AlertPlan {
    /// `failure_rate` or `dead_letter_rate`: the `AlertRule` constructor, and its threshold.
    pub(crate) metric: &'static str,
    pub(crate) threshold: f64,
    pub(crate) resolve_below: Option<f64>,
    pub(crate) window: Option<Duration>,
    pub(crate) min_calls: Option<u32>,
    /// The index in `steps` of the step it watches.
    pub(crate) action: Option<usize>,
    pub(crate) name: Option<LitStr>,
}

/// `Worker::redelivery`, decided.
pub(crate) enum RedeliveryPlan {
    /// `RedeliveryPolicy::never()`.
    Never,
    /// The default policy with the settings given; an unset or rejected one keeps the
    /// runtime's default.
    Policy { max_deliveries: Option<u32>, backoff: BackoffPlan },
}

/// One pipeline step.
pub(crate) struct Step {
    /// The action fn as written: `steps::fetch_image`. The same path names the marker type
    /// `#[action]` generates beside the fn.
    pub(crate) path: Path,
    /// The fn's name: `fetch_image`.
    pub(crate) name: Ident,
}

/// Checks that the struct can carry a `Worker` impl: no generics (the impl needs one
/// concrete type, and `Worker` is `'static`).
pub(crate) fn item(ident: &Ident, generics: &Generics, errors: &mut Errors) -> bool {
    let mut ok = true;
    if !generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &generics.params,
            format!(
                "`#[worker]` does not support generic structs: `{ident}` needs one concrete `impl Worker`; \
                 remove the parameters, or write the `impl Worker` by hand"
            ),
        ));
        ok = false;
    }
    if let Some(where_clause) = &generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            "`#[worker]` does not support a `where` clause on the worker struct: remove it",
        ));
        ok = false;
    }
    ok
}

/// Checks the arguments' values and builds the plan. Values that failed their checks are
/// replaced or left out, so the plan is still usable for an expansion beside the errors.
pub(crate) fn plan(args: &WorkerArgs, ident: &Ident, errors: &mut Errors) -> Plan {
    let runtime = crate::common::runtime(args.krate.get());
    let queue = match args.queue.get() {
        Some(queue) if queue.value().trim().is_empty() => {
            errors.at(queue.span(), "`queue` must not be empty: name the queue this worker consumes");
            queue.clone()
        }
        Some(queue) => queue.clone(),
        None => {
            if !args.wrote("queue") {
                errors.at(
                    Span::call_site(),
                    format!(
                        "`#[worker]` needs a queue: add `queue = \"name\"`, the queue `{ident}` consumes"
                    ),
                );
            }
            LitStr::new(&ident.to_string(), ident.span())
        }
    };
    let steps = match args.pipeline.get() {
        Some(pipeline) if pipeline.written == 0 => {
            errors.at(
                pipeline.span,
                "`pipeline` needs at least one step, e.g. `pipeline = [fetch_image, upload]`",
            );
            Vec::new()
        }
        // An entry that did not parse was reported; the rest would not type-check.
        Some(pipeline) if pipeline.steps.len() < pipeline.written => Vec::new(),
        Some(pipeline) => pipeline.steps.iter().filter_map(step).collect(),
        None if args.wrote("pipeline") => Vec::new(),
        None => {
            errors.at(
                Span::call_site(),
                "`#[worker]` needs a pipeline: add `pipeline = [first_step, ..]`, a list of `#[action]` fns",
            );
            Vec::new()
        }
    };
    let concurrency = args.concurrency.get().and_then(|concurrency| match concurrency.value {
        0 => {
            errors.at(concurrency.span, "`concurrency` must be at least 1");
            None
        }
        n if n > MAX_CONCURRENCY => {
            errors.at(
                concurrency.span,
                format!(
                    "`concurrency` must be at most {MAX_CONCURRENCY}; for more, set it on the runner: \
                     `Runner::builder(..).concurrency({n})`"
                ),
            );
            None
        }
        n => u32::try_from(n).ok(),
    });
    let redelivery = args.redeliver.get().map(|redeliver| match redeliver {
        RedeliverArgs::Never => RedeliveryPlan::Never,
        RedeliverArgs::Policy(policy) => self::policy(policy, errors),
    });
    let alerts = self::alerts(&args.alerts, args.pipeline.get().map(|p| p.steps.as_slice()), errors);
    Plan { runtime, queue, deps: args.deps.get().cloned(), steps, concurrency, redelivery, alerts }
}

/// Each `alert(...)`: one rate in (0, 1], the rest in range, its `action` a step of the
/// pipeline (when the pipeline parsed), and no two rules of the same name. A rule with an
/// error is left out.
fn alerts(rules: &[AlertArgs], pipeline: Option<&[Path]>, errors: &mut Errors) -> Vec<AlertPlan> {
    let mut plans: Vec<(String, AlertPlan)> = Vec::new();
    for rule in rules {
        let Some(plan) = alert(rule, pipeline, errors) else { continue };
        let name = match (&plan.name, rule.action.get()) {
            (Some(name), _) => name.value(),
            (None, None) => plan.metric.to_owned(),
            (None, Some(action)) => format!("{}:{action}", plan.metric),
        };
        if plans.iter().any(|(other, _)| *other == name) {
            if let Some(key) = &rule.key {
                errors.at(
                    key.span(),
                    format!("two `alert`s are named `{name}`: give one of them a `name = \"..\"`"),
                );
            }
            continue;
        }
        plans.push((name, plan));
    }
    plans.into_iter().map(|(_, plan)| plan).collect()
}

/// One `alert(...)`, or `None` when any of its values failed a check.
fn alert(rule: &AlertArgs, pipeline: Option<&[Path]>, errors: &mut Errors) -> Option<AlertPlan> {
    let before = errors.count();
    let (metric, threshold) = match (rule.failure_rate.get(), rule.dead_letter_rate.get()) {
        (Some(rate), None) => ("failure_rate", *rate),
        (None, Some(rate)) => ("dead_letter_rate", *rate),
        (Some(_), Some(_)) => {
            if let Some(second) = rule.dead_letter_rate.key() {
                errors.at(
                    second.span(),
                    "an `alert` watches one rate: keep `failure_rate` or `dead_letter_rate`, and write a second \
                     `alert(..)` for the other",
                );
            }
            return None;
        }
        (None, None) => {
            if !rule.rate_written
                && let Some(key) = &rule.key
            {
                errors.at(
                    key.span(),
                    format!("`alert` needs the rate it watches: `failure_rate = 0.5` or `dead_letter_rate = 0.1`, e.g. `{ALERT_EXAMPLE}`"),
                );
            }
            return None;
        }
    };
    let resolve_below = rule.resolve_below.get().map(|below| below.value);
    let window = rule.window.get().map(|window| window.value);
    let min_calls = rule.min_calls.get().map(|min| min.value);
    let name = rule.name.get().cloned();
    let name_value = name.as_ref().map(LitStr::value);
    let settings = rules::Alert {
        threshold: threshold.value,
        resolve_below,
        window: window.unwrap_or(rules::Alert::DEFAULT_WINDOW),
        min_calls: min_calls.unwrap_or(rules::Alert::DEFAULT_MIN_CALLS),
        // The step's name is checked against the pipeline below.
        action: None,
        name: name_value.as_deref(),
    };
    settings.check(&mut |violation| {
        let at = |span: Option<Span>| span.unwrap_or_else(Span::call_site);
        match (violation.field, violation.problem) {
            (Field::Threshold, _) => errors.at(
                threshold.span,
                format!("`{metric}` must be above 0 and at most 1: it is a share of the calls, 0.5 is half"),
            ),
            (Field::ResolveBelow, _) => errors.at(
                at(rule.resolve_below.get().map(|below| below.span)),
                format!(
                    "`resolve_below` must be below the firing rate (`{metric} = {}`), or the alert would fire \
                     and resolve at once",
                    threshold.value
                ),
            ),
            (Field::Window, Problem::TooLong { .. }) => {
                errors.at(at(rule.window.get().map(|w| w.span)), "`window` must be at most a day (\"24h\")");
            }
            (Field::Window, _) => errors.at(
                at(rule.window.get().map(|w| w.span)),
                "`window` must be longer than zero, e.g. `window = \"60s\"`",
            ),
            (Field::MinCalls, _) => {
                errors.at(at(rule.min_calls.get().map(|n| n.span)), "`min_calls` must be at least 1");
            }
            (Field::Name, _) => errors.at(at(name.as_ref().map(LitStr::span)), "`name` must not be empty"),
            _ => errors.at(at(rule.key.as_ref().map(Ident::span)), violation.to_string()),
        }
    });
    let action = match (rule.action.get(), pipeline) {
        (Some(action), Some(steps)) if !steps.is_empty() => {
            let names: Vec<String> =
                steps.iter().filter_map(|step| step.segments.last()).map(|s| s.ident.to_string()).collect();
            let index = names.iter().position(|name| action == name);
            if index.is_none() {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                errors.at(
                    action.span(),
                    format!(
                        "`{action}` is not a step of this worker's pipeline; {}expected one of: {}",
                        did_you_mean(&action.to_string(), &names),
                        backticked(&names)
                    ),
                );
            }
            index
        }
        _ => None,
    };
    (errors.count() == before).then_some(AlertPlan {
        metric,
        threshold: threshold.value,
        resolve_below,
        window,
        min_calls,
        action,
        name,
    })
}

/// `redeliver(...)`: `max_deliveries` counts the first delivery; the rest is checked as in
/// `retry(...)`, against the redelivery defaults and limit.
fn policy(args: &RedeliveryPolicyArgs, errors: &mut Errors) -> RedeliveryPlan {
    let mut max_deliveries = args.max_deliveries.get().map(|max| max.value);
    let mut backoff = args.backoff.check(&REDELIVERY_BACKOFF, errors);
    let settings = rules::Redelivery {
        max_deliveries: max_deliveries.unwrap_or(rules::Redelivery::DEFAULT.max_deliveries),
        schedule: BackoffArgs::schedule(&backoff, &REDELIVERY_BACKOFF),
    };
    settings.check(&mut |violation| {
        if violation.field == Field::MaxDeliveries {
            if let Some(max) = args.max_deliveries.get() {
                errors.at(
                    max.span,
                    "`max_deliveries` must be at least 1 (it counts the first delivery); to never redeliver, \
                     write `redeliver = false`",
                );
            }
            max_deliveries = None;
        } else if !args.backoff.reject(violation, &REDELIVERY_BACKOFF, &mut backoff, errors) {
            errors.at(Span::call_site(), violation.to_string());
        }
    });
    RedeliveryPlan::Policy { max_deliveries, backoff }
}

/// A step and its fn's name (a parsed path has a last segment).
fn step(path: &Path) -> Option<Step> {
    let name = path.segments.last()?.ident.clone();
    Some(Step { path: path.clone(), name })
}
