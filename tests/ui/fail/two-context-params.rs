use worker_utils::prelude::*;

#[action()]
async fn step(input: u32, a: &ActionContext, b: &ActionContext) -> Result<u32, ActionError> {
    let _ = (a, b);
    Ok(input)
}

fn main() {}
