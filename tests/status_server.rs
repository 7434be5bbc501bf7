//! The status WebSocket server over real loopback sockets: the JSON of a job's lifecycle,
//! snapshot-then-live without gaps, subscribe filters, graceful shutdown.

#[path = "status_support.rs"]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::SinkExt;
use serde_json::{Value, json};
use support::*;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use worker_utils::prelude::*;
use worker_utils::status::{StatusEvent, publish_pending};

#[tokio::test]
async fn a_client_sees_the_full_lifecycle_as_json() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.rate_limit(Duration::ZERO)).await;
    let mut client = connect(&server, "/ws").await;
    assert_eq!(until_ready(&mut client).await, (vec![], 0));

    publish_pending(&broadcaster, JobId::new(42), "thumbnails");
    let ctx =
        ActionContext::builder().job_id(JobId::new(42)).queue("thumbnails").worker_id("thumbs-1").build();
    let failing = worker_utils::testing::FailTimes::<u32>::new(1, ErrorKind::Permanent);
    failing.with_status(broadcaster.clone()).execute(1, &(), &ctx).await.unwrap_err();

    let pending = next_json(&mut client).await;
    let timestamp = pending["timestamp"].as_str().unwrap().to_owned();
    assert_eq!(
        pending,
        json!({
            "type": "status", "seq": 1, "job_id": 42, "queue": "thumbnails", "worker": "",
            "status": "PENDING", "attempt": 1,
            "timestamp": timestamp, "timestamp_ms": pending["timestamp_ms"],
        }),
        "fields that are not set are left out"
    );
    assert!(timestamp.len() == 24 && timestamp.ends_with('Z'), "RFC 3339 with millis: {timestamp}");

    let processing = next_json(&mut client).await;
    assert_eq!((processing["seq"].as_u64(), processing["status"].as_str()), (Some(2), Some("PROCESSING")));
    assert_eq!(
        (processing["previous"].as_str(), processing["worker"].as_str()),
        (Some("PENDING"), Some("thumbs-1"))
    );

    let failed = next_json(&mut client).await;
    assert_eq!((failed["seq"].as_u64(), failed["status"].as_str()), (Some(3), Some("FAILED")));
    assert_eq!(failed["previous"], "PROCESSING");
    assert_eq!(failed["error"]["kind"], "permanent");
    assert!(failed["error"]["message"].as_str().unwrap().contains("injected permanent failure"), "{failed}");
    assert!(failed["duration_ms"].is_u64());

    // The JSON parses back into the event the broadcaster holds.
    let parsed: StatusEvent = serde_json::from_value(failed).unwrap();
    assert_eq!(parsed, broadcaster.latest(JobId::new(42)).unwrap());
    server.shutdown().await;
}

