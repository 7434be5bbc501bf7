use worker_utils::prelude::*;

#[action(circuit_breaker(slow_call = "0s"))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
