use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::{Future, ready};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rustc_hash::FxHashMap;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::Instrument;

use super::{
    DeadLetter, EnqueueOptions, Failure, MAX_LEASE, Outcome, Queue, QueueCounts, QueueError, Receipt,
    Reserved, Settlement,
};
use crate::config::ConfigError;
use crate::context::JobId;
use crate::metrics::{self, SentCounter};
use crate::status::{JobStatus, Name, StatusEvent, StatusSink, unix_now_ms};
use crate::trace::{self, TraceContext};

/// The embedded default queue: in-process, bounded, no external service.
///
/// Jobs live in memory only, so they do not survive the process; within it the delivery
/// contract is the durable one (leases, redelivery, dead letters). It publishes `PENDING`
/// for enqueued jobs to its status sink; outcome events are the runner's to publish (its
/// outcome calls never get one). `enqueue` waits while
/// the queue holds `capacity` live jobs (ready, delayed or reserved); `try_enqueue` fails
/// with [`QueueError::Full`] instead.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::queue::{MemoryQueue, Queue};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let queue = MemoryQueue::builder("emails").capacity(1000).build()?;
/// let id = queue.enqueue("hello".to_owned()).await?;
///
/// let reserved = queue.reserve(10, Duration::ZERO).await?;
/// assert_eq!(reserved[0].id, id);
/// assert_eq!(reserved[0].job, "hello");
/// queue.ack(reserved[0].receipt(), None).await?;
/// assert!(queue.is_empty());
/// # Ok(()) }
/// ```
pub struct MemoryQueue<J> {
    /// Interned: every `PENDING` event copies it (see `Name`).
    name: Name,
    capacity: usize,
    lease: Duration,
    status: Option<Arc<dyn StatusSink>>,
    state: Mutex<State<J>>,
    /// Signalled when jobs become ready.
    ready: Notify,
    /// Signalled when live jobs leave (room for a waiting `enqueue`).
    room: Notify,
    sent: SentCounter,
}

struct Entry<J> {
    id: JobId,
    job: J,
    /// Times handed out so far (a release takes one back).
    deliveries: u32,
    /// Since when it can be reserved, once in the ready list: for the queue's lag.
    ready_at: Stamp,
    /// What few jobs have, boxed so that the entries every job moves through stay small
    /// (a queue of small entries fits in the cache; 100 000 entries of 72 bytes did not).
    extra: Option<Box<Extra>>,
}

/// The rarely present part of an [`Entry`].
#[derive(Default)]
struct Extra {
    /// The failed deliveries so far, oldest first.
    failures: Vec<Failure>,
    /// The idempotency key it holds, if any.
    key: Option<String>,
    /// The trace context of the span that enqueued it, if one was recorded.
    trace: Option<Arc<TraceContext>>,
}

impl<J> Entry<J> {
    fn key(&self) -> Option<&str> {
        self.extra.as_ref()?.key.as_deref()
    }

    fn record(&mut self, failure: Failure) {
        self.extra.get_or_insert_default().failures.push(failure);
    }

    /// The failures and the key, taken out.
    fn take_extra(&mut self) -> Extra {
        self.extra.take().map(|extra| *extra).unwrap_or_default()
    }
}

/// A moment as milliseconds since the queue was built, in 32 bits so that an [`Entry`]
/// stays as small as it was (it fills the padding after `deliveries`). Ages are taken by
/// wrapping subtraction: right for any age under 49 days.
#[derive(Debug, Clone, Copy, Default)]
struct Stamp(u32);

impl Stamp {
    fn at(epoch: Instant, moment: Instant) -> Self {
        // Truncating on purpose: see the type's docs.
        Self(moment.saturating_duration_since(epoch).as_millis() as u32)
    }

    /// How long before `now` this moment was.
    fn age(self, now: Stamp) -> Duration {
        Duration::from_millis(u64::from(now.0.wrapping_sub(self.0)))
    }
}

/// A reserved job: the entry, when its lease ends, and the reservation's token.
struct Lease<J> {
    entry: Entry<J>,
    until: Instant,
    token: u64,
}

