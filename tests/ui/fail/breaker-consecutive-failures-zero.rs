use worker_utils::prelude::*;

#[action(circuit_breaker(consecutive_failures = 0))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
