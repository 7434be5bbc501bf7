//! Several worker processes on one Redis: three real `redis-worker` child processes work
//! 10 000 jobs, one is killed with SIGKILL mid-run, and an external WebSocket client of a
//! status server fed from Redis sees every job end exactly once. A second status server
//! started afterwards rebuilds the same snapshot from Redis.

#[path = "redis_support.rs"]
mod redis_support;
#[path = "status_support.rs"]
mod status_support;

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use redis_support::*;
use status_support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use worker_utils::queue::{Queue, RedisQueue};
use worker_utils::status::{Broadcaster, RedisStatusFeed, StatusServerHandle};

const JOBS: u32 = 10_000;
const LIMIT: Duration = Duration::from_secs(90);

/// Starts a worker process and waits for its `READY`.
async fn worker(namespace: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_redis-worker"))
        .args([redis_url().as_str(), namespace, "2000", "2"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn redis-worker");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
    assert!(matches!(ready, Ok(Ok(Some(ref line))) if line == "READY"), "the worker started: {ready:?}");
    // Keep reading so that the worker never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

/// A status server fed from Redis, on loopback.
async fn status_server(namespace: &str, replay: usize) -> (Broadcaster, RedisStatusFeed, StatusServerHandle) {
    let broadcaster =
        Broadcaster::builder().channel_capacity(200_000).recent_jobs(20_000).build().expect("broadcaster");
    let feed = RedisStatusFeed::builder(redis_url())
        .namespace(namespace)
        .queue("jobs")
        .replay(replay)
        .start(broadcaster.clone())
        .await
        .expect("feed");
    let server = start(&broadcaster, |b| b.rate_limit(Duration::ZERO)).await;
    (broadcaster, feed, server)
}

type Seen = Arc<Mutex<HashMap<u64, Vec<String>>>>;

/// An external client: records every job's statuses as it reads them.
fn watch(mut client: Client) -> Seen {
    let seen = Seen::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Some(Ok(message)) = client.next().await {
            let Message::Text(text) = message else { continue };
            let json: serde_json::Value = serde_json::from_str(&text).expect("json");
            assert_ne!(json["type"], "lagged", "the client fell behind: {json}");
            if json["type"] == "status" {
                let (job, status) = job_status(&json);
                record.lock().await.entry(job).or_default().push(status);
            }
        }
    });
    seen
}

async fn terminal_counts(seen: &Seen) -> BTreeMap<u64, usize> {
    seen.lock()
        .await
        .iter()
        .map(|(job, statuses)| {
            (*job, statuses.iter().filter(|s| *s == "COMPLETED" || *s == "FAILED").count())
        })
        .filter(|(_, terminal)| *terminal > 0)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_run_loses_nothing_and_every_job_ends_exactly_once() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("processes");
    let (_broadcaster, feed, server) = status_server(&ns, 0).await;
    let seen = watch(connect(&server, "/ws").await);

    let queue =
        RedisQueue::<u32>::builder("jobs").url(redis_url()).namespace(&ns).connect().await.expect("queue");
    queue.enqueue_batch((1..=JOBS).collect()).await.expect("enqueue");
    let mut workers = Vec::new();
    for _ in 0..3 {
        workers.push(worker(&ns).await);
    }

    // Kill one worker once about a quarter of the jobs are done.
    let started = Instant::now();
    while terminal_counts(&seen).await.len() < JOBS as usize / 4 && started.elapsed() < LIMIT {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let victim = workers[1].id().expect("pid");
    workers[1].start_kill().expect("SIGKILL");
    workers[1].wait().await.expect("killed");
    let at_kill = terminal_counts(&seen).await.len();
    assert!(at_kill < JOBS as usize * 3 / 4, "killed mid-run (pid {victim}, {at_kill} jobs done)");

    while terminal_counts(&seen).await.len() < JOBS as usize && started.elapsed() < LIMIT {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let counts = terminal_counts(&seen).await;
    assert_eq!(counts.len(), JOBS as usize, "every job ended, as the external client saw it");
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "exactly one terminal event per job; not for {twice:?}");

    let dead = queue.dead_letters().await.expect("dead letters");
    assert_eq!(dead.len(), (1..=JOBS).filter(|n| n % 100 == 0).count(), "only the permanent failures");
    for worker in &mut workers {
        let _ = worker.wait().await;
    }
    let left = keys(&redis_url(), &ns).await;
    let jobs_left = left.iter().filter(|k| k.contains(":j:")).count();
    assert_eq!(jobs_left, dead.len(), "nothing left but the dead letters: {left:?}");

    // A status server started now rebuilds its snapshot from Redis: the same final states.
    let (_, _second_feed, second) = status_server(&ns, 100_000).await;
    let mut client = connect(&second, "/ws").await;
    let (snapshot, _) = until_ready(&mut client).await;
    let mut restored: HashMap<u64, String> = HashMap::new();
    for event in &snapshot {
        let (job, status) = job_status(event);
        restored.insert(job, status);
    }
    let seen = seen.lock().await;
    let finals: HashMap<u64, String> =
        seen.iter().filter_map(|(job, statuses)| Some((*job, statuses.last()?.clone()))).collect();
    let mismatched = restored.iter().filter(|(job, status)| finals.get(job) != Some(status)).count();
    assert!(restored.len() >= 1000, "the snapshot holds the recent jobs ({})", restored.len());
    assert_eq!(mismatched, 0, "both status servers show the same final states");

    drop(feed);
    server.shutdown().await;
    second.shutdown().await;
    delete_namespace(&redis_url(), &ns).await;
}