struct State<J> {
    /// When the queue was built: what [`Stamp`]s count from.
    epoch: Instant,
    next_id: u64,
    /// The last reservation token handed out.
    next_token: u64,
    ready: VecDeque<Entry<J>>,
    delayed: BTreeMap<(Instant, JobId), Entry<J>>,
    reserved: FxHashMap<JobId, Lease<J>>,
    /// Lease ends in reservation order (the lease is constant); entries whose job was acked
    /// meanwhile are skipped when they come up.
    leases: VecDeque<(Instant, JobId)>,
    dead: VecDeque<DeadLetter<J>>,
    /// Dead letters kept at most; the oldest leaves for a new one.
    dead_cap: usize,
    /// Dead letters dropped by the cap.
    evicted: u64,
    /// The jobs holding idempotency keys, until acked or purged.
    keys: FxHashMap<String, JobId>,
    /// The keys of dead letters, released when a dead letter leaves.
    dead_keys: FxHashMap<JobId, String>,
}

impl<J> State<J> {
    fn live(&self) -> usize {
        self.ready.len() + self.delayed.len() + self.reserved.len()
    }

    fn stamp(&self, moment: Instant) -> Stamp {
        Stamp::at(self.epoch, moment)
    }

    /// Moves due delayed jobs and expired leases to the ready list, each reservable since
    /// it fell due.
    fn promote(&mut self, now: Instant) {
        while let Some(entry) = self.delayed.first_entry() {
            let due = entry.key().0;
            if due > now {
                break;
            }
            let mut entry = entry.remove();
            entry.ready_at = self.stamp(due);
            self.ready.push_back(entry);
        }
        while let Some(&(until, id)) = self.leases.front() {
            if until > now {
                break;
            }
            self.leases.pop_front();
            if self.reserved.get(&id).is_some_and(|lease| lease.until == until)
                && let Some(mut lease) = self.reserved.remove(&id)
            {
                tracing::warn!(job_id = id.get(), "lease expired; the job goes back to the queue");
                lease.entry.ready_at = self.stamp(until);
                self.ready.push_back(lease.entry);
            }
        }
    }

    /// See [`Queue::oldest_ready_age`]: the wait of the job next in line, or of the most
    /// overdue delayed job or lease not yet promoted, if longer.
    fn oldest_ready_age(&self, now: Instant) -> Option<Duration> {
        let next_in_line = self.ready.front().map(|entry| entry.ready_at.age(self.stamp(now)));
        let due = self.delayed.keys().next().map(|&(due, _)| due).filter(|&due| due <= now);
        // Lease ends are queued in order; skip those of jobs settled or extended since.
        let lapsed = self
            .leases
            .iter()
            .take_while(|&&(until, _)| until <= now)
            .find(|&&(until, id)| self.reserved.get(&id).is_some_and(|lease| lease.until == until))
            .map(|&(until, _)| until);
        let overdue = due.into_iter().chain(lapsed).min().map(|since| now.saturating_duration_since(since));
        next_in_line.into_iter().chain(overdue).max()
    }

    /// Drops the queued lease ends of jobs settled or extended since, once they outnumber
    /// the live ones. They used to stay until their lease would have ended (5 minutes by
    /// default): 24 bytes per job, so a no-op worker grew by about 24 MiB per million jobs
    /// (the status soak bench). Amortized O(1) per lease; the rest keep their order, and
    /// they are exactly the ends `promote` would act on.
    fn compact_leases(&mut self) {
        if self.leases.len() > 2 * self.reserved.len() + 64 {
            let reserved = &self.reserved;
            self.leases.retain(|&(until, id)| reserved.get(&id).is_some_and(|lease| lease.until == until));
        }
    }

    /// When the next delayed job or lease falls due.
    fn next_due(&self) -> Option<Instant> {
        let delayed = self.delayed.keys().next().map(|(at, _)| *at);
        let lease = self.leases.front().map(|(at, _)| *at);
        delayed.into_iter().chain(lease).min()
    }

    /// Takes the job of a reservation that still holds (the job was not handed out again
    /// since). One hash lookup and no clock read: this is on every job's path, and an
    /// outcome that arrives after the lease ran out but before anyone else took the job is
    /// harmless to accept.
    fn take_reserved(&mut self, receipt: Receipt) -> Result<Entry<J>, QueueError> {
        match self.reserved.remove(&receipt.id) {
            Some(lease) if lease.token == receipt.token => Ok(lease.entry),
            Some(lease) => {
                self.reserved.insert(receipt.id, lease);
                Err(QueueError::LeaseLost(receipt.id))
            }
            None => Err(QueueError::LeaseLost(receipt.id)),
        }
    }

