//! [`RedisQueue`]: the durable, distributed backend (feature `redis`).
//!
//! Any number of processes enqueue to and work one queue through one Redis. Each operation
//! is one Lua script, so it is atomic and one round trip:
//!
//! | key (`wu:{queue}:…`) | type | holds |
//! |---|---|---|
//! | `id` | string | the last job id handed out |
//! | `j:<id>` | hash | a job: payload `p`, reservations `t` (the fencing token), releases `r` (deliveries are `t - r`), enqueue time `e`, when it was last made ready other than by its enqueue `w` (for the lag), idempotency key `k`, failed deliveries `f`, final failure `x` |
//! | `ready` | list | ids ready to reserve |
//! | `delayed` | sorted set | ids waiting for a time (score: when due, Redis server ms) |
//! | `leased` | sorted set | reserved ids (score: when the lease ends) |
//! | `dead` | sorted set | dead letters (score: when dead-lettered), capped |
//! | `dead:evicted` | string | dead letters dropped by the cap |
//! | `idem:<key>` | string | the job holding an idempotency key |
//! | `marker` | list | one element while work is ready: what idle workers block on |
//! | `status` | stream | the queue's status events, capped (see [`RedisStatusFeed`](crate::status::RedisStatusFeed)) |
//!
//! The delivery contract is the one every backend keeps (see [the `queue` module](super)).
//! Times (delays, leases) are Redis server time, read inside the scripts, never a worker's
//! clock. An acked job leaves no key behind. The status events of enqueues and outcomes
//! (`PENDING`, `COMPLETED`, `FAILED`, redeliveries) are added to the queue's status stream by
//! the same script, so a reader sees exactly the outcomes that happened, even when a worker
//! is killed right after one.

mod keys;
mod scripts;
mod settle;

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, MultiplexedConnection};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::Instrument;

use crate::redis_connection as connection;
pub use crate::redis_connection::ConnectError;

use self::keys::Keys;
use self::scripts::{DEAD, ENQUEUE, EXTEND, LAG, RESERVE};
use self::settle::{Caps, Op, Settler};
use super::{
    DeadLetter, EnqueueOptions, Failure, Outcome, Queue, QueueCounts, QueueError, Receipt, Reserved,
    Settlement,
};
use crate::config::ConfigError;
use crate::context::JobId;
use crate::error::ActionError;
use crate::metrics::SentCounter;
use crate::status::{Compact, JobStatus, REDIS_STREAM_CAP, StatusEvent};
use crate::timeout::millis;
use crate::trace::{self, TraceContext};

/// A queue in Redis, shared by every process that opens it by the same name and namespace.
///
/// Enqueues and outcomes add their status events to the queue's status stream in the same
/// script (see [`publishes_outcomes`](Queue::publishes_outcomes)); a
/// [`RedisStatusFeed`](crate::status::RedisStatusFeed) serves them from any process.
///
/// Payloads travel as JSON (serde). A payload that cannot be decoded into `J` is
/// dead-lettered as `Permanent` when reserved, with the decoding error as its message, and
/// the worker goes on. Delays and leases use Redis server time. Outcomes of many workers
/// are coalesced into one round trip. When Redis goes away, operations fail with
/// [`QueueError::Backend`] (logged once per outage, counted in
/// `worker_utils_queue_errors_total`) and the connection is re-established in the
/// background; whatever was reserved comes back when its lease runs out.
///
/// ```no_run
/// use std::time::Duration;
/// use worker_utils::queue::{Queue, RedisQueue};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let queue = RedisQueue::<String>::builder("emails")
///     .url("redis://127.0.0.1:6379")
///     .lease(Duration::from_secs(60))
///     .connect()
///     .await?;
/// let id = queue.enqueue("hello".to_owned()).await?;
/// let reserved = queue.reserve(10, Duration::from_secs(1)).await?;
/// assert_eq!(reserved[0].id, id);
/// queue.ack(reserved[0].receipt(), None).await?;
/// # Ok(()) }
/// ```
pub struct RedisQueue<J> {
    name: Arc<str>,
    keys: Keys,
    lease: Duration,
    url: String,
    client: redis::Client,
    commands: ConnectionManager,
    /// The connection of the one local `reserve` that blocks on the marker; the others
    /// wait for [`woken`](Self::woken).
    waiter: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    woken: Notify,
    settler: Settler,
    /// The queue's name as a JSON string, for the status events the scripts write.
    name_json: String,
    /// The status stream's cap; 0 when status events are off.
    status_cap: usize,
    health: Health,
    sent: SentCounter,
    job: PhantomData<fn(J) -> J>,
}

