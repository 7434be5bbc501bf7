use worker_utils::prelude::*;

#[action()]
async fn step(input: &str) -> Result<usize, ActionError> {
    Ok(input.len())
}

fn main() {}
