//! Pieces the macros share: error accumulation, the set-once argument holder, the
//! `key = value` item splitter, typed value parsers (the `crate` override among them),
//! durations, error kinds, the backoff keys of `retry` and `redeliver`, naming, and the
//! "did you mean" of every unknown-name error.

pub(crate) mod backoff;
pub(crate) mod duration;
pub(crate) mod errors;
pub(crate) mod items;
pub(crate) mod kind;
pub(crate) mod naming;
pub(crate) mod once;
pub(crate) mod suggest;
pub(crate) mod value;

pub(crate) use errors::Errors;
pub(crate) use items::Item;
pub(crate) use kind::Kind;
pub(crate) use once::{Once, Spanned};

/// Where generated code reaches the runtime: `<crate>::__private`, the crate being
/// `::worker_utils` unless `crate = "path"` names another.
pub(crate) fn runtime(krate: Option<&syn::Path>) -> proc_macro2::TokenStream {
    match krate {
        Some(path) => quote::quote!(#path::__private),
        None => quote::quote!(::worker_utils::__private),
    }
}

/// The error for a key that is not one of `valid`: the nearest valid key when one is close
/// (see [`suggest::closest`]), then every valid key.
pub(crate) fn unknown_key(key: &proc_macro2::Ident, what: &str, valid: &[&str]) -> syn::Error {
    let word = key.to_string();
    let hint = suggest::did_you_mean(word.strip_prefix("r#").unwrap_or(&word), valid);
    syn::Error::new(
        key.span(),
        format!("unknown {what} argument `{key}`; {hint}expected one of: {}", backticked(valid)),
    )
}

/// `a`, `b`, `c` — for "expected one of" messages.
pub(crate) fn backticked(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The tokens of an item up to its body, to span an error on its head rather than on all of
/// it.
pub(crate) fn item_head(item: &proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    item.clone()
        .into_iter()
        .take_while(|t| {
            !matches!(t, proc_macro2::TokenTree::Group(g) if g.delimiter() == proc_macro2::Delimiter::Brace)
        })
        .collect()
}
