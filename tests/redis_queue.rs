//! The Redis backend against a real Redis: the delivery contract (leases, fencing, delays by
//! Redis time, history, dead letters), idempotent enqueue, undecodable payloads, connection
//! errors, a runner end to end, and a Redis restart under load on a private server.
//!
//! Each test uses a namespace of its own on the shared Redis (`REDIS_URL`, default
//! 127.0.0.1:6379) and deletes its keys; the restart test runs its own `redis-server`.

#[path = "redis_support.rs"]
mod redis_support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis_support::*;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt as _;
use worker_utils::prelude::*;
use worker_utils::queue::{ConnectError, EnqueueOptions, Failure, Queue, QueueError, RedisQueue};
use worker_utils::status::{RedisStatusFeed, RedisStatusSink, StatusEvent, StatusSink};
use worker_utils::worker::{RedeliveryPolicy, RunReport, Runner, Worker};

const SECOND: Duration = Duration::from_secs(1);

async fn queue<J>(namespace: &str, lease: Duration) -> RedisQueue<J> {
    RedisQueue::builder("jobs")
        .url(redis_url())
        .namespace(namespace)
        .lease(lease)
        .connect()
        .await
        .expect("connect")
}

fn failure(delivery: u32) -> Failure {
    Failure::from_error(&ActionError::transient(std::io::Error::other("reset")), delivery)
}

#[tokio::test]
async fn jobs_are_leased_acked_and_leave_no_key_behind() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("ack");
    let q = queue::<String>(&ns, 30 * SECOND).await;
    let ids = q.enqueue_batch(vec!["a".into(), "b".into(), "c".into()]).await.unwrap();
    let got = q.reserve(2, Duration::ZERO).await.unwrap();
    assert_eq!(
        got.iter().map(|r| (r.id, r.job.as_str(), r.delivery)).collect::<Vec<_>>(),
        [(ids[0], "a", 1), (ids[1], "b", 1)]
    );
    for reserved in &got {
        q.ack(reserved.receipt(), None).await.unwrap();
    }
    assert!(matches!(q.ack(got[0].receipt(), None).await, Err(QueueError::LeaseLost(id)) if id == ids[0]));
    let last = q.reserve(5, Duration::ZERO).await.unwrap();
    assert_eq!(last.len(), 1);
    q.ack(last[0].receipt(), None).await.unwrap();

    let left = keys(&redis_url(), &ns).await;
    assert!(
        left.iter().all(|k| k.ends_with(":id") || k.ends_with(":marker") || k.ends_with(":status")),
        "only the id counter, marker and capped status stream remain: {left:?}"
    );
    delete_namespace(&redis_url(), &ns).await;
}

#[tokio::test]
async fn a_late_outcome_after_the_lease_ran_out_is_fenced_off() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("fence");
    let q = queue::<u32>(&ns, SECOND).await;
    let id = q.enqueue(7).await.unwrap();
    let stale = q.reserve(1, Duration::ZERO).await.unwrap()[0].receipt();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let current = q.reserve(1, Duration::ZERO).await.unwrap();
    assert_eq!((current[0].id, current[0].delivery), (id, 2), "the expired lease was reclaimed");

    for outcome in [
        q.ack(stale, None).await,
        q.nack(stale, failure(1), Duration::ZERO, None).await,
        q.release(stale, None).await,
    ] {
        assert!(matches!(outcome, Err(QueueError::LeaseLost(j)) if j == id), "{outcome:?}");
    }
    assert!(matches!(q.dead_letter(stale, failure(1), None).await, Err(QueueError::LeaseLost(_))));
    q.ack(current[0].receipt(), None).await.unwrap();
    assert!(q.dead_letters().await.unwrap().is_empty(), "exactly one outcome: the current holder's ack");
    delete_namespace(&redis_url(), &ns).await;
}

