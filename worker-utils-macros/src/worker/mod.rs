//! `#[worker(...)]`: parse the arguments, validate them and the struct, expand.

mod expand;
mod parse;
mod validate;

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Item, ItemStruct};

use crate::common::Errors;

/// Runs the three stages. On errors the struct is still emitted (and its `impl Worker`
/// too, when the pipeline is usable), so the only errors the user sees are the macro's own.
pub(crate) fn worker(args: TokenStream, item: TokenStream) -> TokenStream {
    let strukt: ItemStruct = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(strukt)) => strukt,
        _ => {
            let error = syn::Error::new_spanned(
                crate::common::item_head(&item),
                "`#[worker]` applies to a struct: `#[worker(queue = \"..\", pipeline = [..])] struct MyWorker;`",
            );
            let error = error.into_compile_error();
            return quote!(#item #error);
        }
    };
    let mut errors = Errors::default();
    let args = parse::WorkerArgs::parse(args, &mut errors);
    let concrete = validate::item(&strukt.ident, &strukt.generics, &mut errors);
    let plan = validate::plan(&args, &strukt.ident, &mut errors);
    let expanded = if concrete { expand::worker(&item, &strukt.ident, &plan) } else { item };
    let errors = errors.into_compile_errors();
    quote!(#expanded #errors)
}