    /// Forgets the idempotency key `entry` held.
    fn release_key(&mut self, entry: &Entry<J>) {
        if let Some(key) = entry.key() {
            self.keys.remove(key);
        }
    }

    /// Forgets the job of a reservation that still holds.
    fn ack(&mut self, receipt: Receipt) -> Result<(), QueueError> {
        let entry = self.take_reserved(receipt)?;
        self.release_key(&entry);
        Ok(())
    }

    /// Records the outcome of the reservation `receipt`, noting in `wake` whom it concerns:
    /// a job that became ready, or room that was freed.
    fn settle(&mut self, receipt: Receipt, outcome: Outcome, wake: &mut Wake) -> Result<(), QueueError> {
        if matches!(outcome, Outcome::Ack) {
            wake.room = true;
            return self.ack(receipt);
        }
        let mut entry = self.take_reserved(receipt)?;
        match outcome {
            Outcome::Ack => {} // recorded above
            Outcome::Nack { failure, delay } => {
                entry.record(failure);
                self.push(entry, delay, Instant::now());
                wake.ready = true;
            }
            Outcome::Release => {
                entry.deliveries = entry.deliveries.saturating_sub(1);
                self.ready.push_front(entry);
                wake.ready = true;
            }
            Outcome::DeadLetter { failure } => {
                let Extra { failures, key, trace } = entry.take_extra();
                if let Some(key) = key {
                    self.dead_keys.insert(receipt.id, key);
                }
                let (job, deliveries) = (entry.job, entry.deliveries);
                self.make_room_for_dead_letter();
                self.dead.push_back(DeadLetter {
                    id: receipt.id,
                    job,
                    deliveries,
                    earlier: failures,
                    failure,
                    trace,
                });
                wake.room = true;
            }
        }
        Ok(())
    }

    /// Drops the oldest dead letter (and its idempotency key) when the cap is reached.
    fn make_room_for_dead_letter(&mut self) {
        if self.dead.len() < self.dead_cap {
            return;
        }
        let Some(oldest) = self.dead.pop_front() else { return };
        if let Some(key) = self.dead_keys.remove(&oldest.id) {
            self.keys.remove(&key);
        }
        self.evicted += 1;
        metrics::count_dead_letter_evicted();
        // The first eviction, then one line per thousand: a steady stream of failures must
        // not turn into a steady stream of log lines.
        if self.evicted % 1000 == 1 {
            tracing::warn!(
                job_id = oldest.id.get(),
                evicted = self.evicted,
                cap = self.dead_cap,
                "dead letters are full; the oldest was dropped"
            );
        }
    }

    /// Adds `job` under the next id (and records its idempotency key), ready at `now` or
    /// `delay` after it.
    fn add(
        &mut self,
        job: J,
        key: Option<&str>,
        trace: Option<Arc<TraceContext>>,
        delay: Duration,
        now: Instant,
    ) -> JobId {
        self.next_id += 1;
        let id = JobId::new(self.next_id);
        if let Some(key) = key {
            self.keys.insert(key.to_owned(), id);
        }
        let extra = (key.is_some() || trace.is_some())
            .then(|| Box::new(Extra { failures: Vec::new(), key: key.map(str::to_owned), trace }));
        self.push(Entry { id, job, deliveries: 0, ready_at: Stamp::default(), extra }, delay, now);
        id
    }

    /// Makes `entry` ready at `now`, or `delay` after it (a delay past the clock's range
    /// parks it at the end of the range).
    fn push(&mut self, mut entry: Entry<J>, delay: Duration, now: Instant) {
        if delay.is_zero() {
            entry.ready_at = self.stamp(now);
            self.ready.push_back(entry);
        } else {
            let due = now.checked_add(delay).unwrap_or_else(|| far_future(now));
            self.delayed.insert((due, entry.id), entry);
        }
    }
}

impl<J> MemoryQueue<J> {
    /// Starts building a queue named `name`.
    pub fn builder(name: impl Into<Arc<str>>) -> MemoryQueueBuilder<J> {
        MemoryQueueBuilder {
            name: name.into(),
            capacity: DEFAULT_CAPACITY,
            lease: DEFAULT_LEASE,
            dead_letter_cap: DEFAULT_DEAD_LETTER_CAP,
            status: None,
            job: PhantomData,
        }
    }

