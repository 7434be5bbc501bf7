//! `#[derive(Classify)]`: parse the `#[classify(...)]` attributes, validate, expand.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use crate::common::Errors;

/// Runs the three stages. On errors, the errors and a placeholder impl are emitted (a
/// derive adds items beside the type, which stays as written): without an impl, every use
/// of the type as an action's error would add an error of its own to the ones reported.
pub(crate) fn derive(item: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(item) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    let mut errors = Errors::default();
    let plan = validate::plan(&input, &mut errors);
    match &plan.shape {
        Some(shape) if errors.is_empty() => expand::classify(&input, &plan.runtime, shape),
        _ => {
            let placeholder = expand::placeholder(&input, &plan.runtime);
            let errors = errors.into_compile_errors();
            quote!(#errors #placeholder)
        }
    }
}
