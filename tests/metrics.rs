//! Metrics: the runner's and queues' OpenTelemetry-named messaging metrics (sent, consumed,
//! process duration with `error_type`), the queue lag and counts a sampler sets, the lag
//! read of both backends, and every breaker's state gauge from its creation. The tests
//! that record use a `DebuggingRecorder` of their own thread, on a current-thread runtime.

#[path = "redis_support.rs"]
mod redis_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokio_util::sync::CancellationToken;
use worker_utils::circuit_breaker::CircuitBreakerConfig;
use worker_utils::metrics::QueueSampler;
use worker_utils::prelude::*;
use worker_utils::queue::{EnqueueOptions, Failure, MemoryQueue, Queue, RedisQueue};
use worker_utils::worker::Runner;
use worker_utils_tests::mail::Mail;

/// What a snapshot held: counters, gauges, and the number of samples of each histogram,
/// keyed `name{label=value,…}` with the labels sorted.
#[derive(Debug, Default)]
struct Recorded {
    counters: BTreeMap<String, u64>,
    gauges: BTreeMap<String, f64>,
    histograms: BTreeMap<String, usize>,
}

fn recorded(snapshotter: &Snapshotter) -> Recorded {
    let mut recorded = Recorded::default();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let mut labels: Vec<String> =
            key.key().labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.key().name(), labels.join(","));
        match value {
            DebugValue::Counter(n) => {
                recorded.counters.insert(name, n);
            }
            DebugValue::Gauge(g) => {
                recorded.gauges.insert(name, g.into_inner());
            }
            DebugValue::Histogram(samples) => {
                recorded.histograms.insert(name, samples.len());
            }
        }
    }
    recorded
}

/// Runs `test` on a current-thread runtime (its clock paused if `paused`) with the
/// success-path metrics on and a recorder of this thread's own; returns what it recorded.
fn record<F: Future<Output = ()>>(paused: bool, test: impl FnOnce() -> F) -> Recorded {
    worker_utils::metrics::enable();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(paused)
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || runtime.block_on(test()));
    recorded(&snapshotter)
}

const MEMORY: &str = "messaging_destination_name=mail,messaging_operation_name";
const SYSTEM: &str = "messaging_system=worker_utils";

#[test]
fn a_runner_records_the_messaging_metrics_and_samples_its_queue() {
    let recorded = record(true, || async {
        let queue = Arc::new(MemoryQueue::builder("mail").build().unwrap());
        queue.enqueue_batch(vec![1, 2, 0]).await.unwrap();
        let once = EnqueueOptions::default().idempotency_key("once");
        queue.enqueue_with(3, once.clone()).await.unwrap();
        queue.enqueue_with(3, once).await.unwrap(); // a duplicate: not sent
        // Waiting 2 s at the head of the queue before the runner starts.
        tokio::time::advance(Duration::from_secs(2)).await;

        let runner = Runner::builder(Mail, queue.clone(), ()).build().unwrap();
        let stats = runner.stats();
        let shutdown = CancellationToken::new();
        let run = tokio::spawn(runner.run(shutdown.clone()));
        worker_utils_tests::wait_until("the jobs finish", worker_utils_tests::PAUSED_CLOCK_LIMIT, || {
            stats.finished() >= 4
        })
        .await;
        // The next sample sees the queue drained.
        tokio::time::sleep(QueueSampler::DEFAULT_EVERY).await;
        shutdown.cancel();
        run.await.unwrap();
    });

    let sent = format!("messaging_client_sent_messages_total{{{MEMORY}=send,{SYSTEM}}}");
    assert_eq!(recorded.counters.get(&sent), Some(&4), "{recorded:#?}");
    let consumed = format!("messaging_client_consumed_messages_total{{{MEMORY}=receive,{SYSTEM}}}");
    assert_eq!(recorded.counters.get(&consumed), Some(&4), "{recorded:#?}");
    let processed = format!("messaging_process_duration_seconds{{{MEMORY}=process,{SYSTEM}}}");
    assert_eq!(recorded.histograms.get(&processed), Some(&3), "{recorded:#?}");
    let failed =
        format!("messaging_process_duration_seconds{{error_type=permanent,{MEMORY}=process,{SYSTEM}}}");
    assert_eq!(recorded.histograms.get(&failed), Some(&1), "{recorded:#?}");

    assert_eq!(recorded.gauges.get("worker_utils_queue_lag_seconds{queue=mail}"), Some(&0.0), "drained");
    assert_eq!(recorded.gauges.get("worker_utils_queue_jobs{queue=mail,state=dead}"), Some(&1.0));
    for state in ["ready", "delayed", "reserved"] {
        let gauge = format!("worker_utils_queue_jobs{{queue=mail,state={state}}}");
        assert_eq!(recorded.gauges.get(&gauge), Some(&0.0), "{gauge}");
    }
}