#[tokio::test]
async fn nack_delays_follow_redis_time_and_history_reaches_the_dead_letter() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("nack");
    let q = queue::<u32>(&ns, 30 * SECOND).await;
    let id = q.enqueue(1).await.unwrap();
    for delivery in 1..=2 {
        let got = q.reserve(1, 5 * SECOND).await.unwrap();
        assert_eq!(got[0].delivery, delivery);
        q.nack(got[0].receipt(), failure(delivery), Duration::from_millis(300), None).await.unwrap();
        let nacked = Instant::now();
        assert!(q.reserve(1, Duration::ZERO).await.unwrap().is_empty(), "invisible until due");
        let again = q.reserve(1, 5 * SECOND).await.unwrap();
        assert!(nacked.elapsed() >= Duration::from_millis(250), "{:?}", nacked.elapsed());
        if delivery == 2 {
            assert_eq!(again[0].delivery, 3);
            q.dead_letter(again[0].receipt(), failure(3), None).await.unwrap();
        } else {
            q.release(again[0].receipt(), None).await.unwrap();
        }
    }
    let dead = q.dead_letters().await.unwrap();
    assert_eq!((dead.len(), dead[0].id, dead[0].deliveries), (1, id, 3));
    assert_eq!(dead[0].history().map(|f| f.delivery).collect::<Vec<_>>(), [1, 2, 3]);
    delete_namespace(&redis_url(), &ns).await;
}

#[tokio::test]
async fn a_release_is_ready_at_once_and_does_not_count_as_a_delivery() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("release");
    let q = queue::<u32>(&ns, 30 * SECOND).await;
    let id = q.enqueue(1).await.unwrap();
    let got = q.reserve(1, Duration::ZERO).await.unwrap();
    q.release(got[0].receipt(), None).await.unwrap();
    let again = q.reserve(1, Duration::ZERO).await.unwrap();
    assert_eq!((again[0].id, again[0].delivery), (id, 1));
    delete_namespace(&redis_url(), &ns).await;
}

#[tokio::test]
async fn an_idempotency_key_makes_a_second_enqueue_a_no_op_while_the_job_exists() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("idem");
    let q = queue::<u32>(&ns, 30 * SECOND).await;
    let keyed = || EnqueueOptions::default().idempotency_key("order-17");
    let first = q.enqueue_with(1, keyed()).await.unwrap();
    assert_eq!(q.enqueue_with(2, keyed()).await.unwrap(), first);
    let got = q.reserve(10, Duration::ZERO).await.unwrap();
    assert_eq!(got.len(), 1, "one job only");
    q.ack(got[0].receipt(), None).await.unwrap();
    let second = q.enqueue_with(3, keyed()).await.unwrap();
    assert_ne!(second, first, "the key is free once its job is acked");
    delete_namespace(&redis_url(), &ns).await;
}

#[tokio::test]
async fn a_delayed_enqueue_waits_its_turn() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("delay");
    let q = queue::<u32>(&ns, 30 * SECOND).await;
    let enqueued = Instant::now();
    q.enqueue_with(1, EnqueueOptions::default().delay(Duration::from_millis(300))).await.unwrap();
    assert!(q.reserve(1, Duration::ZERO).await.unwrap().is_empty());
    let got = q.reserve(1, 5 * SECOND).await.unwrap();
    assert_eq!(got.len(), 1);
    assert!(enqueued.elapsed() >= Duration::from_millis(250));
    delete_namespace(&redis_url(), &ns).await;
}

#[tokio::test]
async fn dead_letters_are_capped_counted_requeued_and_purged() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("dead");
    let q: RedisQueue<u32> = RedisQueue::builder("jobs")
        .url(redis_url())
        .namespace(&ns)
        .dead_letter_cap(3)
        .connect()
        .await
        .unwrap();
    q.enqueue_batch((1..=5).collect()).await.unwrap();
    for reserved in q.reserve(5, Duration::ZERO).await.unwrap() {
        q.dead_letter(reserved.receipt(), failure(1), None).await.unwrap();
    }
    let dead = q.dead_letters().await.unwrap();
    assert_eq!(dead.iter().map(|d| d.job).collect::<Vec<_>>(), [3, 4, 5], "the oldest were evicted");
    assert_eq!(q.dead_letters_evicted().await.unwrap(), 2);

    let new_id = q.requeue_dead(dead[0].id).await.unwrap();
    assert_ne!(new_id, dead[0].id);
    let again = q.reserve(5, Duration::ZERO).await.unwrap();
    assert_eq!((again.len(), again[0].id, again[0].job, again[0].delivery), (1, new_id, 3, 1));
    assert_eq!(q.purge_dead(&[]).await.unwrap(), 2);
    assert!(q.dead_letters().await.unwrap().is_empty());
    delete_namespace(&redis_url(), &ns).await;
}