    /// Jobs ready, delayed or reserved.
    pub fn len(&self) -> usize {
        self.lock().live()
    }

    /// Whether no job is ready, delayed or reserved.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Jobs currently reserved by workers.
    pub fn reserved_len(&self) -> usize {
        self.lock().reserved.len()
    }

    /// Dead letters dropped so far because [`dead_letter_cap`](MemoryQueueBuilder::dead_letter_cap)
    /// was reached (each is also counted in `worker_utils_dead_letters_evicted_total`).
    ///
    /// ```
    /// # use worker_utils::queue::MemoryQueue;
    /// let queue = MemoryQueue::<u32>::builder("q").dead_letter_cap(100).build().unwrap();
    /// assert_eq!(queue.dead_letters_evicted(), 0);
    /// ```
    pub fn dead_letters_evicted(&self) -> u64 {
        self.lock().evicted
    }

    /// Deletes the dead letters with the given ids (and releases their idempotency keys), or
    /// every one when `ids` is empty, like `RedisQueue::purge_dead`. Returns how many were
    /// deleted.
    ///
    /// ```
    /// # use worker_utils::JobId;
    /// # use worker_utils::queue::MemoryQueue;
    /// let queue = MemoryQueue::<u32>::builder("q").build().unwrap();
    /// assert_eq!(queue.purge_dead(&[JobId::new(7)]), 0);
    /// ```
    pub fn purge_dead(&self, ids: &[JobId]) -> usize {
        let wanted: rustc_hash::FxHashSet<JobId> = ids.iter().copied().collect();
        let mut guard = self.lock();
        let state = &mut *guard;
        let before = state.dead.len();
        let (keys, dead_keys) = (&mut state.keys, &mut state.dead_keys);
        state.dead.retain(|letter| {
            let purge = wanted.is_empty() || wanted.contains(&letter.id);
            if purge && let Some(key) = dead_keys.remove(&letter.id) {
                keys.remove(&key);
            }
            !purge
        });
        before - state.dead.len()
    }

    /// Adds a job now, or fails with [`QueueError::Full`] instead of waiting for room.
    pub fn try_enqueue(&self, job: J) -> Result<JobId, QueueError> {
        let span = trace::send_span(&self.name, 1);
        let _entered = span.enter();
        self.try_push(job, &EnqueueOptions::default(), trace::capture(&span)).map_err(|_| self.full())
    }

    /// Adds `job`, waiting for room if the queue is full.
    async fn push(&self, mut job: J, options: &EnqueueOptions, trace: Option<&Arc<TraceContext>>) -> JobId {
        loop {
            let room = self.room.notified();
            match self.try_push(job, options, trace.cloned()) {
                Ok(id) => return id,
                Err(back) => job = back,
            }
            room.await;
        }
    }

    fn full(&self) -> QueueError {
        QueueError::Full { queue: self.name.to_string(), capacity: self.capacity }
    }

    fn lock(&self) -> MutexGuard<'_, State<J>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `job` if there is room (or returns the id of the job holding its idempotency
    /// key); gives it back otherwise.
    fn try_push(
        &self,
        job: J,
        options: &EnqueueOptions,
        trace: Option<Arc<TraceContext>>,
    ) -> Result<JobId, J> {
        let id = {
            let mut state = self.lock();
            let key = options.idempotency_key_value();
            if let Some(existing) = key.and_then(|key| state.keys.get(key)) {
                return Ok(*existing);
            }
            if state.live() >= self.capacity {
                return Err(job);
            }
            state.add(job, key, trace, options.delay_value(), Instant::now())
        };
        self.sent.add(&self.name, 1);
        self.ready.notify_one();
        self.publish(id, JobStatus::Pending);
        Ok(id)
    }

