//! The argument model of `#[worker(...)]`: every key parses into a typed, spanned field.
//! Only the shape and type of each value is checked here; what the values must satisfy
//! (a non-empty queue name, at least one step, a concurrency in range, a redelivery
//! schedule that holds together, alert rules in range) is [`validate`](super::validate)'s job.

use std::time::Duration;

use proc_macro2::{Delimiter, Ident, Span, TokenStream, TokenTree};
use syn::{LitBool, LitStr, Path, Type};

use super::validate::REDELIVERY_BACKOFF;
use crate::common::backoff::BackoffArgs;
use crate::common::items::Form;
use crate::common::once::set;
use crate::common::suggest::closest;
use crate::common::{Errors, Item, Once, Spanned, duration, items, unknown_key, value};

/// `#[worker(...)]`'s arguments.
#[derive(Default)]
pub(crate) struct WorkerArgs {
    pub(crate) queue: Once<LitStr>,
    pub(crate) deps: Once<Type>,
    pub(crate) pipeline: Once<Pipeline>,
    pub(crate) concurrency: Once<Spanned<u64>>,
    pub(crate) redeliver: Once<RedeliverArgs>,
    /// `alert(...)`, once per rule: the one key that may repeat, as each is a rule of its
    /// own (each rule's keys still go through [`Once`]).
    pub(crate) alerts: Vec<AlertArgs>,
    pub(crate) krate: Once<Path>,
    /// Every key written, valid value or not, and the key a misspelt one was taken for: a
    /// key given with a bad value, or as `pipline` ("did you mean `pipeline`?"), was reported
    /// already and is not also "missing".
    pub(crate) written: Vec<String>,
}

/// `pipeline = [...]`: the steps that parsed, and the brackets' span for errors about the
/// list as a whole.
pub(crate) struct Pipeline {
    pub(crate) steps: Vec<Path>,
    /// How many entries were written, parsed or not.
    pub(crate) written: usize,
    pub(crate) span: Span,
}

/// `redeliver`, `redeliver(...)` or `redeliver = false`.
pub(crate) enum RedeliverArgs {
    /// `redeliver = false`: dead-letter every failure at once.
    Never,
    /// `redeliver` or `redeliver(...)`: the default policy, with the keys given.
    Policy(Box<RedeliveryPolicyArgs>),
}

/// The keys of `redeliver(...)`, named like `RedeliveryPolicy`'s builder.
#[derive(Default)]
pub(crate) struct RedeliveryPolicyArgs {
    pub(crate) max_deliveries: Once<Spanned<u32>>,
    /// `base_delay`, `max_delay`, `backoff`, `factor`, `jitter` and `on`, as in `retry(...)`.
    pub(crate) backoff: BackoffArgs,
}

/// The keys of one `alert(...)`, named like `AlertRule`'s builder.
#[derive(Default)]
pub(crate) struct AlertArgs {
    /// The `alert` key, for errors about the rule as a whole.
    pub(crate) key: Option<Ident>,
    /// Whether a rate key was written, whatever its value, or misspelt: one given with a bad
    /// value, or as `failure_rte`, was reported already and is not also "missing".
    pub(crate) rate_written: bool,
    pub(crate) failure_rate: Once<Spanned<f64>>,
    pub(crate) dead_letter_rate: Once<Spanned<f64>>,
    pub(crate) resolve_below: Once<Spanned<f64>>,
    pub(crate) window: Once<Spanned<Duration>>,
    pub(crate) min_calls: Once<Spanned<u32>>,
    /// A pipeline step, by the name it has in `pipeline = [...]`.
    pub(crate) action: Once<Ident>,
    pub(crate) name: Once<LitStr>,
}

const PIPELINE_EXAMPLE: &str = "pipeline = [fetch_image, make_thumbnail, upload]";
const REDELIVER_EXAMPLE: &str = "redeliver(max_deliveries = 3, base_delay = \"30s\")";
pub(crate) const ALERT_EXAMPLE: &str = "alert(failure_rate = 0.5, window = \"60s\", min_calls = 20)";

impl WorkerArgs {
    /// Every key.
    pub(crate) const KEYS: &[&str] =
        &["queue", "deps", "pipeline", "concurrency", "redeliver", "alert", "crate"];

