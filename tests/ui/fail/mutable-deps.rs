use worker_utils::prelude::*;

#[action()]
async fn step(input: u32, deps: &mut Vec<u32>) -> Result<u32, ActionError> {
    deps.push(input);
    Ok(input)
}

fn main() {}
