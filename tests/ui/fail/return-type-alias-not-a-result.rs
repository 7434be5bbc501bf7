use worker_utils::prelude::*;

type MyResult = Vec<u32>;

#[action]
async fn step(input: u32) -> MyResult {
    vec![input]
}

fn main() {}