#[tokio::test]
async fn the_heartbeat_keeps_a_long_job_from_being_handed_out_twice() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("heartbeat");
    let q = queue::<u32>(&ns, SECOND).await;
    let id = q.enqueue(1).await.unwrap();
    let held = q.reserve(1, Duration::ZERO).await.unwrap()[0].receipt();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        q.extend_leases(&[held]).await.unwrap();
        assert!(q.reserve(1, Duration::ZERO).await.unwrap().is_empty(), "still leased after {id}");
    }
    q.ack(held, None).await.unwrap();
    delete_namespace(&redis_url(), &ns).await;
}

/// Succeeds on even payloads, fails permanently on multiples of 5, transiently on the first
/// delivery of multiples of 3; records every event.
struct Numbers;

impl Action for Numbers {
    type Input = u32;
    type Output = u32;

    fn name(&self) -> &'static str {
        "numbers"
    }

    async fn execute(&self, n: u32, _: &(), ctx: &ActionContext) -> Result<u32, ActionError> {
        if n.is_multiple_of(5) {
            return Err(ActionError::permanent(std::io::Error::other("bad number")));
        }
        if n.is_multiple_of(3) && ctx.delivery() == 1 {
            return Err(ActionError::transient(std::io::Error::other("try later")));
        }
        Ok(n)
    }
}

struct NumbersWorker;

impl Worker for NumbersWorker {
    type Deps = ();
    type Pipeline = Numbers;

    fn queue(&self) -> &str {
        "jobs"
    }

    fn pipeline(&self) -> Numbers {
        Numbers
    }

    fn redelivery(&self) -> RedeliveryPolicy {
        RedeliveryPolicy::builder()
            .base_delay(Duration::from_millis(20))
            .max_delay(Duration::from_millis(100))
            .build()
            .unwrap()
    }
}

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<StatusEvent>>>);

impl StatusSink for Collect {
    fn publish(&self, event: StatusEvent) {
        self.0.lock().unwrap().push(event);
    }
}

/// A status feed of queue `jobs` in `namespace` into `events`, from now on.
async fn follow(namespace: &str, events: &Collect) -> RedisStatusFeed {
    RedisStatusFeed::builder(redis_url())
        .namespace(namespace)
        .queue("jobs")
        .replay(0)
        .start(events.clone())
        .await
        .unwrap()
}

