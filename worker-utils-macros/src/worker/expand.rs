//! Code generation for `#[worker]`: the struct verbatim, its `impl Worker`, and one
//! compile-time assertion per step. The pipeline is the steps' action types chained with
//! `Then`, each built with `new()`; the runtime does the rest.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::Ident;
use syn::spanned::Spanned as _;

use super::validate::{AlertPlan, Plan, RedeliveryPlan, Step};
use crate::common::duration;

/// The struct and, when the pipeline is usable, its `impl Worker` and step assertions.
pub(crate) fn worker(item: &TokenStream, ident: &Ident, plan: &Plan) -> TokenStream {
    let Some((first, rest)) = plan.steps.split_first() else {
        return item.clone();
    };
    let rt = &plan.runtime;
    let queue = &plan.queue;
    let deps = match &plan.deps {
        Some(deps) => deps.to_token_stream(),
        None => quote!(()),
    };
    let mut pipeline_ty = first.type_path.to_token_stream();
    let mut pipeline = constructor(first);
    for step in rest {
        let (ty, new) = (&step.type_path, constructor(step));
        pipeline_ty = quote!(#rt::Then<#pipeline_ty, #ty>);
        pipeline = quote!(#rt::Then::new(#pipeline, #new));
    }
    let concurrency = plan.concurrency.map(|n| {
        let n = proc_macro2::Literal::u32_unsuffixed(n);
        quote! {
            fn concurrency(&self) -> ::core::primitive::usize {
                #n
            }
        }
    });
    let redelivery = plan.redelivery.as_ref().map(|redelivery| {
        let policy = redelivery_policy(redelivery, rt);
        quote! {
            fn redelivery(&self) -> #rt::RedeliveryPolicy {
                #policy
            }
        }
    });
    let alerts = (!plan.alerts.is_empty()).then(|| {
        let rules = plan.alerts.iter().map(|alert| alert_rule(alert, plan));
        quote! {
            fn alerts(&self) -> ::std::vec::Vec<#rt::AlertRule> {
                #rt::alert_rules([#(#rules),*])
            }
        }
    });
    let checks = checks(plan, &deps);
    // The pipeline type's `Action` bound, restated as a where clause that names a lifetime
    // so that the compiler checks it where the impl is used rather than here. A step that
    // does not fit is then reported once, by `checks`, on the step, and not a second time
    // on the whole attribute as an unsatisfied `Worker::Pipeline` bound.
    quote! {
        #item

        #[automatically_derived]
        impl #rt::Worker for #ident
        where
            for<'__worker_deferred> #pipeline_ty: #rt::Action<#deps>,
        {
            type Deps = #deps;
            type Pipeline = #pipeline_ty;

            fn queue(&self) -> &::core::primitive::str {
                #queue
            }

            fn pipeline(&self) -> Self::Pipeline {
                #pipeline
            }
            #concurrency
            #redelivery
            #alerts
        }

        #checks
    }
}

/// The `RedeliveryPolicy` expression: `never()`, the defaults, or the builder with the keys
/// the user set.
fn redelivery_policy(redelivery: &RedeliveryPlan, rt: &TokenStream) -> TokenStream {
    let RedeliveryPlan::Policy { max_deliveries, backoff } = redelivery else {
        return quote!(#rt::RedeliveryPolicy::never());
    };
    let mut calls = Vec::new();
    if let Some(deliveries) = max_deliveries {
        calls.push(quote!(.max_deliveries(#deliveries)));
    }
    calls.extend(backoff.calls(rt, "redeliver_on"));
    if calls.is_empty() {
        quote!(#rt::RedeliveryPolicy::default())
    } else {
        quote!(#rt::redelivery_policy(#rt::RedeliveryPolicy::builder() #(#calls)*))
    }
}

/// The `AlertRuleBuilder` of one `alert(...)`: the constructor of its rate, then the
/// settings the user gave. An action is named by its type's `NAME`, so a step renamed with
/// `#[action(name = "..")]` is watched under the name its failures carry.
fn alert_rule(alert: &AlertPlan, plan: &Plan) -> TokenStream {
    let rt = &plan.runtime;
    let constructor = Ident::new(alert.metric, Span::call_site());
    let threshold = alert.threshold;
    let mut calls = Vec::new();
    if let Some(below) = alert.resolve_below {
        calls.push(quote!(.resolve_below(#below)));
    }
    if let Some(window) = alert.window {
        let window = duration::to_tokens(window);
        calls.push(quote!(.window(#window)));
    }
    if let Some(min_calls) = alert.min_calls {
        calls.push(quote!(.min_calls(#min_calls)));
    }
    if let Some(step) = alert.action.and_then(|index| plan.steps.get(index)) {
        let ty = &step.type_path;
        calls.push(quote!(.action(<#ty>::NAME)));
    }
    if let Some(name) = &alert.name {
        calls.push(quote!(.name(#name)));
    }
    quote!(#rt::AlertRule::#constructor(#threshold) #(#calls)*)
}

/// `steps::FetchImage::new()`, spanned on the step.
fn constructor(step: &Step) -> TokenStream {
    let ty = &step.type_path;
    quote_spanned!(step.fn_path.span()=> <#ty>::new())
}

/// One assertion per step, spanned on it, nested so that each sees what the step before it
/// returns: the first step is an action for the deps; each next one is too, and takes that
/// output. Once a step fails its check, the ones after it have nothing to compare with and
/// stay silent, so each mistake is reported once, on its step.
fn checks(plan: &Plan, deps: &TokenStream) -> TokenStream {
    let rt = &plan.runtime;
    let mut chain = TokenStream::new();
    for (index, step) in plan.steps.iter().enumerate() {
        let ty = &step.type_path;
        // Every token of the call on the step, so that the compiler's error lands there.
        let span = step.fn_path.span();
        chain = if index == 0 {
            respan(quote!(#rt::step::<#deps, #ty>()), span)
        } else {
            let function = respan(quote!(#rt::link::<#deps, #ty, _, _>), span);
            let mut args = Group::new(Delimiter::Parenthesis, chain);
            args.set_span(span);
            quote!(#function #args)
        };
    }
    quote! {
        const _: () = {
            #chain;
        };
    }
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let TokenTree::Group(group) = &tree {
                let mut respanned = Group::new(group.delimiter(), respan(group.stream(), span));
                respanned.set_span(span);
                tree = TokenTree::Group(respanned);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}
