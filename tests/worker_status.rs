//! The status of every job a worker runs, read by a real WebSocket client over loopback:
//! PENDING, PROCESSING, then exactly one COMPLETED or FAILED.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue};
use worker_utils::status::StatusServer;
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

#[tokio::test]
async fn a_websocket_client_sees_each_job_go_processing_then_exactly_one_terminal_state() {
    let broadcaster = Broadcaster::new();
    let server = StatusServer::builder(broadcaster.clone())
        .rate_limit(Duration::from_millis(1))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let (mut client, _) =
        tokio_tungstenite::connect_async(format!("{}?queues=work", server.ws_url())).await.unwrap();

    let queue = Arc::new(MemoryQueue::builder("work").status(broadcaster.clone()).build().unwrap());
    let runner = Runner::builder(WorkWorker, queue.clone(), ()).status(broadcaster.clone()).build().unwrap();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    queue.enqueue_batch((1..=JOBS).collect()).await.unwrap();

    let mut per_job: BTreeMap<u64, Vec<serde_json::Value>> = BTreeMap::new();
    let mut terminal = 0;
    let read_all = async {
        while terminal < JOBS {
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
            assert!(end["error"].is_null());
        }
        let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "job {job}: {seqs:?}");
    }
    let failed = per_job.values().filter(|e| e.last().unwrap()["status"] == "FAILED").count();
    assert_eq!(failed as u64, report.dead_lettered);
    assert_eq!(report.completed + report.dead_lettered, u64::from(JOBS));
}
