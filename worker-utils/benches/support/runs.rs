//! One timed run of the no-op worker, as the throughput benches time it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue};
use worker_utils::worker::Runner;

use crate::noop::NoopWorker;

/// Jobs per run.
pub(crate) const JOBS: u64 = 100_000;

/// An empty queue with room for `JOBS` jobs, publishing to `broadcaster` if any.
pub(crate) fn fresh_queue(broadcaster: Option<&Broadcaster>) -> MemoryQueue<u64> {
    let mut queue = MemoryQueue::builder("bench").capacity(JOBS as usize);
    if let Some(broadcaster) = broadcaster {
        queue = queue.status(broadcaster.clone());
    }
    queue.build().expect("queue")
}

/// The time of `runs` runs one after another.
pub(crate) async fn sum_runs(runs: u64, broadcaster: Option<&Broadcaster>) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..runs {
        total += run_once(broadcaster).await;
    }
    total
}

/// Fills a fresh queue, runs the worker until every job is done, returns the run's time.
/// Without a broadcaster, status events are discarded.
pub(crate) async fn run_once(broadcaster: Option<&Broadcaster>) -> Duration {
    let queue = Arc::new(fresh_queue(broadcaster));
    queue.enqueue_batch((0..JOBS).collect()).await.expect("enqueue");
    let mut runner = Runner::builder(NoopWorker, queue.clone(), ()).concurrency(2).batch(256);
    if let Some(broadcaster) = broadcaster {
        runner = runner.status(broadcaster.clone());
    }
    let runner = runner.build().expect("runner");
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    while stats.completed() < JOBS {
        // Sleep rather than spin: the measuring task must not take a core from the runner.
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    run.await.expect("runner");
    elapsed
}
