//! Live job status: the [`JobStatus`] lifecycle and [`StatusEvent`]s, the [`StatusSink`]
//! they go to, the non-blocking [`Broadcaster`], the status actions, and the WebSocket
//! [`StatusServer`].
//!
//! Beside job events, a sink takes the [`Alert`](crate::alert::Alert)s a runner raises
//! ([`StatusSink::publish_alert`]); the broadcaster sends them to clients as
//! `{"type":"alert",…}` and keeps the firing ones for clients that connect later.
//!
//! A worker publishes to a [`Broadcaster`] (directly, through [`WithStatus`] /
//! [`StatusExt::with_status`], or with the [`BroadcastProcessing`]-style actions); a
//! [`StatusServer`] streams the same broadcaster to dashboards:
//!
//! ```
//! use worker_utils::prelude::*;
//! use worker_utils::status::{publish_pending, BroadcastProcessing, DiscardStatus, StatusServer};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let broadcaster = Broadcaster::new();
//! let server = StatusServer::builder(broadcaster.clone()).build()?.start().await?;
//!
//! // The pipeline, with PROCESSING before and COMPLETED/FAILED after.
//! let pipeline = BroadcastProcessing::<_, u32>::new(DiscardStatus).with_status(broadcaster.clone());
//!
//! publish_pending(&broadcaster, JobId::new(1), "thumbnails");
//! let ctx = ActionContext::builder().job_id(JobId::new(1)).queue("thumbnails").build();
//! pipeline.execute(7, &(), &ctx).await?;
//! assert_eq!(broadcaster.latest(JobId::new(1)).unwrap().status, JobStatus::Completed);
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Metrics (through the `metrics` facade, listed in [`crate::metrics`]):
//!
//! | name | type | labels | recorded |
//! |---|---|---|---|
//! | `worker_utils_status_published_total` | counter | | every published event |
//! | `worker_utils_status_clients` | gauge | | connected clients |
//! | `worker_utils_status_rejected_total` | counter | `reason` | refused requests and handshakes (`malformed`, `too_large`, `timeout`, `method`, `not_found`, `not_websocket`, `version`, `bad_handshake`, `origin`, `unauthorized`, `bad_query`, `full`, `overloaded`, `shutdown`) |
//! | `worker_utils_status_disconnects_total` | counter | `reason` | ended connections |
//! | `worker_utils_status_lagged_total` | counter | | events skipped by lagging clients |
//! | `worker_utils_status_broadcast_failures_total` | counter | `reason` | failed serializations and writes (never propagated) |

mod actions;
mod alerts;
mod broadcaster;
mod event;
mod name;
mod recent;
#[cfg(feature = "redis")]
mod redis;
mod ring;
mod server;
mod sink;

pub use actions::{
    BroadcastCompleted, BroadcastFailed, BroadcastProcessing, StatusExt, WithStatus, publish_pending,
};
pub use broadcaster::{Broadcaster, BroadcasterBuilder};
#[cfg(feature = "redis")]
pub(crate) use event::Compact;
pub(crate) use event::unix_now_ms;
pub use event::{JobStatus, StatusError, StatusEvent};
pub use name::Name;
#[cfg(feature = "redis")]
pub(crate) use redis::{DEFAULT_STREAM_CAP as REDIS_STREAM_CAP, stream_key as redis_stream_key};
#[cfg(feature = "redis")]
pub use redis::{RedisStatusFeed, RedisStatusFeedBuilder, RedisStatusSink};
#[cfg(fuzzing)]
#[doc(hidden)]
pub use server::fuzzing;
pub use server::{StatusServer, StatusServerBuilder, StatusServerHandle};
pub use sink::{DiscardStatus, StatusSink};
