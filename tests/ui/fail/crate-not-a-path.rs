use worker_utils::prelude::*;

#[action(crate = "not a path")]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
