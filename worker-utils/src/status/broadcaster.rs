use rustc_hash::FxHashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::alerts::AlertBoard;
use super::recent::{OfJob, RecentJobs};
use super::ring::{self, Cursor, Entry, Item, MAX_BATCH, Tail, Writer};
use super::{StatusEvent, StatusSink};
use crate::alert::Alert;
use crate::config::ConfigError;
use crate::context::JobId;

/// Fans status events out to every connected client without ever waiting on one.
///
/// `publish` takes a short lock that only publishers take (and, at most once per 10 ms, a
/// subscribing client), stamps the next sequence number, records the event as the job's latest state and writes
/// it into a bounded ring; it never waits on a client and never fails. Clients read the
/// ring without that lock, and a publish wakes the server only when it is idle. The JSON
/// text is produced at most once per event, lazily, by the first client that needs it:
/// with nobody listening nothing is serialized, and a batch ([`StatusSink::publish_all`])
/// keeps only the last of a job's back-to-back events.
///
/// A [`StatusServer`](super::StatusServer) serves the ring to WebSocket clients. A client
/// that connects late gets the latest state of the recent jobs first, then the live stream,
/// with no gap and no duplicate between the two. Clients share one such snapshot, carried
/// forward along the ring without the publishers' lock, so subscribing clients cost the
/// publishers at most one snapshot build per 10 ms, however many there are and however
/// often they subscribe.
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
    /// The snapshot subscribers share; a lock that publishers never take.
    snapshots: Mutex<SnapshotCache>,
    /// The last published sequence number, read by clients without the lock.
    tail: Tail,
    subscribers: AtomicUsize,
    recent_jobs: usize,
    channel_capacity: usize,
    published: metrics::Counter,
    /// Alerts, apart from the job events: not numbered, not in the ring.
    alerts: AlertBoard,
}

struct State {
    ring: Writer<StatusEvent, Json>,
    /// Latest frame per recent job.
    recent: RecentJobs<StatusEvent, Json>,
}

impl OfJob for StatusEvent {
    fn job(&self) -> JobId {
        self.job_id
    }
}

/// A published event, shared: keeps the ring segment it lives in alive.
pub(crate) type FrameRef = Entry<StatusEvent, Json>;
/// A published event borrowed from a client's place in the ring.
pub(crate) type FrameItem<'a> = Item<'a, StatusEvent, Json>;
type Batch = ring::Batch<StatusEvent, Json>;

/// The JSON texts of a ring segment's events, each made once, on first use, and shared by
/// all clients. The segment's slots are allocated together by the first client that needs
/// one, so that publishing neither allocates nor moves anything for them (a text cache per
/// event cost each published event a 40-byte larger move and an extra pass).
#[derive(Default)]
pub(crate) struct Json(OnceLock<Box<[OnceLock<Utf8Bytes>]>>);

/// `event`, at `index` of `batch`, as one JSON text message; empty if serialization failed
/// (counted and logged once, the event is then skipped by every client).
fn json_at<'a>(batch: &'a Batch, index: usize, event: &StatusEvent) -> &'a Utf8Bytes {
    let texts = batch.memo().0.get_or_init(|| (0..batch.capacity()).map(|_| OnceLock::new()).collect());
    texts[index].get_or_init(|| match serde_json::to_string(event) {
        Ok(text) => Utf8Bytes::from(text),
        Err(error) => {
            crate::metrics::count_broadcast_failure("serialize");
            tracing::warn!(job_id = %event.job_id, %error, "status event could not be serialized");
            Utf8Bytes::default()
        }
    })
}

impl FrameRef {
    pub(crate) fn event(&self) -> &StatusEvent {
        self
    }

    /// The event's JSON text (see [`json_at`]).
    pub(crate) fn json(&self) -> &Utf8Bytes {
        let (batch, index) = self.position();
        json_at(batch, index, self)
    }
}

