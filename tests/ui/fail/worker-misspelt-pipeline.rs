use worker_utils::prelude::*;

#[action]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

// One error, which names the key: no second "needs a pipeline".
#[worker(queue = "jobs", pipline = [step])]
struct MyWorker;

fn main() {}
