//! Queues: the [`Queue`] trait a runner feeds from, the failure records kept with dead
//! letters, and the embedded in-memory backend [`MemoryQueue`].
//!
//! # The delivery contract
//!
//! Every backend, in memory or durable, promises the same at-least-once delivery, so that a
//! runner behaves alike on each:
//!
//! - A job leaves the queue only when it is [acked](Queue::ack), [dead-lettered](Queue::dead_letter)
//!   or purged. [`reserve`](Queue::reserve) leases it to one worker; it is not removed.
//! - Each hand-out of a job is a *delivery*, numbered from 1 in [`Reserved::delivery`]. A
//!   lease that runs out hands the job out again, and that counts as a delivery.
//! - [`release`](Queue::release) gives back a job the worker did not finish (shutdown, a
//!   batch it did not start): it is reservable again at once and that delivery is not
//!   counted, so the next hand-out has the same number.
//! - [`nack`](Queue::nack) records a failed delivery: the job keeps its delivery count,
//!   appends the [`Failure`] to its history, and stays invisible until `delay` has passed.
//! - [`dead_letter`](Queue::dead_letter) records the final failure and moves the job, with
//!   its whole history (delivery → attempts → errors), to the dead letters.
//! - `ack`, `nack`, `release` and `dead_letter` take the [`Receipt`] of one reservation and
//!   act only while that reservation holds: once the job has been handed out again they
//!   fail with [`QueueError::LeaseLost`] and change nothing, so an outcome from a worker
//!   that lost its lease cannot touch a job another worker now holds, and each job gets
//!   exactly one final outcome. (Between the end of a lease and the moment the queue takes
//!   the job back, nobody else holds it, so both backends still accept them: that keeps a
//!   clock read or a lookup off every job's path.)
//! - Which failures are redelivered and after how long is the runner's decision (its
//!   [`RedeliveryPolicy`](crate::worker::RedeliveryPolicy)); the queue only carries it out.

mod admin;
mod failure;
mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use admin::{AdminFuture, DeadLetterAdmin};
pub use failure::{AttemptFailure, DeadLetter, Failure};
pub use memory::{MemoryQueue, MemoryQueueBuilder};
#[cfg(feature = "redis")]
pub use redis::{ConnectError, RedisQueue, RedisQueueBuilder};

/// The longest lease a queue accepts: a day. Longer would keep a crashed worker's jobs
/// away for longer than anyone waits, and a lease is added to clock readings, which must
/// not overflow.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::queue::{MemoryQueue, MAX_LEASE};
///
/// let err = MemoryQueue::<u32>::builder("q").lease(MAX_LEASE + Duration::from_secs(1)).build().unwrap_err();
/// assert_eq!(err.field(), "lease");
/// ```
pub const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

use crate::context::JobId;
use crate::error::BoxError;
use crate::status::StatusEvent;
use crate::trace::TraceContext;

/// A job handed to a worker, leased until acked, nacked or dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved<J> {
    /// The job's id.
    pub id: JobId,
    /// The payload.
    pub job: J,
    /// How many times the job has been handed out, this time included (1 the first time).
    pub delivery: u32,
    /// Tells this reservation from every other of the same job (the fencing token).
    pub token: u64,
    /// The trace context of the span that enqueued the job, if one was recorded (see
    /// [`trace`](crate::trace)); shared, since every delivery carries the same.
    pub trace: Option<Arc<TraceContext>>,
}

impl<J> Reserved<J> {
    /// What the queue needs to record this reservation's outcome.
    pub fn receipt(&self) -> Receipt {
        Receipt { id: self.id, token: self.token }
    }
}

/// Proof of one reservation of a job, passed back with its outcome; see the
/// [module docs](self) for why outcomes are fenced.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::queue::{MemoryQueue, Queue, QueueError};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let queue = MemoryQueue::builder("q").lease(Duration::from_secs(1)).build().unwrap();
/// queue.enqueue(7_u32).await.unwrap();
/// let first = queue.reserve(1, Duration::ZERO).await.unwrap()[0].receipt();
/// tokio::time::sleep(Duration::from_secs(2)).await; // the lease runs out
/// let second = queue.reserve(1, Duration::ZERO).await.unwrap()[0].receipt();
/// assert_eq!(first.id, second.id);
/// assert!(matches!(queue.ack(first, None).await, Err(QueueError::LeaseLost(_))));
/// queue.ack(second, None).await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Receipt {
    /// The job.
    pub id: JobId,
    /// The reservation's token ([`Reserved::token`]).
    pub token: u64,
}

