//! Splits an attribute's tokens into `key`, `key = value` and `key(...)` items at
//! top-level commas. A malformed item is reported and skipped; the others still count.

use proc_macro2::{Delimiter, Group, Ident, Spacing, TokenStream, TokenTree};
use quote::ToTokens;

use super::Errors;

/// One argument item.
pub(crate) struct Item {
    /// The key (keywords such as `crate` included).
    pub(crate) key: Ident,
    /// What follows the key.
    pub(crate) value: RawValue,
}

/// What [`Item::form`] found after a key.
pub(crate) enum Form<'a> {
    /// `key = tokens`.
    Assigned(&'a TokenStream),
    /// `key` or `key(...)`.
    Nested(Vec<Item>),
}

/// The shape of an item after its key.
pub(crate) enum RawValue {
    /// Just the key.
    Flag,
    /// `key = tokens`: the tokens up to the next top-level comma.
    Assign(TokenStream),
    /// `key(...)`.
    List(Group),
}

impl Item {
    /// The key without a raw-identifier prefix.
    pub(crate) fn name(&self) -> String {
        let key = self.key.to_string();
        key.strip_prefix("r#").map(str::to_owned).unwrap_or(key)
    }

    /// The value of a `key = value` item; reports other shapes, showing `example`.
    pub(crate) fn assigned(&self, example: &str, errors: &mut Errors) -> Option<&TokenStream> {
        match &self.value {
            RawValue::Assign(tokens) => Some(tokens),
            RawValue::Flag | RawValue::List(_) => {
                errors.at(self.key.span(), format!("`{}` needs a value, e.g. `{example}`", self.key));
                None
            }
        }
    }

    /// The nested items of `key` or `key(...)` (none for a bare `key`); reports `key = ..`.
    pub(crate) fn nested(&self, example: &str, errors: &mut Errors) -> Option<Vec<Item>> {
        match self.form(errors) {
            Form::Nested(items) => Some(items),
            Form::Assigned(tokens) => {
                errors.push(syn::Error::new_spanned(
                    tokens,
                    format!("`{}` takes a list, not a value: write `{}` or `{example}`", self.key, self.key),
                ));
                None
            }
        }
    }

    /// For a key taking either a value or a list (`circuit_breaker = SHARED` or
    /// `circuit_breaker(...)`): the value, or the nested items (none for a bare `key`).
    pub(crate) fn form(&self, errors: &mut Errors) -> Form<'_> {
        match &self.value {
            RawValue::Flag => Form::Nested(Vec::new()),
            RawValue::List(group) => Form::Nested(split(group.stream(), errors)),
            RawValue::Assign(tokens) => Form::Assigned(tokens),
        }
    }

    /// Reports any value on a flag-only key such as `transient`.
    pub(crate) fn flag(&self, errors: &mut Errors) -> bool {
        match &self.value {
            RawValue::Flag => true,
            RawValue::Assign(tokens) => {
                errors.push(syn::Error::new_spanned(tokens, format!("`{}` takes no value", self.key)));
                false
            }
            RawValue::List(group) => {
                errors.at(group.span(), format!("`{}` takes no value", self.key));
                false
            }
        }
    }
}

/// Splits `tokens` into items, reporting malformed ones.
pub(crate) fn split(tokens: TokenStream, errors: &mut Errors) -> Vec<Item> {
    let mut items = Vec::new();
    let mut current: Vec<TokenTree> = Vec::new();
    for tree in tokens {
        if matches!(&tree, TokenTree::Punct(p) if p.as_char() == ',') {
            items.extend(item(std::mem::take(&mut current), errors));
        } else {
            current.push(tree);
        }
    }
    if !current.is_empty() {
        items.extend(item(current, errors));
    }
    items
}

fn item(trees: Vec<TokenTree>, errors: &mut Errors) -> Option<Item> {
    let mut trees = trees.into_iter();
    let key = match trees.next() {
        Some(TokenTree::Ident(key)) => key,
        Some(other) => {
            errors.push(syn::Error::new_spanned(&other, "expected an argument name"));
            return None;
        }
        None => return None, // an empty item: a trailing or doubled comma is harmless
    };
    let rest: Vec<TokenTree> = trees.collect();
    let value = match rest.as_slice() {
        [] => RawValue::Flag,
        [TokenTree::Group(group)] if group.delimiter() == Delimiter::Parenthesis => {
            RawValue::List(group.clone())
        }
        [TokenTree::Punct(eq), value @ ..] if eq.as_char() == '=' && eq.spacing() == Spacing::Alone => {
            if value.is_empty() {
                errors.at(eq.span(), format!("expected a value after `{key} =`"));
                return None;
            }
            RawValue::Assign(value.iter().cloned().collect())
        }
        [first, ..] => {
            errors.push(syn::Error::new_spanned(
                first.to_token_stream(),
                format!("expected `,`, `= value` or `(...)` after `{key}`"),
            ));
            return None;
        }
    };
    Some(Item { key, value })
}
