use worker_utils::prelude::*;

struct Deps;

#[action]
async fn step(input: u32, deps: &Deps) -> Result<u32, ActionError> {
    let _ = deps;
    Ok(input)
}

async fn run() {
    let _ = Step::new().execute(1, &(), &ActionContext::detached()).await;
}

fn main() {
    let _ = run();
}
