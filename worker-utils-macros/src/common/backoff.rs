//! The delay keys that `#[action(retry(...))]` and `#[worker(redeliver(...))]` share —
//! `base_delay`, `max_delay`, `backoff`, `factor`, `jitter` and `on` — parsed, checked and
//! expanded alike. What differs between the two (the runtime's defaults, a limit, the
//! examples and words of the messages) is a [`BackoffProfile`].

use std::time::Duration;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

use super::kind::{KindList, kind_list, kinds};
use super::once::set;
use super::{Errors, Item, Kind, Once, Spanned, duration, value};
use crate::rules::{self, Field, Problem, Violation};

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

/// The words `backoff = ..` accepts, and what each means.
const BACKOFFS: &[(&str, BackoffKind)] = &[
    ("exponential", BackoffKind::Exponential),
    ("fixed", BackoffKind::Fixed),
    ("linear", BackoffKind::Linear),
    ("decorrelated", BackoffKind::Decorrelated),
];

/// The words `jitter = ..` accepts, and what each means (`true` and `false` as the
/// builder's `jitter(bool)` reads them).
const JITTERS: &[(&str, JitterKind)] = &[
    ("full", JitterKind::Full),
    ("equal", JitterKind::Equal),
    ("none", JitterKind::None),
    ("true", JitterKind::Full),
    ("false", JitterKind::None),
];

/// What the keys mean for one user of them.
pub(crate) struct BackoffProfile {
    /// The runtime's schedule when no key is set: the shared rules' defaults.
    pub(crate) defaults: rules::Schedule,
    /// Why a `max_delay` above the runtime's limit (if it has one) is refused.
    pub(crate) too_long: &'static str,
    /// `base_delay = ..` as the examples show it.
    pub(crate) base_delay_example: &'static str,
    /// `max_delay = ..` as the examples show it.
    pub(crate) max_delay_example: &'static str,
    /// The error for `on = []`.
    pub(crate) empty_on: &'static str,
}

/// The keys as written: each typed, spanned and set at most once.
#[derive(Default)]
pub(crate) struct BackoffArgs {
    pub(crate) base_delay: Once<Spanned<Duration>>,
    pub(crate) max_delay: Once<Spanned<Duration>>,
    pub(crate) backoff: Once<Spanned<BackoffKind>>,
    pub(crate) factor: Once<Spanned<f64>>,
    pub(crate) jitter: Once<Spanned<JitterKind>>,
    pub(crate) on: Once<KindList>,
}

/// The checked settings; an unset or rejected one keeps the runtime's default.
#[derive(Default)]
pub(crate) struct BackoffPlan {
    pub(crate) base_delay: Option<Duration>,
    pub(crate) max_delay: Option<Duration>,
    pub(crate) backoff: Option<BackoffKind>,
    pub(crate) factor: Option<f64>,
    pub(crate) jitter: Option<JitterKind>,
    pub(crate) on: Option<Vec<Kind>>,
}

impl BackoffArgs {
    /// The keys handled here, in the order key lists show them.
    pub(crate) const KEYS: &[&str] = &["base_delay", "max_delay", "backoff", "factor", "jitter", "on"];

