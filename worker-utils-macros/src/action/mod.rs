//! `#[action(...)]`: parse the arguments, validate them and the fn's signature, expand.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use crate::common::Errors;

/// Runs the three stages. On errors the user's fn is still emitted (and the action type
/// too, with the valid arguments, when the signature allows), so the only errors the user
/// sees are the macro's own.
pub(crate) fn action(args: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(_) => {
            let error = syn::Error::new_spanned(
                crate::common::item_head(&item),
                "`#[action]` applies to an `async fn`: `#[action] async fn step(input: In) -> Result<Out, E>`",
            );
            let error = error.into_compile_error();
            return quote!(#item #error);
        }
    };
    let mut errors = Errors::default();
    let args = parse::ActionArgs::parse(args, &mut errors);
    let signature = validate::signature(&func, &mut errors);
    let plan = validate::plan(&args, &func.sig.ident, &mut errors);
    let expanded = match &signature {
        Some(signature) => expand::action(&func, signature, &plan),
        None => quote!(#func),
    };
    let errors = errors.into_compile_errors();
    quote!(#expanded #errors)
}
