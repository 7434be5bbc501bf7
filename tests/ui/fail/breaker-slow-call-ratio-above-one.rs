use worker_utils::prelude::*;

#[action(circuit_breaker(slow_call = "1s", slow_call_ratio = 2))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
