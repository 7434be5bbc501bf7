//! The status of every job a worker runs, read by a real WebSocket client over loopback:
//! PENDING, PROCESSING, then exactly one COMPLETED or FAILED; a job that never waits skips
//! PROCESSING, which no client could have seen live.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue};
use worker_utils::status::{StatusServer, StatusServerHandle};
use worker_utils::worker::{Runner, Worker};

/// Sleeps 20 ms; payloads divisible by 5 fail permanently.
struct Work;

impl Action for Work {
    type Input = u32;
    type Output = u32;

    fn name(&self) -> &'static str {
        "work"
    }

    async fn execute(&self, n: u32, _: &(), _: &ActionContext) -> Result<u32, ActionError> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if n.is_multiple_of(5) {
            return Err(ActionError::permanent(std::io::Error::other(format!("payload {n} rejected"))));
        }
        Ok(n)
    }
}

struct WorkWorker;

impl Worker for WorkWorker {
    type Deps = ();
    type Pipeline = Work;

    fn queue(&self) -> &str {
        "work"
    }

    fn pipeline(&self) -> Work {
        Work
    }

    fn concurrency(&self) -> usize {
        4
    }
}

const JOBS: u32 = 30;

/// Returns its input at once, without waiting.
struct Quick;

impl Action for Quick {
    type Input = u32;
    type Output = u32;

    fn name(&self) -> &'static str {
        "quick"
    }

    async fn execute(&self, n: u32, _: &(), _: &ActionContext) -> Result<u32, ActionError> {
        Ok(n)
    }
}

struct QuickWorker;

impl Worker for QuickWorker {
    type Deps = ();
    type Pipeline = Quick;

    fn queue(&self) -> &str {
        "work"
    }

    fn pipeline(&self) -> Quick {
        Quick
    }
}

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A status server with a 1 ms rate limit and a client of it that follows queue `work`.
async fn server_and_client(broadcaster: &Broadcaster) -> (StatusServerHandle, Client) {
    let server = StatusServer::builder(broadcaster.clone())
        .rate_limit(Duration::from_millis(1))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let (client, _) =
        tokio_tungstenite::connect_async(format!("{}?queues=work", server.ws_url())).await.unwrap();
    (server, client)
}

/// The status messages `client` reads until `jobs` jobs reached a terminal state, per job.
async fn events_per_job(client: &mut Client, jobs: u32) -> BTreeMap<u64, Vec<serde_json::Value>> {
    let mut per_job: BTreeMap<u64, Vec<serde_json::Value>> = BTreeMap::new();
    let mut terminal = 0;
    let read_all = async {
        while terminal < jobs {
            let Some(Ok(Message::Text(text))) = client.next().await else { panic!("stream ended early") };
            let message: serde_json::Value = serde_json::from_str(&text).unwrap();
            if message["type"] != "status" {
                continue;
            }
            if matches!(message["status"].as_str(), Some("COMPLETED" | "FAILED")) {
                terminal += 1;
            }
            per_job.entry(message["job_id"].as_u64().unwrap()).or_default().push(message);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read_all)
        .await
        .expect("every job reached a terminal state");
    per_job
}

#[tokio::test]
async fn a_websocket_client_sees_each_job_go_processing_then_exactly_one_terminal_state() {
    let broadcaster = Broadcaster::new();
    let (server, mut client) = server_and_client(&broadcaster).await;

    let queue = Arc::new(MemoryQueue::builder("work").status(broadcaster.clone()).build().unwrap());
    let runner = Runner::builder(WorkWorker, queue.clone(), ()).status(broadcaster.clone()).build().unwrap();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    queue.enqueue_batch((1..=JOBS).collect()).await.unwrap();

    let per_job = events_per_job(&mut client, JOBS).await;
    shutdown.cancel();
    let report = run.await.unwrap();
    server.shutdown().await;

    assert_eq!(per_job.len(), JOBS as usize);
    for (job, events) in &per_job {
        let statuses: Vec<&str> = events.iter().map(|e| e["status"].as_str().unwrap()).collect();
        let failed = statuses.last() == Some(&"FAILED");
        let last = if failed { "FAILED" } else { "COMPLETED" };
        assert_eq!(statuses, ["PENDING", "PROCESSING", last], "job {job}");
        let end = events.last().unwrap();
        assert_eq!(end["queue"], "work");
        assert_eq!(end["worker"], report.worker_id.as_str());
        assert_eq!(end["previous"], "PROCESSING");
        assert!(end["duration_ms"].as_u64().unwrap() >= 20, "job {job}: {end}");
        if failed {
            assert_eq!(end["error"]["kind"], "permanent");
            assert!(end["error"]["message"].as_str().unwrap().contains("rejected"));
        } else {
            assert!(end.get("error").is_none(), "no error, no field: {end}");
        }
        let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "job {job}: {seqs:?}");
    }
    let failed = per_job.values().filter(|e| e.last().unwrap()["status"] == "FAILED").count();
    assert_eq!(failed as u64, report.dead_lettered);
    assert_eq!(report.completed + report.dead_lettered, u64::from(JOBS));
}

#[tokio::test]
async fn a_job_that_never_waits_reaches_a_client_as_pending_then_completed() {
    let broadcaster = Broadcaster::new();
    let (server, mut client) = server_and_client(&broadcaster).await;
    let queue = Arc::new(MemoryQueue::builder("work").status(broadcaster.clone()).build().unwrap());
    queue.enqueue_batch((1..=JOBS).collect()).await.unwrap();
    // Past the client's rate-limit window after each PENDING, so that the limiter would not
    // hold back (and drop) a PROCESSING: whatever the client misses, the runner never sent.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let runner = Runner::builder(QuickWorker, queue.clone(), ()).status(broadcaster.clone()).build().unwrap();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));

    let per_job = events_per_job(&mut client, JOBS).await;
    shutdown.cancel();
    run.await.unwrap();
    server.shutdown().await;

    assert_eq!(per_job.len(), JOBS as usize);
    for (job, events) in &per_job {
        let statuses: Vec<&str> = events.iter().map(|e| e["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["PENDING", "COMPLETED"], "job {job}");
        // The outcome still tells where the job came from, and how long it ran.
        let end = events.last().unwrap();
        assert_eq!(end["previous"], "PROCESSING", "job {job}");
        assert!(end["duration_ms"].is_u64(), "job {job}: {end}");
    }
}
