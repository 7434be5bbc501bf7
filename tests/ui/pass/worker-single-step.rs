//! One step: the pipeline is that step's action type itself, not a `Then`.

use worker_utils::prelude::*;
use worker_utils::worker::Worker;

#[action]
async fn only(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

#[worker(queue = "single", pipeline = [only], concurrency = 1)]
struct Single(#[allow(dead_code)] u8);

fn main() {
    let _: Only = Single(0).pipeline();
}
