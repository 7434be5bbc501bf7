use worker_utils::prelude::*;

static NOT_A_BREAKER: u32 = 0;

#[action(circuit_breaker = NOT_A_BREAKER)]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
