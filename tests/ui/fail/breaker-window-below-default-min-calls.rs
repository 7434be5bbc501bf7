use worker_utils::prelude::*;

#[action(circuit_breaker(window = 5))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
