//! The argument model of `#[classify(...)]` on a type and on its variants.

use proc_macro2::TokenStream;
use syn::{Attribute, Member, Meta, Path};

use crate::common::once::repeated;
use crate::common::{Errors, Kind, Once, Spanned, items, unknown_key, value};

/// The `#[classify(...)]` arguments of one type or variant.
#[derive(Default)]
pub(crate) struct ClassifyArgs {
    /// `transient`, `permanent`, `system` or `business_logic`.
    pub(crate) kind: Option<Spanned<Kind>>,
    /// `retry_after = field`.
    pub(crate) retry_after: Once<Member>,
    /// `crate = "path"` (on the type only).
    pub(crate) krate: Once<Path>,
}

impl ClassifyArgs {
    /// Every key.
    pub(crate) fn keys() -> Vec<&'static str> {
        let mut keys = Kind::snakes();
        keys.extend(["retry_after", "crate"]);
        keys
    }

    /// Collects the arguments of every `#[classify(...)]` among `attrs`.
    pub(crate) fn from_attrs(attrs: &[Attribute], errors: &mut Errors) -> Self {
        let mut args = Self::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("classify")) {
            match &attr.meta {
                Meta::List(list) => args.parse(list.tokens.clone(), errors),
                other => errors.push(syn::Error::new_spanned(
                    other,
                    "expected `#[classify(...)]`, e.g. `#[classify(transient)]`",
                )),
            }
        }
        args
    }

    fn parse(&mut self, tokens: TokenStream, errors: &mut Errors) {
        for item in items::split(tokens, errors) {
            let name = item.name();
            if let Some(kind) = Kind::from_snake(&name) {
                if !item.flag(errors) {
                    continue;
                }
                match &self.kind {
                    Some(first) if first.value == kind => errors.push(repeated(&item.key, first.span)),
                    Some(first) => errors.at(
                        item.key.span(),
                        format!(
                            "conflicting kinds `{}` and `{name}`: an error has one kind; keep one",
                            first.value.snake()
                        ),
                    ),
                    None => self.kind = Some(Spanned { value: kind, span: item.key.span() }),
                }
                continue;
            }
            match name.as_str() {
                "retry_after" => {
                    let Some(tokens) = item.assigned("retry_after = delay", errors) else { continue };
                    let member = syn::parse2::<Member>(tokens.clone()).map_err(|_| {
                        syn::Error::new_spanned(
                            tokens,
                            "`retry_after` expects a field name or tuple index, e.g. `retry_after = delay` or `retry_after = 0`",
                        )
                    });
                    if let Some(member) = errors.take(member) {
                        self.retry_after.set(&item.key, member, errors);
                    }
                }
                "crate" => {
                    let Some(tokens) = item.assigned("crate = \"my_crate::worker_utils\"", errors) else {
                        continue;
                    };
                    let path = value::crate_path(tokens);
                    if let Some(path) = errors.take(path) {
                        self.krate.set(&item.key, path, errors);
                    }
                }
                _ => errors.push(unknown_key(&item.key, "`classify`", &Self::keys())),
            }
        }
    }
}
