use worker_utils::prelude::*;

struct Payload(u32);

#[action(retry)]
async fn step(input: Payload) -> Result<u32, ActionError> {
    Ok(input.0)
}

fn main() {}
