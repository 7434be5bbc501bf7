use worker_utils::prelude::*;

fn positive(input: &u32) -> Result<(), u32> {
    if *input > 0 { Ok(()) } else { Err(*input) }
}

#[action(validate = positive)]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
