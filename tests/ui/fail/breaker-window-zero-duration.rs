use worker_utils::prelude::*;

#[action(circuit_breaker(window = "0s"))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
