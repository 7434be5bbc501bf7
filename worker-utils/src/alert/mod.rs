//! Alerts on a runner's error rates: an [`AlertRule`] per queue or per action fires once
//! when the failure rate (or the dead-letter rate) over a sliding window reaches its
//! threshold, and resolves once when the rate falls below a lower resolve threshold.
//!
//! Each transition is an [`Alert`]: logged (`warn` when firing, `info` when resolved),
//! published on the status feed as `{"type":"alert",…}` (`docs/protocol.md`), and handed to
//! the runner's [`AlertHandler`], if any. Rules go on the runner builder
//! ([`RunnerBuilder::alert`](crate::worker::RunnerBuilder::alert)) or in
//! `#[worker(alert(..))]`. A runner without rules pays one pointer test per outcome.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use tokio_util::sync::CancellationToken;
//! use worker_utils::prelude::*;
//! use worker_utils::alert::{Alert, AlertRule, AlertState};
//! use worker_utils::queue::{MemoryQueue, Queue};
//! use worker_utils::worker::Runner;
//!
//! #[action]
//! async fn parse(text: String) -> Result<u32, ActionError> {
//!     text.parse().map_err(ActionError::permanent)
//! }
//!
//! #[worker(queue = "numbers", pipeline = [parse])]
//! struct Numbers;
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let queue = Arc::new(MemoryQueue::builder("numbers").build()?);
//! for text in ["1", "x", "y", "z"] {
//!     queue.enqueue(text.to_owned()).await?;
//! }
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let record = seen.clone();
//! let runner = Runner::builder(Numbers, queue, ())
//!     .alert(AlertRule::dead_letter_rate(0.5).min_calls(4).build()?)
//!     .alert_handler(move |alert: Alert| {
//!         record.lock().unwrap().push(alert.state);
//!         async {}
//!     })
//!     .build()?;
//! let stats = runner.stats();
//! let shutdown = CancellationToken::new();
//! let run = tokio::spawn(runner.run(shutdown.clone()));
//! while stats.finished() < 4 {
//!     tokio::time::sleep(Duration::from_millis(1)).await;
//! }
//! // 3 of 4 dead-lettered: firing. A minute later the window is empty: resolved.
//! tokio::time::sleep(Duration::from_secs(61)).await;
//! shutdown.cancel();
//! run.await?;
//! assert_eq!(*seen.lock().unwrap(), [AlertState::Firing, AlertState::Resolved]);
//! # Ok(()) }
//! ```

mod event;
mod handler;
mod monitor;
mod rule;
mod window;

pub use event::{Alert, AlertState};
pub use handler::AlertHandler;
pub(crate) use handler::DynAlertHandler;
pub(crate) use monitor::{AlertMonitor, Finished, Step};
pub use rule::{AlertMetric, AlertRule, AlertRuleBuilder};
