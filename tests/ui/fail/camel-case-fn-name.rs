use worker_utils::prelude::*;

#[allow(non_snake_case)]
#[action]
async fn Step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
