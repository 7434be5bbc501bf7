use worker_utils::prelude::*;

#[action()]
async fn step(input: u32, deps: &String, ctx: &ActionContext, extra: &u8) -> Result<u32, ActionError> {
    let _ = (deps, ctx, extra);
    Ok(input)
}

fn main() {}
