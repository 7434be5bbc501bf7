use worker_utils::prelude::*;

#[action(retry)]
async fn step(input: u32) -> Result<u32, ActionError>
where
    u32: Send, {
    Ok(input)
}

fn main() {}