impl<J> RedisQueue<J> {
    /// Starts building a connection to queue `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> RedisQueueBuilder<J> {
        RedisQueueBuilder {
            name: name.into(),
            url: DEFAULT_URL.to_owned(),
            namespace: DEFAULT_NAMESPACE.to_owned(),
            lease: DEFAULT_LEASE,
            dead_letter_cap: DEFAULT_DEAD_LETTER_CAP,
            status_events: true,
            job: PhantomData,
        }
    }

    /// The URL this queue is connected to, password hidden.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many dead letters the cap has dropped so far.
    pub async fn dead_letters_evicted(&self) -> Result<u64, QueueError> {
        let mut connection = self.commands.clone();
        let count: Option<u64> = self.observe(
            "dead_letters",
            redis::cmd("GET").arg(&self.keys.evicted).query_async(&mut connection).await,
        )?;
        Ok(count.unwrap_or(0))
    }

    /// Deletes dead letters: those with the given ids, or every one when `ids` is empty.
    /// Returns how many were deleted.
    pub async fn purge_dead(&self, ids: &[JobId]) -> Result<usize, QueueError> {
        let purged: Vec<u64> = self.dead_admin("purge", ids).await?;
        Ok(purged.len())
    }

    /// Moves dead letters back to the queue as fresh jobs: those with the given ids, or
    /// every one when `ids` is empty. Returns (old id, new id) pairs.
    pub async fn requeue_dead_many(&self, ids: &[JobId]) -> Result<Vec<(JobId, JobId)>, QueueError> {
        let pairs: Vec<u64> = self.dead_admin("requeue", ids).await?;
        // A requeued dead letter is a new job, sent like an enqueue (as in `MemoryQueue`).
        self.sent.add(&self.name, pairs.len() as u64 / 2);
        Ok(pairs.chunks_exact(2).map(|pair| (JobId::new(pair[0]), JobId::new(pair[1]))).collect())
    }

    async fn dead_admin<T: redis::FromRedisValue>(&self, op: &str, ids: &[JobId]) -> Result<T, QueueError> {
        let mut invocation = DEAD.prepare_invoke();
        invocation.key(&self.keys.dead).key(&self.keys.ready).key(&self.keys.marker).key(&self.keys.id);
        invocation.key(&self.keys.status);
        invocation.arg(&self.keys.prefix).arg(op).arg(&self.name_json).arg(self.status_cap);
        for id in ids {
            invocation.arg(id.get());
        }
        let mut connection = self.commands.clone();
        self.observe("dead_letters", invocation.invoke_async(&mut connection).await)
    }

    /// Passes `result` through, turning a Redis error into a [`QueueError`] and keeping
    /// the health log: the first failure of an outage is logged, and its end.
    fn observe<T>(&self, operation: &'static str, result: redis::RedisResult<T>) -> Result<T, QueueError> {
        match result {
            Ok(value) => {
                self.health.ok(&self.name);
                Ok(value)
            }
            Err(error) => Err(self.health.failed(&self.name, operation, Box::new(error))),
        }
    }

    /// Blocks until work may be ready (a marker, a local wake-up) or `timeout` passes.
    async fn wait_for_work(&self, timeout: Duration) {
        let woken = self.woken.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let Ok(mut waiter) = self.waiter.try_lock() else {
            let _ = tokio::time::timeout(timeout, woken).await;
            return;
        };
        if waiter.is_none() {
            *waiter = connection::blocking(&self.client).await.ok();
        }
        match waiter.as_mut() {
            Some(connection) => {
                let seconds = timeout.as_secs_f64().max(0.01);
                let popped: redis::RedisResult<Option<(String, String)>> =
                    redis::cmd("BRPOP").arg(&self.keys.marker).arg(seconds).query_async(connection).await;
                if popped.is_err() {
                    // Reconnect next time; meanwhile do not spin.
                    *waiter = None;
                    tokio::time::sleep(timeout.min(RECONNECT_PAUSE)).await;
                }
            }
            None => tokio::time::sleep(timeout.min(RECONNECT_PAUSE)).await,
        }
        drop(waiter);
        self.woken.notify_waiters();
    }
}

