//! Memory soak (issue 16, target 5): 10 M no-op jobs through the in-memory queue and the
//! runner with status on and a status server with 100 loopback clients, while the process
//! samples its own resident memory every second.
//!
//! The clients are the throughput bench's mix: 88 read everything (and reconnect when closed
//! for lagging), 2 flood `subscribe` messages (and reconnect when closed for it), 10 complete
//! the handshake and never read. They run in a child process (this binary again, with
//! `--clients URL`), so the RSS sampled is the worker's and the server's alone: in the same
//! process, the clients' own read buffers were half the peak heap and, freed and grown again
//! at every reconnect, most of the growth the soak reported. A producer keeps at most `QUEUED` jobs waiting, enqueueing
//! in batches of 1000 as the runner completes them, so what the queue holds stays bounded
//! and any growth is the status path's. The worker runs on a 2-thread runtime, the clients
//! on one thread of their own, loopback only; the run ends when every job is done (with a
//! 30-minute watchdog), and the clients stop when their standard input closes.
//!
//! It prints every sample (seconds, jobs done, RSS), then the least-squares slope of RSS
//! against jobs (MiB per million jobs) and against time (MiB per minute) over the samples
//! after the first 10 % of the jobs (the warm-up: buffers and maps reach their size), the
//! slope over all samples, and the maximum; the last line is `RESULT key=value …` for
//! `scripts/bench_anchors.py`.
//!
//! Run: `cargo bench -p worker-utils --bench status_soak [-- --jobs N]`
#![allow(missing_docs, reason = "a bench binary")]

#[path = "support/clients.rs"]
#[allow(dead_code, reason = "shared with the worker bench, which paces a client too")]
mod clients;
#[path = "support/noop.rs"]
mod noop;

use std::sync::Arc;
use std::time::{Duration, Instant};

use noop::NoopWorker;
use tokio_util::sync::CancellationToken;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue};
use worker_utils::worker::Runner;

const DEFAULT_JOBS: u64 = 10_000_000;
/// Jobs waiting in the queue at most; the producer tops it up in batches.
const QUEUED: u64 = 50_000;
const ENQUEUE_BATCH: u64 = 1000;
const WATCHDOG: Duration = Duration::from_secs(30 * 60);

/// One RSS sample.
#[derive(Debug, Clone, Copy)]
struct Sample {
    seconds: f64,
    jobs: u64,
    rss_mib: f64,
}

/// The resident set of this process, from `/proc/self/status` (`VmRSS`, in KiB).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib / 1024.0
}

/// Least-squares slope of `y` against `x`; 0 with fewer than two distinct `x`.
fn slope(points: impl Iterator<Item = (f64, f64)> + Clone) -> f64 {
    let n = points.clone().count() as f64;
    let (sx, sy) = points.clone().fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mx, my) = (sx / n, sy / n);
    let (sxy, sxx) =
        points.fold((0.0, 0.0), |(sxy, sxx), (x, y)| (sxy + (x - mx) * (y - my), sxx + (x - mx) * (x - mx)));
    if sxx > 0.0 { sxy / sxx } else { 0.0 }
}

async fn soak(jobs: u64) -> Vec<Sample> {
    let broadcaster = Broadcaster::new();
    let queue = Arc::new(
        MemoryQueue::builder("bench")
            .capacity(QUEUED as usize)
            .status(broadcaster.clone())
            .build()
            .expect("queue"),
    );
    let server = clients::start_server(&broadcaster, false).await;
    let url = server.ws_url();
    let clients = tokio::task::spawn_blocking(move || clients::spawn_child(&url)).await.expect("clients");

    let runner = Runner::builder(NoopWorker, Arc::clone(&queue), ())
        .concurrency(2)
        .batch(256)
        .status(broadcaster.clone())
        .build()
        .expect("runner");
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));

    // The producer: tops the queue up to QUEUED waiting jobs, never past `jobs` in all.
    let producer = tokio::spawn({
        let (queue, stats) = (Arc::clone(&queue), Arc::clone(&stats));
        async move {
            let mut enqueued = 0_u64;
            while enqueued < jobs {
                if enqueued - stats.completed() + ENQUEUE_BATCH > QUEUED {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                let batch = ENQUEUE_BATCH.min(jobs - enqueued);
                queue.enqueue_batch((enqueued..enqueued + batch).collect()).await.expect("enqueue");
                enqueued += batch;
            }
        }
    });

    let started = Instant::now();
    let mut samples = vec![Sample { seconds: 0.0, jobs: 0, rss_mib: rss_mib() }];
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(1),
        Duration::from_secs(1),
    );
    loop {
        tick.tick().await;
        let sample =
            Sample { seconds: started.elapsed().as_secs_f64(), jobs: stats.completed(), rss_mib: rss_mib() };
        println!("sample t={:.0}s jobs={} rss={:.1} MiB", sample.seconds, sample.jobs, sample.rss_mib);
        samples.push(sample);
        if sample.jobs >= jobs {
            break;
        }
        assert!(started.elapsed() < WATCHDOG, "watchdog: {} of {jobs} jobs after {WATCHDOG:?}", sample.jobs);
    }
    producer.await.expect("producer");
    shutdown.cancel();
    run.await.expect("runner");
    let report = tokio::task::spawn_blocking(move || clients::stop_child(clients)).await.expect("clients");
    server.shutdown().await;
    println!("{report}");
    samples
}

fn main() {
    if let Some(url) = clients::arg(clients::CHILD_FLAG) {
        return clients::run_child(&url);
    }
    let jobs =
        clients::arg("--jobs").map_or(DEFAULT_JOBS, |jobs| jobs.parse().expect("--jobs takes a number"));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let samples = runtime.block_on(async { tokio::spawn(soak(jobs)).await.expect("soak") });

    let warm = samples.iter().filter(|s| s.jobs >= jobs / 10).copied().collect::<Vec<_>>();
    let per_mjobs = |s: &[Sample]| slope(s.iter().map(|s| (s.jobs as f64 / 1e6, s.rss_mib)));
    let per_min = |s: &[Sample]| slope(s.iter().map(|s| (s.seconds / 60.0, s.rss_mib)));
    let max = samples.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
    let seconds = samples.last().map_or(0.0, |s| s.seconds);
    println!(
        "{jobs} jobs in {seconds:.0} s, {} samples; RSS max {max:.1} MiB; slope after warm-up \
         {:+.3} MiB per million jobs, {:+.3} MiB per minute (all samples: {:+.3} / {:+.3})",
        samples.len(),
        per_mjobs(&warm),
        per_min(&warm),
        per_mjobs(&samples),
        per_min(&samples),
    );
    println!(
        "RESULT jobs={jobs} seconds={seconds:.1} rss_max_mib={max:.1} slope_mib_per_mjobs={:.4} slope_mib_per_min={:.4}",
        per_mjobs(&warm),
        per_min(&warm),
    );
}
