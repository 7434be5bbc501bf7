//! The argument model of `#[action(...)]`: every key parses into a typed, spanned field.
//! Only the shape and type of each value is checked here; how values relate to each other
//! is [`validate`](super::validate)'s job.

use std::time::Duration;

use proc_macro2::{Ident, TokenStream};
use syn::{LitStr, Path};

use crate::common::{Errors, Item, Kind, Once, Spanned, duration, items, unknown_key, value};

/// `#[action(...)]`'s arguments.
#[derive(Default)]
pub(crate) struct ActionArgs {
    pub(crate) retry: Once<RetryArgs>,
    pub(crate) error_handling: Once<ErrorHandlingArgs>,
    pub(crate) timeout: Once<Spanned<Duration>>,
    pub(crate) name: Once<LitStr>,
    pub(crate) krate: Once<Path>,
}

/// `retry` or `retry(...)`.
#[derive(Default)]
pub(crate) struct RetryArgs {
    pub(crate) max_attempts: Once<Spanned<u32>>,
    pub(crate) base_delay: Once<Spanned<Duration>>,
    pub(crate) max_delay: Once<Spanned<Duration>>,
    pub(crate) backoff: Once<Spanned<BackoffKind>>,
    pub(crate) factor: Once<Spanned<f64>>,
    pub(crate) jitter: Once<Spanned<JitterKind>>,
    pub(crate) on: Once<KindList>,
    pub(crate) when: Once<Path>,
}

/// `on = [...]`: the kinds that parsed, and how many entries were written.
pub(crate) struct KindList {
    pub(crate) kinds: Vec<Spanned<Kind>>,
    pub(crate) written: usize,
}

/// `error_handling` or `error_handling(...)`.
#[derive(Default)]
pub(crate) struct ErrorHandlingArgs {
    pub(crate) handler: Once<Path>,
    pub(crate) cleanup: Once<Path>,
}

/// `backoff = ...`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum BackoffKind {
    Exponential,
    Fixed,
    Linear,
    Decorrelated,
}

/// `jitter = ...`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum JitterKind {
    Full,
    Equal,
    None,
}

const BACKOFFS: &[&str] = &["exponential", "fixed", "linear", "decorrelated"];
const JITTERS: &[&str] = &["full", "equal", "none", "true", "false"];

impl ActionArgs {
    /// Every top-level key.
    pub(crate) const KEYS: &[&str] = &["retry", "error_handling", "timeout", "name", "crate"];

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
                "timeout" => set(&mut args.timeout, &item, errors, "timeout = \"30s\"", |t, _| {
                    duration::parse("timeout", t)
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

/// Parses the value of a `key = value` item into `slot`. A repeated key is still parsed (so
/// a bad value is reported too); [`Once::set`] then reports the repetition.
fn set<T>(
    slot: &mut Once<T>,
    item: &Item,
    errors: &mut Errors,
    example: &str,
    parse: impl FnOnce(&TokenStream, &mut Errors) -> syn::Result<T>,
) {
    let Some(tokens) = item.assigned(example, errors) else { return };
    let parsed = parse(tokens, errors);
    if let Some(value) = errors.take(parsed) {
        slot.set(&item.key, value, errors);
    }
}

impl RetryArgs {
    /// Every `retry(...)` key.
    pub(crate) const KEYS: &[&str] =
        &["max_attempts", "base_delay", "max_delay", "backoff", "factor", "jitter", "on", "when"];

    fn parse(list: Vec<Item>, errors: &mut Errors) -> Self {
        let mut args = Self::default();
        for item in list {
            let key: &Ident = &item.key;
            match item.name().as_str() {
                "max_attempts" => {
                    set(&mut args.max_attempts, &item, errors, "max_attempts = 5", |t, _| {
                        value::u32_("max_attempts", t, "5")
                    });
                }
                "base_delay" => {
                    set(&mut args.base_delay, &item, errors, "base_delay = \"200ms\"", |t, _| {
                        duration::parse("base_delay", t)
                    });
                }
                "max_delay" => {
                    set(&mut args.max_delay, &item, errors, "max_delay = \"10s\"", |t, _| {
                        duration::parse("max_delay", t)
                    });
                }
                "backoff" => {
                    set(&mut args.backoff, &item, errors, "backoff = exponential", |t, _| {
                        value::choice("backoff", t, BACKOFFS).map(|s| Spanned {
                            value: match s.value.as_str() {
                                "fixed" => BackoffKind::Fixed,
                                "linear" => BackoffKind::Linear,
                                "decorrelated" => BackoffKind::Decorrelated,
                                _ => BackoffKind::Exponential,
                            },
                            span: s.span,
                        })
                    });
                }
                "factor" => {
                    set(&mut args.factor, &item, errors, "factor = 2.0", |t, _| {
                        value::f64_("factor", t, "2.0")
                    });
                }
                "jitter" => {
                    set(&mut args.jitter, &item, errors, "jitter = \"full\"", |t, _| {
                        value::choice("jitter", t, JITTERS).map(|s| Spanned {
                            value: match s.value.as_str() {
                                "equal" => JitterKind::Equal,
                                "none" | "false" => JitterKind::None,
                                _ => JitterKind::Full,
                            },
                            span: s.span,
                        })
                    });
                }
                "on" => {
                    set(&mut args.on, &item, errors, "on = [Transient, System]", |t, errors| {
                        let idents = value::ident_list("on", t, "[Transient, System]")?;
                        let kinds = idents.iter().filter_map(|ident| kind(ident, errors)).collect();
                        Ok(KindList { kinds, written: idents.len() })
                    });
                }
                "when" => {
                    set(&mut args.when, &item, errors, "when = is_retryable", |t, _| {
                        value::path("when", t, "is_retryable")
                    });
                }
                _ => errors.push(unknown_key(key, "`retry`", Self::KEYS)),
            }
        }
        args
    }
}

/// An error kind named in `on = [...]`.
fn kind(ident: &Ident, errors: &mut Errors) -> Option<Spanned<Kind>> {
    let name = ident.to_string();
    match Kind::from_variant(&name) {
        Some(kind) => Some(Spanned { value: kind, span: ident.span() }),
        None => {
            let hint =
                Kind::from_snake(&name).map(|k| format!(" (write `{}`)", k.variant())).unwrap_or_default();
            errors.at(
                ident.span(),
                format!(
                    "unknown error kind `{name}`{hint}; expected one of: {}",
                    crate::common::backticked(&Kind::variants())
                ),
            );
            None
        }
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
                        value::path("handler", t, "my_handler")
                    });
                }
                "cleanup" => {
                    set(&mut args.cleanup, &item, errors, "cleanup = my_cleanup", |t, _| {
                        value::path("cleanup", t, "my_cleanup")
                    });
                }
                _ => errors.push(unknown_key(key, "`error_handling`", Self::KEYS)),
            }
        }
        args
    }
}