impl<J: Serialize + DeserializeOwned> RedisQueue<J> {
    /// Adds jobs with one delay and optional idempotency keys; returns each job's id (the
    /// existing job's for a key already taken).
    async fn add(&self, jobs: Vec<(J, Option<String>)>, delay: Duration) -> Result<Vec<JobId>, QueueError> {
        let span = trace::send_span(&self.name, jobs.len());
        let trace = match trace::capture(&span) {
            Some(trace) => encode(&trace)?,
            None => String::new(),
        };
        self.add_traced(jobs, delay, trace).instrument(span).await
    }

    /// [`add`](Self::add) inside its `send` span, with that span's context as JSON.
    async fn add_traced(
        &self,
        jobs: Vec<(J, Option<String>)>,
        delay: Duration,
        trace: String,
    ) -> Result<Vec<JobId>, QueueError> {
        let mut invocation = ENQUEUE.prepare_invoke();
        invocation.key(&self.keys.id).key(&self.keys.ready).key(&self.keys.delayed).key(&self.keys.marker);
        invocation.key(&self.keys.status);
        invocation.arg(&self.keys.prefix).arg(millis(delay)).arg(&self.name_json).arg(self.status_cap);
        invocation.arg(trace);
        for (job, key) in &jobs {
            let payload = encode(job)?;
            invocation.arg(payload).arg(key.as_deref().unwrap_or(""));
        }
        let mut connection = self.commands.clone();
        let added: Vec<u64> = self.observe("enqueue", invocation.invoke_async(&mut connection).await)?;
        let new = added.chunks_exact(2).filter(|pair| pair[1] == 1).count();
        self.sent.add(&self.name, new as u64);
        Ok(added.chunks_exact(2).map(|pair| JobId::new(pair[0])).collect())
    }

    /// One reserve script call: the decoded jobs, and when the next delayed job or lease
    /// falls due if none was ready.
    async fn reserve_once(&self, max: usize) -> Result<(Vec<Reserved<J>>, Option<Duration>), QueueError> {
        let mut invocation = RESERVE.prepare_invoke();
        invocation
            .key(&self.keys.ready)
            .key(&self.keys.delayed)
            .key(&self.keys.leased)
            .key(&self.keys.marker);
        invocation.arg(&self.keys.prefix).arg(max).arg(millis(self.lease));
        let mut connection = self.commands.clone();
        let reply: Vec<redis::Value> =
            self.observe("reserve", invocation.invoke_async(&mut connection).await)?;
        let malformed = || QueueError::Backend("the reserve script answered in an unexpected shape".into());
        let int = |value: &redis::Value| redis::from_redis_value::<i64>(value).map_err(|_| malformed());
        let (head, jobs) = reply.split_at_checked(2).ok_or_else(malformed)?;
        let next_due = u64::try_from(int(&head[0])?).ok().map(Duration::from_millis);
        if let Ok(reclaimed @ 1..) = int(&head[1]) {
            tracing::warn!(queue = &*self.name, reclaimed, "leases expired; the jobs go back to the queue");
        }
        let mut reserved = Vec::with_capacity(jobs.len() / 5);
        for fields in jobs.chunks_exact(5) {
            let id = JobId::new(u64::try_from(int(&fields[0])?).map_err(|_| malformed())?);
            let delivery = u32::try_from(int(&fields[1])?).unwrap_or(u32::MAX);
            let token = u64::try_from(int(&fields[2])?).map_err(|_| malformed())?;
            let payload: Vec<u8> = redis::from_redis_value(&fields[3]).map_err(|_| malformed())?;
            match serde_json::from_slice(&payload) {
                Ok(job) => {
                    reserved.push(Reserved { id, job, delivery, token, trace: decode_trace(&fields[4]) })
                }
                Err(error) => self.dead_letter_undecodable(Receipt { id, token }, delivery, &error).await,
            }
        }
        Ok((reserved, next_due))
    }

