use worker_utils::prelude::*;

#[derive(Debug, thiserror::Error)]
#[error("oops")]
struct Oops;

#[action]
async fn step(input: u32) -> Result<u32, Oops> {
    Ok(input)
}

fn main() {}
