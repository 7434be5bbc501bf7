use worker_utils::prelude::*;

#[action(retry(budget = true))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
