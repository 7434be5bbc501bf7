use worker_utils::prelude::*;

#[action(retry(on = [Transient, Transient]))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
