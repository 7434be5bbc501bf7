use worker_utils::prelude::*;

#[action(retry(max_attempts = 5000000000))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
