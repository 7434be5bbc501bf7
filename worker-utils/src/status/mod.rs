//! Job status: the [`JobStatus`] lifecycle, the [`StatusEvent`] published on every change,
//! and the [`StatusSink`] that receives them (the seed's `addStatusEventAndBroadcast`).

mod event;
mod sink;

pub use event::{JobStatus, StatusError, StatusEvent};
pub use sink::{DiscardStatus, StatusSink};
