use worker_utils::prelude::*;

#[action(circuit_breaker(min_calls = 30))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
