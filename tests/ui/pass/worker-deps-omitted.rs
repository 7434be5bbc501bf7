//! Without `deps`, the worker's deps are `()` and its concurrency is the default 1.

use worker_utils::prelude::*;
use worker_utils::worker::Worker;

#[action]
async fn first(input: u32) -> Result<String, ActionError> {
    Ok(input.to_string())
}

#[action]
async fn second(input: String) -> Result<usize, ActionError> {
    Ok(input.len())
}

#[worker(queue = "jobs", pipeline = [first, second,])]
struct Jobs;

fn deps_are_unit<W: Worker<Deps = ()>>(_: &W) {}

fn main() {
    deps_are_unit(&Jobs);
    assert_eq!(Jobs.concurrency(), 1);
}
