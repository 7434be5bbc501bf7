use worker_utils::prelude::*;

#[action(retry(max_delay = "500ms"))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