/// Options for one enqueue.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::queue::EnqueueOptions;
/// let later = EnqueueOptions::default().delay(Duration::from_secs(10)).idempotency_key("order-17");
/// assert_eq!(later.delay_value(), Duration::from_secs(10));
/// assert_eq!(later.idempotency_key_value(), Some("order-17"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnqueueOptions {
    delay: Duration,
    idempotency_key: Option<String>,
}

impl EnqueueOptions {
    /// Makes the job reservable only after `delay`.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// The delay before the job may be reserved.
    pub fn delay_value(&self) -> Duration {
        self.delay
    }

    /// Makes the enqueue a no-op while a job enqueued with the same key exists (waiting,
    /// running or dead-lettered): it returns that job's id instead. The key is free again
    /// once that job is acked or its dead letter purged.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The idempotency key, if any.
    pub fn idempotency_key_value(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }
}

/// What a worker reports for one reservation; see [`Queue::settle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done: [`Queue::ack`].
    Ack,
    /// Failed, to be redelivered after `delay`: [`Queue::nack`].
    Nack {
        /// This delivery's failure.
        failure: Failure,
        /// How long the job stays invisible.
        delay: Duration,
    },
    /// Not finished, given back: [`Queue::release`].
    Release,
    /// Failed for good: [`Queue::dead_letter`].
    DeadLetter {
        /// The final delivery's failure.
        failure: Failure,
    },
}

/// One outcome to record, with its reservation's receipt and status event.
///
/// ```
/// use worker_utils::JobId;
/// use worker_utils::queue::{Outcome, Receipt, Settlement};
/// let done = Settlement { receipt: Receipt { id: JobId::new(1), token: 1 }, outcome: Outcome::Ack, event: None };
/// assert_eq!(done.outcome, Outcome::Ack);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    /// The reservation it is for.
    pub receipt: Receipt,
    /// What happened.
    pub outcome: Outcome,
    /// The status event to publish with it, for a queue that
    /// [publishes outcomes](Queue::publishes_outcomes).
    pub event: Option<StatusEvent>,
}

/// How many jobs a queue holds in each state, from [`Queue::counts`].
///
/// ```
/// use worker_utils::queue::QueueCounts;
/// let counts = QueueCounts { ready: 2, delayed: 1, reserved: 3, dead: 0 };
/// assert_eq!(counts.unfinished(), 6);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueCounts {
    /// Ready to be reserved.
    pub ready: u64,
    /// Waiting for a time (a delayed enqueue, a redelivery).
    pub delayed: u64,
    /// Reserved by a worker.
    pub reserved: u64,
    /// Dead letters.
    pub dead: u64,
}

impl QueueCounts {
    /// Jobs not yet finished: ready, delayed or reserved.
    pub fn unfinished(&self) -> u64 {
        self.ready + self.delayed + self.reserved
    }
}

/// A queue operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The queue is bounded and full (only from the non-waiting `try_` operations).
    #[error("queue `{queue}` is full ({capacity} jobs)")]
    Full {
        /// The queue's name.
        queue: String,
        /// Its capacity.
        capacity: usize,
    },
    /// No dead letter has this id.
    #[error("no such job {0} in this state")]
    UnknownJob(JobId),
    /// The reservation an outcome was given for no longer holds: its lease ran out (and
    /// the job may be another worker's now), or the outcome was recorded already.
    #[error("job {0}: the reservation no longer holds (its lease ran out or its outcome was recorded)")]
    LeaseLost(JobId),
    /// The storage backend failed.
    #[error("queue backend failed")]
    Backend(#[source] BoxError),
}

