//! The main job: a thumbnail pipeline of three flaky actions, run by a worker on the
//! embedded in-memory queue, with live status on a WebSocket server.
//!
//! ```sh
//! cargo run --release --example quickstart -- --jobs 2000 --ws-addr 127.0.0.1:9001 --linger 30
//! ```
//!
//! Connect any WebSocket client to the printed URL to watch PENDING → PROCESSING →
//! COMPLETED / FAILED events; send `{"type":"subscribe","job_ids":[7]}` to follow one job.
//! Ctrl-C shuts the worker down gracefully.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue, QueueError};
use worker_utils::status::StatusServer;
use worker_utils::worker::Runner;

/// One job: an image to fetch, shrink and upload.
#[derive(Debug, Clone)]
struct ImageJob {
    id: u32,
    url: String,
}

#[derive(Debug, Clone)]
struct Image {
    id: u32,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
struct Thumbnail {
    id: u32,
    bytes: Vec<u8>,
}

/// What every step may use.
struct Deps {
    cdn: String,
}

#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("upstream timed out")]
    #[classify(transient)]
    Timeout,
    #[error("no image at {0}")]
    #[classify(permanent)]
    NotFound(String),
}

#[derive(Debug, thiserror::Error, Classify)]
enum ImageError {
    #[error("image {0} is corrupt")]
    #[classify(business_logic)]
    Corrupt(u32),
}

#[derive(Debug, thiserror::Error, Classify)]
#[classify(transient, retry_after = retry_after)]
#[error("storage busy, retry in {retry_after:?}")]
struct StorageBusy {
    retry_after: Duration,
}

/// Simulated I/O: on a job's first delivery, times out on the first two attempts for every
/// 9th image (a retry, or a later delivery, gets through); never finds every 47th.
#[action(retry(max_attempts = 4, base_delay = "5ms", max_delay = "50ms"), error_handling, timeout = "2s")]
async fn fetch_image(job: ImageJob, ctx: &ActionContext) -> Result<Image, FetchError> {
    tokio::time::sleep(Duration::from_millis(2)).await;
    if job.id.is_multiple_of(47) {
        return Err(FetchError::NotFound(job.url));
    }
    if job.id.is_multiple_of(9) && ctx.delivery() == 1 && ctx.attempt() < 3 {
        return Err(FetchError::Timeout);
    }
    Ok(Image { id: job.id, bytes: job.url.into_bytes().repeat(64) })
}

/// CPU work; every 61st image is corrupt (a business rule, not retried).
#[action(error_handling)]
async fn make_thumbnail(image: Image) -> Result<Thumbnail, ImageError> {
    if image.id.is_multiple_of(61) {
        return Err(ImageError::Corrupt(image.id));
    }
    let bytes = image.bytes.chunks(8).map(|c| c.iter().fold(0u8, |a, b| a.wrapping_add(*b))).collect();
    Ok(Thumbnail { id: image.id, bytes })
}

/// Simulated upload: every 11th is told to come back later, on its first delivery.
#[action(retry(max_attempts = 3, base_delay = "5ms", max_delay = "20ms"), error_handling)]
async fn upload(thumbnail: Thumbnail, deps: &Deps, ctx: &ActionContext) -> Result<String, StorageBusy> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    if thumbnail.id.is_multiple_of(11) && ctx.delivery() == 1 && ctx.attempt() == 1 {
        return Err(StorageBusy { retry_after: Duration::from_millis(10) });
    }
    Ok(format!("{}/thumbs/{}.png ({} bytes)", deps.cdn, thumbnail.id, thumbnail.bytes.len()))
}

/// fetch_image → make_thumbnail → upload, on the `thumbnails` queue; the runner adds
/// PROCESSING / COMPLETED / FAILED around the pipeline. A transient failure that outlives an
/// action's own retries (or whose retry the retry budget refused under load) goes back to
/// the queue for a later delivery, up to 5 deliveries; only the rest are dead letters.
#[worker(
    queue = "thumbnails",
    deps = Deps,
    pipeline = [fetch_image, make_thumbnail, upload],
    concurrency = 32,
    redeliver(max_deliveries = 5, base_delay = "100ms", max_delay = "2s"),
)]
struct ThumbnailWorker;

/// Command-line options.
struct Options {
    jobs: u32,
    ws_addr: SocketAddr,
    linger: Duration,
}

const USAGE: &str = "usage: quickstart [--jobs N] [--ws-addr HOST:PORT] [--linger SECS]";

fn parse_options() -> Result<Options, String> {
    let mut options =
        Options { jobs: 500, ws_addr: SocketAddr::from(([127, 0, 0, 1], 0)), linger: Duration::ZERO };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--jobs" => {
                options.jobs = value("--jobs")?.parse().map_err(|e| format!("--jobs: {e}"))?;
            }
            "--ws-addr" => {
                options.ws_addr = value("--ws-addr")?.parse().map_err(|e| format!("--ws-addr: {e}"))?;
            }
            "--linger" => {
                let secs: u64 = value("--linger")?.parse().map_err(|e| format!("--linger: {e}"))?;
                options.linger = Duration::from_secs(secs);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Enqueues jobs 1 to `jobs` in batches, waiting for room when the queue is full.
async fn produce(queue: Arc<MemoryQueue<ImageJob>>, jobs: u32) -> Result<(), QueueError> {
    const BATCH: u32 = 1000;
    for first in (1..=jobs).step_by(BATCH as usize) {
        let last = first.saturating_add(BATCH - 1).min(jobs);
        let batch = (first..=last).map(|id| ImageJob { id, url: format!("https://images.example/{id}.jpg") });
        queue.enqueue_batch(batch.collect()).await?;
    }
    Ok(())
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let broadcaster = Broadcaster::new();
    let server = StatusServer::builder(broadcaster.clone()).bind(options.ws_addr).build()?.start().await?;
    println!("live status: ws://{}", server.local_addr());

    let queue = Arc::new(MemoryQueue::builder("thumbnails").status(broadcaster.clone()).build()?);
    // A producer enqueues while the worker runs, as a real one would: a bounded queue makes
    // it wait for room rather than hold every job in memory at once.
    let producer = tokio::spawn(produce(queue.clone(), options.jobs));

    let deps = Deps { cdn: "https://cdn.example".to_owned() };
    let runner = Runner::builder(ThumbnailWorker, queue.clone(), deps).status(broadcaster.clone()).build()?;
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
    let bar = ProgressBar::new(u64::from(options.jobs)).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} jobs  {msg}")
            .map_err(|e| format!("progress bar template: {e}"))?,
    );
    while stats.finished() < u64::from(options.jobs) && !shutdown.is_cancelled() {
        bar.set_position(stats.finished());
        bar.set_message(format!(
            "failed {}  retries {}  redelivered {}",
            stats.dead_lettered(),
            stats.retries(),
            stats.redelivered()
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bar.set_position(stats.finished());
    bar.finish();
    let elapsed = started.elapsed();
    shutdown.cancel();
    let report = worker.await?;
    producer.abort();

    let dead = queue.dead_letters().await?;
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
    println!(
        "throughput    {:.0} jobs/s over {:.2?}",
        report.completed as f64 / elapsed.as_secs_f64(),
        elapsed
    );
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

    if !options.linger.is_zero() {
        println!(
            "status server stays up for {:?} at ws://{} (ctrl-c to stop)",
            options.linger,
            server.local_addr()
        );
        tokio::select! {
            () = tokio::time::sleep(options.linger) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    server.shutdown().await;
    Ok(())
}