    /// Adds jobs from `jobs` while there is room, in order, and appends their ids to `ids`:
    /// under one lock, with one wake-up for the reservers and one batch of `PENDING` events
    /// (stamped with one clock reading). Job by job, a batch took the lock, woke a reserver
    /// and published an event of its own for every job.
    fn try_push_many(
        &self,
        jobs: &mut std::iter::Peekable<std::vec::IntoIter<J>>,
        trace: Option<&Arc<TraceContext>>,
        ids: &mut Vec<JobId>,
    ) {
        let first = ids.len();
        {
            let mut state = self.lock();
            // One reading for the batch: a read per job was 3 % of the worker bench's samples
            // (in its untimed `enqueue_batch` of 100 000 jobs).
            let now = Instant::now();
            while state.live() < self.capacity
                && let Some(job) = jobs.next()
            {
                ids.push(state.add(job, None, trace.cloned(), Duration::ZERO, now));
            }
        }
        let added = &ids[first..];
        if added.is_empty() {
            return;
        }
        self.sent.add(&self.name, added.len() as u64);
        // One reserver: it wakes the next while ready jobs are left.
        self.ready.notify_one();
        if let Some(sink) = &self.status {
            let at_ms = unix_now_ms();
            // Only the jobs the sink says anybody could see: with nobody watching, the
            // broadcaster keeps only its recent jobs' states (1 024 by default), and building
            // a `PENDING` for every job of 100 000 made the batch 3–4× slower than status off.
            let unseen = added.len().saturating_sub(sink.visible_jobs().unwrap_or(usize::MAX));
            let mut events: Vec<StatusEvent> = added[unseen..]
                .iter()
                .map(|&id| {
                    StatusEvent::from_worker(
                        id,
                        self.name.clone(),
                        Name::default(),
                        JobStatus::Pending,
                        at_ms,
                    )
                })
                .collect();
            sink.publish_all(&mut events);
        }
    }

    /// Records one outcome; see [`State::settle`].
    fn settle_one(&self, receipt: Receipt, outcome: Outcome) -> Result<(), QueueError> {
        let mut wake = Wake::default();
        let result = {
            let mut state = self.lock();
            let room_was_short = state.live() >= self.capacity;
            let result = state.settle(receipt, outcome, &mut wake);
            wake.room &= room_was_short;
            result
        };
        self.wake(wake);
        result
    }

    /// Wakes the reservers and producers that outcomes concern.
    fn wake(&self, wake: Wake) {
        if wake.ready {
            self.ready.notify_one();
        }
        // Only a full queue has producers waiting for room.
        if wake.room {
            self.room.notify_one();
        }
    }

    fn publish(&self, id: JobId, status: JobStatus) {
        if let Some(sink) = &self.status {
            sink.publish(StatusEvent::new(id, self.name.clone(), status));
        }
    }
}