    /// Dead-letters a job whose payload is not a `J`: running it again cannot help.
    async fn dead_letter_undecodable(&self, receipt: Receipt, delivery: u32, error: &serde_json::Error) {
        let error = ActionError::permanent(Undecodable {
            type_name: std::any::type_name::<J>(),
            message: error.to_string(),
        })
        .stamped("decode", 0, Some(receipt.id));
        tracing::error!(queue = &*self.name, job_id = receipt.id.get(), error = %error, "dead-lettering a job whose payload cannot be decoded");
        let failure = Failure::from_error(&error, delivery);
        let mut event = StatusEvent::new(receipt.id, self.name.clone(), JobStatus::Failed).error(&error);
        event.attempt = delivery;
        if let Ok(failure) = encode(&failure) {
            let _ = self.settle_one(receipt, Op::Dead { failure }, Some(event)).await;
        }
    }

    /// Records an outcome (and its status event, if status events are on).
    async fn settle_one(
        &self,
        receipt: Receipt,
        op: Op,
        event: Option<StatusEvent>,
    ) -> Result<(), QueueError> {
        let recorded = self.submit(receipt, op, event)?.await;
        self.settled(recorded)
    }

    /// Hands an outcome to the settle task; see [`Settler::submit`].
    fn submit(
        &self,
        receipt: Receipt,
        op: Op,
        event: Option<StatusEvent>,
    ) -> Result<impl Future<Output = Result<(), QueueError>> + use<J>, QueueError> {
        let event = match event {
            Some(event) if self.status_cap > 0 => encode(&Compact(&event))?,
            _ => String::new(),
        };
        Ok(self.settler.submit(receipt, op, event))
    }

    /// Keeps the health log of a settle answer.
    fn settled(&self, result: Result<(), QueueError>) -> Result<(), QueueError> {
        match result {
            Err(QueueError::Backend(error)) => Err(self.health.failed(&self.name, "settle", error)),
            other => {
                if other.is_ok() {
                    self.health.ok(&self.name);
                }
                other
            }
        }
    }
}

/// A payload could not be decoded into the queue's job type.
#[derive(Debug, thiserror::Error)]
#[error("the payload is not a valid `{type_name}`: {message}")]
struct Undecodable {
    type_name: &'static str,
    message: String,
}