/// Where jobs wait for a worker. See the [module docs](self) for the delivery contract.
///
/// All operations are async so that networked backends fit; the in-memory backend
/// completes them without waiting except where the trait says it waits.
///
/// # Outcome events
///
/// A backend whose [`publishes_outcomes`](Self::publishes_outcomes) is `true` records the
/// status event of each outcome (`COMPLETED`, `FAILED`, the `PENDING` of a redelivery or a
/// release) together with the outcome, atomically: the event is published if and only if
/// the outcome is recorded, even if the worker dies right after. The runner then passes
/// the event as the `event` argument of [`ack`](Self::ack), [`nack`](Self::nack),
/// [`release`](Self::release) and [`dead_letter`](Self::dead_letter) instead of
/// publishing it itself; otherwise it passes `None` and publishes to its own sink.
pub trait Queue<J>: Send + Sync + 'static {
    /// The queue's name (status events and contexts carry it).
    fn name(&self) -> &str;

    /// How long a reservation lasts before the job is handed out again.
    fn lease(&self) -> Duration;

    /// Whether this queue publishes outcome events itself (see
    /// [Outcome events](Self#outcome-events)); `false` unless a backend says otherwise.
    fn publishes_outcomes(&self) -> bool {
        false
    }

    /// Adds a job, waiting for room if the queue is bounded and full; publishes `PENDING`.
    fn enqueue_with(
        &self,
        job: J,
        options: EnqueueOptions,
    ) -> impl Future<Output = Result<JobId, QueueError>> + Send;

    /// Adds a job now; see [`enqueue_with`](Self::enqueue_with).
    fn enqueue(&self, job: J) -> impl Future<Output = Result<JobId, QueueError>> + Send
    where
        J: Send,
    {
        self.enqueue_with(job, EnqueueOptions::default())
    }

    /// Adds many jobs at once, in order.
    fn enqueue_batch(&self, jobs: Vec<J>) -> impl Future<Output = Result<Vec<JobId>, QueueError>> + Send;

    /// Reserves up to `max` ready jobs, waiting up to `wait` for the first one; an empty
    /// vector means none became ready in time.
    fn reserve(
        &self,
        max: usize,
        wait: Duration,
    ) -> impl Future<Output = Result<Vec<Reserved<J>>, QueueError>> + Send;

    /// The job is done: forget it.
    fn ack(
        &self,
        receipt: Receipt,
        event: Option<StatusEvent>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Records a failed delivery: appends `failure` to the job's history and makes the job
    /// reservable again after `delay`, keeping its delivery count.
    fn nack(
        &self,
        receipt: Receipt,
        failure: Failure,
        delay: Duration,
        event: Option<StatusEvent>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Gives back a job this worker did not finish: reservable again at once, and this
    /// delivery is not counted.
    fn release(
        &self,
        receipt: Receipt,
        event: Option<StatusEvent>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Records several outcomes at once, in order, and answers each like the single calls
    /// would. A backend that can record them in one step (one lock, one round trip)
    /// overrides it; by default it makes one call per outcome.
    fn settle(
        &self,
        settlements: Vec<Settlement>,
    ) -> impl Future<Output = Vec<Result<(), QueueError>>> + Send {
        async move {
            let mut results = Vec::with_capacity(settlements.len());
            for Settlement { receipt, outcome, event } in settlements {
                results.push(match outcome {
                    Outcome::Ack => self.ack(receipt, event).await,
                    Outcome::Nack { failure, delay } => self.nack(receipt, failure, delay, event).await,
                    Outcome::Release => self.release(receipt, event).await,
                    Outcome::DeadLetter { failure } => self.dead_letter(receipt, failure, event).await,
                });
            }
            results
        }
    }

    /// Extends the leases of reservations that still hold to a full lease from now (the
    /// runner's heartbeat for jobs it still runs or holds); others are left alone.
    fn extend_leases(&self, receipts: &[Receipt]) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Moves a reserved job to the dead letters with the record of why its last delivery
    /// failed and every earlier failure.
    fn dead_letter(
        &self,
        receipt: Receipt,
        failure: Failure,
        event: Option<StatusEvent>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// How many jobs wait, run and failed, right now.
    fn counts(&self) -> impl Future<Output = Result<QueueCounts, QueueError>> + Send;

    /// The queue's lag: how long the work at the head of the queue has waited, the longest
    /// of
    /// - how long the job next in line has been reservable (since its enqueue, since its
    ///   redelivery delay or lease ran out, or since it was due; a job given back by
    ///   [`release`](Self::release) keeps the time it had);
    /// - how long ago the most overdue delayed job fell due, and the oldest lease ran out,
    ///   if the queue has not moved them to the line yet (it does at the next `reserve`).
    ///
    /// `None` when no job can be reserved now. A few lookups (O(log n)), never a scan: a
    /// [`QueueSampler`](crate::metrics::QueueSampler) reads it into
    /// `worker_utils_queue_lag_seconds`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use worker_utils::queue::{MemoryQueue, Queue};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let queue = MemoryQueue::builder("q").build().unwrap();
    /// assert_eq!(queue.oldest_ready_age().await.unwrap(), None);
    /// queue.enqueue(1_u32).await.unwrap();
    /// tokio::time::advance(Duration::from_secs(3)).await;
    /// assert_eq!(queue.oldest_ready_age().await.unwrap(), Some(Duration::from_secs(3)));
    /// # }
    /// ```
    fn oldest_ready_age(&self) -> impl Future<Output = Result<Option<Duration>, QueueError>> + Send;

    /// The dead letters, oldest first.
    fn dead_letters(&self) -> impl Future<Output = Result<Vec<DeadLetter<J>>, QueueError>> + Send;

    /// Moves a dead letter back to the queue as a fresh job; returns its new id.
    fn requeue_dead(&self, id: JobId) -> impl Future<Output = Result<JobId, QueueError>> + Send;
}
