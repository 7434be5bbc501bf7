use worker_utils::prelude::*;

#[action(circuit_breaker(consecutive_failures = false, failure_ratio = false))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