impl<J> Queue<J> for RedisQueue<J>
where
    J: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn lease(&self) -> Duration {
        self.lease
    }

    /// Always: the outcome events go to the status stream with the outcomes, or nowhere
    /// when status events are off (the runner must not publish them elsewhere then).
    fn publishes_outcomes(&self) -> bool {
        true
    }

    async fn enqueue_with(&self, job: J, options: EnqueueOptions) -> Result<JobId, QueueError> {
        let ids = self
            .add(vec![(job, options.idempotency_key_value().map(str::to_owned))], options.delay_value())
            .await?;
        ids.into_iter().next().ok_or_else(|| QueueError::Backend("the enqueue script returned no id".into()))
    }

    async fn enqueue_batch(&self, jobs: Vec<J>) -> Result<Vec<JobId>, QueueError> {
        let mut ids = Vec::with_capacity(jobs.len());
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let chunk = jobs.by_ref().take(ENQUEUE_CHUNK).map(|job| (job, None)).collect();
            ids.extend(self.add(chunk, Duration::ZERO).await?);
        }
        Ok(ids)
    }

    async fn reserve(&self, max: usize, wait: Duration) -> Result<Vec<Reserved<J>>, QueueError> {
        let give_up_at = Instant::now() + wait;
        loop {
            let (reserved, next_due) = self.reserve_once(max.max(1)).await?;
            if !reserved.is_empty() {
                return Ok(reserved);
            }
            let now = Instant::now();
            if now >= give_up_at {
                return Ok(reserved);
            }
            let until = next_due.map_or(give_up_at - now, |due| due.min(give_up_at - now));
            self.wait_for_work(until).await;
        }
    }

    async fn ack(&self, receipt: Receipt, event: Option<StatusEvent>) -> Result<(), QueueError> {
        self.settle_one(receipt, Op::Ack, event).await
    }

    async fn nack(
        &self,
        receipt: Receipt,
        failure: Failure,
        delay: Duration,
        event: Option<StatusEvent>,
    ) -> Result<(), QueueError> {
        self.settle_one(receipt, Op::Nack { failure: encode(&failure)?, delay_ms: millis(delay) }, event)
            .await
    }

    async fn release(&self, receipt: Receipt, event: Option<StatusEvent>) -> Result<(), QueueError> {
        self.settle_one(receipt, Op::Release, event).await
    }

    async fn dead_letter(
        &self,
        receipt: Receipt,
        failure: Failure,
        event: Option<StatusEvent>,
    ) -> Result<(), QueueError> {
        self.settle_one(receipt, Op::Dead { failure: encode(&failure)? }, event).await
    }

    async fn settle(&self, settlements: Vec<Settlement>) -> Vec<Result<(), QueueError>> {
        // Submitted together, so that they share script calls; answered in order.
        let submitted: Vec<_> = settlements
            .into_iter()
            .map(|Settlement { receipt, outcome, event }| {
                let op = match outcome {
                    Outcome::Ack => Op::Ack,
                    Outcome::Nack { failure, delay } => {
                        Op::Nack { failure: encode(&failure)?, delay_ms: millis(delay) }
                    }
                    Outcome::Release => Op::Release,
                    Outcome::DeadLetter { failure } => Op::Dead { failure: encode(&failure)? },
                };
                self.submit(receipt, op, event)
            })
            .collect();
        let mut results = Vec::with_capacity(submitted.len());
        for answer in submitted {
            let recorded = match answer {
                Ok(answer) => answer.await,
                Err(error) => Err(error),
            };
            results.push(self.settled(recorded));
        }
        results
    }

    async fn extend_leases(&self, receipts: &[Receipt]) -> Result<(), QueueError> {
        if receipts.is_empty() {
            return Ok(());
        }
        let mut invocation = EXTEND.prepare_invoke();
        invocation.key(&self.keys.leased).arg(&self.keys.prefix).arg(millis(self.lease));
        for receipt in receipts {
            invocation.arg(receipt.id.get()).arg(receipt.token);
        }
        let mut connection = self.commands.clone();
        let _: Vec<u8> = self.observe("extend_leases", invocation.invoke_async(&mut connection).await)?;
        Ok(())
    }

    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        let mut connection = self.commands.clone();
        let counted = redis::pipe()
            .llen(&self.keys.ready)
            .zcard(&self.keys.delayed)
            .zcard(&self.keys.leased)
            .zcard(&self.keys.dead)
            .query_async(&mut connection)
            .await;
        let (ready, delayed, reserved, dead) = self.observe("counts", counted)?;
        Ok(QueueCounts { ready, delayed, reserved, dead })
    }

    async fn oldest_ready_age(&self) -> Result<Option<Duration>, QueueError> {
        let mut invocation = LAG.prepare_invoke();
        invocation.key(&self.keys.ready).key(&self.keys.delayed).key(&self.keys.leased);
        invocation.arg(&self.keys.prefix);
        let mut connection = self.commands.clone();
        let lag: i64 = self.observe("oldest_ready_age", invocation.invoke_async(&mut connection).await)?;
        Ok(u64::try_from(lag).ok().map(Duration::from_millis))
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter<J>>, QueueError> {
        let reply: Vec<redis::Value> = self.dead_admin("list", &[]).await?;
        let mut letters = Vec::with_capacity(reply.len() / 6);
        for letter in reply.chunks_exact(6) {
            match decode_dead_letter(letter) {
                Ok(letter) => letters.push(letter),
                Err(error) => {
                    tracing::warn!(queue = &*self.name, error = %error, "skipping a dead letter that cannot be decoded")
                }
            }
        }
        Ok(letters)
    }

    async fn requeue_dead(&self, id: JobId) -> Result<JobId, QueueError> {
        let moved = self.requeue_dead_many(&[id]).await?;
        moved.first().map(|(_, new)| *new).ok_or(QueueError::UnknownJob(id))
    }
}

