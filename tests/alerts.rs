//! Alert rules on a runner: a rule fires once when its rate crosses the threshold with
//! enough calls in the window, resolves once when the rate falls below the resolve
//! threshold, forgets outcomes as the window slides, and per action counts only that
//! step's deliveries. Each transition reaches the hook in order, the log, and the status
//! feed (a WebSocket client, and across processes the Redis status stream). Time runs on
//! tokio's paused clock, except where a real socket is read.

#[path = "redis_support.rs"]
mod redis_support;
#[path = "status_support.rs"]
mod status_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt as _;
use worker_utils::alert::{Alert, AlertMetric, AlertRule, AlertState};
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue, RedisQueue};
use worker_utils::status::{RedisStatusFeed, RedisStatusSink, StatusEvent, StatusSink};
use worker_utils::worker::{RedeliveryPolicy, RunStats, Runner};
use worker_utils_tests::Events;

/// What a job does: pass both steps, or fail in one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum Job {
    Pass,
    FailCheck,
    FailStore,
    /// Fails `store` transiently on the first delivery, then passes.
    FlakyStore,
}

fn failure(what: &str) -> ActionError {
    ActionError::permanent(std::io::Error::other(format!("{what} failed")))
}

#[action]
async fn check(job: Job) -> Result<Job, ActionError> {
    if job == Job::FailCheck { Err(failure("check")) } else { Ok(job) }
}

#[action]
async fn store(job: Job, ctx: &ActionContext) -> Result<(), ActionError> {
    match job {
        Job::FailStore => Err(failure("store")),
        Job::FlakyStore if ctx.delivery() == 1 => {
            Err(ActionError::transient(std::io::Error::other("store unavailable")))
        }
        _ => Ok(()),
    }
}

#[worker(queue = "alerts", pipeline = [check, store])]
struct Jobs;

/// The same worker with its rule in the attribute.
#[worker(queue = "alerts", pipeline = [check, store], alert(failure_rate = 0.5, min_calls = 4, action = store))]
struct WatchedJobs;

/// The alerts a hook received, in order.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Alert>>>);

impl Received {
    fn states(&self) -> Vec<AlertState> {
        self.0.lock().unwrap().iter().map(|alert| alert.state).collect()
    }

    fn all(&self) -> Vec<Alert> {
        self.0.lock().unwrap().clone()
    }
}

impl worker_utils::alert::AlertHandler for Received {
    async fn on_alert(&self, alert: Alert) {
        // A hook that waits: the next alert still reaches it after this one.
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.0.lock().unwrap().push(alert);
    }
}

/// A running runner of [`Jobs`] watched by `rule`, and what its hook received.
struct Harness {
    queue: Arc<MemoryQueue<Job>>,
    stats: Arc<RunStats>,
    received: Received,
    shutdown: CancellationToken,
    run: tokio::task::JoinHandle<worker_utils::worker::RunReport>,
    /// Outcomes recorded so far (completed, dead-lettered or redelivered).
    outcomes: u64,
}

impl Harness {
    fn start(rule: AlertRule, status: Option<Broadcaster>) -> Self {
        let queue = Arc::new(MemoryQueue::builder("alerts").build().unwrap());
        let received = Received::default();
        let mut builder = Runner::builder(Jobs, queue.clone(), ())
            .alert(rule)
            .alert_handler(received.clone())
            .redelivery(RedeliveryPolicy::builder().base_delay(Duration::from_millis(10)).build().unwrap());
        if let Some(broadcaster) = status {
            builder = builder.status(broadcaster);
        }
        let runner = builder.build().unwrap();
        let stats = runner.stats();
        let shutdown = CancellationToken::new();
        let run = tokio::spawn(runner.run(shutdown.clone()));
        Self { queue, stats, received, shutdown, run, outcomes: 0 }
    }

