use worker_utils::prelude::*;

#[action(retry(base_delay = "2d"))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