#[test]
fn the_sampler_sets_the_lag_of_a_waiting_queue() {
    let recorded = record(true, || async {
        let queue = Arc::new(MemoryQueue::builder("mail").build().unwrap());
        queue.enqueue(1_u32).await.unwrap();
        tokio::time::advance(Duration::from_secs(7)).await;
        let sampler = QueueSampler::start(queue, Duration::from_secs(1)).unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await; // the first sample, at once
        drop(sampler);
    });
    assert_eq!(recorded.gauges.get("worker_utils_queue_lag_seconds{queue=mail}"), Some(&7.0));
    assert_eq!(recorded.gauges.get("worker_utils_queue_jobs{queue=mail,state=ready}"), Some(&1.0));
}

fn age(seconds: u64) -> Option<Duration> {
    Some(Duration::from_secs(seconds))
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_memory_lag_is_the_wait_at_the_head_of_the_queue() {
    let lease = Duration::from_secs(60);
    let queue = MemoryQueue::builder("lag").lease(lease).build().unwrap();
    assert_eq!(queue.oldest_ready_age().await.unwrap(), None, "empty");

    // A delayed job counts from when it falls due, before and after it is moved in line.
    queue.enqueue_with(1_u32, EnqueueOptions::default().delay(Duration::from_secs(5))).await.unwrap();
    tokio::time::advance(Duration::from_secs(4)).await;
    assert_eq!(queue.oldest_ready_age().await.unwrap(), None, "not due yet");
    tokio::time::advance(Duration::from_secs(3)).await;
    assert_eq!(queue.oldest_ready_age().await.unwrap(), age(2), "due 2 s ago");
    queue.enqueue(2).await.unwrap();
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(queue.oldest_ready_age().await.unwrap(), age(3), "the overdue job, not the fresh one");

    // Reserving promotes the delayed job behind the fresh one: the head is now job 2.
    let first = queue.reserve(1, Duration::ZERO).await.unwrap().remove(0);
    assert_eq!(first.job, 2);
    assert_eq!(queue.oldest_ready_age().await.unwrap(), age(3), "job 1 is next, due 3 s ago");
    // Given back, job 2 goes first in line and keeps its wait (it never ran).
    queue.release(first.receipt(), None).await.unwrap();
    assert_eq!(queue.oldest_ready_age().await.unwrap(), age(1));

    // Both reserved: nothing is ready until a lease runs out.
    let both = queue.reserve(2, Duration::ZERO).await.unwrap();
    assert_eq!(queue.oldest_ready_age().await.unwrap(), None);
    tokio::time::advance(lease + Duration::from_secs(4)).await;
    assert_eq!(queue.oldest_ready_age().await.unwrap(), age(4), "leases ran out 4 s ago");

    // A failed delivery redelivered without delay is ready from its nack.
    let again = queue.reserve(2, Duration::ZERO).await.unwrap();
    assert_eq!(again.len(), 2);
    drop(both);
    let failure = Failure::from_error(&ActionError::transient(std::io::Error::other("flaky")), 1);
    queue.nack(again[0].receipt(), failure, Duration::ZERO, None).await.unwrap();
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(queue.oldest_ready_age().await.unwrap(), age(6));
}

#[test]
fn every_breaker_reports_its_state_from_creation() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let config = CircuitBreakerConfig::builder().consecutive_failures(1).build().unwrap();
        let _idle = CircuitBreaker::new("never_called", config.clone());
        let tripped = CircuitBreaker::new("tripped", config);
        tripped.try_acquire().unwrap().failure();
    });
    let recorded = recorded(&snapshotter);
    assert_eq!(recorded.gauges.get("worker_utils_circuit_state{name=never_called}"), Some(&0.0));
    assert_eq!(recorded.gauges.get("worker_utils_circuit_state{name=tripped}"), Some(&1.0));
}

