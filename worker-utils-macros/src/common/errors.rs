//! Accumulates every error a macro finds, so the user sees all of them at once.

use proc_macro2::{Span, TokenStream};

/// All errors found so far, combined with [`syn::Error::combine`].
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>, usize);

impl Errors {
    /// Records an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.1 += 1;
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Records an error with `message` at `span`.
    pub(crate) fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Records `result`'s error, if any, and returns its value.
    pub(crate) fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// How many errors were recorded, to tell whether a step added any.
    pub(crate) fn count(&self) -> usize {
        self.1
    }

    /// Whether nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// One `compile_error!` per recorded error (nothing if there are none).
    pub(crate) fn into_compile_errors(self) -> TokenStream {
        self.0.map(|e| e.into_compile_error()).unwrap_or_default()
    }
}