/// One dead letter from the `list` reply: id, payload, deliveries, earlier failures, final
/// failure, trace context.
fn decode_dead_letter<J: DeserializeOwned>(
    fields: &[redis::Value],
) -> Result<DeadLetter<J>, Box<dyn std::error::Error + Send + Sync>> {
    let id: u64 = redis::from_redis_value(&fields[0])?;
    let payload: Vec<u8> = redis::from_redis_value(&fields[1])?;
    let deliveries: u32 = redis::from_redis_value(&fields[2])?;
    let earlier: String = redis::from_redis_value(&fields[3])?;
    let failure: Vec<u8> = redis::from_redis_value(&fields[4])?;
    Ok(DeadLetter {
        id: JobId::new(id),
        job: serde_json::from_slice(&payload)?,
        deliveries,
        earlier: serde_json::from_str(&format!("[{earlier}]"))?,
        failure: serde_json::from_slice(&failure)?,
        trace: decode_trace(&fields[5]),
    })
}

/// A job's stored trace context; one that cannot be read is dropped, as a trace is not
/// worth failing a job for.
fn decode_trace(field: &redis::Value) -> Option<Arc<TraceContext>> {
    let json: Vec<u8> = redis::from_redis_value(field).ok()?;
    if json.is_empty() {
        return None;
    }
    serde_json::from_slice(&json).ok().map(Arc::new)
}

/// JSON for Redis; a value serde cannot encode is the caller's bug, reported as an error.
fn encode(value: &impl Serialize) -> Result<String, QueueError> {
    serde_json::to_string(value).map_err(|e| QueueError::Backend(Box::new(e)))
}

/// Logs a backend outage once when it starts and once when it ends, and counts every
/// failed operation.
#[derive(Debug, Default)]
struct Health {
    failing: AtomicBool,
}

impl Health {
    fn ok(&self, queue: &str) {
        if self.failing.load(Ordering::Relaxed) && self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!(queue, "the Redis queue is reachable again");
        }
    }

    fn failed(&self, queue: &str, operation: &'static str, error: crate::error::BoxError) -> QueueError {
        crate::metrics::count_queue_error(queue, operation);
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::error!(queue, operation, error = %error, "the Redis queue failed; retrying until it is back");
        }
        QueueError::Backend(error)
    }
}

/// The Redis a builder connects to unless told otherwise.
const DEFAULT_URL: &str = "redis://127.0.0.1:6379";
/// The first part of every key unless told otherwise.
const DEFAULT_NAMESPACE: &str = "wu";
/// How long a reservation lasts unless told otherwise.
const DEFAULT_LEASE: Duration = Duration::from_secs(300);
/// Dead letters kept unless told otherwise; older ones are dropped and counted.
const DEFAULT_DEAD_LETTER_CAP: usize = 10_000;
/// Jobs per enqueue script call: keeps one call's arguments and run time bounded.
const ENQUEUE_CHUNK: usize = 1000;
/// The pause of a blocking wait whose connection failed, before it tries again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(200);

