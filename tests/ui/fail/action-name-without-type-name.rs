use worker_utils::prelude::*;

// `_1_step` in CamelCase is `1Step`, which cannot name a type.
#[action]
async fn _1_step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
