use worker_utils::prelude::*;

#[action(retry, error_handling)]
async fn step(input: u32) -> Result<u32, ActionError> {
    let doubled: String = input * 2;
    Ok(doubled)
}

fn main() {}
