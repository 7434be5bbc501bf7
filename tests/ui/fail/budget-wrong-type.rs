use worker_utils::prelude::*;

static NOT_A_BUDGET: &str = "10%";

#[action(retry(budget = NOT_A_BUDGET))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
