use worker_utils::prelude::*;

#[action()]
async fn step(ctx: &ActionContext) -> Result<u32, ActionError> {
    Ok(ctx.attempt())
}

fn main() {}
