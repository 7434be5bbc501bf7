//! Pieces both macros share: error accumulation, the set-once argument holder, the
//! `key = value` item splitter, typed value parsers, durations and naming.

pub(crate) mod duration;
pub(crate) mod errors;
pub(crate) mod items;
pub(crate) mod kind;
pub(crate) mod naming;
pub(crate) mod once;
pub(crate) mod value;

pub(crate) use errors::Errors;
pub(crate) use items::Item;
pub(crate) use kind::Kind;
pub(crate) use once::{Once, Spanned};

/// The error for a key that is not one of `valid`, listing every valid key.
pub(crate) fn unknown_key(key: &proc_macro2::Ident, what: &str, valid: &[&str]) -> syn::Error {
    syn::Error::new(
        key.span(),
        format!("unknown {what} argument `{key}`; expected one of: {}", backticked(valid)),
    )
}

/// `a`, `b`, `c` — for "expected one of" messages.
pub(crate) fn backticked(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}
