use worker_utils::prelude::*;

// A misspelt value: the error suggests the value that was meant.
#[action(retry(backoff = exponentail))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