impl<'a> FrameItem<'a> {
    pub(crate) fn event(self) -> &'a StatusEvent {
        self.get()
    }

    /// The event's JSON text (see [`json_at`]).
    pub(crate) fn json(self) -> &'a Utf8Bytes {
        let (batch, index) = self.position();
        json_at(batch, index, self.get())
    }
}

/// Subscribers rebuild the shared snapshot under the publishers' lock at most this often.
/// Between rebuilds they carry the last one forward along the ring, which takes no lock; one
/// that cannot (the ring moved more than it keeps since) waits for the interval to end.
pub(crate) const SNAPSHOT_REBUILD_INTERVAL: Duration = Duration::from_millis(10);

/// Events a subscriber reads from the ring at most to carry the shared snapshot forward;
/// further behind, it rebuilds the snapshot instead (bounded by the ring's capacity too).
const MAX_CARRY: usize = 8192;

/// The latest state of the recent jobs at `seq`, oldest update first, and a cursor at the
/// event after it: every event up to `seq` is reflected in `frames`, every later one is read
/// from `cursor`. Cloning shares the frames.
#[derive(Clone)]
pub(crate) struct Snapshot {
    frames: Arc<[FrameRef]>,
    seq: u64,
    cursor: Cursor<StatusEvent, Json>,
}

/// The snapshot subscribers share and when it may next be rebuilt under the publishers' lock.
/// Holds up to `recent_jobs` frames of its own (older states of jobs updated since), which
/// keep their ring segments alive until the next subscriber replaces them.
#[derive(Default)]
struct SnapshotCache {
    latest: Option<Snapshot>,
    next_rebuild: Option<Instant>,
    /// Rebuilds so far: tells a subscriber that waited whether someone rebuilt meanwhile.
    rebuilds: u64,
}

