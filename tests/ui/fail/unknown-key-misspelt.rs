use worker_utils::prelude::*;

// A misspelt key: the error suggests the key that was meant.
#[action(timout = "1s")]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
