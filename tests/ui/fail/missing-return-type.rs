use worker_utils::prelude::*;

#[action()]
async fn step(input: u32) {
    let _ = input;
}

fn main() {}
