use worker_utils::prelude::*;

#[action(retry(backoff = fixed, factor = 2.0))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
