//! The four error kinds, as both macros name them, and the `on = [Transient, System]` list
//! that `retry`, `circuit_breaker` and `redeliver` take.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::suggest::did_you_mean;
use super::{Errors, Once, Spanned, backticked, value};

/// An `ErrorKind` variant.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Transient,
    Permanent,
    System,
    BusinessLogic,
}

impl Kind {
    const ALL: [Kind; 4] = [Kind::Transient, Kind::Permanent, Kind::System, Kind::BusinessLogic];

    /// The variant name, as written in `on = [Transient, System]`.
    pub(crate) fn variant(self) -> &'static str {
        match self {
            Kind::Transient => "Transient",
            Kind::Permanent => "Permanent",
            Kind::System => "System",
            Kind::BusinessLogic => "BusinessLogic",
        }
    }

    /// The snake_case name, as written in `#[classify(business_logic)]`.
    pub(crate) fn snake(self) -> &'static str {
        match self {
            Kind::Transient => "transient",
            Kind::Permanent => "permanent",
            Kind::System => "system",
            Kind::BusinessLogic => "business_logic",
        }
    }

    /// Every variant name, for "expected one of" messages.
    pub(crate) fn variants() -> Vec<&'static str> {
        Self::ALL.iter().map(|k| k.variant()).collect()
    }

    /// Every snake_case name.
    pub(crate) fn snakes() -> Vec<&'static str> {
        Self::ALL.iter().map(|k| k.snake()).collect()
    }

    /// The kind called `name` in CamelCase.
    pub(crate) fn from_variant(name: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.variant() == name)
    }

    /// The kind called `name` in snake_case.
    pub(crate) fn from_snake(name: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.snake() == name)
    }

    /// `<runtime>::ErrorKind::Variant`, spanned at `span`.
    pub(crate) fn to_tokens(self, runtime: &TokenStream, span: Span) -> TokenStream {
        let variant = Ident::new(self.variant(), span);
        quote!(#runtime::ErrorKind::#variant)
    }
}

/// `on = [...]`: the kinds that parsed, and how many entries were written.
pub(crate) struct KindList {
    pub(crate) kinds: Vec<Spanned<Kind>>,
    pub(crate) written: usize,
}

/// Parses `on = [Transient, System]`; an unknown kind is reported on itself and the others
/// still count.
pub(crate) fn kind_list(tokens: &TokenStream, errors: &mut Errors) -> syn::Result<KindList> {
    let idents = value::ident_list("on", tokens, "[Transient, System]")?;
    let kinds = idents.iter().filter_map(|ident| kind(ident, errors)).collect();
    Ok(KindList { kinds, written: idents.len() })
}

/// An error kind named in `on = [...]`.
fn kind(ident: &Ident, errors: &mut Errors) -> Option<Spanned<Kind>> {
    let name = ident.to_string();
    match Kind::from_variant(&name) {
        Some(kind) => Some(Spanned { value: kind, span: ident.span() }),
        None => {
            // Names are compared without case or `_`: `business_logic` finds `BusinessLogic`.
            let hint = did_you_mean(&name, &Kind::variants());
            errors.at(
                ident.span(),
                format!(
                    "unknown error kind `{name}`; {hint}expected one of: {}",
                    backticked(&Kind::variants())
                ),
            );
            None
        }
    }
}

/// The kinds in `on = [..]`, each once. `if_empty` is the error for an empty list, or
/// `None` where an empty list makes sense.
pub(crate) fn kinds(on: &Once<KindList>, if_empty: Option<&str>, errors: &mut Errors) -> Option<Vec<Kind>> {
    let (list, key) = (on.get()?, on.key()?);
    let mut seen: Vec<Kind> = Vec::new();
    for kind in &list.kinds {
        if seen.contains(&kind.value) {
            errors.at(kind.span, format!("`{}` is listed twice in `on`", kind.value.variant()));
        } else {
            seen.push(kind.value);
        }
    }
    if let Some(message) = if_empty
        && list.written == 0
    {
        errors.at(key.span(), message);
    }
    Some(seen)
}
