use worker_utils::prelude::*;

#[action(circuit_breaker(open_backoff(factor = 2, max = "10s")))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
