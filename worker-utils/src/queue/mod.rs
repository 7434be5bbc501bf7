//! Queues: the [`Queue`] trait a runner feeds from, the failure records kept with dead
//! letters, and the embedded in-memory backend [`MemoryQueue`].
//!
//! The trait is shaped for at-least-once delivery, so that a durable store (Redis) fits as
//! well as the in-process default: a reserved job is leased, not removed; it is removed by
//! [`ack`](Queue::ack), returned by [`nack`](Queue::nack) (optionally after a delay), moved
//! to the dead letters by [`dead_letter`](Queue::dead_letter), and handed out again if its
//! lease runs out first.

mod failure;
mod memory;

use std::future::Future;
use std::time::Duration;

pub use failure::{AttemptFailure, DeadLetter, Failure};
pub use memory::{MemoryQueue, MemoryQueueBuilder};

use crate::context::JobId;
use crate::error::BoxError;

/// A job handed to a worker, leased until acked, nacked or dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved<J> {
    /// The job's id.
    pub id: JobId,
    /// The payload.
    pub job: J,
    /// How many times the job has been handed out, this time included (1 the first time).
    pub delivery: u32,
}

/// Options for one enqueue.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::queue::EnqueueOptions;
/// let later = EnqueueOptions::default().delay(Duration::from_secs(10));
/// assert_eq!(later.delay_value(), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EnqueueOptions {
    delay: Duration,
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
    /// No reserved (or dead-lettered) job has this id: it was acked already, or its lease
    /// ran out and it went back to the queue.
    #[error("no such job {0} in this state")]
    UnknownJob(JobId),
    /// The storage backend failed.
    #[error("queue backend failed")]
    Backend(#[source] BoxError),
}

/// Where jobs wait for a worker. See the [module docs](self) for the delivery contract.
///
/// All operations are async so that networked backends fit; the in-memory backend
/// completes them without waiting except where the trait says it waits.
pub trait Queue<J>: Send + Sync + 'static {
    /// The queue's name (status events and contexts carry it).
    fn name(&self) -> &str;

    /// How long a reservation lasts before the job is handed out again.
    fn lease(&self) -> Duration;

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
    fn ack(&self, id: JobId) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Gives a reserved job back, to be handed out again after `delay`.
    fn nack(&self, id: JobId, delay: Duration) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Moves a reserved job to the dead letters with the record of why it failed.
    fn dead_letter(&self, id: JobId, failure: Failure)
    -> impl Future<Output = Result<(), QueueError>> + Send;

    /// The dead letters, oldest first.
    fn dead_letters(&self) -> impl Future<Output = Result<Vec<DeadLetter<J>>, QueueError>> + Send;

    /// Moves a dead letter back to the queue as a fresh job; returns its new id.
    fn requeue_dead(&self, id: JobId) -> impl Future<Output = Result<JobId, QueueError>> + Send;
}
