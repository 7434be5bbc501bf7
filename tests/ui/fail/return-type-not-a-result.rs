use worker_utils::prelude::*;

#[action()]
async fn step(input: u32) -> Vec<u32> {
    vec![input]
}

fn main() {}
