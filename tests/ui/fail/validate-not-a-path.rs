use worker_utils::prelude::*;

#[action(validate = "check_input")]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
