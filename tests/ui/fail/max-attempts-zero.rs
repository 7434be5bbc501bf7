use worker_utils::prelude::*;

#[action(retry(max_attempts = 0))]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn uses_the_type() -> Step {
    // Still generated beside the error: no cascade of unresolved names.
    Step::new()
}

fn main() {}
