use worker_utils::prelude::*;

#[action()]
async fn step(input: u32, count: u32) -> Result<u32, ActionError> {
    Ok(input + count)
}

fn main() {}