/// A client's view at subscription time: the latest state of recent jobs, then the
/// live stream from the very next event on.
pub(crate) struct Subscription {
    /// Shared with the other subscribers of the same moment; take it once it is sent.
    pub(crate) snapshot: Arc<[FrameRef]>,
    pub(crate) seq: u64,
    pub(crate) cursor: Cursor<StatusEvent, Json>,
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
                    recent: RecentJobs::new(recent_jobs, channel_capacity),
                }),
                snapshots: Mutex::new(SnapshotCache::default()),
                tail: Tail::new(),
                subscribers: AtomicUsize::new(0),
                recent_jobs,
                channel_capacity,
                published: crate::metrics::status_published_counter(),
                alerts: AlertBoard::new(),
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
        self.lock().recent.latest(job).map(|frame| frame.event().clone())
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
        self.lock().recent.iter().map(|frame| frame.event().clone()).collect()
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

    /// Joins the live stream with a snapshot: the latest state of the recent jobs at some
    /// `seq`, and the stream from `seq + 1` on, so every event is either in the snapshot or
    /// in the stream, never both, never neither.
    ///
    /// What this costs publishers is bounded whatever clients do: the snapshot is shared and
    /// carried forward along the ring without the publishers' lock (O(events since + recent
    /// jobs), at most [`MAX_CARRY`] events). Only when the ring no longer holds the events
    /// since the shared snapshot is it rebuilt under that lock, at most once per
    /// [`SNAPSHOT_REBUILD_INTERVAL`]; a subscriber that finds the last rebuild too recent
    /// waits for the interval to end (once) and then takes the newest snapshot. If that one
    /// was already lapped again (the ring is shorter than what is published in the time a
    /// rebuild takes), the client is told it lagged, like any client that falls behind.
    pub(crate) async fn subscribe(&self) -> Subscription {
        let mut waited = None;
        let snapshot = loop {
            match self.shared_snapshot(Instant::now(), waited) {
                Ok(snapshot) => break snapshot,
                // Taken once at most: after the wait a rebuild is allowed, or was done.
                Err((until, rebuilds)) => {
                    waited = Some(rebuilds);
                    tokio::time::sleep_until(until).await;
                }
            }
        };
        self.shared.subscribers.fetch_add(1, Ordering::Relaxed);
        let Snapshot { frames, seq, cursor } = snapshot;
        Subscription { snapshot: frames, seq, cursor, broadcaster: self.clone() }
    }

    /// The shared snapshot brought up to date, or when to try again (and the rebuild count
    /// seen) if it needs a rebuild that is not allowed yet. `waited` is the rebuild count a
    /// previous attempt saw before it waited.
    fn shared_snapshot(&self, now: Instant, waited: Option<u64>) -> Result<Snapshot, (Instant, u64)> {
        let mut cache = self.shared.snapshots.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(latest) = &cache.latest {
            if let Some(current) = self.carry_forward(latest) {
                cache.latest = Some(current.clone());
                return Ok(current);
            }
            if waited.is_some_and(|seen| seen != cache.rebuilds) {
                // Rebuilt while this subscriber waited, and lapped again already.
                return Ok(latest.clone());
            }
        }
        if let Some(next) = cache.next_rebuild
            && now < next
        {
            return Err((next, cache.rebuilds));
        }
        let fresh = self.build_snapshot();
        cache.rebuilds += 1;
        cache.next_rebuild = Some(now.checked_add(SNAPSHOT_REBUILD_INTERVAL).unwrap_or(now));
        cache.latest = Some(fresh.clone());
        Ok(fresh)
    }

    /// A snapshot built under the publishers' lock: the recent jobs' latest frames and a
    /// cursor at the next event, taken together.
    fn build_snapshot(&self) -> Snapshot {
        let mut state = self.lock();
        let cursor = state.ring.cursor();
        let frames = state.recent.iter().cloned().collect();
        let seq = state.ring.last();
        drop(state);
        Snapshot { frames, seq, cursor }
    }

    /// `base` with the events published since applied, read from the ring without the
    /// publishers' lock; `None` if the ring no longer holds them all (or too many to be
    /// worth it: rebuilding is cheaper).
    fn carry_forward(&self, base: &Snapshot) -> Option<Snapshot> {
        let shared = &*self.shared;
        // Every event up to the tail is linked into the ring before the tail announces it.
        let target = shared.tail.get();
        let behind = target.checked_sub(base.seq)?;
        if behind == 0 {
            return Some(base.clone());
        }
        if behind > shared.channel_capacity.min(MAX_CARRY) as u64 {
            return None;
        }
        let mut cursor = base.cursor.clone();
        let mut fresh = Vec::with_capacity(behind as usize);
        while cursor.position() <= target {
            // `None`: the writer forgot a segment on the way (lapped while reading).
            fresh.push(cursor.next()?.to_entry());
        }
        let frames = if shared.recent_jobs == 0 {
            Arc::default()
        } else {
            merge(&base.frames, &fresh, shared.recent_jobs)
        };
        Some(Snapshot { frames, seq: target, cursor })
    }

    /// The last published sequence number and the wake-up of whoever waits for the next.
    /// The alerts firing now, oldest first: raised by a runner and not yet resolved (at
    /// most 256; clients get them after each snapshot).
    ///
    /// ```
    /// use worker_utils::alert::{Alert, AlertMetric, AlertState};
    /// use worker_utils::status::{Broadcaster, StatusSink};
    ///
    /// let broadcaster = Broadcaster::new();
    /// let mut alert = Alert {
    ///     rule: "failure_rate".into(), queue: "images".into(), worker: "images-1".into(), action: None,
    ///     metric: AlertMetric::FailureRate, state: AlertState::Firing, rate: 0.6, calls: 20, failures: 12,
    ///     threshold: 0.5, resolve_below: 0.25, window_ms: 60_000, timestamp_ms: 0,
    /// };
    /// broadcaster.publish_alert(alert.clone());
    /// assert_eq!(broadcaster.firing_alerts(), [alert.clone()]);
    /// alert.state = AlertState::Resolved;
    /// broadcaster.publish_alert(alert);
    /// assert!(broadcaster.firing_alerts().is_empty());
    /// ```
    pub fn firing_alerts(&self) -> Vec<Alert> {
        self.shared.alerts.firing()
    }

    pub(crate) fn alerts(&self) -> &AlertBoard {
        &self.shared.alerts
    }

    pub(crate) fn tail(&self) -> &Tail {
        &self.shared.tail
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state inconsistent in a way that
        // matters more than losing status, so a poisoned lock is used as is.
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The latest frames of the `limit` most recently updated jobs, oldest update first, after
/// `fresh` (in publish order) follows `old` (such a list): what the recent jobs would hold.
fn merge(old: &[FrameRef], fresh: &[FrameRef], limit: usize) -> Arc<[FrameRef]> {
    let mut last = FxHashMap::with_capacity_and_hasher(fresh.len(), Default::default());
    for (index, frame) in fresh.iter().enumerate() {
        last.insert(frame.event().job_id, index);
    }
    let newest = last.len().min(limit);
    let untouched: Vec<&FrameRef> =
        old.iter().filter(|frame| !last.contains_key(&frame.event().job_id)).collect();
    let older = untouched.len().min(limit - newest);
    let updated = fresh.iter().enumerate().filter(|(index, frame)| last[&frame.event().job_id] == *index);
    untouched[untouched.len() - older..]
        .iter()
        .map(|frame| (*frame).clone())
        .chain(updated.skip(last.len() - newest).map(|(_, frame)| frame.clone()))
        .collect()
}

impl Default for Broadcaster {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusSink for Broadcaster {
    /// Appends the event to the ring's open segment: a stream of single publishes is read
    /// by clients in segments of up to 64 events (see `ring`).
    fn publish(&self, mut event: StatusEvent) {
        {
            let mut guard = self.lock();
            let state = &mut *guard;
            event.seq = state.ring.next_seq();
            let (segment, index) = state.ring.append(event);
            state.recent.push(segment, index);
            self.shared.tail.advance(state.ring.last());
        }
        self.shared.published.increment(1);
    }

    /// One lock, one allocation and one ring link per batch of up to 64 events. With no
    /// client connected, an event followed in the batch by another of the same job is
    /// dropped: nobody can see it, and the job's latest state is all a client that
    /// connects later receives.
    ///
    /// A `Vec` of at most 64 events' capacity (a runner's outbox) becomes the ring segment
    /// as it is, and `events` is left empty with at least the same capacity (the buffer of
    /// a segment the ring forgot, if it has one): no event is moved.
    fn publish_all(&self, events: &mut Vec<StatusEvent>) {
        if self.subscriber_count() == 0 {
            drop_superseded(events);
        }
        let count = events.len() as u64;
        let capacity = events.capacity();
        if capacity <= MAX_BATCH {
            if !events.is_empty() {
                let mut state = self.lock();
                self.publish_locked(&mut state, std::mem::take(events));
                *events = state.ring.buffer(capacity);
            }
        } else {
            // One pass over the events: draining each segment from the front of `events`
            // instead moved all the rest every time (quadratic: 100 000 PENDING events of
            // one `enqueue_batch` moved about 10 GB).
            let mut rest = events.drain(..);
            loop {
                let batch: Vec<StatusEvent> = rest.by_ref().take(MAX_BATCH).collect();
                if batch.is_empty() {
                    break;
                }
                self.publish_locked(&mut self.lock(), batch);
            }
        }
        self.shared.published.increment(count);
    }

    /// Never: a client could not see such an event live anyway, as it arrives in the same
    /// batch as the event that supersedes it (the Redis backend never writes it either).
    /// Building and serving a `PROCESSING` per quick job cost the no-op worker 14 % more
    /// instructions as soon as one client connected.
    fn wants_superseded(&self) -> bool {
        false
    }

    /// The recent jobs' number while no client is connected: a client that connects later
    /// receives their latest states and nothing older. (A client connecting while a batch is
    /// handed over may miss the `PENDING` of its earlier jobs, as it would once the batch
    /// had pushed them out of the recent jobs.)
    fn visible_jobs(&self) -> Option<usize> {
        (self.subscriber_count() == 0).then(|| self.recent_jobs())
    }

    /// Sends the alert to the clients whose filter is everything or lists its queue, and
    /// keeps it, while it fires, for clients that connect later.
    fn publish_alert(&self, alert: Alert) {
        self.shared.alerts.publish(alert);
    }
}

impl Broadcaster {
    /// Numbers the events, writes them into the ring as one batch, records them as their
    /// jobs' latest states and announces the new tail. Writing under the lock keeps the
    /// ring in `seq` order and makes `subscribe` atomic with respect to publishing.
    fn publish_locked(&self, state: &mut State, mut events: Vec<StatusEvent>) {
        let first = state.ring.next_seq();
        for (seq, event) in (first..).zip(&mut events) {
            event.seq = seq;
        }
        let batch = state.ring.push(events);
        state.recent.push(batch, 0);
        self.shared.tail.advance(state.ring.last());
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
            // Most batches drop nothing: no swap of an event with itself (three copies).
            if kept != index {
                events.swap(kept, index);
            }
            kept += 1;
        }
    }
    events.truncate(kept);
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
    /// state, the snapshot clients share, a client's held update) keeps its segment alive,
    /// so the worst case is `channel_capacity + 128 × recent_jobs + 3 × max(recent_jobs, 64) + 256`
    /// events plus those a client holds. Single publishes between batches may leave up to
    /// 3 slots of their segment unused per event, each the size of an event: in that
    /// pattern the ring holds up to `4 × channel_capacity + 64` slots instead.
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

    #[tokio::test]
    async fn subscription_splits_snapshot_and_stream_at_the_same_seq() {
        let b = Broadcaster::new();
        b.publish(event(1, JobStatus::Pending));
        b.publish(event(2, JobStatus::Pending));
        b.publish(event(1, JobStatus::Processing));
        let mut sub = b.subscribe().await;
        b.publish(event(2, JobStatus::Processing));

        let snap: Vec<(u64, u64)> =
            sub.snapshot.iter().map(|f| (f.event().job_id.get(), f.event().seq)).collect();
        assert_eq!(snap, [(2, 2), (1, 3)]);
        assert_eq!(sub.seq, 3);
        let live = sub.cursor.next().unwrap().event();
        assert_eq!((live.job_id.get(), live.seq), (2, 4));
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
        // Uncompacted, at most as many as the ring keeps alive anyway.
        assert!(b.lock().recent.uncompacted() < Broadcaster::DEFAULT_CHANNEL_CAPACITY + MAX_BATCH);
        let jobs: Vec<u64> = b.snapshot().iter().map(|e| e.job_id.get()).collect();
        assert_eq!(jobs, (12..20).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_batch_records_the_last_state_of_each_job() {
        let b = Broadcaster::new();
        let _listening = b.subscribe().await;
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
    }

    #[tokio::test]
    async fn with_nobody_listening_superseded_events_of_a_batch_are_not_published() {
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

        let mut sub = b.subscribe().await;
        b.publish_all(&mut vec![event(4, JobStatus::Processing), event(4, JobStatus::Completed)]);
        let live: Vec<JobStatus> =
            std::iter::from_fn(|| sub.cursor.next().map(|f| f.event().status)).collect();
        assert_eq!(live, [JobStatus::Processing, JobStatus::Completed]); // a client sees every event
    }

    #[tokio::test]
    async fn an_outbox_becomes_a_segment_as_it_is_and_a_longer_batch_is_cut_in_segments() {
        let b = Broadcaster::new();
        let mut sub = b.subscribe().await;
        let mut outbox = Vec::with_capacity(MAX_BATCH);
        outbox.extend((1..=3).map(|job| event(job, JobStatus::Completed)));
        let at = outbox.as_ptr();
        b.publish_all(&mut outbox);
        assert!(outbox.is_empty() && outbox.capacity() == MAX_BATCH, "left empty, ready for more");
        assert!(std::ptr::eq(sub.cursor.next().unwrap().event(), at), "the events were not moved");

        let mut long: Vec<StatusEvent> = (4..=200).map(|job| event(job, JobStatus::Completed)).collect();
        b.publish_all(&mut long);
        assert!(long.is_empty());
        let seqs: Vec<(u64, u64)> =
            std::iter::from_fn(|| sub.cursor.next().map(|f| (f.event().job_id.get(), f.event().seq)))
                .collect();
        assert_eq!(seqs, (2..=200).map(|job| (job, job)).collect::<Vec<_>>());
        assert_eq!(b.last_seq(), 200);
    }

    #[tokio::test]
    async fn json_is_made_once_and_shared() {
        let b = Broadcaster::new();
        let mut sub = b.subscribe().await;
        b.publish(event(1, JobStatus::Completed));
        let frame = sub.cursor.next().unwrap().to_entry();
        let first = frame.json().clone();
        assert!(std::ptr::eq(first.as_str().as_ptr(), frame.json().as_str().as_ptr()));
        assert!(first.as_str().starts_with(r#"{"type":"status","seq":1,"job_id":1,"#));
    }

    fn rebuilds(b: &Broadcaster) -> u64 {
        b.shared.snapshots.lock().unwrap().rebuilds
    }

    fn view(frames: &[FrameRef]) -> Vec<(u64, u64, JobStatus)> {
        frames.iter().map(|f| (f.event().job_id.get(), f.event().seq, f.event().status)).collect()
    }

    /// A subscription is right when its snapshot is the locked snapshot of the same moment
    /// and its stream starts with the very next event.
    fn assert_consistent(b: &Broadcaster, sub: &mut Subscription) {
        let expected: Vec<_> = b.snapshot().iter().map(|e| (e.job_id.get(), e.seq, e.status)).collect();
        assert_eq!(view(&sub.snapshot), expected);
        assert_eq!((sub.seq, sub.cursor.position()), (b.last_seq(), b.last_seq() + 1));
    }

    #[tokio::test(start_paused = true)]
    async fn subscribers_share_one_snapshot_carried_forward_without_rebuilding() {
        use JobStatus::*;
        let b = Broadcaster::builder().recent_jobs(5).channel_capacity(64).build().unwrap();
        let _listening = b.subscribe().await; // every event of a batch is published
        assert_eq!(rebuilds(&b), 1);
        // Deterministic but irregular: single events and batches, jobs updated out of
        // order, more jobs than are kept, runs of one job inside a batch.
        let mut x = 7_u64;
        for round in 0..200 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let n = (x >> 33) % 40;
            let mut batch: Vec<StatusEvent> = (0..n)
                .map(|i| {
                    let job = (x >> (i % 32)) % 9;
                    event(job, [Pending, Processing, Completed, Failed][((x >> 7) + i) as usize % 4])
                })
                .collect();
            if round % 3 == 0 {
                for e in batch {
                    b.publish(e);
                }
            } else {
                b.publish_all(&mut batch);
            }
            let mut sub = b.subscribe().await;
            assert_consistent(&b, &mut sub);
        }
        assert_eq!(rebuilds(&b), 1, "never more than 64 events behind: always carried forward");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lapped_snapshot_is_rebuilt_at_most_once_per_interval() {
        let b = Broadcaster::builder().recent_jobs(4).channel_capacity(64).build().unwrap();
        let mut first = b.subscribe().await;
        assert_consistent(&b, &mut first);
        for i in 0..100 {
            b.publish(event(i % 6, JobStatus::Processing)); // laps the shared snapshot
        }
        let started = Instant::now();
        let mut second = b.subscribe().await;
        assert_eq!(started.elapsed(), SNAPSHOT_REBUILD_INTERVAL, "waited for the interval to end");
        assert_consistent(&b, &mut second);
        assert_eq!(rebuilds(&b), 2);

        // Two subscribers that need a rebuild inside one interval: one rebuild for both.
        for i in 0..100 {
            b.publish(event(i % 6, JobStatus::Completed));
        }
        let (mut third, mut fourth) = tokio::join!(b.subscribe(), b.subscribe());
        assert_eq!(rebuilds(&b), 3);
        assert_consistent(&b, &mut third);
        assert_consistent(&b, &mut fourth);
        assert_eq!(started.elapsed(), 2 * SNAPSHOT_REBUILD_INTERVAL);
    }

    #[test]
    fn carrying_the_snapshot_forward_does_not_take_the_publishers_lock() {
        let b = Broadcaster::new();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let _first = runtime.block_on(b.subscribe());
        for i in 0..500 {
            b.publish(event(i, JobStatus::Processing));
        }
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (locked, is_locked) = std::sync::mpsc::channel();
        let holder = std::thread::spawn({
            let b = b.clone();
            move || {
                let _state = b.lock();
                locked.send(()).unwrap();
                released.recv_timeout(std::time::Duration::from_secs(30)).ok();
            }
        });
        is_locked.recv().unwrap();
        let (done, is_done) = std::sync::mpsc::channel();
        let subscriber = std::thread::spawn({
            let b = b.clone();
            move || {
                let sub = runtime.block_on(b.subscribe());
                done.send((sub.seq, sub.snapshot.len())).unwrap();
            }
        });
        let result = is_done.recv_timeout(std::time::Duration::from_secs(10));
        release.send(()).unwrap();
        holder.join().unwrap();
        subscriber.join().unwrap();
        assert_eq!(result, Ok((500, 500)), "subscribed while a publisher held the lock");
    }

    #[test]
    fn merge_keeps_the_latest_of_the_most_recently_updated_jobs() {
        let b = Broadcaster::builder().recent_jobs(100).build().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        use JobStatus::*;
        let mut sub = runtime.block_on(b.subscribe());
        for (job, status) in [(1, Pending), (2, Pending), (3, Pending)] {
            b.publish(event(job, status));
        }
        let old: Vec<FrameRef> = (0..3).map(|_| sub.cursor.next().unwrap().to_entry()).collect();
        for (job, status) in [(2, Processing), (4, Pending), (2, Completed)] {
            b.publish(event(job, status));
        }
        let fresh: Vec<FrameRef> = (0..3).map(|_| sub.cursor.next().unwrap().to_entry()).collect();
        let all = [(1, 1, Pending), (3, 3, Pending), (4, 5, Pending), (2, 6, Completed)];
        assert_eq!(view(&merge(&old, &fresh, 10)), all);
        assert_eq!(view(&merge(&old, &fresh, 3)), all[1..]);
        assert_eq!(view(&merge(&old, &fresh, 1)), all[3..]);
        assert_eq!(view(&merge(&old, &[], 2)), [(2, 2, Pending), (3, 3, Pending)]);
    }

    #[test]
    fn every_subscription_is_consistent_while_a_publisher_races_it() {
        const EVENTS: u64 = 30_000;
        const RECENT: usize = 16;
        let job_of = |seq: u64| (seq.wrapping_mul(2654435761) >> 7) % 50;
        let b = Broadcaster::builder().recent_jobs(RECENT).channel_capacity(256).build().unwrap();
        let publisher = std::thread::spawn({
            let b = b.clone();
            move || {
                for seq in 1..=EVENTS {
                    b.publish(event(job_of(seq), JobStatus::Processing));
                }
            }
        });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let mut seen = Vec::new();
        for _ in 0..100_000 {
            let sub = runtime.block_on(b.subscribe());
            assert_eq!(sub.cursor.position(), sub.seq + 1);
            seen.push((sub.seq, view(&sub.snapshot)));
            if sub.seq == EVENTS {
                break;
            }
        }
        publisher.join().unwrap();
        assert!(seen.len() > 1);
        for (seq, snapshot) in seen {
            // The latest event of each of the last RECENT jobs updated up to `seq`.
            let mut expected: Vec<(u64, u64, JobStatus)> = Vec::new();
            for at in (1..=seq).rev() {
                if expected.len() == RECENT {
                    break;
                }
                if !expected.iter().any(|(job, _, _)| *job == job_of(at)) {
                    expected.push((job_of(at), at, JobStatus::Processing));
                }
            }
            expected.reverse();
            assert_eq!(snapshot, expected, "snapshot at {seq}");
        }
    }
}
