use worker_utils::prelude::*;

#[action(error_handling(on_error = log))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
