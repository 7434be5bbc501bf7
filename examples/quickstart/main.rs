//! The main job: a thumbnail pipeline of three flaky actions, run by a worker with live
//! status on a WebSocket server, on the embedded in-memory queue or on Redis.
//!
//! ```sh
//! cargo run --release --example quickstart -- --jobs 2000 --ws-addr 127.0.0.1:9001 --linger 30
//! ```
//!
//! Open the printed dashboard URL (`http://…/`) in a browser to watch the queue live, or
//! connect any WebSocket client to the printed `ws://…/ws` to watch PENDING → PROCESSING →
//! COMPLETED / FAILED events; send `{"type":"subscribe","job_ids":[7]}` to follow one job.
//! With `--admin-token SECRET`, a dashboard given that token (typed in, or opened as
//! `http://…/#admin=SECRET`) can requeue and delete dead letters; with `--linger`, a worker
//! keeps working the queue meanwhile, so a requeued job runs again. The environment's
//! `WORKER_UTILS_WS_MAX_CLIENTS` and `WORKER_UTILS_WS_RATE_LIMIT_MS` configure the server.
//! Ctrl-C shuts the worker down gracefully. With `--profile` it ends with a table of where
//! the time went: each action's share, calls, p50, p95 and max.
//!
//! On Redis, each part can run in a process of its own, on any machine:
//!
//! ```sh
//! quickstart --backend redis --role status --ws-addr 0.0.0.0:9001   # serves every job's status
//! quickstart --backend redis --role worker                          # as many as you like
//! quickstart --backend redis --role producer --jobs 10000           # enqueues and exits
//! ```

mod pipeline;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use pipeline::{Deps, ImageJob, ThumbnailWorker};
use worker_utils::config::WebSocketDefaults;
use worker_utils::prelude::*;
use worker_utils::profile::Profile;
use worker_utils::queue::{DeadLetter, DeadLetterAdmin, MemoryQueue, Queue, QueueError, RedisQueue};
use worker_utils::status::{RedisStatusFeed, RedisStatusSink, StatusServer, StatusServerHandle};
use worker_utils::worker::{RunReport, RunStats, Runner};

/// Runs the thumbnail pipeline with live status.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Options {
    /// How many jobs to enqueue (the producer's part).
    #[arg(long, default_value_t = 500)]
    jobs: u32,
    /// Where the status server listens; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    ws_addr: SocketAddr,
    /// Seconds the status server stays up after the last job, for a last look (a worker
    /// keeps working the queue meanwhile, for dead letters requeued from the dashboard).
    #[arg(long, default_value_t = 0)]
    linger: u64,
    /// Enables the dashboard's admin actions (requeue, delete dead letters) for a page given
    /// this token; without it the dashboard is read-only.
    #[arg(long)]
    admin_token: Option<String>,
    /// Where jobs wait: this process's memory, or a Redis shared by many processes.
    #[arg(long, value_enum, default_value_t = Backend::Memory)]
    backend: Backend,
    /// The Redis to use with `--backend redis`.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    redis_url: String,
    /// The first part of every Redis key (separates applications sharing a Redis).
    #[arg(long, default_value = "wu")]
    namespace: String,
    /// Which part to run: everything in this process, or one part of a deployment over
    /// Redis.
    #[arg(long, value_enum, default_value_t = Role::All)]
    role: Role,
    /// With `--role worker`: stop once the queue has held no unfinished job (ready,
    /// delayed or reserved) for a second.
    #[arg(long)]
    exit_when_idle: bool,
    /// Print, at the end, each action's share of the time with its calls, p50, p95 and max
    /// (from the duration metrics, which stay off without this flag).
    #[arg(long)]
    profile: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Memory,
    Redis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    /// Producer, worker and status server in this process.
    All,
    /// Enqueue `--jobs` jobs and exit.
    Producer,
    /// Work the queue until Ctrl-C (or, with `--exit-when-idle`, until it is empty).
    Worker,
    /// Serve the live status of every job on the WebSocket server.
    Status,
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    if options.backend == Backend::Memory && options.role != Role::All {
        eprintln!(
            "error: --role {:?} needs --backend redis: in memory, every part shares one process",
            options.role
        );
        return ExitCode::from(2);
    }
    // Off, nothing is installed and the success path records nothing.
    let profile = options.profile.then(Profile::new);
    if let Some(Err(error)) = profile.as_ref().map(Profile::install) {
        eprintln!("error: --profile: {error}");
        return ExitCode::FAILURE;
    }
    let run = match options.backend {
        Backend::Memory => run_in_memory(&options).await,
        Backend::Redis => run_on_redis(&options).await,
    };
    if let Some(profile) = profile {
        println!("\ntime per action (every call through its error handling):\n{}", profile.report());
    }
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

