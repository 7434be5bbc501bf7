//! The four error kinds, as both macros name them.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

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
