//! Code generation for `#[derive(Classify)]`: one `Classify` impl with a `match`, or a
//! placeholder impl beside the errors when the attributes are wrong.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{DeriveInput, Generics, Member};

use super::validate::{Shape, VariantPlan};
use crate::common::Kind;

/// The `Classify` impl.
pub(crate) fn classify(input: &DeriveInput, rt: &TokenStream, shape: &Shape) -> TokenStream {
    let ident = &input.ident;
    // A generic type is an error for some parameters only: it is `Classify` for those (a
    // concrete type needs no such bound).
    let generics = if input.generics.params.is_empty() {
        input.generics.clone()
    } else {
        with_supertraits(&input.generics, quote!())
    };
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let where_clause = &generics.where_clause;
    let (kind, retry_after) = match shape {
        Shape::Struct { kind, retry_after } => {
            let kind = kind.to_tokens(rt, Span::call_site());
            let retry_after = retry_after.as_ref().map(|member| {
                let field = quote_spanned!(member.span()=> &self.#member);
                hint(rt, member, &field)
            });
            (kind, retry_after)
        }
        Shape::Enum(variants) if variants.is_empty() => (quote!(match *self {}), None),
        Shape::Enum(variants) => (kind_match(rt, variants), retry_after_match(rt, variants)),
    };
    let retry_after = retry_after.map(|body| {
        quote! {
            fn retry_after(&self) -> ::core::option::Option<::core::time::Duration> {
                #body
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics #rt::Classify for #ident #ty_generics #where_clause {
            fn kind(&self) -> #rt::ErrorKind {
                #kind
            }
            #retry_after
        }
    }
}

/// The impl emitted beside the errors of a failed derive (as thiserror does), so that the
/// type still is `Classify` where it is used and the derive's errors are the only ones. It
/// never runs: the crate does not compile.
pub(crate) fn placeholder(input: &DeriveInput, rt: &TokenStream) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    // Deferred (a bound naming a lifetime is checked where the impl is used), so that a
    // type that is not an error either adds no error here.
    let generics = with_supertraits(&input.generics, quote!(for<'__worker_deferred>));
    let where_clause = &generics.where_clause;
    quote! {
        #[automatically_derived]
        impl #impl_generics #rt::Classify for #ident #ty_generics #where_clause {
            fn kind(&self) -> #rt::ErrorKind {
                ::core::unreachable!()
            }
        }
    }
}

/// `generics` with `Classify`'s supertraits required of `Self` in the where clause, under
/// `binder` (nothing, or `for<'a>`).
fn with_supertraits(generics: &Generics, binder: TokenStream) -> Generics {
    let mut generics = generics.clone();
    generics.make_where_clause().predicates.push(syn::parse_quote! {
        #binder Self: ::std::error::Error + ::core::marker::Send + ::core::marker::Sync + 'static
    });
    generics
}

/// `match self { Self::A { .. } | Self::B { .. } => Transient, ... }`, one arm per kind.
fn kind_match(rt: &TokenStream, variants: &[VariantPlan]) -> TokenStream {
    let mut kinds: Vec<Kind> = Vec::new();
    for variant in variants {
        if !kinds.contains(&variant.kind) {
            kinds.push(variant.kind);
        }
    }
    let arms = kinds.iter().map(|kind| {
        let patterns = variants.iter().filter(|v| v.kind == *kind).map(|v| {
            let ident = &v.ident;
            quote!(Self::#ident { .. })
        });
        let kind = kind.to_tokens(rt, Span::call_site());
        quote!(#(#patterns)|* => #kind,)
    });
    quote!(match self { #(#arms)* })
}

/// The `retry_after` match, or `None` when no variant has a hint.
fn retry_after_match(rt: &TokenStream, variants: &[VariantPlan]) -> Option<TokenStream> {
    if variants.iter().all(|v| v.retry_after.is_none()) {
        return None;
    }
    let hinted = variants.iter().filter_map(|v| {
        let member = v.retry_after.as_ref()?;
        let binding = Ident::new("__worker_retry_after", member.span());
        let ident = &v.ident;
        let hint = hint(rt, member, &quote!(#binding));
        Some(quote!(Self::#ident { #member: #binding, .. } => #hint,))
    });
    let others: Vec<TokenStream> = variants
        .iter()
        .filter(|v| v.retry_after.is_none())
        .map(|v| {
            let ident = &v.ident;
            quote!(Self::#ident { .. })
        })
        .collect();
    let none = (!others.is_empty()).then(|| quote!(#(#others)|* => ::core::option::Option::None,));
    Some(quote!(match self { #(#hinted)* #none }))
}

/// The hint from a field, spanned on the field's name so a wrong type is reported there.
fn hint(rt: &TokenStream, member: &Member, field: &TokenStream) -> TokenStream {
    quote_spanned!(member.span()=> #rt::RetryAfter::retry_after_hint(#field))
}
