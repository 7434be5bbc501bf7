//! Dead-letter administration as a trait object: what the status server's admin API calls
//! to list, requeue and delete one queue's dead letters, whatever its job type.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;

use super::{DeadLetter, MemoryQueue, Queue, QueueError};
use crate::context::JobId;

/// The boxed future a [`DeadLetterAdmin`] method returns.
pub type AdminFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, QueueError>> + Send + 'a>>;

/// Lists, requeues and deletes the dead letters of one queue, with the payloads as JSON.
///
/// It is object-safe, so a [`StatusServer`](crate::status::StatusServer) can hold any
/// queue's administration behind one type
/// ([`StatusServerBuilder::admin`](crate::status::StatusServerBuilder::admin)). It is
/// implemented for [`MemoryQueue`] and `RedisQueue` (feature `redis`) of any serializable
/// job, and for an `Arc` of either. An empty list of ids selects nothing (never "every
/// one", whatever the backend's own bulk operations do with an empty list).
///
/// ```
/// use worker_utils::queue::{DeadLetterAdmin, MemoryQueue};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let queue = MemoryQueue::<String>::builder("mail").build()?;
/// let admin: &dyn DeadLetterAdmin = &queue;
/// assert_eq!(admin.queue_name(), "mail");
/// assert!(admin.list().await?.is_empty());
/// assert_eq!(admin.purge(vec![]).await?, 0);
/// # Ok(()) }
/// ```
pub trait DeadLetterAdmin: Send + Sync + 'static {
    /// The queue's name.
    fn queue_name(&self) -> &str;

    /// Every dead letter, oldest first, its payload as JSON.
    fn list(&self) -> AdminFuture<'_, Vec<DeadLetter<serde_json::Value>>>;

    /// Moves the dead letters with these ids back to the queue as fresh jobs; returns
    /// `(old id, new id)` for each one found (ids not found are skipped).
    fn requeue(&self, ids: Vec<JobId>) -> AdminFuture<'_, Vec<(JobId, JobId)>>;

    /// Deletes the dead letters with these ids; returns how many were found and deleted.
    fn purge(&self, ids: Vec<JobId>) -> AdminFuture<'_, usize>;
}

impl<A: DeadLetterAdmin + ?Sized> DeadLetterAdmin for Arc<A> {
    fn queue_name(&self) -> &str {
        (**self).queue_name()
    }

    fn list(&self) -> AdminFuture<'_, Vec<DeadLetter<serde_json::Value>>> {
        (**self).list()
    }

    fn requeue(&self, ids: Vec<JobId>) -> AdminFuture<'_, Vec<(JobId, JobId)>> {
        (**self).requeue(ids)
    }

    fn purge(&self, ids: Vec<JobId>) -> AdminFuture<'_, usize> {
        (**self).purge(ids)
    }
}

/// A queue's dead letters with their payloads as JSON: what every backend lists.
async fn dead_letters_as_json<J: Serialize>(
    queue: &impl Queue<J>,
) -> Result<Vec<DeadLetter<serde_json::Value>>, QueueError> {
    queue.dead_letters().await?.into_iter().map(to_json).collect()
}

/// A dead letter with its payload as JSON.
fn to_json<J: Serialize>(letter: DeadLetter<J>) -> Result<DeadLetter<serde_json::Value>, QueueError> {
    let DeadLetter { id, job, deliveries, earlier, failure, trace } = letter;
    let job = serde_json::to_value(job).map_err(|e| QueueError::Backend(Box::new(e)))?;
    Ok(DeadLetter { id, job, deliveries, earlier, failure, trace })
}

impl<J> DeadLetterAdmin for MemoryQueue<J>
where
    J: Clone + Serialize + Send + Sync + 'static,
{
    fn queue_name(&self) -> &str {
        Queue::name(self)
    }

    fn list(&self) -> AdminFuture<'_, Vec<DeadLetter<serde_json::Value>>> {
        Box::pin(dead_letters_as_json(self))
    }

    fn requeue(&self, ids: Vec<JobId>) -> AdminFuture<'_, Vec<(JobId, JobId)>> {
        Box::pin(async move {
            let mut moved = Vec::with_capacity(ids.len());
            for id in ids {
                match self.requeue_dead(id).await {
                    Ok(new) => moved.push((id, new)),
                    Err(QueueError::UnknownJob(_)) => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(moved)
        })
    }

    fn purge(&self, ids: Vec<JobId>) -> AdminFuture<'_, usize> {
        Box::pin(async move { Ok::<_, QueueError>(if ids.is_empty() { 0 } else { self.purge_dead(&ids) }) })
    }
}

#[cfg(feature = "redis")]
impl<J> DeadLetterAdmin for super::RedisQueue<J>
where
    J: Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    fn queue_name(&self) -> &str {
        Queue::name(self)
    }

    fn list(&self) -> AdminFuture<'_, Vec<DeadLetter<serde_json::Value>>> {
        Box::pin(dead_letters_as_json(self))
    }

    fn requeue(&self, ids: Vec<JobId>) -> AdminFuture<'_, Vec<(JobId, JobId)>> {
        // The backend's empty list means every dead letter; here it means none.
        Box::pin(
            async move { if ids.is_empty() { Ok(Vec::new()) } else { self.requeue_dead_many(&ids).await } },
        )
    }

    fn purge(&self, ids: Vec<JobId>) -> AdminFuture<'_, usize> {
        Box::pin(async move { if ids.is_empty() { Ok(0) } else { self.purge_dead(&ids).await } })
    }
}
