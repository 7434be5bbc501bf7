use worker_utils::prelude::*;

#[action(error_handling(handler = 42))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
