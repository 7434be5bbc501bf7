use worker_utils::prelude::*;
use worker_utils::worker::Worker;

#[action]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

#[worker(pipeline = [step])]
struct MyWorker;

// The impl is still generated, so using the worker adds no error of its own.
fn main() {
    let _ = MyWorker.pipeline();
}
