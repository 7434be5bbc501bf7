use worker_utils::prelude::*;

#[action(name = fetch)]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
