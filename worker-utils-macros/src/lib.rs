//! Procedural macros for `worker-utils`: `#[action]`, `#[worker]` and `#[derive(Classify)]`.
//!
//! Use them through the `worker-utils` crate, which re-exports them (feature `macros`, on
//! by default) and documents them with runnable examples. Expanded code only reaches the
//! runtime through `::worker_utils::__private` (or the path given with `crate = "..."`).
//!
//! Each macro runs in three stages, each in its own module: `parse` (a typed argument
//! model), `validate` (signature and cross-argument checks, all errors at once) and
//! `expand` (code generation).
#![warn(missing_docs, missing_debug_implementations, unreachable_pub, rust_2018_idioms)]

mod action;
mod classify;
mod common;
mod rules;
#[cfg(test)]
mod snapshots;
mod worker;

use proc_macro::TokenStream;

#[doc = include_str!("../docs/action.md")]
#[proc_macro_attribute]
pub fn action(args: TokenStream, item: TokenStream) -> TokenStream {
    action::action(args.into(), item.into()).into()
}

#[doc = include_str!("../docs/worker.md")]
#[proc_macro_attribute]
pub fn worker(args: TokenStream, item: TokenStream) -> TokenStream {
    worker::worker(args.into(), item.into()).into()
}

#[doc = include_str!("../docs/classify.md")]
#[proc_macro_derive(Classify, attributes(classify))]
pub fn derive_classify(item: TokenStream) -> TokenStream {
    classify::derive(item.into()).into()
}