/// The Redis lag, from the Redis server's clock: job times are set back in Redis itself
/// (no sleeping), then each rule of `oldest_ready_age` is checked within a margin.
#[tokio::test(flavor = "current_thread")]
async fn the_redis_lag_is_the_wait_at_the_head_of_the_queue() {
    if redis_support::redis_missing().await {
        return;
    }
    let url = redis_support::redis_url();
    let namespace = redis_support::namespace("metrics-lag");
    let queue = RedisQueue::<u32>::builder("lag").url(&url).namespace(&namespace).connect().await.unwrap();
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let prefix = format!("{namespace}:{{lag}}:");
    let server_ms = |time: (u64, u64)| time.0 * 1000 + time.1 / 1000;
    let now: (u64, u64) = redis::cmd("TIME").query_async(&mut redis).await.unwrap();
    let now = server_ms(now);
    let within = |lag: Option<Duration>, seconds: u64| {
        let lag = lag.expect("a lag");
        assert!(
            lag >= Duration::from_secs(seconds) && lag < Duration::from_secs(seconds + 10),
            "{lag:?} is not about {seconds} s"
        );
    };

    assert_eq!(queue.oldest_ready_age().await.unwrap(), None, "empty");
    let a = queue.enqueue(1).await.unwrap();
    let _: () = redis::cmd("HSET")
        .arg(format!("{prefix}j:{}", a.get()))
        .arg("e")
        .arg(now - 60_000)
        .query_async(&mut redis)
        .await
        .unwrap();
    within(queue.oldest_ready_age().await.unwrap(), 60);

    // An overdue delayed job, not moved in line yet, counts from when it fell due.
    let b = queue.enqueue_with(2, EnqueueOptions::default().delay(Duration::from_secs(3600))).await.unwrap();
    let _: () = redis::cmd("ZADD")
        .arg(format!("{prefix}delayed"))
        .arg(now - 120_000)
        .arg(b.get())
        .query_async(&mut redis)
        .await
        .unwrap();
    within(queue.oldest_ready_age().await.unwrap(), 120);

    // Reserving moves it in line (first, as redeliveries go) and hands it out: job 1 is
    // at the head again. Redelivered at once, job 2 is ready from its nack.
    let reserved = queue.reserve(1, Duration::ZERO).await.unwrap().remove(0);
    assert_eq!(reserved.id, b);
    within(queue.oldest_ready_age().await.unwrap(), 60);
    let failure = Failure::from_error(&ActionError::transient(std::io::Error::other("flaky")), 1);
    queue.nack(reserved.receipt(), failure, Duration::ZERO, None).await.unwrap();
    within(queue.oldest_ready_age().await.unwrap(), 0);

    redis_support::delete_namespace(&url, &namespace).await;
}

#[test]
fn a_redis_queue_counts_the_jobs_it_sends() {
    let url = redis_support::redis_url();
    let namespace = redis_support::namespace("metrics-sent");
    let mut present = false;
    let recorded = record(false, || async {
        if redis_support::redis_missing().await {
            return;
        }
        present = true;
        let queue =
            RedisQueue::<u32>::builder("sent").url(&url).namespace(&namespace).connect().await.unwrap();
        queue.enqueue_batch(vec![1, 2, 3]).await.unwrap();
        let once = EnqueueOptions::default().idempotency_key("once");
        queue.enqueue_with(4, once.clone()).await.unwrap();
        queue.enqueue_with(4, once).await.unwrap(); // a duplicate: not sent
        redis_support::delete_namespace(&url, &namespace).await;
    });
    if present {
        let sent = "messaging_client_sent_messages_total{messaging_destination_name=sent,\
                    messaging_operation_name=send,messaging_system=worker_utils}";
        assert_eq!(recorded.counters.get(sent), Some(&4), "{recorded:#?}");
    }
}
