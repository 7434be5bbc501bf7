use worker_utils::prelude::*;

#[action]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

#[worker(queue = "jobs", pipeline = [step], redeliver(on = []))]
struct MyWorker;

fn main() {}
