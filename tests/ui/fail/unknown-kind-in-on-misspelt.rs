use worker_utils::prelude::*;

// A misspelt kind: the error suggests the kind that was meant.
#[action(retry(on = [Transiant]))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
