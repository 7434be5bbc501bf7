use worker_utils::prelude::*;

#[action(circuit_breaker(window = 2000000, min_calls = 10))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