impl<J: Clone + Send + 'static> Queue<J> for MemoryQueue<J> {
    fn name(&self) -> &str {
        &self.name
    }

    fn lease(&self) -> Duration {
        self.lease
    }

    async fn enqueue_with(&self, job: J, options: EnqueueOptions) -> Result<JobId, QueueError> {
        let span = trace::send_span(&self.name, 1);
        let trace = trace::capture(&span);
        Ok(self.push(job, &options, trace.as_ref()).instrument(span).await)
    }

    async fn enqueue_batch(&self, jobs: Vec<J>) -> Result<Vec<JobId>, QueueError> {
        let span = trace::send_span(&self.name, jobs.len());
        let trace = trace::capture(&span);
        let push_all = async {
            let mut ids = Vec::with_capacity(jobs.len());
            let mut jobs = jobs.into_iter().peekable();
            loop {
                // Before trying, so that room freed in between is not missed.
                let room = self.room.notified();
                self.try_push_many(&mut jobs, trace.as_ref(), &mut ids);
                if jobs.peek().is_none() {
                    return ids;
                }
                room.await;
            }
        };
        Ok(push_all.instrument(span).await)
    }

    async fn reserve(&self, max: usize, wait: Duration) -> Result<Vec<Reserved<J>>, QueueError> {
        let give_up_at = Instant::now() + wait;
        loop {
            let ready = self.ready.notified();
            let next_due = {
                let mut guard = self.lock();
                let state = &mut *guard;
                let now = Instant::now();
                state.promote(now);
                let count = max.min(state.ready.len());
                if count > 0 {
                    let lease_until = now + self.lease;
                    let mut batch = Vec::with_capacity(count);
                    for _ in 0..count {
                        let Some(mut entry) = state.ready.pop_front() else { break };
                        entry.deliveries += 1;
                        state.next_token += 1;
                        let token = state.next_token;
                        batch.push(Reserved {
                            id: entry.id,
                            job: entry.job.clone(),
                            delivery: entry.deliveries,
                            token,
                            trace: entry.extra.as_ref().and_then(|extra| extra.trace.clone()),
                        });
                        state.leases.push_back((lease_until, entry.id));
                        state.reserved.insert(entry.id, Lease { entry, until: lease_until, token });
                    }
                    state.compact_leases();
                    if !state.ready.is_empty() {
                        self.ready.notify_one();
                    }
                    return Ok(batch);
                }
                if now >= give_up_at {
                    return Ok(Vec::new());
                }
                state.next_due()
            };
            let wake_at = next_due.map_or(give_up_at, |due| due.min(give_up_at));
            tokio::select! {
                () = ready => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
        }
    }

    // The outcome calls do their work when called and return a ready future: no state
    // machine holds the (unused) event, which is every job's path.

    fn ack(
        &self,
        receipt: Receipt,
        _: Option<StatusEvent>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        let room_was_short = {
            let mut state = self.lock();
            let room_was_short = state.live() >= self.capacity;
            if let Err(error) = state.ack(receipt) {
                return ready(Err(error));
            }
            room_was_short
        };
        if room_was_short {
            self.room.notify_one();
        }
        ready(Ok(()))
    }

    fn nack(
        &self,
        receipt: Receipt,
        failure: Failure,
        delay: Duration,
        _: Option<StatusEvent>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        ready(self.settle_one(receipt, Outcome::Nack { failure, delay }))
    }

    fn release(
        &self,
        receipt: Receipt,
        _: Option<StatusEvent>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        ready(self.settle_one(receipt, Outcome::Release))
    }

    fn dead_letter(
        &self,
        receipt: Receipt,
        failure: Failure,
        _: Option<StatusEvent>,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        ready(self.settle_one(receipt, Outcome::DeadLetter { failure }))
    }

    /// All under one lock.
    async fn settle(&self, settlements: Vec<Settlement>) -> Vec<Result<(), QueueError>> {
        let mut wake = Wake::default();
        let results = {
            let mut state = self.lock();
            let room_was_short = state.live() >= self.capacity;
            let results = settlements
                .into_iter()
                .map(|Settlement { receipt, outcome, .. }| state.settle(receipt, outcome, &mut wake))
                .collect();
            wake.room &= room_was_short;
            results
        };
        self.wake(wake);
        results
    }

    async fn extend_leases(&self, receipts: &[Receipt]) -> Result<(), QueueError> {
        let mut state = self.lock();
        let now = Instant::now();
        let until = now.checked_add(self.lease).unwrap_or_else(|| far_future(now));
        for receipt in receipts {
            if let Some(lease) = state.reserved.get_mut(&receipt.id)
                && lease.token == receipt.token
                && lease.until > now
            {
                lease.until = until;
                state.leases.push_back((until, receipt.id));
            }
        }
        state.compact_leases();
        Ok(())
    }

    async fn counts(&self) -> Result<QueueCounts, QueueError> {
        let state = self.lock();
        let count = |n: usize| n as u64;
        Ok(QueueCounts {
            ready: count(state.ready.len()),
            delayed: count(state.delayed.len()),
            reserved: count(state.reserved.len()),
            dead: count(state.dead.len()),
        })
    }

    async fn oldest_ready_age(&self) -> Result<Option<Duration>, QueueError> {
        Ok(self.lock().oldest_ready_age(Instant::now()))
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter<J>>, QueueError> {
        Ok(self.lock().dead.iter().cloned().collect())
    }

    async fn requeue_dead(&self, id: JobId) -> Result<JobId, QueueError> {
        let letter = {
            let mut state = self.lock();
            let index = state.dead.iter().position(|d| d.id == id).ok_or(QueueError::UnknownJob(id))?;
            let letter = state.dead.remove(index).ok_or(QueueError::UnknownJob(id))?;
            let key = state.dead_keys.remove(&id);
            if let Some(key) = &key {
                state.keys.remove(key);
            }
            (letter, key)
        };
        let (letter, key) = letter;
        let options = match key {
            Some(key) => EnqueueOptions::default().idempotency_key(key),
            None => EnqueueOptions::default(),
        };
        self.enqueue_with(letter.job, options).await
    }
}

/// Whom recorded outcomes concern.
#[derive(Debug, Default, Clone, Copy)]
struct Wake {
    /// A job became ready: a waiting reserver.
    ready: bool,
    /// A live job left a full queue: a waiting producer.
    room: bool,
}

/// About 30 years from `now`: later than any delay a policy allows, within any clock's range.
fn far_future(now: Instant) -> Instant {
    now + Duration::from_secs(30 * 365 * 24 * 3600)
}

impl<J> fmt::Debug for MemoryQueue<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryQueue")
            .field("name", &self.name)
            .field("capacity", &self.capacity)
            .field("lease", &self.lease)
            .field("ready", &state.ready.len())
            .field("delayed", &state.delayed.len())
            .field("reserved", &state.reserved.len())
            .field("dead", &state.dead.len())
            .finish()
    }
}

