//! Code generation for `#[worker]`: the struct verbatim, then in one `const _` block the
//! steps' names, its `impl Worker` and one compile-time assertion per step. The pipeline is
//! the steps' actions (`FnAction<marker>`) chained with `Then`, each built with `new()`;
//! the runtime does the rest.
//!
//! A step is reached through the marker type `#[action]` generates, named like the fn. A fn
//! without `#[action]` has no such type, and naming it would fail with "cannot find type";
//! so each step is imported under an alias (`use steps::upload as __worker_step_1;`, which
//! brings the fn and, for an action, its marker) beside a glob import of stand-in types
//! named like the steps. An explicit import shadows a glob one, namespace by namespace, so
//! the alias is the marker when there is one and the stand-in otherwise; the stand-in is no
//! action, and the assertion on it reads "`upload` is not an `#[action]` fn". The stand-ins
//! live inside the block, out of the way of the user's names and of rustc's suggestions.

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
    let aliases = aliases(plan);
    let (first_alias, rest_aliases) = (&aliases[0], &aliases[1..]);
    let mut pipeline_ty = quote!(#rt::FnAction<#first_alias>);
    let mut pipeline = constructor(first, first_alias, rt);
    for (step, alias) in rest.iter().zip(rest_aliases) {
        let new = constructor(step, alias, rt);
        pipeline_ty = quote!(#rt::Then<#pipeline_ty, #rt::FnAction<#alias>>);
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
        let rules = plan.alerts.iter().map(|alert| alert_rule(alert, plan, &aliases));
        quote! {
            fn alerts(&self) -> ::std::vec::Vec<#rt::AlertRule> {
                #rt::alert_rules([#(#rules),*])
            }
        }
    });
    let names = names(plan, &aliases);
    let checks = checks(plan, &deps, &aliases);
    // The pipeline type's `Action` bound, and each step's `ActionStack` bound (which
    // `FnAction` needs), restated as where clauses that name a lifetime so that the compiler
    // checks them where the impl is used rather than here. A step that does not fit is then
    // reported once, by `checks`, on the step, and not a second time on the whole attribute
    // as an unsatisfied `Worker::Pipeline` bound.
    quote! {
        #item

        const _: () = {
            #names

            #[automatically_derived]
            impl #rt::Worker for #ident
            where
                for<'__worker_deferred> #pipeline_ty: #rt::Action<#deps>,
                #(for<'__worker_deferred> #aliases: #rt::ActionStack,)*
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

            #checks;
        };
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
fn alert_rule(alert: &AlertPlan, plan: &Plan, aliases: &[Ident]) -> TokenStream {
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
    if let Some(alias) = alert.action.and_then(|index| aliases.get(index)) {
        calls.push(quote!(.action(<#alias as #rt::ActionStack>::NAME)));
    }
    if let Some(name) = &alert.name {
        calls.push(quote!(.name(#name)));
    }
    quote!(#rt::AlertRule::#constructor(#threshold) #(#calls)*)
}

/// `__worker_step_<index>`: the name each step is imported under in the block.
fn aliases(plan: &Plan) -> Vec<Ident> {
    plan.steps
        .iter()
        .enumerate()
        .map(|(index, step)| quote::format_ident!("__worker_step_{index}", span = step.path.span()))
        .collect()
}

/// The steps' names in the block: the stand-ins (one per distinct name, spanned on the
/// step so that rustc points there), a glob import of them under the aliases, and each
/// step's explicit import, which shadows the stand-in when the step is an `#[action]`.
fn names(plan: &Plan, aliases: &[Ident]) -> TokenStream {
    let mut stand_ins: Vec<&Ident> = Vec::new();
    for step in &plan.steps {
        if !stand_ins.iter().any(|name| **name == step.name) {
            stand_ins.push(&step.name);
        }
    }
    let stand_ins = stand_ins.iter().map(|name| {
        quote_spanned!(name.span()=>
            #[allow(dead_code, non_camel_case_types)]
            pub(in super::super) enum #name {}
        )
    });
    let names = plan.steps.iter().map(|step| &step.name);
    // Spanned on the step, so that a path naming nothing is reported there.
    let imports = plan.steps.iter().zip(aliases).map(|(step, alias)| {
        let path = &step.path;
        quote_spanned!(path.span()=>
            #[allow(unused_imports)]
            use #path as #alias;
        )
    });
    quote! {
        mod __worker_stand_ins {
            pub(super) mod __worker_names {
                #(#stand_ins)*
            }
            #(
                #[allow(unused_imports)]
                pub(super) use self::__worker_names::#names as #aliases;
            )*
        }
        #[allow(unused_imports)]
        use __worker_stand_ins::*;
        #(#imports)*
    }
}

/// `FnAction::<__worker_step_0>::new()`, spanned on the step.
fn constructor(step: &Step, alias: &Ident, rt: &TokenStream) -> TokenStream {
    quote_spanned!(step.path.span()=> #rt::FnAction::<#alias>::new())
}

/// One assertion per step, spanned on it, nested so that each sees what the step before it
/// returns: the first step is an action for the deps; each next one is too, and takes that
/// output. Once a step fails its check, the ones after it have nothing to compare with and
/// stay silent, so each mistake is reported once, on its step.
fn checks(plan: &Plan, deps: &TokenStream, aliases: &[Ident]) -> TokenStream {
    let rt = &plan.runtime;
    let mut chain = TokenStream::new();
    for (index, (step, alias)) in plan.steps.iter().zip(aliases).enumerate() {
        // Every token of the call on the step, so that the compiler's error lands there.
        let span = step.path.span();
        chain = if index == 0 {
            respan(quote!(#rt::step::<#deps, #alias>()), span)
        } else {
            let function = respan(quote!(#rt::link::<#deps, #alias, _, _>), span);
            let mut args = Group::new(Delimiter::Parenthesis, chain);
            args.set_span(span);
            quote!(#function #args)
        };
    }
    chain
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
