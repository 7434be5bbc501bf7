//! `GET /metrics` (feature `prometheus`): after jobs ran through a `Runner`, a scrape of the
//! status server over loopback shows the messaging metrics, the queue's lag and counts and
//! every breaker's state, in the Prometheus text format; it needs the read token when the
//! server has one, and is 404 on a server not given the recorder. Its own test binary: it
//! installs the process's one global recorder.

#[path = "status_support.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use support::*;
use tokio_util::sync::CancellationToken;
use worker_utils::circuit_breaker::CircuitBreakerConfig;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue};
use worker_utils::status::StatusServerHandle;
use worker_utils::worker::Runner;
use worker_utils_tests::mail::Mail;

async fn scrape(server: &StatusServerHandle, headers: &str) -> Answer {
    http_request(server, "GET", "/metrics", headers, "").await
}

/// The value of the sample of `name` whose labels include each of `labels`, if one.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (series_name, rest) = series.split_once('{').unwrap_or((series, ""));
        let matches = series_name == name
            && labels.iter().all(|(key, value)| rest.contains(&format!("{key}=\"{value}\"")));
        matches.then(|| value.parse().ok()).flatten()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scrape_shows_the_jobs_queue_and_breakers() {
    let handle = worker_utils::metrics::install_prometheus().expect("the first recorder");
    let config = CircuitBreakerConfig::builder().consecutive_failures(1).build().unwrap();
    let _breaker = CircuitBreaker::new("payments", config);

    let queue = Arc::new(MemoryQueue::builder("mail").build().unwrap());
    queue.enqueue_batch(vec![1, 2, 0]).await.unwrap();
    let runner = Runner::builder(Mail, queue.clone(), ()).build().unwrap();
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    worker_utils_tests::wait_until("the jobs finish", Duration::from_secs(60), || stats.finished() >= 3)
        .await;

    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.auth_token("scrape-token").metrics(handle)).await;
    let answer = scrape(&server, "Authorization: Bearer scrape-token\r\n").await;
    shutdown.cancel();
    run.await.unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = &answer.body;

    let mail = [("messaging_system", "worker_utils"), ("messaging_destination_name", "mail")];
    let with = |operation| [mail[0], mail[1], ("messaging_operation_name", operation)];
    assert_eq!(sample(text, "messaging_client_sent_messages_total", &with("send")), Some(3.0), "{text}");
    assert_eq!(sample(text, "messaging_client_consumed_messages_total", &with("receive")), Some(3.0));
    let process = with("process");
    let failed = [process[0], process[1], process[2], ("error_type", "permanent")];
    assert_eq!(sample(text, "messaging_process_duration_seconds_count", &failed), Some(1.0), "{text}");
    let all = sample(text, "messaging_process_duration_seconds_count", &process);
    assert!(all.is_some(), "the successes' histogram, with the OpenTelemetry buckets: {text}");
    assert!(sample(text, "messaging_process_duration_seconds_bucket", &[("le", "0.005")]).is_some());
    assert_eq!(sample(text, "worker_utils_circuit_state", &[("name", "payments")]), Some(0.0));
    // The runner's sampler read the queue when it started (racing the slots: its values
    // are the subject of tests/metrics.rs).
    assert!(sample(text, "worker_utils_queue_lag_seconds", &[("queue", "mail")]).is_some(), "{text}");
    for state in ["ready", "delayed", "reserved", "dead"] {
        let labels = [("queue", "mail"), ("state", state)];
        assert!(sample(text, "worker_utils_queue_jobs", &labels).is_some(), "{state}: {text}");
    }

    let refused = scrape(&server, "").await;
    assert_eq!((refused.status, refused.headers["www-authenticate"].as_str()), (401, "Bearer"));
    let wrong = scrape(&server, "Authorization: Bearer nope\r\n").await;
    assert_eq!(wrong.status, 401);
    let posted = http_request(&server, "POST", "/metrics", "Content-Length: 0\r\n", "").await;
    assert_eq!(posted.status, 405);
    server.shutdown().await;

    let without = start(&broadcaster, |b| b).await;
    assert_eq!(scrape(&without, "").await.status, 404, "not configured");
    without.shutdown().await;
    assert_eq!(queue.counts().await.unwrap().dead, 1);
}
