//! Workers: the [`Worker`] trait (a typed pipeline of actions bound to a queue) and the
//! [`Runner`] that feeds it jobs, publishes their status, and redelivers or dead-letters
//! failures by its [`RedeliveryPolicy`].
//!
//! `#[worker]` writes the `Worker` impl; by hand it reads:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tokio_util::sync::CancellationToken;
//! use worker_utils::prelude::*;
//! use worker_utils::pipeline::Then;
//! use worker_utils::queue::{MemoryQueue, Queue};
//! use worker_utils::testing::Mock;
//! use worker_utils::worker::{Runner, Worker};
//!
//! type Parse = Mock<fn(String) -> Result<u32, ActionError>, String, u32>;
//! type Double = Mock<fn(u32) -> Result<u32, ActionError>, u32, u32>;
//!
//! struct DoubleWorker;
//!
//! impl Worker for DoubleWorker {
//!     type Deps = ();
//!     type Pipeline = Then<Parse, Double>;
//!
//!     fn queue(&self) -> &str {
//!         "numbers"
//!     }
//!
//!     fn pipeline(&self) -> Self::Pipeline {
//!         let parse: fn(String) -> Result<u32, ActionError> = |s| s.parse().map_err(ActionError::permanent);
//!         let double: fn(u32) -> Result<u32, ActionError> = |n| Ok(n * 2);
//!         Mock::new(parse).then(Mock::new(double))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let queue = Arc::new(MemoryQueue::builder("numbers").build()?);
//! queue.enqueue("21".to_owned()).await?;
//! queue.enqueue("not a number".to_owned()).await?;
//!
//! let shutdown = CancellationToken::new();
//! let runner = Runner::builder(DoubleWorker, queue.clone(), ()).build()?;
//! let stats = runner.stats();
//! let run = tokio::spawn(runner.run(shutdown.clone()));
//! while stats.finished() < 2 {
//!     tokio::time::sleep(Duration::from_millis(1)).await;
//! }
//! shutdown.cancel();
//! let report = run.await?;
//! assert_eq!((report.completed, report.dead_lettered), (1, 1));
//! assert_eq!(queue.dead_letters().await?[0].job, "not a number");
//! # Ok(()) }
//! ```

mod redelivery;
mod runner;

pub use redelivery::{DeadLetterCause, Redelivery, RedeliveryPolicy, RedeliveryPolicyBuilder};
pub use runner::{RunReport, RunStats, Runner, RunnerBuilder};

use crate::action::Action;

/// A typed pipeline of actions bound to a queue.
///
/// The job type is the pipeline's input; each step's output is the next step's input,
/// which the compiler checks. The runner adds status events around the pipeline:
/// PROCESSING when a job starts, exactly one COMPLETED or FAILED when it ends.
pub trait Worker: Send + Sync + 'static {
    /// The dependencies every step receives by reference.
    type Deps: Send + Sync + 'static;
    /// The pipeline, typically a chain of [`Then`](crate::pipeline::Then)s.
    type Pipeline: Action<Self::Deps> + 'static;

    /// The queue this worker consumes.
    fn queue(&self) -> &str;

    /// Builds the pipeline; the runner calls it once when it starts.
    fn pipeline(&self) -> Self::Pipeline;

    /// How many jobs run at once unless the runner is told otherwise.
    fn concurrency(&self) -> usize {
        1
    }

    /// Which failed jobs go back to the queue, and after how long, unless the runner is
    /// told otherwise (default: [`RedeliveryPolicy::default`]).
    fn redelivery(&self) -> RedeliveryPolicy {
        RedeliveryPolicy::default()
    }

    /// The alert rules the runner watches its run with, besides those given to it
    /// ([`RunnerBuilder::alert`]); none by default. See [`crate::alert`].
    fn alerts(&self) -> Vec<crate::alert::AlertRule> {
        Vec::new()
    }
}

/// The job type of worker `W`: its pipeline's input.
pub type JobOf<W> = <<W as Worker>::Pipeline as Action<<W as Worker>::Deps>>::Input;
