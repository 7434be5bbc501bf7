//! Throughput of the Redis backend, the way the BullMQ probe in `shared/anchors/bullmq`
//! measures BullMQ, so that `scripts/bench_redis.sh` can print both and their ratio.
//!
//! For each concurrency, on a fresh queue: enqueue `N` no-op jobs with `enqueue_batch` in
//! chunks of 1000, each awaited (like `addBulk`), then time a `Runner` from start until
//! every job is acked. Status events are on: the queue writes PENDING and outcome events
//! to its stream, the runner writes PROCESSING through a `RedisStatusSink`. A last phase
//! uses a reserve batch of 1. Afterwards Redis's key count and memory are compared with
//! what they were before.
//!
//! Run: `REDIS_URL=redis://127.0.0.1:6390 N=50000 cargo bench -p worker-utils --features redis --bench redis`
//! (`STATUS=0` turns the status events off, to see what they cost; `BATCH=n` sets the reserve
//! batch of the concurrency phases, default 256).
//! (`scripts/bench_redis.sh` starts that private Redis and the BullMQ probe beside it).
#![allow(missing_docs, reason = "a bench binary")]

#[path = "support/noop.rs"]
mod noop;

use std::sync::Arc;
use std::time::{Duration, Instant};

use noop::NoopWorker;
use tokio_util::sync::CancellationToken;
use worker_utils::queue::{Queue, RedisQueue};
use worker_utils::status::RedisStatusSink;
use worker_utils::worker::Runner;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One enqueue + process cycle on a fresh namespace; returns (enqueue jobs/s, process jobs/s).
async fn cycle(url: &str, n: u64, concurrency: usize, batch: usize, tag: &str) -> (f64, f64) {
    let namespace = format!("wubench-{}-{tag}", std::process::id());
    let status = env("STATUS", 1) == 1;
    let queue = RedisQueue::<u64>::builder("bench")
        .url(url)
        .namespace(&namespace)
        .status_events(status)
        .connect()
        .await
        .expect("connect");
    let queue = Arc::new(queue);
    let started = Instant::now();
    let mut next = 0;
    while next < n {
        let chunk = (next..(next + 1000).min(n)).collect();
        queue.enqueue_batch(chunk).await.expect("enqueue");
        next += 1000;
    }
    let enqueue = n as f64 / started.elapsed().as_secs_f64();

    let mut runner = Runner::builder(NoopWorker, queue.clone(), ());
    if status {
        runner = runner.status(RedisStatusSink::connect(url, &namespace).await.expect("status sink"));
    }
    let runner = runner.concurrency(concurrency).batch(batch).build().expect("runner");
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    while stats.completed() < n {
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    let process = n as f64 / started.elapsed().as_secs_f64();
    shutdown.cancel();
    run.await.expect("runner");
    let counts = queue.counts().await.expect("counts");
    assert_eq!(counts.unfinished() + counts.dead, 0, "every job acked");
    delete(url, &namespace).await;
    (enqueue, process)
}

/// Deletes a namespace's keys (its capped status stream is all that is left).
async fn delete(url: &str, namespace: &str) {
    let client = redis::Client::open(url).expect("url");
    let mut connection = client.get_multiplexed_async_connection().await.expect("connect");
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{namespace}:*")).query_async(&mut connection).await.expect("keys");
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut connection).await.expect("del");
    }
}

/// Redis's key count and used memory.
async fn footprint(url: &str) -> (u64, u64) {
    let client = redis::Client::open(url).expect("url");
    let mut connection = client.get_multiplexed_async_connection().await.expect("connect");
    let keys: u64 = redis::cmd("DBSIZE").query_async(&mut connection).await.expect("dbsize");
    let info: String = redis::cmd("INFO").arg("memory").query_async(&mut connection).await.expect("info");
    let used = info.lines().find_map(|l| l.strip_prefix("used_memory:")).and_then(|v| v.trim().parse().ok());
    (keys, used.unwrap_or(0))
}

fn main() {
    // `cargo bench` passes `--bench`; this program takes its settings from the environment.
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6390".to_owned());
    let n: u64 = env("N", 50_000);
    let runs: usize = env("RUNS", 3);
    let batch: usize = env("BATCH", 256);
    let concurrencies: Vec<usize> =
        env("CONCURRENCIES", "8,32".to_owned()).split(',').filter_map(|c| c.parse().ok()).collect();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let before = footprint(&url).await;
        cycle(&url, 1000, 8, 16, "warmup").await;
        let mut enqueue = Vec::new();
        let mut process: Vec<(String, Vec<f64>)> = Vec::new();
        for run in 0..runs {
            for &c in &concurrencies {
                let (e, p) = cycle(&url, n, c, batch, &format!("r{run}c{c}")).await;
                enqueue.push(e);
                match process.iter_mut().find(|(name, _)| *name == format!("c={c}")) {
                    Some((_, rates)) => rates.push(p),
                    None => process.push((format!("c={c}"), vec![p])),
                }
            }
            let (_, p) = cycle(&url, n, 32, 1, &format!("r{run}b1")).await;
            match process.iter_mut().find(|(name, _)| name == "c=32 batch=1") {
                Some((_, rates)) => rates.push(p),
                None => process.push(("c=32 batch=1".to_owned(), vec![p])),
            }
        }
        let after = footprint(&url).await;
        let median = |rates: &mut Vec<f64>| {
            rates.sort_by(f64::total_cmp);
            rates[rates.len() / 2]
        };
        let process: Vec<String> =
            process.iter_mut().map(|(name, rates)| format!("{name} {:.0}", median(rates))).collect();
        println!(
            "worker-utils redis: enqueue_batch {:.0} jobs/s; process {} jobs/s (median of {runs}, N={n}, status events {})",
            median(&mut enqueue),
            process.join(", "),
            if env("STATUS", 1) == 1 { "on" } else { "off" }
        );
        println!(
            "redis footprint: {} keys / {} bytes before, {} keys / {} bytes after",
            before.0, before.1, after.0, after.1
        );
    });
}
