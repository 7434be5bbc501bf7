//! The one holder every argument key goes through, so a repeated key is always caught
//! (instead of a hand-written duplicate check per key), and reported once.

use proc_macro2::{Ident, Span, TokenStream};

use super::{Errors, Item};

/// A value set at most once, remembering the key that set it.
pub(crate) struct Once<T> {
    slot: Option<(Ident, T)>,
}

impl<T> Default for Once<T> {
    fn default() -> Self {
        Self { slot: None }
    }
}

impl<T> Once<T> {
    /// Stores `value` for `key`; a second call records a "repeated key" error on `key`.
    pub(crate) fn set(&mut self, key: &Ident, value: T, errors: &mut Errors) {
        match &self.slot {
            Some((first, _)) => errors.push(repeated(key, first.span())),
            None => self.slot = Some((key.clone(), value)),
        }
    }

    /// The value, if set.
    pub(crate) fn get(&self) -> Option<&T> {
        self.slot.as_ref().map(|(_, value)| value)
    }

    /// The key that set the value, if set.
    pub(crate) fn key(&self) -> Option<&Ident> {
        self.slot.as_ref().map(|(key, _)| key)
    }

    /// Whether the key was given.
    pub(crate) fn is_set(&self) -> bool {
        self.slot.is_some()
    }
}

/// The error for `key` given again after a first time at `first`: one error, on the
/// repetition, that says where the first one is. (A second error spanned on the first would
/// print as a second `error:` for one mistake.)
pub(crate) fn repeated(key: &Ident, first: Span) -> syn::Error {
    let start = first.start();
    // Line 0: the compiler gave no location (a span from another macro's expansion).
    let place = if start.line == 0 {
        "first given before this one".to_owned()
    } else {
        format!("first given at line {}, column {}", start.line, start.column + 1)
    };
    syn::Error::new(key.span(), format!("`{key}` is given more than once ({place}); keep one `{key}`"))
}

/// A parsed value and the span of the tokens it came from.
#[derive(Clone, Copy)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

impl<T> Spanned<T> {
    /// The value changed by `f`, with the same span.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned { value: f(self.value), span: self.span }
    }
}

/// Parses the value of a `key = value` item into `slot`. A repeated key is still parsed (so
/// a bad value is reported too); `Once::set` then reports the repetition.
pub(crate) fn set<T>(
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
