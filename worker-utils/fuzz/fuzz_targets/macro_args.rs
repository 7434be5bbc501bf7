//! Feeds arbitrary token streams to the `#[action]`, `#[worker]` and `#[derive(Classify)]`
//! expansions: any input must give code or a compile error, never a panic.
#![no_main]
#![allow(dead_code, unreachable_pub)]

use libfuzzer_sys::fuzz_target;
use proc_macro2::TokenStream;
use quote::quote;

// The macro crate's stages, compiled into this target: they are functions over
// `proc_macro2` token streams, the same ones the proc-macro entry points call.
#[path = "../../../worker-utils-macros/src/action/mod.rs"]
mod action;
#[path = "../../../worker-utils-macros/src/classify/mod.rs"]
mod classify;
#[path = "../../../worker-utils-macros/src/common/mod.rs"]
mod common;
#[path = "../../../worker-utils-macros/src/worker/mod.rs"]
mod worker;
// The configuration rules the checks share with the runtime.
#[path = "../../src/rules.rs"]
mod rules;

fuzz_target!(|data: &[u8]| {
    let Some((&which, text)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let Ok(tokens) = text.parse::<TokenStream>() else { return };
    match which % 4 {
        // Arguments of `#[action(...)]` on a fixed fn.
        0 => drop(action::action(tokens, quote! { async fn step(x: u32) -> Result<u32, Error> { Ok(x) } })),
        // A whole item under a bare `#[action]`.
        1 => drop(action::action(TokenStream::new(), tokens)),
        // Arguments of `#[worker(...)]` on a fixed struct.
        2 => drop(worker::worker(tokens, quote! { struct Thumbnails; })),
        // A whole enum under `#[derive(Classify)]`.
        _ => drop(classify::derive(tokens)),
    }
});
