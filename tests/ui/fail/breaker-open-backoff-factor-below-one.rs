use worker_utils::prelude::*;

#[action(circuit_breaker(open_backoff(factor = 0.5, max = "5m")))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
