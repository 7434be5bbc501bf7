use worker_utils::prelude::*;

#[action(circuit_breaker(failure_ratio = 1.5))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
