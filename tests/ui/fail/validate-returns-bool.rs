use worker_utils::prelude::*;

fn positive(input: &u32) -> bool {
    *input > 0
}

#[action(validate = positive)]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
