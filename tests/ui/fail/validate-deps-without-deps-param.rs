use worker_utils::prelude::*;

struct Deps {
    limit: u32,
}

// The action takes no deps, so its validator takes the input only.
fn below_limit(input: &u32, deps: &Deps) -> Result<(), &'static str> {
    if *input < deps.limit { Ok(()) } else { Err("over the limit") }
}

#[action(validate = below_limit)]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
