//! Slow clients never slow anyone else: a stalled client is cut off, a lagging one is told
//! how many events it missed, and publishing never waits.

#[path = "status_support.rs"]
mod support;

use std::time::Duration;

use serde_json::json;
use support::*;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use worker_utils::prelude::*;

#[tokio::test(start_paused = true)]
async fn a_stalled_client_is_cut_off_while_a_healthy_one_gets_everything() {
    let broadcaster = Broadcaster::builder().channel_capacity(16 * 1024).build().unwrap();
    let server = start(&broadcaster, |b| {
        b.rate_limit(Duration::ZERO)
            .write_timeout(Duration::from_secs(2))
            .ping_interval(Duration::from_secs(3600))
    })
    .await;
    // Connects, then never reads again: the server's writes to it eventually block.
    let _stalled = connect(&server, "/ws").await;
    let mut healthy = connect(&server, "/ws").await;
    until_ready(&mut healthy).await;
    let reader = tokio::spawn(async move {
        let mut next_seq = 1;
        loop {
            let event = next_json(&mut healthy).await;
            assert_eq!(event["seq"], next_seq, "nothing lost, nothing reordered");
            next_seq += 1;
            if event["job_id"] == u64::MAX {
                return next_seq - 1;
            }
        }
    });

    // Big events fill the stalled socket's buffers quickly; the loop is bounded.
    let queue = "q".repeat(4096);
    let mut published = 0_u64;
    for _round in 0..20_000 {
        if server.client_count() == 1 {
            break;
        }
        for _ in 0..20 {
            publish(&broadcaster, published, &queue, JobStatus::Processing, 1);
            published += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.client_count(), 1, "the stalled client was disconnected");
    assert!(published >= 20, "publishing went on while the client was stalled");

    publish(&broadcaster, u64::MAX, "q", JobStatus::Completed, 1);
    assert_eq!(reader.await.unwrap(), published + 1, "the healthy client received every event");
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_does_not_wait_for_a_stalled_client_write() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| {
        b.rate_limit(Duration::ZERO)
            .write_timeout(Duration::from_secs(3600))
            .ping_interval(Duration::from_secs(3600))
    })
    .await;
    let _stalled = connect(&server, "/ws").await;
    // Fill the stalled client's socket until the server's write to it blocks (bounded).
    let queue = "q".repeat(64 * 1024);
    for round in 0..2_000_u64 {
        publish(&broadcaster, round, &queue, JobStatus::Processing, 1);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let started = tokio::time::Instant::now();
    server.shutdown().await;
    assert!(started.elapsed() <= Duration::from_secs(2), "shutdown took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_client_that_falls_behind_is_told_how_many_events_it_missed() {
    let broadcaster = Broadcaster::builder().channel_capacity(16).build().unwrap();
    let server = start(&broadcaster, |b| b.rate_limit(Duration::ZERO)).await;
    let mut client = connect(&server, "/ws").await;
    until_ready(&mut client).await;

    // On this current-thread runtime the server's connection task cannot run while the
    // loop publishes, so its receiver falls 84 events behind the 16-event ring.
    for job in 0..100 {
        publish(&broadcaster, job, "q", JobStatus::Pending, 1);
    }
    assert_eq!(next_json(&mut client).await, json!({"type": "lagged", "missed": 84}));
    for job in 84..100 {
        assert_eq!(next_json(&mut client).await["job_id"], job);
    }
    // It caught up, so it stays connected and keeps receiving.
    publish(&broadcaster, 100, "q", JobStatus::Pending, 1);
    assert_eq!(next_json(&mut client).await["job_id"], 100);
    server.shutdown().await;
}

/// A client still behind after the batch that reported its lag reads on only after a
/// pause (1 s), so a client that cannot keep up costs the server one batch per second
/// instead of every cycle it can get; one that caught up in that batch is not paused (above).
#[tokio::test(start_paused = true)]
async fn a_client_still_behind_after_a_lag_reads_on_after_a_pause() {
    let broadcaster = Broadcaster::builder().channel_capacity(4096).build().unwrap();
    let server = start(&broadcaster, |b| b.rate_limit(Duration::ZERO).max_lags(1000)).await;
    let mut client = connect(&server, "/ws").await;
    until_ready(&mut client).await;
    // The server's connection task cannot run while the loop publishes (current thread).
    for job in 0..10_000 {
        publish(&broadcaster, job, "q", JobStatus::Pending, 1);
    }
    assert_eq!(next_json(&mut client).await, json!({"type": "lagged", "missed": 5904}));
    // One batch (at most 512 events) goes out at once, the rest after the pause; nothing
    // after the lag is lost.
    let started = tokio::time::Instant::now();
    let mut before_pause = 0;
    for job in 5904..10_000 {
        assert_eq!(next_json(&mut client).await["job_id"], job);
        if started.elapsed() < Duration::from_secs(1) {
            before_pause += 1;
        }
    }
    assert!((1..=512).contains(&before_pause), "{before_pause} events before the pause");
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_keeps_lagging_is_disconnected() {
    let broadcaster = Broadcaster::builder().channel_capacity(16).build().unwrap();
    let server = start(&broadcaster, |b| b.rate_limit(Duration::ZERO).max_lags(0)).await;
    let mut client = connect(&server, "/ws").await;
    until_ready(&mut client).await;
    for job in 0..100 {
        publish(&broadcaster, job, "q", JobStatus::Pending, 1);
    }
    let frame = close_frame(&mut client).await.expect("close frame");
    assert_eq!((frame.code, frame.reason.as_str()), (CloseCode::Policy, "client too slow"));
    server.shutdown().await;
}