    /// Every key of a list that takes `before`, then these keys, then `after`: what its
    /// unknown-key error lists.
    pub(crate) fn keys_with(before: &[&'static str], after: &[&'static str]) -> Vec<&'static str> {
        [before, Self::KEYS, after].concat()
    }

    /// Parses `item` if its key is one of [`Self::KEYS`], recording any problem in
    /// `errors`; `false` if it is another key, which the caller handles.
    pub(crate) fn parse_item(&mut self, item: &Item, profile: &BackoffProfile, errors: &mut Errors) -> bool {
        match item.name().as_str() {
            "base_delay" => set(&mut self.base_delay, item, errors, profile.base_delay_example, |t, _| {
                duration::parse("base_delay", t)
            }),
            "max_delay" => set(&mut self.max_delay, item, errors, profile.max_delay_example, |t, _| {
                duration::parse("max_delay", t)
            }),
            "backoff" => set(&mut self.backoff, item, errors, "backoff = exponential", |t, _| {
                value::one_of("backoff", t, BACKOFFS)
            }),
            "factor" => {
                set(&mut self.factor, item, errors, "factor = 2.0", |t, _| value::f64_("factor", t, "2.0"));
            }
            "jitter" => set(&mut self.jitter, item, errors, "jitter = \"full\"", |t, _| {
                value::one_of("jitter", t, JITTERS)
            }),
            "on" => set(&mut self.on, item, errors, "on = [Transient, System]", kind_list),
            _ => return false,
        }
        true
    }

    /// Checks what the rules cannot see, how the keys are written: a `factor` or `jitter`
    /// that the chosen backoff ignores, an empty `on`. Values that failed a check are left
    /// out of the plan, so it is still usable beside the errors. The values themselves are
    /// checked by the runtime's rules, on [`schedule`](Self::schedule).
    pub(crate) fn check(&self, profile: &BackoffProfile, errors: &mut Errors) -> BackoffPlan {
        let mut plan = BackoffPlan {
            base_delay: self.base_delay.get().map(|v| v.value),
            max_delay: self.max_delay.get().map(|v| v.value),
            backoff: self.backoff.get().map(|v| v.value),
            factor: self.factor.get().map(|v| v.value),
            jitter: self.jitter.get().map(|v| v.value),
            on: kinds(&self.on, Some(profile.empty_on), errors),
        };
        if let (Some(key), Some(backoff)) = (self.factor.key(), self.backoff.get())
            && backoff.value != BackoffKind::Exponential
        {
            errors.at(key.span(), "`factor` applies only to `backoff = exponential`; remove it");
            plan.factor = None;
        }
        if let (Some(key), Some(backoff)) = (self.jitter.key(), self.backoff.get())
            && backoff.value == BackoffKind::Decorrelated
        {
            errors.at(
                key.span(),
                "`jitter` has no effect with `backoff = decorrelated`, which draws its own random delays; remove `jitter`",
            );
            plan.jitter = None;
        }
        plan
    }

    /// The schedule the runtime will build from `plan`, as its rules see it: the values
    /// given, the profile's defaults for the rest.
    pub(crate) fn schedule(plan: &BackoffPlan, profile: &BackoffProfile) -> rules::Schedule {
        let defaults = profile.defaults;
        let factor = match plan.backoff {
            None | Some(BackoffKind::Exponential) => Some(plan.factor.unwrap_or(rules::DEFAULT_FACTOR)),
            Some(BackoffKind::Fixed | BackoffKind::Linear | BackoffKind::Decorrelated) => None,
        };
        rules::Schedule {
            base_delay: plan.base_delay.unwrap_or(defaults.base_delay),
            max_delay: plan.max_delay.unwrap_or(defaults.max_delay),
            factor,
        }
    }

    /// Reports a broken rule of the schedule, spanned on the key that breaks it, and leaves
    /// the values involved out of `plan`; `false` for a rule of another setting, which the
    /// caller reports.
    pub(crate) fn reject(
        &self,
        violation: Violation,
        profile: &BackoffProfile,
        plan: &mut BackoffPlan,
        errors: &mut Errors,
    ) -> bool {
        match violation.problem {
            Problem::TooLong { value, limit } => {
                if let Some(max) = self.max_delay.get() {
                    let hours = limit.as_secs() / 3600;
                    errors.at(
                        max.span,
                        format!(
                            "`max_delay` ({value:?}) is longer than the limit of {} days (\"{hours}h\"): {}",
                            hours / 24,
                            profile.too_long
                        ),
                    );
                }
                plan.max_delay = None;
            }
            Problem::BaseAboveMax { base, max } => {
                match (self.base_delay.get(), self.max_delay.get()) {
                    (Some(base_arg), _) => errors.at(
                        base_arg.span,
                        format!(
                            "`base_delay` ({base:?}) is greater than `max_delay` ({max:?}{}): lower `base_delay` or raise `max_delay`",
                            if self.max_delay.is_set() { "" } else { ", the default" }
                        ),
                    ),
                    (None, Some(max_arg)) => errors.at(
                        max_arg.span,
                        format!("`max_delay` ({max:?}) is less than the default `base_delay` ({base:?}): set a smaller `base_delay` too"),
                    ),
                    (None, None) => return false,
                }
                plan.base_delay = None;
                plan.max_delay = None;
            }
            Problem::Below { .. } if violation.field == Field::Factor => {
                if let Some(factor) = self.factor.get() {
                    errors.at(
                        factor.span,
                        "`factor` must be at least 1.0: a smaller factor would shrink the delays",
                    );
                }
                plan.factor = None;
            }
            _ => return false,
        }
        true
    }
}

impl BackoffPlan {
    /// The builder calls for the settings given, in a fixed order: `.base_delay(..)`,
    /// `.max_delay(..)`, `.backoff(..)`, `.jitter(..)`, then `on`'s kinds through the
    /// builder method `on_method` (`retry_on`, `redeliver_on`).
    pub(crate) fn calls(&self, rt: &TokenStream, on_method: &str) -> Vec<TokenStream> {
        let mut calls = Vec::new();
        if let Some(delay) = self.base_delay {
            let delay = duration::to_tokens(delay);
            calls.push(quote!(.base_delay(#delay)));
        }
        if let Some(delay) = self.max_delay {
            let delay = duration::to_tokens(delay);
            calls.push(quote!(.max_delay(#delay)));
        }
        let backoff = match (self.backoff, self.factor) {
            (None, None) => None,
            (Some(BackoffKind::Exponential) | None, factor) => {
                let factor = Literal::f64_unsuffixed(factor.unwrap_or(rules::DEFAULT_FACTOR));
                Some(quote!(Exponential { factor: #factor }))
            }
            (Some(BackoffKind::Fixed), _) => Some(quote!(Fixed)),
            (Some(BackoffKind::Linear), _) => Some(quote!(Linear)),
            (Some(BackoffKind::Decorrelated), _) => Some(quote!(DecorrelatedJitter)),
        };
        if let Some(backoff) = backoff {
            calls.push(quote!(.backoff(#rt::Backoff::#backoff)));
        }
        if let Some(jitter) = self.jitter {
            let jitter = match jitter {
                JitterKind::Full => quote!(Full),
                JitterKind::Equal => quote!(Equal),
                JitterKind::None => quote!(None),
            };
            calls.push(quote!(.jitter(#rt::Jitter::#jitter)));
        }
        if let Some(kinds) = &self.on {
            let method = Ident::new(on_method, Span::call_site());
            let kinds = kinds.iter().map(|k| k.to_tokens(rt, Span::call_site()));
            calls.push(quote!(.#method([#(#kinds),*])));
        }
        calls
    }
}
