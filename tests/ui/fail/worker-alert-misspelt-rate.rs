use worker_utils::prelude::*;

#[action]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

// One error, which names the key: no second "needs the rate it watches".
#[worker(queue = "jobs", pipeline = [step], alert(failure_rte = 0.5))]
struct MyWorker;

fn main() {}
