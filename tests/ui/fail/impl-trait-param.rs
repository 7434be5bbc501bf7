use worker_utils::prelude::*;

#[action()]
async fn step(input: impl Send) -> Result<u32, ActionError> {
    let _ = input;
    Ok(1)
}

fn main() {}
