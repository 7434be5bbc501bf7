use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::ring::{self, Cursor, Entry, Item, MAX_BATCH, Tail, Writer};
use super::{StatusEvent, StatusSink};
use crate::config::ConfigError;
use crate::context::JobId;

/// Fans status events out to every connected client without ever waiting on one.
///
/// `publish` takes a short lock that only publishers and newly subscribing clients take,
/// stamps the next sequence number, records the event as the job's latest state and writes
/// it into a bounded ring; it never waits on a client and never fails. Clients read the
/// ring without that lock, and a publish wakes the server only when it is idle. The JSON
/// text is produced at most once per event, lazily, by the first client that needs it:
/// with nobody listening nothing is serialized, and a batch ([`StatusSink::publish_all`])
/// keeps only the last of a job's back-to-back events.
///
/// A [`StatusServer`](super::StatusServer) serves the ring to WebSocket clients. A client
/// that connects late gets the latest state of the recent jobs first, then the live stream,
/// with no gap and no duplicate between the two.
///
/// `Broadcaster` is a cheap handle (`Clone` shares the same state) and a
/// [`StatusSink`], so it plugs in wherever a sink is expected.
///
/// ```
/// use worker_utils::JobId;
/// use worker_utils::status::{Broadcaster, JobStatus, StatusEvent, StatusSink};
///
/// let broadcaster = Broadcaster::new();
/// broadcaster.publish(StatusEvent::new(JobId::new(1), "mail", JobStatus::Pending));
/// broadcaster.publish(StatusEvent::new(JobId::new(1), "mail", JobStatus::Processing));
///
/// let latest = broadcaster.latest(JobId::new(1)).unwrap();
/// assert_eq!((latest.status, latest.seq), (JobStatus::Processing, 2));
/// assert_eq!(broadcaster.last_seq(), 2);
/// ```
#[derive(Clone)]
pub struct Broadcaster {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// The last published sequence number, read by clients without the lock.
    tail: Tail,
    subscribers: AtomicUsize,
    recent_jobs: usize,
    channel_capacity: usize,
    published: metrics::Counter,
}

struct State {
    ring: Writer<Frame>,
    /// Latest frame per recent job.
    recent: FxHashMap<JobId, FrameRef>,
    /// `(seq, job)` in publish order; an entry is live while `recent[job].seq == seq`.
    order: VecDeque<(u64, JobId)>,
}

/// A published frame, shared: keeps the ring segment it lives in alive.
pub(crate) type FrameRef = Entry<Frame>;
/// A published frame borrowed from a client's place in the ring.
pub(crate) type FrameItem<'a> = Item<'a, Frame>;

/// One published event and its JSON text, made once on first use and shared by all clients.
pub(crate) struct Frame {
    event: StatusEvent,
    json: OnceLock<Utf8Bytes>,
}

impl Frame {
    fn new(event: StatusEvent) -> Self {
        Self { event, json: OnceLock::new() }
    }

    pub(crate) fn event(&self) -> &StatusEvent {
        &self.event
    }

    /// The event as one JSON text message; empty if serialization failed (counted and
    /// logged once, the frame is then skipped by every client).
    pub(crate) fn json(&self) -> &Utf8Bytes {
        self.json.get_or_init(|| match serde_json::to_string(&self.event) {
            Ok(text) => Utf8Bytes::from(text),
            Err(error) => {
                metrics::counter!("worker_utils_status_broadcast_failures_total", "reason" => "serialize")
                    .increment(1);
                tracing::warn!(job_id = %self.event.job_id, %error, "status event could not be serialized");
                Utf8Bytes::default()
            }
        })
    }
}

/// A client's view at subscription time: the latest state of recent jobs, then the
/// live stream from the very next event on.
pub(crate) struct Subscription {
    pub(crate) snapshot: Vec<FrameRef>,
    pub(crate) seq: u64,
    pub(crate) cursor: Cursor<Frame>,
    broadcaster: Broadcaster,
}

impl Subscription {
    /// If the ring moved more than its capacity past this subscription, moves it to the
    /// oldest event it still keeps for it and returns how many events were skipped.
    /// Reads one atomic; takes the broadcaster's lock only when the subscription lagged.
    pub(crate) fn catch_up(&mut self) -> u64 {
        let shared = &*self.broadcaster.shared;
        let tail = shared.tail.get();
        let read = self.cursor.position() - 1;
        if tail.saturating_sub(read) <= shared.channel_capacity as u64 {
            return 0;
        }
        let before = self.cursor.position();
        self.broadcaster.lock().ring.seek(&mut self.cursor, tail + 1 - shared.channel_capacity as u64);
        self.cursor.position().saturating_sub(before)
    }

