//! `validate = path`: a validator with deps, one without, one in a module returning an
//! error type of its own, and validated steps in a worker pipeline.

use worker_utils::prelude::*;

struct Deps {
    limit: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("{0} is over the limit")]
struct OverLimit(u32);

fn below_limit(input: &u32, deps: &Deps) -> Result<(), OverLimit> {
    if *input < deps.limit { Ok(()) } else { Err(OverLimit(*input)) }
}

mod checks {
    pub(crate) fn not_empty(input: &str) -> Result<(), String> {
        if input.is_empty() { Err("empty".to_owned()) } else { Ok(()) }
    }
}

#[action(validate = below_limit, retry(max_attempts = 2), error_handling)]
async fn double(input: u32, deps: &Deps, ctx: &ActionContext) -> Result<u32, ActionError> {
    let _ = (deps, ctx);
    Ok(input * 2)
}

#[action(validate = checks::not_empty)]
async fn parse(input: String) -> Result<u32, ActionError> {
    input.parse().map_err(ActionError::permanent)
}

#[worker(queue = "numbers", deps = Deps, pipeline = [parse, double])]
struct Numbers;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let deps = Deps { limit: 10 };
    let ctx = ActionContext::detached();
    assert_eq!(Double::new().execute(3, &deps, &ctx).await.unwrap(), 6);
    assert!(Double::new().execute(30, &deps, &ctx).await.unwrap_err().failed_validation());
    assert!(Parse::new().execute(String::new(), &(), &ctx).await.unwrap_err().failed_validation());
    let _ = Numbers;
}
