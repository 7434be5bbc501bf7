use worker_utils::prelude::*;

#[action]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

#[worker(queue = "jobs", pipeline = [step])]
struct MyWorker
where
    u32: Copy;

fn main() {
    let _ = MyWorker;
}
