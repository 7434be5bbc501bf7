//! The per-client rate limit over a real connection, on tokio's paused clock:
//! intermediate updates of a job inside the window are coalesced to the latest, terminal
//! updates are never held or dropped.

#[path = "status_support.rs"]
mod support;

use std::time::Duration;

use support::*;
use tokio::time::Instant;
use worker_utils::prelude::*;

const WINDOW: Duration = Duration::from_millis(100);

#[tokio::test(start_paused = true)]
async fn updates_inside_the_window_are_coalesced_and_terminal_ones_pass_at_once() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.rate_limit(WINDOW).ping_interval(Duration::from_secs(3600))).await;
    let mut client = connect(&server, "/ws").await;
    until_ready(&mut client).await;

    let start = Instant::now();
    for attempt in 1..=3 {
        publish(&broadcaster, 1, "q", JobStatus::Processing, attempt);
    }
    let first = next_json(&mut client).await;
    assert_eq!(
        (first["attempt"].as_u64(), start.elapsed()),
        (Some(1), Duration::ZERO),
        "first update at once"
    );

    // Nothing more inside the window...
    let early = tokio::time::timeout(WINDOW / 2, next_json(&mut client)).await;
    assert!(early.is_err(), "held until the window ends");
    // ...then only the latest held update.
    let latest = next_json(&mut client).await;
    assert_eq!((latest["attempt"].as_u64(), start.elapsed()), (Some(3), WINDOW));

    // Terminal updates go out at once and supersede a held update.
    publish(&broadcaster, 1, "q", JobStatus::Processing, 4);
    publish(&broadcaster, 1, "q", JobStatus::Completed, 4);
    let done = next_json(&mut client).await;
    assert_eq!((done["status"].as_str(), start.elapsed()), (Some("COMPLETED"), WINDOW));

    // Another job is not limited by job 1, and the held attempt 4 never follows COMPLETED.
    publish(&broadcaster, 2, "q", JobStatus::Failed, 1);
    assert_eq!(job_status(&next_json(&mut client).await), (2, "FAILED".to_owned()));
    let after = tokio::time::timeout(WINDOW * 5, next_json(&mut client)).await;
    assert!(after.is_err(), "nothing after the terminal update: {after:?}");
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn every_terminal_update_arrives_even_in_a_burst() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.rate_limit(Duration::from_secs(60))).await;
    let mut client = connect(&server, "/ws").await;
    until_ready(&mut client).await;

    for job in 0..200 {
        publish(&broadcaster, job, "q", JobStatus::Pending, 1);
        publish(&broadcaster, job, "q", JobStatus::Processing, 1);
        let end = if job % 2 == 0 { JobStatus::Completed } else { JobStatus::Failed };
        publish(&broadcaster, job, "q", end, 1);
    }
    let mut received = Vec::new();
    while received.len() < 400 {
        received.push(job_status(&next_json(&mut client).await));
    }
    // Per job: PENDING at once, PROCESSING held (and superseded), the terminal at once.
    for job in 0..200_u64 {
        let of_job: Vec<&str> = received.iter().filter(|(j, _)| *j == job).map(|(_, s)| s.as_str()).collect();
        let end = if job % 2 == 0 { "COMPLETED" } else { "FAILED" };
        assert_eq!(of_job, ["PENDING", end], "job {job}");
    }
    server.shutdown().await;
}