    /// Parses the attribute's tokens, recording every problem in `errors`.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        for item in items::split(tokens, errors) {
            args.written.push(item.name());
            match item.name().as_str() {
                "queue" => set(&mut args.queue, &item, errors, "queue = \"thumbnails\"", |t, _| {
                    value::str_("queue", t, "\"thumbnails\"")
                }),
                "deps" => set(&mut args.deps, &item, errors, "deps = Deps", |t, _| deps(t)),
                "pipeline" => set(&mut args.pipeline, &item, errors, PIPELINE_EXAMPLE, pipeline),
                "concurrency" => set(&mut args.concurrency, &item, errors, "concurrency = 8", |t, _| {
                    // Wide enough that a too-large count reaches `validate`'s range check.
                    value::int("concurrency", t, "8")
                }),
                "redeliver" => {
                    let redeliver = match item.form(errors) {
                        Form::Nested(list) => {
                            Some(RedeliverArgs::Policy(Box::new(RedeliveryPolicyArgs::parse(list, errors))))
                        }
                        Form::Assigned(tokens) => errors.take(never(tokens)),
                    };
                    if let Some(redeliver) = redeliver {
                        args.redeliver.set(&item.key, redeliver, errors);
                    }
                }
                "alert" => match item.form(errors) {
                    Form::Nested(list) => args.alerts.push(AlertArgs::parse(&item.key, list, errors)),
                    Form::Assigned(tokens) => errors.push(syn::Error::new_spanned(
                        tokens,
                        format!("`alert` takes a list of settings, not a value: write `{ALERT_EXAMPLE}`"),
                    )),
                },
                "crate" => {
                    set(&mut args.krate, &item, errors, "crate = \"my_crate::worker_utils\"", |t, _| {
                        value::crate_path(t)
                    })
                }
                name => {
                    args.written.extend(closest(name, Self::KEYS).map(str::to_owned));
                    errors.push(unknown_key(&item.key, "`#[worker]`", Self::KEYS));
                }
            }
        }
        args
    }

    /// Whether `key` was written, whatever its value.
    pub(crate) fn wrote(&self, key: &str) -> bool {
        self.written.iter().any(|written| written == key)
    }
}

impl RedeliveryPolicyArgs {
    /// Every `redeliver(...)` key.
    pub(crate) fn keys() -> Vec<&'static str> {
        BackoffArgs::keys_with(&["max_deliveries"], &[])
    }

    fn parse(list: Vec<Item>, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        for item in list {
            if args.backoff.parse_item(&item, &REDELIVERY_BACKOFF, errors) {
                continue;
            }
            match item.name().as_str() {
                "max_deliveries" => {
                    set(&mut args.max_deliveries, &item, errors, "max_deliveries = 3", |t, _| {
                        value::u32_("max_deliveries", t, "3")
                    });
                }
                _ => errors.push(unknown_key(&item.key, "`redeliver`", &Self::keys())),
            }
        }
        args
    }
}

impl AlertArgs {
    /// Every `alert(...)` key.
    pub(crate) const KEYS: &[&str] =
        &["failure_rate", "dead_letter_rate", "resolve_below", "window", "min_calls", "action", "name"];

    fn parse(key: &Ident, list: Vec<Item>, errors: &mut Errors) -> Self {
        let mut args = Self { key: Some(key.clone()), ..Self::default() };
        for item in list {
            let rate = |key: &'static str| move |t: &TokenStream, _: &mut Errors| value::f64_(key, t, "0.5");
            let name = item.name();
            // A key is its own closest match; a misspelt one, the key it was taken for.
            args.rate_written |=
                matches!(closest(&name, Self::KEYS), Some("failure_rate" | "dead_letter_rate"));
            match name.as_str() {
                "failure_rate" => {
                    set(&mut args.failure_rate, &item, errors, "failure_rate = 0.5", rate("failure_rate"))
                }
                "dead_letter_rate" => set(
                    &mut args.dead_letter_rate,
                    &item,
                    errors,
                    "dead_letter_rate = 0.1",
                    rate("dead_letter_rate"),
                ),
                "resolve_below" => {
                    set(&mut args.resolve_below, &item, errors, "resolve_below = 0.2", rate("resolve_below"))
                }
                "window" => set(&mut args.window, &item, errors, "window = \"60s\"", |t, _| {
                    duration::parse("window", t)
                }),
                "min_calls" => set(&mut args.min_calls, &item, errors, "min_calls = 20", |t, _| {
                    value::u32_("min_calls", t, "20")
                }),
                "action" => set(&mut args.action, &item, errors, "action = resize", |t, _| action(t)),
                "name" => set(&mut args.name, &item, errors, "name = \"thumbnails-failing\"", |t, _| {
                    value::str_("name", t, "\"thumbnails-failing\"")
                }),
                _ => errors.push(unknown_key(&item.key, "`alert`", Self::KEYS)),
            }
        }
        args
    }
}

