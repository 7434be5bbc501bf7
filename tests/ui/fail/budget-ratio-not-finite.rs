use worker_utils::prelude::*;

#[action(retry(budget(ratio = 1e999, per_second = 1)))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
