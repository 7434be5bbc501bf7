use worker_utils::prelude::*;

#[action()]
async fn step(input: u32) -> u32 {
    input
}

fn main() {}
