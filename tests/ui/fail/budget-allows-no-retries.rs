use worker_utils::prelude::*;

#[action(retry(budget(ratio = 0, per_second = 0)))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