/// Each client connects while a publisher runs; the snapshot plus the live stream must
/// rebuild exactly the broadcaster's final state, and the live stream must carry every
/// sequence number after the snapshot's, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_then_live_has_no_gap_and_no_duplicate() {
    const JOBS: u64 = 50;
    const EVENTS: u64 = 3000;
    let broadcaster =
        Broadcaster::builder().recent_jobs(JOBS as usize).channel_capacity(EVENTS as usize).build().unwrap();
    let server = start(&broadcaster, |b| b.rate_limit(Duration::ZERO)).await;

    let publisher = {
        let broadcaster = broadcaster.clone();
        tokio::spawn(async move {
            for i in 0..EVENTS {
                let status = if i + JOBS >= EVENTS { JobStatus::Completed } else { JobStatus::Processing };
                publish(&broadcaster, i % JOBS, "q", status, u32::try_from(i).unwrap());
                if i % 50 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        })
    };

    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut client = connect(&server, "/ws").await;
        clients.push(tokio::spawn(async move {
            let (snapshot, ready_seq) = until_ready(&mut client).await;
            let mut state: HashMap<u64, (u64, Value)> = HashMap::new();
            for event in snapshot {
                assert!(event["seq"].as_u64().unwrap() <= ready_seq);
                state.insert(event["job_id"].as_u64().unwrap(), (event["seq"].as_u64().unwrap(), event));
            }
            let mut expected = ready_seq + 1;
            while expected <= EVENTS {
                let event = next_json(&mut client).await;
                assert_eq!(event["seq"].as_u64(), Some(expected), "live stream is gap-free");
                state.insert(event["job_id"].as_u64().unwrap(), (expected, event));
                expected += 1;
            }
            (ready_seq, state)
        }));
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    publisher.await.unwrap();

    let truth: HashMap<u64, u64> = broadcaster.snapshot().iter().map(|e| (e.job_id.get(), e.seq)).collect();
    assert_eq!(truth.len(), JOBS as usize);
    for client in clients {
        let (_ready_seq, state) = client.await.unwrap();
        let seen: HashMap<u64, u64> = state.iter().map(|(job, (seq, _))| (*job, *seq)).collect();
        assert_eq!(seen, truth, "snapshot + live rebuilds the final state");
        assert!(state.values().all(|(_, e)| e["status"] == "COMPLETED"));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_late_client_gets_the_latest_state_of_recent_jobs_first() {
    let broadcaster = Broadcaster::builder().recent_jobs(2).build().unwrap();
    for job in 1..=3 {
        publish(&broadcaster, job, "q", JobStatus::Pending, 1);
    }
    publish(&broadcaster, 2, "q", JobStatus::Processing, 1);
    let server = start(&broadcaster, |b| b).await;
    let mut client = connect(&server, "/ws").await;
    let (snapshot, ready_seq) = until_ready(&mut client).await;
    let snapshot: Vec<(u64, String)> = snapshot.iter().map(job_status).collect();
    assert_eq!(snapshot, [(3, "PENDING".to_owned()), (2, "PROCESSING".to_owned())]);
    assert_eq!(ready_seq, 4);
    server.shutdown().await;
}

#[tokio::test]
async fn query_and_subscribe_filters_select_queues_and_jobs() {
    let broadcaster = Broadcaster::new();
    publish(&broadcaster, 1, "mail", JobStatus::Pending, 1);
    publish(&broadcaster, 2, "images", JobStatus::Pending, 1);
    publish(&broadcaster, 3, "video", JobStatus::Pending, 1);
    let server = start(&broadcaster, |b| b.rate_limit(Duration::ZERO)).await;

    // Filter in the URL: the snapshot is filtered too.
    let mut client = connect(&server, "/ws?queues=mail,images").await;
    let (snapshot, _) = until_ready(&mut client).await;
    assert_eq!(snapshot.iter().map(|e| e["job_id"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 2]);

    // A subscribe message replaces the filter and restarts from a filtered snapshot.
    let subscribe = json!({"type": "subscribe", "queues": ["video"], "job_ids": [1]}).to_string();
    client.send(Message::text(subscribe)).await.unwrap();
    let reply = next_json(&mut client).await;
    assert_eq!(reply, json!({"type": "subscribed", "queues": ["video"], "job_ids": [1]}));
    let (snapshot, ready_seq) = until_ready(&mut client).await;
    assert_eq!(snapshot.iter().map(|e| e["job_id"].as_u64().unwrap()).collect::<Vec<_>>(), [1, 3]);
    assert_eq!(ready_seq, 3);

    for (job, queue) in [(2, "images"), (1, "mail"), (4, "mail"), (5, "video"), (2, "images")] {
        publish(&broadcaster, job, queue, JobStatus::Processing, 1);
    }
    publish(&broadcaster, 99, "video", JobStatus::Completed, 1); // marks the end
    let mut live = Vec::new();
    loop {
        let event = next_json(&mut client).await;
        live.push(event["job_id"].as_u64().unwrap());
        if event["job_id"] == 99 {
            break;
        }
    }
    assert_eq!(live, [1, 5, 99], "only job 1 and the video queue");

    // An empty subscription means everything again.
    client.send(Message::text(r#"{"type":"subscribe"}"#)).await.unwrap();
    assert_eq!(next_json(&mut client).await["type"], "subscribed");
    let (snapshot, _) = until_ready(&mut client).await;
    assert_eq!(snapshot.len(), 6);
    server.shutdown().await;
}

/// Every message of a `batch=1` client's frames, in order, and how many frames carried them,
/// up to the frame holding the status event of job `last`.
async fn batched_until(client: &mut Client, last: u64) -> (Vec<Value>, usize) {
    let (mut messages, mut frames) = (Vec::new(), 0);
    while messages.last().is_none_or(|m: &Value| m["job_id"] != last) {
        let Value::Array(batch) = next_json(client).await else { panic!("a batch is a JSON array") };
        assert!(!batch.is_empty(), "no empty batch");
        messages.extend(batch);
        frames += 1;
    }
    (messages, frames)
}

/// `batch=1` changes only the framing: the same messages, in the same order, several to
/// a frame (the snapshot and its `ready` in one).
#[tokio::test]
async fn a_batching_client_reads_in_arrays_what_a_plain_client_reads_one_by_one() {
    let broadcaster = Broadcaster::new();
    for job in 1..=3 {
        publish(&broadcaster, job, "mail", JobStatus::Pending, 1);
    }
    let server = start(&broadcaster, |b| b.rate_limit(Duration::ZERO)).await;
    let mut plain = connect(&server, "/ws").await;
    let mut batched = connect(&server, "/ws?queues=mail,video&batch=1").await;

    let (snapshot, seq) = until_ready(&mut plain).await;
    let Value::Array(first) = next_json(&mut batched).await else { panic!("a batch is a JSON array") };
    let mut expected = snapshot;
    expected.push(json!({"type": "ready", "seq": seq, "snapshot": 3}));
    assert_eq!(first, expected, "the snapshot and ready in one frame");

    let mut events: Vec<StatusEvent> = (1..=300)
        .map(|job| {
            StatusEvent::new(
                JobId::new(job),
                if job % 2 == 0 { "mail" } else { "video" },
                JobStatus::Completed,
            )
        })
        .collect();
    broadcaster.publish_all(&mut events);
    let mut one_by_one = Vec::new();
    while one_by_one.last().is_none_or(|m: &Value| m["job_id"] != 300) {
        one_by_one.push(next_json(&mut plain).await);
    }
    let (messages, frames) = batched_until(&mut batched, 300).await;
    assert_eq!(messages, one_by_one);
    assert!(frames < messages.len(), "{} messages in {frames} frames", messages.len());
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_client_with_a_normal_close_frame() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b).await;
    let mut readers = Vec::new();
    for _ in 0..3 {
        let mut client = connect(&server, "/ws").await;
        until_ready(&mut client).await;
        readers.push(tokio::spawn(async move { close_frame(&mut client).await }));
    }
    while server.client_count() < 3 {
        tokio::task::yield_now().await;
    }
    server.shutdown().await;
    for reader in readers {
        let frame = reader.await.unwrap().expect("a close frame");
        assert_eq!(frame.code, CloseCode::Normal);
        assert_eq!(frame.reason.as_str(), "server shutting down");
    }
}

/// The nice value of this process's thread named `name`, from `/proc` (Linux).
#[cfg(target_os = "linux")]
fn nice_of_thread(name: &str) -> Option<i64> {
    std::fs::read_dir("/proc/self/task").ok()?.flatten().find_map(|task| {
        let comm = std::fs::read_to_string(task.path().join("comm")).ok()?;
        if comm.trim() != name {
            return None;
        }
        // Field 19 of `stat`, counted after the parenthesized command name.
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        stat.rsplit_once(')')?.1.split_whitespace().nth(16)?.parse().ok()
    })
}

#[tokio::test]
async fn a_server_on_a_background_thread_serves_at_the_lowest_priority_and_shuts_down() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.background_thread(true).rate_limit(Duration::ZERO)).await;
    let mut client = connect(&server, "/ws").await;
    assert_eq!(until_ready(&mut client).await, (vec![], 0));
    #[cfg(target_os = "linux")]
    assert_eq!(nice_of_thread("worker-utils-st"), Some(19), "the server's own thread runs at nice 19");

    publish_pending(&broadcaster, JobId::new(7), "mail");
    let pending = next_json(&mut client).await;
    assert_eq!((pending["job_id"].as_u64(), pending["status"].as_str()), (Some(7), Some("PENDING")));

    let closed = tokio::spawn(async move { close_frame(&mut client).await });
    server.shutdown().await;
    assert_eq!(closed.await.unwrap().expect("a close frame").code, CloseCode::Normal);
    #[cfg(target_os = "linux")]
    assert_eq!(nice_of_thread("worker-utils-st"), None, "the thread ended");
}