type Failure = Box<dyn std::error::Error>;

/// The queue the thumbnail worker consumes.
const QUEUE: &str = "thumbnails";

/// Everything in one process, on the in-memory queue.
async fn run_in_memory(options: &Options) -> Result<(), Failure> {
    let broadcaster = Broadcaster::new();
    let queue = Arc::new(MemoryQueue::builder(QUEUE).status(broadcaster.clone()).build()?);
    let server = serve(broadcaster.clone(), options, queue.clone()).await?;
    // A producer enqueues while the worker runs, as a real one would: a bounded queue makes
    // it wait for room rather than hold every job in memory at once.
    let producer = tokio::spawn(produce(queue.clone(), options.jobs));
    let report = work(queue.clone(), broadcaster.clone(), Some(options.jobs), false).await?;
    producer.abort();
    summarize(&report, &queue.dead_letters().await?);
    linger(&server, options.linger, queue, broadcaster).await?;
    server.shutdown().await;
    Ok(())
}

/// One role (or all of them) against Redis; status travels through Redis too, so any
/// status server shows every worker's jobs.
async fn run_on_redis(options: &Options) -> Result<(), Failure> {
    let url = options.redis_url.as_str();
    let connect = || async {
        let sink = RedisStatusSink::connect(url, &options.namespace).await?;
        let queue =
            RedisQueue::<ImageJob>::builder(QUEUE).url(url).namespace(&options.namespace).connect().await?;
        Ok::<_, Failure>((Arc::new(queue), sink))
    };
    match options.role {
        Role::Producer => {
            let (queue, _) = connect().await?;
            produce(queue.clone(), options.jobs).await?;
            println!("enqueued {} jobs on {}", options.jobs, queue.url());
        }
        Role::Worker => {
            let (queue, sink) = connect().await?;
            let report = work(queue.clone(), sink, None, options.exit_when_idle).await?;
            summarize(&report, &queue.dead_letters().await?);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Role::Status => {
            let broadcaster = Broadcaster::new();
            let _feed = RedisStatusFeed::builder(url)
                .namespace(&options.namespace)
                .queue(QUEUE)
                .start(broadcaster.clone())
                .await?;
            let (queue, _) = connect().await?;
            let server = serve(broadcaster, options, queue).await?;
            let _ = tokio::signal::ctrl_c().await;
            server.shutdown().await;
        }
        Role::All => {
            let (queue, sink) = connect().await?;
            let broadcaster = Broadcaster::new();
            let _feed = RedisStatusFeed::builder(url)
                .namespace(&options.namespace)
                .queue(QUEUE)
                .replay(0)
                .start(broadcaster.clone())
                .await?;
            let server = serve(broadcaster, options, queue.clone()).await?;
            let producer = tokio::spawn(produce(queue.clone(), options.jobs));
            let report = work(queue.clone(), sink.clone(), Some(options.jobs), false).await?;
            producer.abort();
            summarize(&report, &queue.dead_letters().await?);
            linger(&server, options.linger, queue, sink).await?;
            server.shutdown().await;
        }
    }
    Ok(())
}

/// Starts the status server (and its dashboard) on `--ws-addr`, with the admin API for
/// `queue`'s dead letters when `--admin-token` is given.
async fn serve(
    broadcaster: Broadcaster,
    options: &Options,
    queue: impl DeadLetterAdmin,
) -> Result<StatusServerHandle, Failure> {
    let mut builder =
        StatusServer::builder(broadcaster).bind(options.ws_addr).defaults(WebSocketDefaults::from_env()?);
    if let Some(token) = &options.admin_token {
        builder = builder.admin(token.as_str(), queue);
    }
    let server = builder.build()?.start().await?;
    println!("live status: {}", server.ws_url());
    let admin = if options.admin_token.is_some() {
        " (for admin actions, give the page the --admin-token value)"
    } else {
        ""
    };
    println!("dashboard:   {}{admin}", server.dashboard_url());
    Ok(server)
}

/// Enqueues jobs 1 to `jobs` in batches, waiting for room when the queue is full.
async fn produce<Q: Queue<ImageJob>>(queue: Arc<Q>, jobs: u32) -> Result<(), QueueError> {
    const BATCH: u32 = 1000;
    for first in (1..=jobs).step_by(BATCH as usize) {
        let last = first.saturating_add(BATCH - 1).min(jobs);
        queue.enqueue_batch((first..=last).map(ImageJob::new).collect()).await?;
    }
    Ok(())
}

/// Runs the worker until `expected` jobs are finished, Ctrl-C, or (with `until_idle`) the
/// queue has held no unfinished job for a second.
async fn work<Q: Queue<ImageJob>>(
    queue: Arc<Q>,
    status: impl StatusSink,
    expected: Option<u32>,
    until_idle: bool,
) -> Result<RunReport, Failure> {
    let deps = Deps { cdn: "https://cdn.example".to_owned() };
    let runner = Runner::builder(ThumbnailWorker, queue.clone(), deps).status(status).build()?;
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nctrl-c: finishing the jobs in flight…");
                shutdown.cancel();
            }
        }
    });
    let started = Instant::now();
    let worker = tokio::spawn(runner.run(shutdown.clone()));
    let bar = progress_bar(expected)?;
    let mut idle_since: Option<Instant> = None;
    while !shutdown.is_cancelled() {
        show(&bar, &stats);
        let finished = stats.finished();
        if expected.is_some_and(|expected| finished >= u64::from(expected)) {
            break;
        }
        if until_idle {
            let empty = queue.counts().await.is_ok_and(|counts| counts.unfinished() == 0);
            match idle_since {
                _ if !empty => idle_since = None,
                Some(since) if since.elapsed() >= Duration::from_secs(1) => break,
                Some(_) => {}
                None => idle_since = Some(Instant::now()),
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    show(&bar, &stats);
    bar.finish();
    let elapsed = started.elapsed();
    shutdown.cancel();
    let report = worker.await?;
    println!(
        "throughput    {:.0} jobs/s over {:.2?}",
        report.completed as f64 / elapsed.as_secs_f64(),
        elapsed
    );
    Ok(report)
}

fn progress_bar(expected: Option<u32>) -> Result<ProgressBar, Failure> {
    let (bar, template) = match expected {
        Some(jobs) => (ProgressBar::new(u64::from(jobs)), "{bar:40} {pos}/{len} jobs  {msg}"),
        None => (ProgressBar::new_spinner(), "{spinner} {pos} jobs  {msg}"),
    };
    Ok(bar.with_style(
        ProgressStyle::with_template(template).map_err(|e| format!("progress bar template: {e}"))?,
    ))
}

fn show(bar: &ProgressBar, stats: &RunStats) {
    bar.set_position(stats.finished());
    bar.set_message(format!(
        "failed {}  retries {}  redelivered {}",
        stats.dead_lettered(),
        stats.retries(),
        stats.redelivered()
    ));
}

fn summarize(report: &RunReport, dead: &[DeadLetter<ImageJob>]) {
    println!();
    println!("worker        {}", report.worker_id);
    println!("completed     {}", report.completed);
    println!("failed        {} (all dead-lettered; {} panics)", report.dead_lettered, report.panics);
    println!("dead letters  {}", dead.len());
    let by_kind = ErrorKind::ALL.map(|kind| {
        let count = dead.iter().filter(|letter| letter.failure.kind == kind).count();
        format!("{kind} {count}")
    });
    println!("dead letters by kind: {}", by_kind.join(", "));
    println!("retries       {} (in-process, by the actions' retry wrappers)", report.retries);
    println!("redelivered   {} (failed deliveries sent back to the queue)", report.redelivered);
    println!("returned      {} (unfinished at shutdown, back in the queue)", report.returned);
    for letter in dead.iter().take(3) {
        let attempts = letter.failure.attempts.len();
        println!(
            "  dead letter job {}: {} on delivery {} after {attempts} attempt{}: {}",
            letter.id,
            letter.failure.kind,
            letter.deliveries,
            if attempts == 1 { "" } else { "s" },
            letter.failure.message
        );
    }
}

/// Keeps the status server up for `linger` seconds, with a worker on the queue so that dead
/// letters requeued from the dashboard run again.
async fn linger<Q: Queue<ImageJob>>(
    server: &StatusServerHandle,
    linger: u64,
    queue: Arc<Q>,
    status: impl StatusSink,
) -> Result<(), Failure> {
    if linger == 0 {
        return Ok(());
    }
    println!("status server stays up for {linger} s at {} (ctrl-c to stop)", server.dashboard_url());
    let deps = Deps { cdn: "https://cdn.example".to_owned() };
    let runner = Runner::builder(ThumbnailWorker, queue, deps).status(status).build()?;
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(runner.run(shutdown.clone()));
    tokio::select! {
        () = tokio::time::sleep(Duration::from_secs(linger)) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    shutdown.cancel();
    let _lingered = worker.await?;
    Ok(())
}