    /// Whether events up to the announced tail may still be unread (the cursor found
    /// nothing, but the tail says there is something: it was lapped).
    pub(crate) fn behind(&self) -> bool {
        self.broadcaster.shared.tail.get() >= self.cursor.position()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.broadcaster.shared.subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Broadcaster {
    /// The latest state of this many recent jobs is kept for late clients by default.
    pub const DEFAULT_RECENT_JOBS: usize = 1024;
    /// Events a client may fall behind by before it is told it lagged, by default.
    pub const DEFAULT_CHANNEL_CAPACITY: usize = 4096;

    /// A broadcaster with the default limits.
    ///
    /// ```
    /// use worker_utils::status::Broadcaster;
    /// let b = Broadcaster::new();
    /// assert_eq!(b.recent_jobs(), Broadcaster::DEFAULT_RECENT_JOBS);
    /// ```
    pub fn new() -> Self {
        Self::from_limits(Self::DEFAULT_RECENT_JOBS, Self::DEFAULT_CHANNEL_CAPACITY)
    }

    /// Starts building a broadcaster with custom limits.
    ///
    /// ```
    /// use worker_utils::status::Broadcaster;
    /// let b = Broadcaster::builder().recent_jobs(10).channel_capacity(256).build().unwrap();
    /// assert_eq!((b.recent_jobs(), b.channel_capacity()), (10, 256));
    /// ```
    pub fn builder() -> BroadcasterBuilder {
        BroadcasterBuilder::default()
    }

    fn from_limits(recent_jobs: usize, channel_capacity: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    ring: Writer::new(channel_capacity),
                    recent: FxHashMap::with_capacity_and_hasher(recent_jobs.min(4096), Default::default()),
                    order: VecDeque::new(),
                }),
                tail: Tail::new(),
                subscribers: AtomicUsize::new(0),
                recent_jobs,
                channel_capacity,
                published: metrics::counter!("worker_utils_status_published_total"),
            }),
        }
    }

    /// How many jobs' latest states are kept for late clients.
    ///
    /// ```
    /// # use worker_utils::status::Broadcaster;
    /// assert_eq!(Broadcaster::builder().recent_jobs(3).build().unwrap().recent_jobs(), 3);
    /// ```
    pub fn recent_jobs(&self) -> usize {
        self.shared.recent_jobs
    }

    /// How many events a client may fall behind by before it is told it lagged.
    ///
    /// ```
    /// # use worker_utils::status::Broadcaster;
    /// assert_eq!(Broadcaster::new().channel_capacity(), Broadcaster::DEFAULT_CHANNEL_CAPACITY);
    /// ```
    pub fn channel_capacity(&self) -> usize {
        self.shared.channel_capacity
    }

    /// The sequence number of the last published event (0 before the first).
    ///
    /// ```
    /// # use worker_utils::JobId;
    /// # use worker_utils::status::{Broadcaster, JobStatus, StatusEvent, StatusSink};
    /// let b = Broadcaster::new();
    /// assert_eq!(b.last_seq(), 0);
    /// b.publish(StatusEvent::new(JobId::new(1), "q", JobStatus::Pending));
    /// assert_eq!(b.last_seq(), 1);
    /// ```
    pub fn last_seq(&self) -> u64 {
        self.shared.tail.get()
    }

    /// The latest event of `job`, if it is among the recent jobs.
    ///
    /// ```
    /// # use worker_utils::JobId;
    /// # use worker_utils::status::{Broadcaster, JobStatus, StatusEvent, StatusSink};
    /// let b = Broadcaster::new();
    /// assert!(b.latest(JobId::new(9)).is_none());
    /// b.publish(StatusEvent::new(JobId::new(9), "q", JobStatus::Pending));
    /// assert_eq!(b.latest(JobId::new(9)).unwrap().status, JobStatus::Pending);
    /// ```
    pub fn latest(&self, job: JobId) -> Option<StatusEvent> {
        self.lock().recent.get(&job).map(|frame| frame.event.clone())
    }

    /// The latest event of every recent job, oldest update first.
    ///
    /// ```
    /// # use worker_utils::JobId;
    /// # use worker_utils::status::{Broadcaster, JobStatus, StatusEvent, StatusSink};
    /// let b = Broadcaster::builder().recent_jobs(2).build().unwrap();
    /// for id in 1..=3 {
    ///     b.publish(StatusEvent::new(JobId::new(id), "q", JobStatus::Pending));
    /// }
    /// let jobs: Vec<u64> = b.snapshot().iter().map(|e| e.job_id.get()).collect();
    /// assert_eq!(jobs, [2, 3]); // job 1 was evicted: only 2 recent jobs are kept
    /// ```
    pub fn snapshot(&self) -> Vec<StatusEvent> {
        let state = self.lock();
        live_frames(&state).map(|frame| frame.event.clone()).collect()
    }

    /// How many clients currently listen.
    ///
    /// ```
    /// # use worker_utils::status::Broadcaster;
    /// assert_eq!(Broadcaster::new().subscriber_count(), 0);
    /// ```
    pub fn subscriber_count(&self) -> usize {
        self.shared.subscribers.load(Ordering::Relaxed)
    }

    /// Takes the snapshot and joins the live stream under the same lock as `publish`, so
    /// every event is either in the snapshot or in the stream, never both, never neither.
    pub(crate) fn subscribe(&self) -> Subscription {
        let state = self.lock();
        let cursor = state.ring.cursor();
        let snapshot = live_frames(&state).cloned().collect();
        let seq = state.ring.last();
        drop(state);
        self.shared.subscribers.fetch_add(1, Ordering::Relaxed);
        Subscription { snapshot, seq, cursor, broadcaster: self.clone() }
    }

    /// The last published sequence number and the wake-up of whoever waits for the next.
    pub(crate) fn tail(&self) -> &Tail {
        &self.shared.tail
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state inconsistent in a way that
        // matters more than losing status, so a poisoned lock is used as is.
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn live_frames(state: &State) -> impl Iterator<Item = &FrameRef> {
    state.order.iter().filter_map(|(seq, job)| state.recent.get(job).filter(|frame| frame.event.seq == *seq))
}

impl Default for Broadcaster {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusSink for Broadcaster {
    fn publish(&self, event: StatusEvent) {
        let frames = vec![Frame::new(event)];
        let mut state = self.lock();
        self.publish_locked(&mut state, frames);
        drop(state);
        self.shared.published.increment(1);
    }

    /// One lock, one allocation and one ring link per batch of up to 64 events. With no
    /// client connected, an event followed in the batch by another of the same job is
    /// dropped: nobody can see it, and the job's latest state is all a client that
    /// connects later receives.
    fn publish_all(&self, events: &mut Vec<StatusEvent>) {
        if self.subscriber_count() == 0 {
            drop_superseded(events);
        }
        let count = events.len() as u64;
        while !events.is_empty() {
            let take = events.len().min(MAX_BATCH);
            let frames: Vec<Frame> = events.drain(..take).map(Frame::new).collect();
            let mut state = self.lock();
            self.publish_locked(&mut state, frames);
        }
        self.shared.published.increment(count);
    }
}

impl Broadcaster {
    /// Numbers the frames, writes them into the ring as one batch, records them as their
    /// jobs' latest states and announces the new tail. Writing under the lock keeps the
    /// ring in `seq` order and makes `subscribe` atomic with respect to publishing.
    fn publish_locked(&self, state: &mut State, mut frames: Vec<Frame>) {
        let shared = &*self.shared;
        let first = state.ring.next_seq();
        for (seq, frame) in (first..).zip(&mut frames) {
            frame.event.seq = seq;
        }
        let batch = state.ring.push(frames);
        if shared.recent_jobs > 0 {
            let items = batch.items();
            for (index, frame) in items.iter().enumerate() {
                let event = &frame.event;
                // A runner slot reports a quick job's PROCESSING and COMPLETED back to back;
                // only the last of such a run is the job's latest state.
                if superseded(event, items.get(index + 1).map(Frame::event)) {
                    continue;
                }
                remember(state, shared.recent_jobs, event.job_id, event.seq, ring::entry(&batch, index));
            }
        }
        shared.tail.advance(state.ring.last());
    }
}

/// Whether `next`, the event published right after `event`, replaces it as its job's
/// latest state (a quick job's COMPLETED right after its PROCESSING).
fn superseded(event: &StatusEvent, next: Option<&StatusEvent>) -> bool {
    next.is_some_and(|next| next.job_id == event.job_id)
}

/// Removes every event directly followed by another of the same job (a quick job's
/// PROCESSING before its COMPLETED), keeping the order of the rest.
fn drop_superseded(events: &mut Vec<StatusEvent>) {
    let mut kept = 0;
    for index in 0..events.len() {
        // Positions from `index` on are untouched so far: compare the originals.
        if !superseded(&events[index], events.get(index + 1)) {
            events.swap(kept, index);
            kept += 1;
        }
    }
    events.truncate(kept);
}

/// Records `frame` as the latest of `job`, evicting the least recently updated jobs beyond
/// `limit`. Amortized O(1): stale order entries are skipped lazily and compacted in bulk.
fn remember(state: &mut State, limit: usize, job: JobId, seq: u64, frame: FrameRef) {
    state.recent.insert(job, frame);
    state.order.push_back((seq, job));
    while state.recent.len() > limit {
        let Some((old_seq, old_job)) = state.order.pop_front() else { break };
        if state.recent.get(&old_job).is_some_and(|f| f.event.seq == old_seq) {
            state.recent.remove(&old_job);
        }
    }
    if state.order.len() > 2 * limit + 64 {
        let State { recent, order, .. } = state;
        order.retain(|(seq, job)| recent.get(job).is_some_and(|f| f.event.seq == *seq));
    }
}

impl fmt::Debug for Broadcaster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Broadcaster")
            .field("recent_jobs", &self.shared.recent_jobs)
            .field("channel_capacity", &self.shared.channel_capacity)
            .field("subscribers", &self.subscriber_count())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Broadcaster`] with custom limits.
///
/// ```
/// use worker_utils::status::Broadcaster;
///
/// let b = Broadcaster::builder().recent_jobs(0).build().unwrap(); // no snapshot for late clients
/// assert_eq!(b.recent_jobs(), 0);
///
/// let err = Broadcaster::builder().channel_capacity(0).build().unwrap_err();
/// assert_eq!(err.field(), "channel_capacity");
/// ```
#[derive(Debug, Clone)]
pub struct BroadcasterBuilder {
    recent_jobs: usize,
    channel_capacity: usize,
}

impl Default for BroadcasterBuilder {
    fn default() -> Self {
        Self {
            recent_jobs: Broadcaster::DEFAULT_RECENT_JOBS,
            channel_capacity: Broadcaster::DEFAULT_CHANNEL_CAPACITY,
        }
    }
}

impl BroadcasterBuilder {
    /// Keeps the latest state of this many recently updated jobs for late clients (0 turns
    /// the snapshot off). Memory: one shared event per job.
    ///
    /// ```
    /// # use worker_utils::status::Broadcaster;
    /// assert_eq!(Broadcaster::builder().recent_jobs(50).build().unwrap().recent_jobs(), 50);
    /// ```
    pub fn recent_jobs(mut self, jobs: usize) -> Self {
        self.recent_jobs = jobs;
        self
    }

    /// Lets a client fall behind by this many events before it is told it lagged; the ring
    /// is shared by all clients, so memory does not grow with the number of clients. The
    /// ring is cut in segments of up to 64 events; a kept frame (a recent job's latest
    /// state, a client's held update) keeps its segment alive, so the worst case is
    /// `channel_capacity + 64 × (recent_jobs + 2)` events plus those a client holds.
    ///
    /// ```
    /// # use worker_utils::status::Broadcaster;
    /// assert_eq!(Broadcaster::builder().channel_capacity(64).build().unwrap().channel_capacity(), 64);
    /// ```
    pub fn channel_capacity(mut self, events: usize) -> Self {
        self.channel_capacity = events;
        self
    }

    /// Checks the limits and builds the broadcaster.
    ///
    /// ```
    /// # use worker_utils::status::Broadcaster;
    /// let err = Broadcaster::builder().channel_capacity(usize::MAX).build().unwrap_err();
    /// assert_eq!(err.field(), "channel_capacity");
    /// ```
    pub fn build(self) -> Result<Broadcaster, ConfigError> {
        const MAX_CAPACITY: usize = 1 << 24;
        if self.channel_capacity == 0 || self.channel_capacity > MAX_CAPACITY {
            return Err(ConfigError::new(
                "channel_capacity",
                format!("must be between 1 and {MAX_CAPACITY}"),
            ));
        }
        Ok(Broadcaster::from_limits(self.recent_jobs, self.channel_capacity))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::JobStatus;

    fn event(job: u64, status: JobStatus) -> StatusEvent {
        StatusEvent::new(JobId::new(job), "q", status)
    }

    #[test]
    fn subscription_splits_snapshot_and_stream_at_the_same_seq() {
        let b = Broadcaster::new();
        b.publish(event(1, JobStatus::Pending));
        b.publish(event(2, JobStatus::Pending));
        b.publish(event(1, JobStatus::Processing));
        let mut sub = b.subscribe();
        b.publish(event(2, JobStatus::Processing));

        let snap: Vec<(u64, u64)> =
            sub.snapshot.iter().map(|f| (f.event.job_id.get(), f.event.seq)).collect();
        assert_eq!(snap, [(2, 2), (1, 3)]);
        assert_eq!(sub.seq, 3);
        let live = sub.cursor.next().unwrap().get();
        assert_eq!((live.event.job_id.get(), live.event.seq), (2, 4));
        assert!(sub.cursor.next().is_none());
        assert_eq!((b.last_seq(), b.subscriber_count()), (4, 1));
        drop(sub);
        assert_eq!(b.subscriber_count(), 0);
    }

    #[test]
    fn recent_jobs_stay_bounded_under_many_updates() {
        let b = Broadcaster::builder().recent_jobs(8).build().unwrap();
        for i in 0..10_000 {
            b.publish(event(i % 20, JobStatus::Processing));
        }
        let state = b.lock();
        assert_eq!(state.recent.len(), 8);
        assert!(state.order.len() <= 2 * 8 + 64 + 1);
        drop(state);
        let jobs: Vec<u64> = b.snapshot().iter().map(|e| e.job_id.get()).collect();
        assert_eq!(jobs, (12..20).collect::<Vec<_>>());
    }

    #[test]
    fn a_batch_records_only_the_last_of_each_run_of_one_job() {
        let b = Broadcaster::new();
        let _listening = b.subscribe();
        let mut batch = vec![
            event(1, JobStatus::Processing),
            event(1, JobStatus::Completed),
            event(2, JobStatus::Processing),
            event(1, JobStatus::Failed),
        ];
        b.publish_all(&mut batch);
        let snap: Vec<(u64, u64, JobStatus)> =
            b.snapshot().iter().map(|e| (e.job_id.get(), e.seq, e.status)).collect();
        assert_eq!(snap, [(2, 3, JobStatus::Processing), (1, 4, JobStatus::Failed)]);
        assert_eq!(b.lock().order.len(), 3); // job 1 at seq 2 and 4, job 2 at 3; not seq 1
    }

    #[test]
    fn with_nobody_listening_superseded_events_of_a_batch_are_not_published() {
        let b = Broadcaster::new();
        let mut batch = vec![
            event(1, JobStatus::Processing),
            event(1, JobStatus::Completed),
            event(2, JobStatus::Processing),
            event(3, JobStatus::Processing),
            event(3, JobStatus::Failed),
        ];
        b.publish_all(&mut batch);
        let snap: Vec<(u64, u64, JobStatus)> =
            b.snapshot().iter().map(|e| (e.job_id.get(), e.seq, e.status)).collect();
        assert_eq!(
            snap,
            [(1, 1, JobStatus::Completed), (2, 2, JobStatus::Processing), (3, 3, JobStatus::Failed)]
        );

        let mut sub = b.subscribe();
        b.publish_all(&mut vec![event(4, JobStatus::Processing), event(4, JobStatus::Completed)]);
        let live: Vec<JobStatus> =
            std::iter::from_fn(|| sub.cursor.next().map(|f| f.get().event.status)).collect();
        assert_eq!(live, [JobStatus::Processing, JobStatus::Completed]); // a client sees every event
    }

    #[test]
    fn json_is_made_once_and_shared() {
        let b = Broadcaster::new();
        let mut sub = b.subscribe();
        b.publish(event(1, JobStatus::Completed));
        let frame = sub.cursor.next().unwrap().get();
        let first = frame.json().clone();
        assert!(std::ptr::eq(first.as_str().as_ptr(), frame.json().as_str().as_ptr()));
        assert!(first.as_str().starts_with(r#"{"type":"status","seq":1,"job_id":1,"#));
    }
}