/// Waits (10 s at most) until `jobs` jobs had a terminal event; their counts per job.
async fn wait_for_terminal(events: &Collect, jobs: usize) -> HashMap<JobId, usize> {
    let started = Instant::now();
    loop {
        let mut terminal: HashMap<JobId, usize> = HashMap::new();
        for event in events.0.lock().unwrap().iter().filter(|e| e.status.is_terminal()) {
            *terminal.entry(event.job_id).or_default() += 1;
        }
        if terminal.len() >= jobs || started.elapsed() > 10 * SECOND {
            return terminal;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run_until<Q: Queue<u32>>(
    queue: Arc<Q>,
    events: &(impl StatusSink + Clone),
    finished: u64,
    limit: Duration,
) -> RunReport {
    let runner =
        Runner::builder(NumbersWorker, queue, ()).status(events.clone()).concurrency(8).build().unwrap();
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    // Bounded, not asserted: a job the queue dead-letters itself (undecodable) is not the
    // runner's to count, so a caller may wait out `limit` on purpose.
    let started = Instant::now();
    while stats.finished() < finished && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    run.await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_on_redis_redelivers_dead_letters_and_completes_every_job() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("runner");
    let events = Collect::default();
    let q = Arc::new(RedisQueue::builder("jobs").url(redis_url()).namespace(&ns).connect().await.unwrap());
    let feed = follow(&ns, &events).await;
    q.enqueue_batch((1..=1000).collect()).await.unwrap();
    let report =
        run_until(q.clone(), &RedisStatusSink::connect(&redis_url(), &ns).await.unwrap(), 1000, 30 * SECOND)
            .await;

    let permanent = (1..=1000).filter(|n: &u32| n.is_multiple_of(5)).count() as u64;
    let flaky = (1..=1000).filter(|n: &u32| n.is_multiple_of(3) && !n.is_multiple_of(5)).count() as u64;
    assert_eq!((report.completed, report.dead_lettered), (1000 - permanent, permanent));
    assert_eq!(report.redelivered, flaky);
    assert_eq!(q.dead_letters().await.unwrap().len() as u64, permanent);

    // Every event went through Redis: PENDING from the enqueue script, PROCESSING from the
    // runner's sink, outcomes from the settle script.
    let terminal = wait_for_terminal(&events, 1000).await;
    assert_eq!(terminal.len(), 1000);
    assert!(terminal.values().all(|&n| n == 1), "exactly one terminal event per job");
    let seen = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.status == JobStatus::Pending && e.previous.is_none())
        .count();
    assert_eq!(seen, 1000, "a PENDING per enqueued job");
    drop(feed);
    assert_eq!(q.purge_dead(&[]).await.unwrap() as u64, permanent);
    let left = keys(&redis_url(), &ns).await;
    assert!(
        left.iter().all(|k| k.ends_with(":id") || k.ends_with(":marker") || k.ends_with(":status")),
        "no job keys left: {left:?}"
    );
    delete_namespace(&redis_url(), &ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_payload_is_dead_lettered_as_permanent_and_the_worker_lives() {
    if redis_missing().await {
        return;
    }
    let ns = namespace("malformed");
    let events = Collect::default();
    let q =
        Arc::new(RedisQueue::<u32>::builder("jobs").url(redis_url()).namespace(&ns).connect().await.unwrap());
    // A job written by hand, by something that does not know the job type.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let prefix = format!("{ns}:{{jobs}}:");
    let _: () = redis::pipe()
        .hset_multiple(
            format!("{prefix}j:900"),
            &[("p", "{\"not\":\"a number\"}"), ("d", "0"), ("t", "0"), ("k", "")],
        )
        .lpush(format!("{prefix}ready"), 900)
        .query_async(&mut raw)
        .await
        .unwrap();
    let feed = follow(&ns, &events).await;
    q.enqueue(4).await.unwrap();
    let report = run_until(q.clone(), &Collect::default(), 2, 10 * SECOND).await;
    wait_for_terminal(&events, 2).await;
    drop(feed);
    assert_eq!(report.completed, 1, "the good job after the bad one still ran");

    let letters: RedisQueue<serde_json::Value> =
        RedisQueue::builder("jobs").url(redis_url()).namespace(&ns).connect().await.unwrap();
    let dead = letters.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].id, dead[0].failure.kind), (JobId::new(900), ErrorKind::Permanent));
    assert!(dead[0].failure.message.contains("is not a valid `u32`"), "{}", dead[0].failure.message);
    let failed = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.job_id == JobId::new(900))
        .map(|e| e.status)
        .collect::<Vec<_>>();
    assert_eq!(failed, [JobStatus::Failed]);
    delete_namespace(&redis_url(), &ns).await;
}

#[tokio::test]
async fn bad_urls_and_absent_servers_are_clear_errors_naming_the_url_without_its_password() {
    let invalid =
        RedisQueue::<u32>::builder("jobs").url("http://:hunter2@example").connect().await.unwrap_err();
    assert!(matches!(invalid, ConnectError::InvalidUrl { .. }), "{invalid:?}");
    assert!(!invalid.to_string().contains("hunter2"), "{invalid}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}");
    let absent = RedisQueue::<u32>::builder("jobs").url(&url).connect().await.unwrap_err();
    assert!(matches!(absent, ConnectError::Unreachable { .. }), "{absent:?}");
    let message = absent.to_string();
    assert!(
        message.contains(&format!("redis://:***@127.0.0.1:{port}")) && !message.contains("hunter2"),
        "{message}"
    );

    let bad_lease = RedisQueue::<u32>::builder("jobs").lease(Duration::ZERO).connect().await.unwrap_err();
    assert!(matches!(&bad_lease, ConnectError::Config(e) if e.field() == "lease"), "{bad_lease:?}");
}

