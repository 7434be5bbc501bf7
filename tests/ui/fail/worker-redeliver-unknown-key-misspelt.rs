use worker_utils::prelude::*;

#[action]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

// A misspelt key: the error suggests the key that was meant.
#[worker(queue = "jobs", pipeline = [step], redeliver(max_delivery = 3))]
struct MyWorker;

fn main() {}
