use worker_utils::prelude::*;

#[action]
async fn check(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

#[action]
async fn store(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

#[worker(queue = "jobs", pipeline = [check, store], alert(failure_rate = 0.5, min_calls = 10, min_calls = 20))]
struct MyWorker;

fn main() {}
