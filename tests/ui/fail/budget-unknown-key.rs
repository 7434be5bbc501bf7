use worker_utils::prelude::*;

#[action(retry(budget(ratio = 0.1, per_second = 5, burst = 3)))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