/// Builds a [`RedisQueue`]; [`connect`](Self::connect) checks the values and the server.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::queue::{ConnectError, RedisQueue};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // A bad setting is refused before any connection is tried.
/// let err = RedisQueue::<String>::builder("mail").lease(Duration::ZERO).connect().await.unwrap_err();
/// assert!(matches!(err, ConnectError::Config(ref e) if e.field() == "lease"));
/// # }
/// ```
pub struct RedisQueueBuilder<J> {
    name: Arc<str>,
    url: String,
    namespace: String,
    lease: Duration,
    dead_letter_cap: usize,
    status_events: bool,
    job: PhantomData<fn(J) -> J>,
}

impl<J> RedisQueueBuilder<J> {
    /// The Redis to use (default `redis://127.0.0.1:6379`).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// The first part of every key (default `wu`): separates applications, or tests,
    /// sharing one Redis.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// How long a reservation lasts before another worker may take the job (default 5
    /// min, from 1 s to 1 day). A runner extends the leases of running jobs.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Dead letters kept (default 10 000, at least 1); the oldest are dropped beyond.
    pub fn dead_letter_cap(mut self, letters: usize) -> Self {
        self.dead_letter_cap = letters;
        self
    }

    /// Whether enqueues and outcomes add their status events to the queue's status stream
    /// (default on; off saves one `XADD` per script call when nobody watches, and the
    /// outcome events are then dropped, not published elsewhere).
    pub fn status_events(mut self, on: bool) -> Self {
        self.status_events = on;
        self
    }

    /// Checks the values, connects, checks the server's version.
    pub async fn connect(self) -> Result<RedisQueue<J>, ConnectError> {
        self.check().map_err(ConnectError::Config)?;
        let connected = connection::connect(&self.url).await?;
        let keys = Keys::new(&self.namespace, &self.name);
        let status_cap = if self.status_events { REDIS_STREAM_CAP } else { 0 };
        let caps = Caps { dead_letters: self.dead_letter_cap, status_stream: status_cap };
        let settler = Settler::spawn(connected.commands.clone(), keys.clone(), caps);
        let name_json = serde_json::to_string(&*self.name).unwrap_or_else(|_| String::from("\"\""));
        Ok(RedisQueue {
            name: self.name,
            keys,
            lease: self.lease,
            url: connected.url,
            client: connected.client,
            commands: connected.commands,
            waiter: tokio::sync::Mutex::new(None),
            woken: Notify::new(),
            settler,
            name_json,
            status_cap,
            health: Health::default(),
            sent: SentCounter::default(),
            job: PhantomData,
        })
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.name.is_empty() || self.name.contains(['{', '}']) {
            return Err(ConfigError::new("name", "must be non-empty, without `{` or `}`"));
        }
        if self.namespace.is_empty() || self.namespace.contains(['{', '}']) {
            return Err(ConfigError::new("namespace", "must be non-empty, without `{` or `}`"));
        }
        if !(Duration::from_secs(1)..=super::MAX_LEASE).contains(&self.lease) {
            return Err(ConfigError::new("lease", format!("{:?} is not between 1 s and 1 day", self.lease)));
        }
        if self.dead_letter_cap == 0 {
            return Err(ConfigError::new("dead_letter_cap", "must be at least 1"));
        }
        Ok(())
    }
}

impl<J> fmt::Debug for RedisQueue<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueue")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("prefix", &self.keys.prefix)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl<J> fmt::Debug for RedisQueueBuilder<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueueBuilder")
            .field("name", &self.name)
            .field("url", &connection::redact(&self.url))
            .field("namespace", &self.namespace)
            .field("lease", &self.lease)
            .field("dead_letter_cap", &self.dead_letter_cap)
            .field("status_events", &self.status_events)
            .finish_non_exhaustive()
    }
}
