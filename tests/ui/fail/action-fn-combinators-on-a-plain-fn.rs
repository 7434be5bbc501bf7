use std::sync::Arc;
use std::time::Duration;

use worker_utils::prelude::*;
use worker_utils::queue::MemoryQueue;
use worker_utils::worker::{Runner, Worker};

async fn fetch(id: u64) -> Result<u64, ActionError> {
    Ok(id)
}

struct Fetcher<P>(Arc<P>);

impl<P: Action<Input = u64> + 'static> Worker for Fetcher<P> {
    type Deps = ();
    type Pipeline = Arc<P>;

    fn queue(&self) -> &str {
        "ids"
    }

    fn pipeline(&self) -> Arc<P> {
        Arc::clone(&self.0)
    }
}

fn main() {
    // `fetch` is a plain fn, not an action: the stack needs `action_fn("fetch", fetch)`.
    let stack = fetch.timeout(Duration::from_secs(1)).retry(RetryConfig::default()).error_handling();
    let queue = Arc::new(MemoryQueue::builder("ids").build().unwrap());
    let _ = Runner::builder(Fetcher(Arc::new(stack)), queue, ());
}
