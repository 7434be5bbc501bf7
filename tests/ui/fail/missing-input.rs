use worker_utils::prelude::*;

#[action()]
async fn step() -> Result<u32, ActionError> {
    Ok(1)
}

fn main() {}
