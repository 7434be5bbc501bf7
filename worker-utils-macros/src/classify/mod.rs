//! `#[derive(Classify)]`: parse the `#[classify(...)]` attributes, validate, expand.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use syn::DeriveInput;

use crate::common::Errors;

/// Runs the three stages; on errors, only the errors are emitted (a derive adds items
/// beside the type, which stays as written).
pub(crate) fn derive(item: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(item) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    let mut errors = Errors::default();
    let plan = validate::plan(&input, &mut errors);
    match plan {
        Some(plan) if errors.is_empty() => expand::classify(&input, &plan),
        _ => errors.into_compile_errors(),
    }
}