/// `action = step`: one of the pipeline's steps, by its fn's name.
fn action(tokens: &TokenStream) -> syn::Result<Ident> {
    syn::parse2::<Ident>(tokens.clone()).map_err(|_| {
        syn::Error::new_spanned(
            tokens,
            "`action` expects the name of a pipeline step as written in `pipeline = [...]`, e.g. `action = resize`",
        )
    })
}

/// `redeliver = false`. `true` would say nothing that `redeliver` alone does not, and any
/// other value belongs in `redeliver(...)`.
fn never(tokens: &TokenStream) -> syn::Result<RedeliverArgs> {
    match syn::parse2::<LitBool>(tokens.clone()) {
        Ok(off) if !off.value => Ok(RedeliverArgs::Never),
        Ok(on) => Err(syn::Error::new(
            on.span,
            format!(
                "`redeliver = true` is not a setting: write `redeliver` for the default policy, or \
                 `{REDELIVER_EXAMPLE}` to tune it"
            ),
        )),
        Err(_) => Err(syn::Error::new_spanned(
            tokens,
            format!(
                "`redeliver` takes a list or `false`: write `{REDELIVER_EXAMPLE}`, or `redeliver = false` to \
                 dead-letter every failure at once"
            ),
        )),
    }
}

/// `deps = Type`.
fn deps(tokens: &TokenStream) -> syn::Result<Type> {
    let not_a_type =
        || syn::Error::new_spanned(tokens, "`deps` expects a type, e.g. `deps = Deps` or `deps = Arc<Deps>`");
    match syn::parse2::<Type>(tokens.clone()) {
        Ok(Type::Infer(_) | Type::ImplTrait(_)) | Err(_) => Err(not_a_type()),
        Ok(ty) => Ok(ty),
    }
}

/// `pipeline = [step, module::step, ...]`. Each entry is parsed on its own, so one bad
/// entry is reported on itself and the others still count.
fn pipeline(tokens: &TokenStream, errors: &mut Errors) -> syn::Result<Pipeline> {
    let mut trees = tokens.clone().into_iter();
    let group = match (trees.next(), trees.next()) {
        (Some(TokenTree::Group(group)), None) if group.delimiter() == Delimiter::Bracket => group,
        _ => {
            return Err(syn::Error::new_spanned(
                tokens,
                format!(
                    "`pipeline` expects a list of `#[action]` fns in brackets, e.g. `{PIPELINE_EXAMPLE}`"
                ),
            ));
        }
    };
    // Entries between top-level commas; a doubled comma is reported on the extra comma.
    let mut entries: Vec<Vec<TokenTree>> = vec![Vec::new()];
    for tree in group.stream() {
        let current = entries.len() - 1;
        match &tree {
            TokenTree::Punct(p) if p.as_char() == ',' && entries[current].is_empty() => {
                errors.at(p.span(), "empty pipeline step: remove the extra `,`");
            }
            TokenTree::Punct(p) if p.as_char() == ',' => entries.push(Vec::new()),
            _ => entries[current].push(tree),
        }
    }
    // A trailing comma, or an empty list, leaves an empty last entry.
    if entries.last().is_some_and(Vec::is_empty) {
        entries.pop();
    }
    let written = entries.len();
    let steps =
        entries.into_iter().filter_map(|entry| errors.take(step(entry.into_iter().collect()))).collect();
    Ok(Pipeline { steps, written, span: group.span() })
}

/// One step: a path to an `#[action]` fn, without generic arguments.
fn step(tokens: TokenStream) -> syn::Result<Path> {
    let not_a_path = |tokens: &TokenStream| {
        syn::Error::new_spanned(
            tokens,
            "a pipeline step is the name of an `#[action]` fn, or a path to one, e.g. `fetch_image` or \
             `steps::fetch_image`",
        )
    };
    let path = syn::parse2::<Path>(tokens.clone()).map_err(|_| not_a_path(&tokens))?;
    if let Some(segment) = path.segments.iter().find(|s| !s.arguments.is_none()) {
        return Err(syn::Error::new_spanned(
            &segment.arguments,
            "a pipeline step takes no generic arguments: an `#[action]` fn is not generic",
        ));
    }
    Ok(path)
}
