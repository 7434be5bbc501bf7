use worker_utils::prelude::*;

#[action(retry, timeout = "30s", total_timeout = "10s")]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
