//! `crate = "..."` points the expansion at a re-export of the runtime: a module that
//! re-exports it, or an `extern crate` alias.

extern crate worker_utils as runtime;

mod reexport {
    pub use ::worker_utils::*;
}

use runtime::{Action, ActionContext, ActionError};

#[derive(Debug, thiserror::Error, runtime::Classify)]
#[classify(transient, crate = "runtime")]
#[error("flaky")]
struct Flaky;

#[runtime::action(
    retry(max_attempts = 2, budget = false),
    circuit_breaker,
    total_timeout = "1s",
    crate = "runtime"
)]
async fn through_alias(input: u32) -> Result<u32, Flaky> {
    Ok(input)
}

fn odd(input: &u32) -> Result<(), &'static str> {
    if input % 2 == 1 { Ok(()) } else { Err("even") }
}

#[reexport::action(error_handling, validate = odd, crate = "crate::reexport")]
async fn through_module(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let ctx = ActionContext::detached();
    assert_eq!(ThroughAlias::new().execute(1, &(), &ctx).await.unwrap(), 1);
    assert_eq!(ThroughModule::new().execute(3, &(), &ctx).await.unwrap(), 3);
}