    /// Enqueues `count` jobs of `job` and waits until each delivery of them has an outcome
    /// (`deliveries` per job), then lets the hook catch up.
    async fn run_jobs(&mut self, job: Job, count: usize, deliveries: u64) {
        self.queue.enqueue_batch(vec![job; count]).await.unwrap();
        self.outcomes += count as u64 * deliveries;
        while self.stats.finished() + self.stats.redelivered() < self.outcomes {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    async fn stop(self) -> Received {
        self.shutdown.cancel();
        self.run.await.unwrap();
        self.received
    }
}

#[tokio::test(start_paused = true)]
async fn fires_once_when_the_failure_rate_crosses_the_threshold_after_min_calls() {
    let rule = AlertRule::failure_rate(0.5).min_calls(10).build().unwrap();
    let mut harness = Harness::start(rule, None);
    harness.run_jobs(Job::Pass, 4, 1).await;
    harness.run_jobs(Job::FailStore, 5, 1).await;
    assert!(harness.received.states().is_empty(), "9 calls are fewer than min_calls");
    harness.run_jobs(Job::FailStore, 1, 1).await;
    assert_eq!(harness.received.states(), [AlertState::Firing]);
    harness.run_jobs(Job::FailCheck, 20, 1).await;
    let received = harness.stop().await;
    assert_eq!(received.states(), [AlertState::Firing], "fires once per episode");
    let alert = &received.all()[0];
    assert_eq!((&*alert.rule, &*alert.queue, alert.action.as_deref()), ("failure_rate", "alerts", None));
    assert_eq!(
        (alert.metric, alert.calls, alert.failures, alert.rate),
        (AlertMetric::FailureRate, 10, 6, 0.6)
    );
    assert_eq!((alert.threshold, alert.resolve_below, alert.window_ms), (0.5, 0.25, 60_000));
}

#[tokio::test(start_paused = true)]
async fn does_not_fire_below_min_calls_even_at_a_rate_of_one() {
    let rule = AlertRule::failure_rate(0.5).min_calls(10).build().unwrap();
    let mut harness = Harness::start(rule, None);
    harness.run_jobs(Job::FailCheck, 9, 1).await;
    assert!(harness.stop().await.states().is_empty());
}

#[tokio::test(start_paused = true)]
async fn resolves_once_below_the_resolve_threshold_not_below_the_firing_one() {
    let rule = AlertRule::failure_rate(0.5).min_calls(10).build().unwrap();
    let mut harness = Harness::start(rule, None);
    harness.run_jobs(Job::FailStore, 10, 1).await;
    assert_eq!(harness.received.states(), [AlertState::Firing]);
    // 10 of 25 failed: 0.4 is below the threshold but not below 0.25, so it still fires.
    harness.run_jobs(Job::Pass, 15, 1).await;
    assert_eq!(harness.received.states(), [AlertState::Firing]);
    // 10 of 41: 0.24.
    harness.run_jobs(Job::Pass, 16, 1).await;
    assert_eq!(harness.received.states(), [AlertState::Firing, AlertState::Resolved]);
    harness.run_jobs(Job::Pass, 30, 1).await;
    let received = harness.stop().await;
    assert_eq!(received.states(), [AlertState::Firing, AlertState::Resolved], "resolves once");
    let resolved = &received.all()[1];
    assert_eq!((resolved.calls, resolved.failures), (41, 10));
}

#[tokio::test(start_paused = true)]
async fn failures_age_out_as_the_window_slides() {
    let rule = AlertRule::failure_rate(0.5).min_calls(10).window(Duration::from_secs(60)).build().unwrap();
    let mut harness = Harness::start(rule, None);
    harness.run_jobs(Job::FailStore, 6, 1).await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    // The first six have left the window: six more are still fewer than min_calls.
    harness.run_jobs(Job::FailStore, 6, 1).await;
    assert!(harness.received.states().is_empty());
    harness.run_jobs(Job::FailStore, 4, 1).await;
    assert_eq!(harness.received.states(), [AlertState::Firing]);
    // With no outcome at all, the failures age out and the alert resolves by itself.
    tokio::time::sleep(Duration::from_secs(61)).await;
    let received = harness.stop().await;
    assert_eq!(received.states(), [AlertState::Firing, AlertState::Resolved]);
    assert_eq!((received.all()[1].calls, received.all()[1].rate), (0, 0.0));
}

#[tokio::test(start_paused = true)]
async fn an_action_rule_counts_only_the_deliveries_that_reached_it_and_its_failures() {
    let rule = AlertRule::failure_rate(0.5).action("store").min_calls(4).build().unwrap();
    let mut harness = Harness::start(rule, None);
    // Failures in `check` never reach `store`: neither calls nor failures of it.
    harness.run_jobs(Job::FailCheck, 20, 1).await;
    harness.run_jobs(Job::Pass, 2, 1).await;
    harness.run_jobs(Job::FailStore, 1, 1).await;
    assert!(harness.received.states().is_empty(), "3 calls of `store`");
    harness.run_jobs(Job::FailStore, 1, 1).await;
    let received = harness.stop().await;
    let alerts = received.all();
    assert_eq!(received.states(), [AlertState::Firing]);
    assert_eq!((&*alerts[0].rule, alerts[0].action.as_deref()), ("failure_rate:store", Some("store")));
    assert_eq!((alerts[0].calls, alerts[0].failures), (4, 2));
}

#[tokio::test(start_paused = true)]
async fn a_dead_letter_rate_ignores_failures_that_a_redelivery_fixed() {
    let rule = AlertRule::dead_letter_rate(0.5).min_calls(4).build().unwrap();
    let mut harness = Harness::start(rule, None);
    // Each fails once, is redelivered, then completes: 0 of 10 finished jobs dead-lettered.
    harness.run_jobs(Job::FlakyStore, 10, 2).await;
    assert!(harness.received.states().is_empty());
    harness.run_jobs(Job::FailStore, 10, 1).await;
    let received = harness.stop().await;
    assert_eq!(received.states(), [AlertState::Firing]);
    assert_eq!((received.all()[0].calls, received.all()[0].failures), (20, 10));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn each_transition_is_logged_warn_when_firing_and_info_when_resolved() {
    let events = Events::default();
    let _log = tracing::subscriber::set_default(tracing_subscriber::registry().with(events.clone()));
    let rule = AlertRule::failure_rate(0.5).min_calls(1).name("store-failing").build().unwrap();
    let mut harness = Harness::start(rule, None);
    harness.run_jobs(Job::FailStore, 1, 1).await;
    // 1 of 5 failed: below half the threshold.
    harness.run_jobs(Job::Pass, 4, 1).await;
    harness.stop().await;
    let alerts: Vec<_> = events
        .take()
        .into_iter()
        .filter(|event| event.get("rule").map(String::as_str) == Some("store-failing"))
        .map(|event| (event["level"].clone(), event["message"].clone(), event["rate"].clone()))
        .collect();
    assert_eq!(
        alerts,
        [
            ("WARN".to_owned(), "alert firing".to_owned(), "1.0".to_owned()),
            ("INFO".to_owned(), "alert resolved".to_owned(), "0.2".to_owned()),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_rule_in_the_worker_attribute_watches_like_one_given_to_the_runner() {
    let queue = Arc::new(MemoryQueue::builder("alerts").build().unwrap());
    let received = Received::default();
    let runner =
        Runner::builder(WatchedJobs, queue.clone(), ()).alert_handler(received.clone()).build().unwrap();
    let (stats, shutdown) = (runner.stats(), CancellationToken::new());
    let run = tokio::spawn(runner.run(shutdown.clone()));
    queue
        .enqueue_batch(vec![Job::FailCheck, Job::Pass, Job::FailStore, Job::Pass, Job::FailStore])
        .await
        .unwrap();
    worker_utils_tests::wait_until("the jobs finish", worker_utils_tests::PAUSED_CLOCK_LIMIT, || {
        stats.finished() >= 5
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    shutdown.cancel();
    run.await.unwrap();
    let alerts = received.all();
    assert_eq!(received.states(), [AlertState::Firing]);
    assert_eq!((&*alerts[0].rule, alerts[0].calls, alerts[0].failures), ("failure_rate:store", 4, 2));
}

#[tokio::test]
async fn a_rule_on_an_action_outside_the_pipeline_is_refused() {
    let queue = Arc::new(MemoryQueue::<Job>::builder("alerts").build().unwrap());
    let rule = AlertRule::failure_rate(0.5).action("resize").build().unwrap();
    let err = Runner::builder(Jobs, queue, ()).alert(rule).build().unwrap_err();
    assert_eq!(err.field(), "alert");
    assert!(err.reason().contains("`resize`, which is not a step of the pipeline (check → store)"), "{err}");
}

#[tokio::test]
async fn a_status_client_receives_alerts_live_and_the_firing_ones_when_it_connects() {
    let broadcaster = Broadcaster::new();
    let server = status_support::start(&broadcaster, |builder| builder).await;
    let mut live = status_support::connect(&server, "/ws?queues=alerts").await;
    status_support::until_ready(&mut live).await;

    let rule = AlertRule::dead_letter_rate(0.5).min_calls(3).build().unwrap();
    let mut harness = Harness::start(rule, Some(broadcaster.clone()));
    harness.run_jobs(Job::FailCheck, 3, 1).await;
    let alert = loop {
        let json = status_support::next_json(&mut live).await;
        if json["type"] == "alert" {
            break json;
        }
    };
    assert_eq!(alert["state"], "FIRING");
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../docs/status-event.schema.json")).unwrap();
    let required = schema["$defs"]["alert"]["required"].as_array().unwrap();
    let mut required: Vec<&str> = required.iter().filter_map(serde_json::Value::as_str).collect();
    let mut sent: Vec<&str> = alert.as_object().unwrap().keys().map(String::as_str).collect();
    required.sort_unstable();
    sent.sort_unstable();
    assert_eq!(sent, required, "the fields docs/status-event.schema.json lists");
    assert_eq!(
        (alert["rule"].as_str(), alert["metric"].as_str()),
        (Some("dead_letter_rate"), Some("dead_letter_rate"))
    );
    assert_eq!(
        (alert["queue"].as_str(), alert["calls"].as_u64(), alert["failures"].as_u64()),
        (Some("alerts"), Some(3), Some(3))
    );

    // A client that connects now gets the firing alert right after its snapshot; one that
    // follows another queue does not.
    let mut late = status_support::connect(&server, "/ws").await;
    status_support::until_ready(&mut late).await;
    assert_eq!(status_support::next_json(&mut late).await, alert);
    let mut other = status_support::connect(&server, "/ws?queues=other").await;
    status_support::until_ready(&mut other).await;

    // 3 of 13 dead-lettered: below half the threshold.
    harness.run_jobs(Job::Pass, 10, 1).await;
    let resolved = loop {
        let json = status_support::next_json(&mut late).await;
        if json["type"] == "alert" {
            break json;
        }
    };
    assert_eq!(resolved["state"], "RESOLVED");
    harness.stop().await;
    assert!(broadcaster.firing_alerts().is_empty());
    // Nothing but the snapshot's `ready` reached the other queue's client.
    broadcaster.publish(StatusEvent::new(JobId::new(1), "other", JobStatus::Pending));
    assert_eq!(status_support::next_json(&mut other).await["type"], "status");
    server.shutdown().await;
}

#[tokio::test]
async fn alerts_of_a_worker_on_redis_travel_over_the_status_stream_to_another_process_feed() {
    if redis_support::redis_missing().await {
        return;
    }
    let url = redis_support::redis_url();
    let namespace = redis_support::namespace("alerts");
    let sink = RedisStatusSink::connect(&url, &namespace).await.unwrap();
    let rule = AlertRule::failure_rate(0.5).min_calls(2).build().unwrap();
    // A queue that records outcomes in batches: the rule counts them once the batch is taken.
    let queue =
        Arc::new(RedisQueue::builder("alerts").url(&url).namespace(&namespace).connect().await.unwrap());
    let runner = Runner::builder(Jobs, queue.clone(), ()).status(sink.clone()).alert(rule).build().unwrap();
    let (stats, shutdown) = (runner.stats(), CancellationToken::new());
    let run = tokio::spawn(runner.run(shutdown.clone()));

    // The status-only side: a feed into its own broadcaster.
    let broadcaster = Broadcaster::new();
    let feed = RedisStatusFeed::builder(&url)
        .namespace(&namespace)
        .queue("alerts")
        .start(broadcaster.clone())
        .await
        .unwrap();
    queue.enqueue_batch(vec![Job::FailStore; 2]).await.unwrap();
    let firing = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let [alert] = &*broadcaster.firing_alerts() {
                return alert.clone();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the alert crosses Redis");
    assert_eq!(
        (&*firing.rule, firing.state, firing.calls, firing.failures),
        ("failure_rate", AlertState::Firing, 2, 2)
    );
    assert_eq!(stats.dead_lettered(), 2);

    // Resolved the same way; a feed started later replays it and shows nothing firing.
    // 2 of 9 failed: below half the threshold.
    queue.enqueue_batch(vec![Job::Pass; 7]).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !broadcaster.firing_alerts().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the resolution crosses Redis");
    let replayed = Broadcaster::new();
    let late = RedisStatusFeed::builder(&url)
        .namespace(&namespace)
        .queue("alerts")
        .start(replayed.clone())
        .await
        .unwrap();
    assert!(replayed.firing_alerts().is_empty());
    shutdown.cancel();
    run.await.unwrap();
    drop((feed, late, sink));
    redis_support::delete_namespace(&url, &namespace).await;
}

/// An alert published straight to the sink reads back identical on the other side.
#[tokio::test]
async fn an_alert_reads_back_from_the_stream_field_for_field() {
    if redis_support::redis_missing().await {
        return;
    }
    let url = redis_support::redis_url();
    let namespace = redis_support::namespace("alert-fields");
    let sink = RedisStatusSink::connect(&url, &namespace).await.unwrap();
    let alert = Alert {
        rule: "failure_rate:store".into(),
        queue: "alerts".into(),
        worker: "alerts-1".into(),
        action: Some("store".into()),
        metric: AlertMetric::FailureRate,
        state: AlertState::Firing,
        rate: 0.75,
        calls: 8,
        failures: 6,
        threshold: 0.5,
        resolve_below: 0.2,
        window_ms: 30_000,
        timestamp_ms: 1_700_000_000_000,
    };
    let broadcaster = Broadcaster::new();
    let feed = RedisStatusFeed::builder(&url)
        .namespace(&namespace)
        .queue("alerts")
        .start(broadcaster.clone())
        .await
        .unwrap();
    sink.publish_alert(alert.clone());
    tokio::time::timeout(Duration::from_secs(20), async {
        while broadcaster.firing_alerts().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the alert crosses Redis");
    assert_eq!(broadcaster.firing_alerts(), [alert]);
    drop((feed, sink));
    redis_support::delete_namespace(&url, &namespace).await;
}