/// Builds a [`MemoryQueue`]; [`build`](Self::build) checks the values.
///
/// ```
/// use std::time::Duration;
/// use worker_utils::queue::MemoryQueue;
///
/// let err = MemoryQueue::<u32>::builder("q").capacity(0).build().unwrap_err();
/// assert_eq!(err.field(), "capacity");
/// let queue = MemoryQueue::<u32>::builder("q").lease(Duration::from_secs(60)).build().unwrap();
/// ```
pub struct MemoryQueueBuilder<J> {
    name: Arc<str>,
    capacity: usize,
    lease: Duration,
    dead_letter_cap: usize,
    status: Option<Arc<dyn StatusSink>>,
    job: PhantomData<fn(J) -> J>,
}

/// Live jobs at most, unless told otherwise.
const DEFAULT_CAPACITY: usize = 100_000;
/// How long a reservation lasts, unless told otherwise.
const DEFAULT_LEASE: Duration = Duration::from_secs(300);
/// Dead letters kept, unless told otherwise.
const DEFAULT_DEAD_LETTER_CAP: usize = 10_000;

impl<J> MemoryQueueBuilder<J> {
    /// Live jobs (ready, delayed, reserved) at most; at least 1.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// How long a reservation lasts before the job is handed out again; more than zero and
    /// at most [`MAX_LEASE`] (one day).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Dead letters kept at most (default 10 000, at least 1): past it, the oldest is
    /// dropped, counted in [`MemoryQueue::dead_letters_evicted`] and logged.
    pub fn dead_letter_cap(mut self, letters: usize) -> Self {
        self.dead_letter_cap = letters;
        self
    }

    /// Publishes `PENDING` to `sink` for every enqueued job (of a batch, for as many of its
    /// last jobs as [`StatusSink::visible_jobs`] says anybody could see).
    pub fn status(mut self, sink: impl StatusSink) -> Self {
        self.status = Some(Arc::new(sink));
        self
    }

    /// Checks the values and builds the queue (defaults: capacity 100 000, lease 5 min,
    /// 10 000 dead letters).
    pub fn build(self) -> Result<MemoryQueue<J>, ConfigError> {
        if self.capacity == 0 {
            return Err(ConfigError::new("capacity", "must be at least 1"));
        }
        if self.lease.is_zero() || self.lease > MAX_LEASE {
            return Err(ConfigError::new(
                "lease",
                format!("{:?} is not between zero (excluded) and 1 day", self.lease),
            ));
        }
        if self.dead_letter_cap == 0 {
            return Err(ConfigError::new("dead_letter_cap", "must be at least 1"));
        }
        Ok(MemoryQueue {
            name: Name::interned(&self.name),
            capacity: self.capacity,
            lease: self.lease,
            status: self.status,
            state: Mutex::new(State {
                epoch: Instant::now(),
                next_id: 0,
                next_token: 0,
                ready: VecDeque::new(),
                delayed: BTreeMap::new(),
                reserved: FxHashMap::default(),
                leases: VecDeque::new(),
                dead: VecDeque::new(),
                dead_cap: self.dead_letter_cap,
                evicted: 0,
                keys: FxHashMap::default(),
                dead_keys: FxHashMap::default(),
            }),
            ready: Notify::new(),
            room: Notify::new(),
            sent: SentCounter::default(),
        })
    }
}

