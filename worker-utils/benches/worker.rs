//! End-to-end throughput of no-op jobs through the in-memory queue and the runner with
//! status broadcasting on: with no status client, and with 100 WebSocket clients on
//! loopback reading every event.
//!
//! Each iteration fills the queue with `JOBS` jobs (not timed), then times the runner from
//! start until every job is acked.
//!
//! Run: `cargo bench -p worker-utils --bench worker`
#![allow(missing_docs, reason = "criterion_group! generates undocumented functions")]

#[path = "support/noop.rs"]
mod noop;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt as _;
use noop::NoopWorker;
use tokio_util::sync::CancellationToken;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue};
use worker_utils::status::StatusServer;
use worker_utils::worker::Runner;

const JOBS: u64 = 100_000;

/// Fills a fresh queue, runs the worker until every job is done, returns the run's time.
/// Without a broadcaster, status events are discarded.
async fn run_once(broadcaster: Option<&Broadcaster>) -> Duration {
    let mut queue = MemoryQueue::builder("bench").capacity(JOBS as usize);
    if let Some(broadcaster) = broadcaster {
        queue = queue.status(broadcaster.clone());
    }
    let queue = Arc::new(queue.build().expect("queue"));
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

async fn sum_runs(iters: u64, broadcaster: Option<&Broadcaster>) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        total += run_once(broadcaster).await;
    }
    total
}

fn throughput(c: &mut Criterion) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("worker_throughput");
    group.throughput(Throughput::Elements(JOBS)).sample_size(10).measurement_time(Duration::from_secs(10));

    group.bench_function("noop_jobs_status_off", |b| {
        b.iter_custom(|iters| runtime.block_on(sum_runs(iters, None)))
    });

    let broadcaster = Broadcaster::new();
    group.bench_function("noop_jobs_status_on_0_clients", |b| {
        b.iter_custom(|iters| runtime.block_on(sum_runs(iters, Some(&broadcaster))))
    });

    let broadcaster = Broadcaster::new();
    let (server, readers) = runtime.block_on(async {
        let server = StatusServer::builder(broadcaster.clone())
            .max_clients(200)
            .build()
            .expect("server")
            .start()
            .await
            .expect("start");
        let url = server.ws_url();
        let mut readers = Vec::new();
        for _ in 0..100 {
            let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect");
            readers.push(tokio::spawn(async move { while let Some(Ok(_)) = socket.next().await {} }));
        }
        (server, readers)
    });
    group.bench_function("noop_jobs_status_on_100_clients", |b| {
        b.iter_custom(|iters| runtime.block_on(sum_runs(iters, Some(&broadcaster))))
    });
    group.finish();
    runtime.block_on(async {
        server.shutdown().await;
        for reader in readers {
            reader.abort();
        }
    });
}

criterion_group!(benches, throughput);
criterion_main!(benches);
