//! Outcomes (ack, nack, release, dead letter) coalesced into one script call per batch.
//!
//! Callers hand an outcome to a background task and wait for its answer. The task takes
//! every outcome that is waiting, up to [`MAX_BATCH`], runs one `settle` script for them
//! all, and answers each. While one call is in flight the next batch gathers, so the window
//! is one round trip: no timer, no added latency when the queue is quiet.

use std::future::Future;

use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, oneshot};

use super::keys::Keys;
use super::scripts::SETTLE;
use crate::queue::{QueueError, Receipt};

/// Outcomes settled by one script call at most.
const MAX_BATCH: usize = 512;

/// What happens to a reservation.
#[derive(Debug)]
pub(super) enum Op {
    Ack,
    Nack { failure: String, delay_ms: u64 },
    Release,
    Dead { failure: String },
}

struct Outcome {
    receipt: Receipt,
    op: Op,
    /// The outcome's status event as JSON, or empty.
    event: String,
    answer: oneshot::Sender<Result<(), QueueError>>,
}

/// The handle callers use; the task ends when every handle is dropped.
#[derive(Debug, Clone)]
pub(super) struct Settler {
    outcomes: mpsc::UnboundedSender<Outcome>,
}

impl Settler {
    pub(super) fn spawn(connection: ConnectionManager, keys: Keys, caps: Caps) -> Self {
        let (outcomes, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run(receiver, connection, keys, caps));
        Self { outcomes }
    }

    /// Hands `op` for `receipt` to the task, with `event` (JSON, or empty for none) to add
    /// to the status stream if it is recorded. The returned future answers `Ok` once
    /// recorded, [`QueueError::LeaseLost`] if the reservation no longer holds; submitting
    /// several before awaiting any lets them share one script call.
    pub(super) fn submit(
        &self,
        receipt: Receipt,
        op: Op,
        event: String,
    ) -> impl Future<Output = Result<(), QueueError>> + Send + use<> {
        let (answer, answered) = oneshot::channel();
        let sent = self.outcomes.send(Outcome { receipt, op, event, answer });
        async move {
            let stopped = || QueueError::Backend("the queue's outcome task stopped".into());
            sent.map_err(|_| stopped())?;
            answered.await.map_err(|_| stopped())?
        }
    }
}

/// How much the dead letters and the status stream keep.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caps {
    pub(super) dead_letters: usize,
    /// 0: no status events.
    pub(super) status_stream: usize,
}

async fn run(
    mut receiver: mpsc::UnboundedReceiver<Outcome>,
    mut connection: ConnectionManager,
    keys: Keys,
    caps: Caps,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut invocation = SETTLE.prepare_invoke();
        invocation
            .key(&keys.ready)
            .key(&keys.delayed)
            .key(&keys.leased)
            .key(&keys.dead)
            .key(&keys.marker)
            .key(&keys.evicted)
            .key(&keys.status)
            .arg(&keys.prefix)
            .arg(caps.dead_letters)
            .arg(caps.status_stream);
        for outcome in &batch {
            let (name, failure, delay_ms) = match &outcome.op {
                Op::Ack => ("ack", "", 0),
                Op::Nack { failure, delay_ms } => ("nack", failure.as_str(), *delay_ms),
                Op::Release => ("release", "", 0),
                Op::Dead { failure } => ("dead", failure.as_str(), 0),
            };
            invocation
                .arg(name)
                .arg(outcome.receipt.id.get())
                .arg(outcome.receipt.token)
                .arg(failure)
                .arg(delay_ms)
                .arg(&outcome.event);
        }
        let recorded: redis::RedisResult<Vec<u8>> = invocation.invoke_async(&mut connection).await;
        match recorded {
            Ok(recorded) => {
                for (outcome, held) in batch.drain(..).zip(recorded.into_iter().chain(std::iter::repeat(0))) {
                    let result =
                        if held == 1 { Ok(()) } else { Err(QueueError::LeaseLost(outcome.receipt.id)) };
                    let _ = outcome.answer.send(result);
                }
            }
            Err(error) => {
                let error = std::sync::Arc::new(error);
                for outcome in batch.drain(..) {
                    let _ =
                        outcome.answer.send(Err(QueueError::Backend(Box::new(SharedError(error.clone())))));
                }
            }
        }
    }
}

/// One Redis error reported to every caller of the batch it failed.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct SharedError(std::sync::Arc<redis::RedisError>);
