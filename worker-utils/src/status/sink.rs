use std::sync::Arc;

use super::StatusEvent;
use crate::alert::Alert;

/// Receives status events.
///
/// `publish` is synchronous and must not wait on anyone: a sink that fans out to network
/// clients queues the event and returns. A sink never fails the job; a delivery problem is
/// the sink's to count and log.
///
/// ```
/// use std::sync::Mutex;
/// use worker_utils::status::{StatusEvent, StatusSink};
///
/// #[derive(Default)]
/// struct Collect(Mutex<Vec<StatusEvent>>);
///
/// impl StatusSink for Collect {
///     fn publish(&self, event: StatusEvent) {
///         self.0.lock().unwrap().push(event);
///     }
/// }
/// ```
pub trait StatusSink: Send + Sync + 'static {
    /// Takes one event; returns at once.
    fn publish(&self, event: StatusEvent);

    /// Takes several events, in order, leaving `events` empty. The runner hands over its
    /// events in batches so that a sink with a lock takes it once per batch; override it
    /// when that is cheaper than one [`publish`](Self::publish) per event.
    fn publish_all(&self, events: &mut Vec<StatusEvent>) {
        for event in events.drain(..) {
            self.publish(event);
        }
    }

    /// Whether the sink wants an event that a later event of the same job supersedes before
    /// anybody could see it: a quick job's `PROCESSING`, handed over in one batch with its
    /// outcome. `true` by default: every event reaches the sink. The
    /// [`Broadcaster`](super::Broadcaster) says `false`, and the runner then builds no
    /// `PROCESSING` for a job that finishes without waiting (a job that waits reports it as
    /// always). Asked once per job: keep it cheap.
    fn wants_superseded(&self) -> bool {
        true
    }

    /// How many jobs' latest states are all that anybody could see of events published
    /// now, if that is bounded: `Some(n)` from a sink that nobody reads live and that keeps
    /// only the latest state of its `n` most recently updated jobs. A publisher of a batch
    /// of events of distinct jobs (an in-memory queue's `PENDING`s of an `enqueue_batch`)
    /// then builds and hands over only the last `n`. `None` (every event may be seen) by
    /// default. The [`Broadcaster`](super::Broadcaster) says `Some(recent_jobs)` while no
    /// client is connected.
    ///
    /// ```
    /// use worker_utils::status::{Broadcaster, DiscardStatus, StatusSink};
    ///
    /// assert_eq!(DiscardStatus.visible_jobs(), None);
    /// let broadcaster = Broadcaster::builder().recent_jobs(100).build().unwrap();
    /// assert_eq!(broadcaster.visible_jobs(), Some(100));
    /// ```
    fn visible_jobs(&self) -> Option<usize> {
        None
    }

    /// Takes an [`Alert`] a runner raised or resolved; returns at once. Ignored by default:
    /// a sink that serves clients (the [`Broadcaster`](super::Broadcaster)) or carries events
    /// to them (the Redis sink) overrides it.
    fn publish_alert(&self, alert: Alert) {
        let _ = alert;
    }
}

impl<S: StatusSink + ?Sized> StatusSink for Arc<S> {
    fn publish(&self, event: StatusEvent) {
        (**self).publish(event);
    }

    fn publish_all(&self, events: &mut Vec<StatusEvent>) {
        (**self).publish_all(events);
    }

    fn wants_superseded(&self) -> bool {
        (**self).wants_superseded()
    }

    fn visible_jobs(&self) -> Option<usize> {
        (**self).visible_jobs()
    }

    fn publish_alert(&self, alert: Alert) {
        (**self).publish_alert(alert);
    }
}

/// A sink that drops every event (status off).
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardStatus;

impl StatusSink for DiscardStatus {
    fn publish(&self, _: StatusEvent) {}
}