impl<J> fmt::Debug for MemoryQueueBuilder<J> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryQueueBuilder")
            .field("name", &self.name)
            .field("capacity", &self.capacity)
            .field("lease", &self.lease)
            .field("dead_letter_cap", &self.dead_letter_cap)
            .field("status", &self.status.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settled_leases_do_not_pile_up_until_their_end() {
        let queue = MemoryQueue::builder("q").build().unwrap();
        for round in 0..100_u64 {
            queue.enqueue_batch((0..50).map(|i| round * 50 + i).collect()).await.unwrap();
            let reserved = queue.reserve(50, Duration::ZERO).await.unwrap();
            // Extending and then settling leaves two stale lease ends per job.
            queue.extend_leases(&reserved.iter().map(Reserved::receipt).collect::<Vec<_>>()).await.unwrap();
            for job in &reserved[1..] {
                queue.ack(job.receipt(), None).await.unwrap();
            }
        }
        let state = queue.lock();
        // One job per round is still reserved; 10 000 lease ends were queued. At most twice
        // the jobs reserved at the last compaction (149) plus 64 are kept.
        assert_eq!(state.reserved.len(), 100);
        assert!(state.leases.len() <= 2 * 149 + 64, "{} lease ends kept", state.leases.len());
        let live = state
            .leases
            .iter()
            .filter(|(until, id)| state.reserved.get(id).is_some_and(|l| l.until == *until))
            .count();
        assert_eq!(live, 100, "every live lease keeps its end");
    }

    #[tokio::test]
    async fn a_batch_builds_pending_events_only_for_the_jobs_anybody_could_see() {
        let broadcaster = crate::status::Broadcaster::builder().recent_jobs(100).build().unwrap();
        // Through an `Arc`, whose sink forwards `visible_jobs`.
        let queue = MemoryQueue::builder("q").status(Arc::new(broadcaster.clone())).build().unwrap();
        queue.enqueue_batch((0..1_000).collect()).await.unwrap();
        // Nobody listens: the last 100 jobs only, numbered from 1.
        let seen: Vec<(u64, u64)> = broadcaster.snapshot().iter().map(|e| (e.job_id.get(), e.seq)).collect();
        assert_eq!(seen, (901..=1_000).zip(1..).collect::<Vec<_>>());
        // A client listens: every job of the next batch.
        let _client = broadcaster.subscribe().await;
        queue.enqueue_batch((0..1_000).collect()).await.unwrap();
        assert_eq!(broadcaster.last_seq(), 1_100);
    }

    #[tokio::test]
    async fn a_batch_larger_than_the_room_waits_for_it_and_keeps_its_order() {
        let broadcaster = crate::status::Broadcaster::new();
        let queue =
            Arc::new(MemoryQueue::builder("q").capacity(4).status(broadcaster.clone()).build().unwrap());
        let producer = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.enqueue_batch((1..=10).collect()).await.unwrap() }
        });
        let mut taken = Vec::new();
        while taken.len() < 10 {
            for job in queue.reserve(3, Duration::from_secs(5)).await.unwrap() {
                taken.push(job.job);
                queue.ack(job.receipt(), None).await.unwrap();
            }
        }
        let ids = producer.await.unwrap();
        assert_eq!(taken, (1..=10).collect::<Vec<u64>>(), "jobs come out in batch order");
        assert_eq!(ids.iter().map(|id| id.get()).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
        // One PENDING per job, in order, each numbered once.
        let pending: Vec<(u64, u64)> =
            broadcaster.snapshot().iter().map(|e| (e.job_id.get(), e.seq)).collect();
        assert_eq!(pending, (1..=10).map(|id| (id, id)).collect::<Vec<_>>());
        assert!(broadcaster.snapshot().iter().all(|e| e.status == JobStatus::Pending && &*e.queue == "q"));
    }

    #[test]
    fn the_ready_stamp_fits_in_an_entrys_padding() {
        // 8 (id) + 8 (job) + 4 (deliveries) + 4 (ready_at) + 8 (extra): as small as before.
        assert_eq!(std::mem::size_of::<Entry<u64>>(), 32);
    }

    #[test]
    fn ages_are_right_across_the_stamps_wrap() {
        let (before, after) = (Stamp(u32::MAX - 499), Stamp(500));
        assert_eq!(before.age(after), Duration::from_secs(1));
        let epoch = Instant::now();
        let stamp = Stamp::at(epoch, epoch + Duration::from_millis(1500));
        assert_eq!(stamp.age(Stamp::at(epoch, epoch + Duration::from_secs(4))), Duration::from_millis(2500));
    }
}