#[tokio::test]
async fn a_redis_older_than_6_2_is_refused_at_connect() {
    // A loopback stand-in that answers like Redis 5.0 would: OK to everything, and an
    // INFO that reports version 5.0.7.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 4096];
                while let Ok(n @ 1..) = socket.read(&mut buffer).await {
                    let request = String::from_utf8_lossy(&buffer[..n]).to_ascii_uppercase();
                    let mut reply = Vec::new();
                    for command in request.split("*").skip(1) {
                        if command.contains("INFO") {
                            let info = "# Server\r\nredis_version:5.0.7\r\n";
                            reply.extend(format!("${}\r\n{info}\r\n", info.len()).into_bytes());
                        } else {
                            reply.extend(b"+OK\r\n");
                        }
                    }
                    if socket.write_all(&reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let url = format!("redis://127.0.0.1:{port}");
    let old = RedisQueue::<u32>::builder("jobs").url(&url).connect().await.unwrap_err();
    assert!(matches!(&old, ConnectError::TooOld { version, .. } if version == "5.0.7"), "{old:?}");
    assert!(old.to_string().contains(&url), "{old}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_under_load_loses_nothing_and_the_workers_recover_by_themselves() {
    if PrivateRedis::missing() {
        return;
    }
    // Every log line of the process (the only test here that installs a global subscriber).
    let log = worker_utils_tests::Events::default();
    let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(log.clone()));
    let mut server = PrivateRedis::start();
    let events = Collect::default();
    let q = Arc::new(
        RedisQueue::<u32>::builder("jobs").url(server.url()).lease(2 * SECOND).connect().await.unwrap(),
    );
    let total = 3000;
    q.enqueue_batch((1..=total).collect()).await.unwrap();
    let runner =
        Runner::builder(NumbersWorker, q.clone(), ()).status(events.clone()).concurrency(8).build().unwrap();
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    worker_utils_tests::wait_until("the jobs finish", Duration::from_secs(60), || stats.finished() >= 200)
        .await;
    server.kill();
    let at_kill = stats.finished();
    assert!(at_kill < u64::from(total) / 2, "the server died under load ({at_kill} of {total} done)");
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.restart();

    let started = Instant::now();
    while waiting(&server.url()).await != Some(0) && started.elapsed() < 60 * SECOND {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    let report = run.await.unwrap();
    assert_eq!(waiting(&server.url()).await, Some(0), "every job left the queue: {report:?}");
    // Nothing lost: every job hash left is a dead letter's (the multiples of 5).
    let hashes = keys(&server.url(), "wu").await.into_iter().filter(|k| k.contains(":j:")).count();
    let dead = q.dead_letters().await.unwrap();
    assert_eq!(hashes, dead.len());
    assert_eq!(dead.len(), (1..=total).filter(|n| n % 5 == 0).count());
    // At least once: an outcome whose reply died with the server is in doubt, so a few jobs
    // may have run twice or lack a terminal event here; the rest reported exactly one.
    assert!(report.completed + report.dead_lettered >= u64::from(total) - 600, "{report:?}");

    // The outage was logged once or so, not once per job or per attempt to reserve.
    let errors: Vec<_> = log.take().into_iter().filter(|event| event["level"] == "ERROR").collect();
    assert!(!errors.is_empty() && errors.len() <= 10, "{} error lines: {errors:#?}", errors.len());
}

/// Jobs ready, delayed or leased in the private Redis (`None` while it does not answer).
async fn waiting(url: &str) -> Option<u64> {
    let client = redis::Client::open(url).ok()?;
    let mut connection = client.get_multiplexed_async_connection().await.ok()?;
    let (ready, delayed, leased): (u64, u64, u64) = redis::pipe()
        .llen("wu:{jobs}:ready")
        .zcard("wu:{jobs}:delayed")
        .zcard("wu:{jobs}:leased")
        .query_async(&mut connection)
        .await
        .ok()?;
    Some(ready + delayed + leased)
}
