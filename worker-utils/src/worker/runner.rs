//! The run loop: the runner's slots reserve batches, run each job through the pipeline,
//! record its outcome and publish its status; the heartbeat extends the leases they hold,
//! and shutdown gives back whatever did not finish. Configured by `builder`.

mod builder;
mod clock;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use builder::RunnerBuilder;
use clock::SlotClock;

use super::redelivery::{DeadLetterCause, Redelivery, RedeliveryPolicy};
use super::{JobOf, Worker};
use crate::action::Action;
use crate::alert::{AlertMonitor, Finished, Step};
use crate::context::{ActionContext, JobId, Scope};
use crate::error::ActionError;
use crate::error_handling::Panicked;
use crate::metrics::{JobMetrics, QueueSampler};
use crate::queue::{Failure, Outcome, Queue, QueueError, Receipt, Reserved, Settlement};
use crate::status::{JobStatus, Name, StatusEvent, StatusSink, unix_now_ms};
use crate::timeout::millis;
use crate::trace::{self, ProducerTrace, SpanSlot};

/// How long one `reserve` call waits for work before the slot checks for shutdown again.
const RESERVE_WAIT: Duration = Duration::from_millis(250);
/// Events a slot collects before it hands them to the sink in one batch (it also sends
/// them whenever a job waits, and after every batch of jobs).
const OUTBOX_LIMIT: usize = 64;
/// How long a slot pauses after a queue error before trying again.
const QUEUE_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Runs a [`Worker`] against a [`Queue`]: `concurrency` slots each reserve a batch of jobs
/// and run them one after another through the pipeline (no task per job).
///
/// For each job: PROCESSING, then the pipeline inside a panic guard, then
/// - success: ack, COMPLETED with the duration;
/// - a failure its [`RedeliveryPolicy`] redelivers (by default a `Transient` or `System`
///   error that outlived the action's own retries, on deliveries 1 to 4): nack with the
///   policy's delay, PENDING with the next delivery number, when it is due and the error;
/// - any other failure (a `Permanent` or `BusinessLogic` error, a panic, the last allowed
///   delivery): dead letter with every delivery's attempts, FAILED with the error kind
///   and message. So an observer sees exactly one COMPLETED or FAILED per job;
/// - cancelled by shutdown: given back to the queue, PENDING again (not a failed delivery).
///
/// A job handed out more often than the policy allows without an outcome (its workers
/// crashed or lost their leases) is dead-lettered without running again.
///
/// Shutdown (the token passed to [`run`](Self::run)): slots stop reserving, and the jobs
/// they reserved but had not started go back to the queue at once; jobs in flight get the
/// grace period to finish; then their contexts are cancelled (retry waits stop at once) and whatever still
/// runs is dropped and given back to the queue. Nothing vanishes. See the
/// [module docs](super) for an example.
pub struct Runner<W: Worker, Q> {
    shared: Arc<Shared<W, Q>>,
    concurrency: usize,
    grace: Duration,
}

struct Shared<W: Worker, Q> {
    pipeline: W::Pipeline,
    queue: Arc<Q>,
    deps: Arc<W::Deps>,
    /// `None` when nobody listens: no event is even built.
    status: Option<Arc<dyn StatusSink>>,
    queue_name: Name,
    worker_id: Name,
    batch: usize,
    redelivery: RedeliveryPolicy,
    producer_trace: ProducerTrace,
    stats: Arc<RunStats>,
    job_metrics: JobMetrics,
    /// `None` without alert rules: recording an outcome then checks only this.
    alerts: Option<Arc<AlertMonitor>>,
}

/// Live counters of a run; cheap to read while it goes on.
#[derive(Debug, Default)]
pub struct RunStats {
    completed: AtomicU64,
    dead_lettered: AtomicU64,
    redelivered: AtomicU64,
    returned: AtomicU64,
    retries: AtomicU64,
    panics: AtomicU64,
    slot_restarts: AtomicU64,
}

impl RunStats {
    /// Jobs completed.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Jobs that failed and went to the dead letters.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// Failed deliveries sent back to the queue for a later delivery.
    pub fn redelivered(&self) -> u64 {
        self.redelivered.load(Ordering::Relaxed)
    }

    /// Jobs given back to the queue unfinished (shutdown).
    pub fn returned(&self) -> u64 {
        self.returned.load(Ordering::Relaxed)
    }

    /// Retries scheduled by the pipelines' retry loops.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Jobs whose pipeline panicked, caught by the runner or by an action's error handling
    /// (they are dead-lettered too).
    pub fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    /// Slots that ended outside any job (a panic in the queue or the status sink, say) and
    /// were replaced; each is logged as an error.
    pub fn slot_restarts(&self) -> u64 {
        self.slot_restarts.load(Ordering::Relaxed)
    }

    /// Jobs completed or dead-lettered.
    pub fn finished(&self) -> u64 {
        self.completed() + self.dead_lettered()
    }

    fn report(&self, worker_id: &str, unfinished: Vec<JobId>) -> RunReport {
        RunReport {
            worker_id: worker_id.to_owned(),
            completed: self.completed(),
            dead_lettered: self.dead_lettered(),
            redelivered: self.redelivered(),
            returned: self.returned(),
            retries: self.retries(),
            panics: self.panics(),
            slot_restarts: self.slot_restarts(),
            unfinished,
        }
    }
}

/// What a finished run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// The runner's worker id.
    pub worker_id: String,
    /// Jobs completed.
    pub completed: u64,
    /// Jobs dead-lettered.
    pub dead_lettered: u64,
    /// Failed deliveries sent back to the queue for a later delivery.
    pub redelivered: u64,
    /// Jobs given back to the queue unfinished.
    pub returned: u64,
    /// Retries scheduled.
    pub retries: u64,
    /// Pipelines that panicked.
    pub panics: u64,
    /// Slots that ended outside any job and were replaced (see [`RunStats::slot_restarts`]).
    pub slot_restarts: u64,
    /// Jobs that had started and were still running when the grace period ended; they were
    /// given back to the queue (as were the reserved jobs that had not started).
    pub unfinished: Vec<JobId>,
}

/// A slot's current batch, shared with the runner and the heartbeat: which jobs it holds
/// (their leases are extended), which it has not started (given back at once when shutdown
/// begins), and which it started and did not finish (given back when the slot dies or the
/// grace period ends). Locked once per batch; per job, one atomic add and one plain store.
#[derive(Debug, Default)]
struct SlotProgress {
    batch: Mutex<Batch>,
    /// Jobs of the batch the slot started, with [`CLAIMED`] set once the rest was taken from
    /// it: whoever sets the bit first (the slot or the runner) gives those back.
    started: AtomicUsize,
    /// Jobs of the batch finished; written by the slot alone.
    done: AtomicUsize,
}

#[derive(Debug, Default)]
struct Batch {
    receipts: Vec<Receipt>,
    /// Where the jobs not started began when they were claimed.
    claimed_from: Option<usize>,
}

/// The bit of [`SlotProgress::started`] that says the jobs not started were taken away.
const CLAIMED: usize = 1 << (usize::BITS - 1);

impl SlotProgress {
    fn lock(&self) -> std::sync::MutexGuard<'_, Batch> {
        self.batch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn start(&self, receipts: Vec<Receipt>) {
        let mut batch = self.lock();
        *batch = Batch { receipts, claimed_from: None };
        self.done.store(0, Ordering::Release);
        self.started.store(0, Ordering::Release);
    }

    /// Takes the next job of the batch for the slot; `false` once the rest was claimed (the
    /// slot then stops, so the count past the claim is never read).
    fn try_start(&self) -> bool {
        self.started.fetch_add(1, Ordering::AcqRel) & CLAIMED == 0
    }

    fn finish_one(&self) {
        // Only the slot writes it: a plain store, not a read-modify-write.
        self.done.store(self.done.load(Ordering::Relaxed) + 1, Ordering::Release);
    }

    /// Takes the jobs of the batch not started yet, to give them back; whoever claims second
    /// gets none.
    fn claim_unstarted(&self) -> Vec<Receipt> {
        let mut batch = self.lock();
        let started = self.started.fetch_or(CLAIMED, Ordering::AcqRel);
        if started & CLAIMED != 0 {
            return Vec::new();
        }
        let from = started.min(batch.receipts.len());
        batch.claimed_from = Some(from);
        batch.receipts[from..].to_vec()
    }

    /// The jobs the slot still holds: started and not finished, and not started unless
    /// claimed.
    fn unfinished(&self) -> Vec<Receipt> {
        let batch = self.lock();
        let end = batch.claimed_from.unwrap_or(batch.receipts.len());
        batch.receipts.get(self.done.load(Ordering::Acquire)..end).unwrap_or_default().to_vec()
    }
}

impl<W, Q> Runner<W, Q>
where
    W: Worker,
    Q: Queue<JobOf<W>>,
{
    /// Starts building a runner of `worker` on `queue` with `deps`.
    pub fn builder(worker: W, queue: Arc<Q>, deps: W::Deps) -> RunnerBuilder<W, Q> {
        RunnerBuilder::new(worker, queue, deps)
    }

    /// The live counters of this runner.
    pub fn stats(&self) -> Arc<RunStats> {
        self.shared.stats.clone()
    }

    /// This runner's worker id.
    pub fn worker_id(&self) -> &str {
        &self.shared.worker_id
    }

    /// Runs until `shutdown` is cancelled, then shuts down gracefully and reports.
    pub async fn run(self, shutdown: CancellationToken) -> RunReport {
        let hard_stop = CancellationToken::new();
        let progress: Arc<[Arc<SlotProgress>]> = (0..self.concurrency).map(|_| Arc::default()).collect();
        let heartbeat = tokio::spawn(heartbeat(self.shared.queue.clone(), progress.clone()));
        // Metrics: the queue's lag and counts, sampled while the runner runs (when enabled).
        let _sampler = QueueSampler::if_enabled(&self.shared.queue);
        let alerts = self.shared.alerts.as_ref().map(AlertMonitor::start);
        let start = |slots: &mut JoinSet<()>, index: usize| {
            let task =
                slot(self.shared.clone(), shutdown.clone(), hard_stop.clone(), progress[index].clone());
            (slots.spawn(task).id(), index)
        };
        let mut slots = JoinSet::new();
        let mut slot_of: HashMap<tokio::task::Id, usize> =
            (0..self.concurrency).map(|i| start(&mut slots, i)).collect();
        tracing::info!(
            worker = &*self.shared.worker_id,
            queue = &*self.shared.queue_name,
            concurrency = self.concurrency,
            "worker started"
        );

        // Until shutdown, a slot ends only by a panic outside any job (a job's own panic
        // fails the job): give back what it held and start another in its place.
        loop {
            let ended = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                Some(ended) = slots.join_next_with_id() => ended,
            };
            let (id, panic) = match ended {
                Ok((id, ())) => (id, None),
                Err(error) => (error.id(), Some(error)),
            };
            let Some(index) = slot_of.remove(&id) else { continue };
            tracing::error!(
                worker = &*self.shared.worker_id,
                slot = index,
                error = panic.as_ref().map(tracing::field::display),
                "a worker slot ended outside any job; its jobs go back to the queue and a new slot replaces it"
            );
            self.shared.stats.slot_restarts.fetch_add(1, Ordering::Relaxed);
            self.shared.give_back_all(progress[index].unfinished()).await;
            // Not in a tight loop, if whatever killed it happens again at once.
            tokio::time::sleep(QUEUE_ERROR_PAUSE).await;
            let (id, index) = start(&mut slots, index);
            slot_of.insert(id, index);
        }

        // The jobs the slots reserved but have not started go back now, not after the grace.
        let unstarted = progress.iter().flat_map(|slot| slot.claim_unstarted());
        self.shared.give_back_all(unstarted.collect()).await;
        let drained = tokio::time::timeout(self.grace, drain(&mut slots)).await.is_ok();
        let mut unfinished = Vec::new();
        if !drained {
            // Cancel the jobs still running (retry waits end at once), give them a moment
            // to return, then drop what is left and give its jobs back to the queue.
            hard_stop.cancel();
            if tokio::time::timeout(Duration::from_millis(50), drain(&mut slots)).await.is_err() {
                slots.abort_all();
                drain(&mut slots).await;
            }
            let held: Vec<Receipt> = progress.iter().flat_map(|slot| slot.unfinished()).collect();
            unfinished.extend(held.iter().map(|receipt| receipt.id));
            self.shared.give_back_all(held).await;
        }
        heartbeat.abort();
        if let Some(alerts) = alerts {
            alerts.stop(self.grace).await;
        }
        let report = self.shared.stats.report(&self.shared.worker_id, unfinished);
        tracing::info!(worker = &*self.shared.worker_id, ?report, "worker stopped");
        report
    }
}

/// Extends the leases of every job the slots hold (running or waiting in their batch) three
/// times per lease, so that a job that runs long is not handed to another worker.
async fn heartbeat<J, Q: Queue<J>>(queue: Arc<Q>, progress: Arc<[Arc<SlotProgress>]>) {
    let period = queue.lease() / 3;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let held: Vec<Receipt> = progress.iter().flat_map(|slot| slot.unfinished()).collect();
        if let Err(error) = queue.extend_leases(&held).await {
            tracing::debug!(queue = queue.name(), error = %error, "cannot extend leases; trying again next beat");
        }
    }
}

async fn drain(slots: &mut JoinSet<()>) {
    while let Some(joined) = slots.join_next().await {
        if let Err(e) = joined
            && e.is_panic()
        {
            tracing::error!(error = %e, "a worker slot panicked outside any job");
        }
    }
}

/// One unit of concurrency: reserve a batch, run its jobs in order, repeat.
async fn slot<W, Q>(
    shared: Arc<Shared<W, Q>>,
    shutdown: CancellationToken,
    hard_stop: CancellationToken,
    progress: Arc<SlotProgress>,
) where
    W: Worker,
    Q: Queue<JobOf<W>>,
{
    let scope = Scope::new(shared.queue_name.clone(), shared.worker_id.clone(), hard_stop);
    // A token of the slot's own, cancelled with the runner's: `is_cancelled` locks the
    // token's mutex, and checked per job on the one token all slots share, that lock went
    // back and forth between their cores.
    let shutdown = shutdown.child_token();
    let mut state = SlotState::default();
    while !shutdown.is_cancelled() {
        let reserved = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            reserved = shared.queue.reserve(shared.batch, RESERVE_WAIT) => reserved,
        };
        // The reserve may have waited: the next job's start is read afresh.
        state.clock.forget();
        let batch = match reserved {
            Ok(batch) => batch,
            Err(error) => {
                match &error {
                    QueueError::Backend(_) => {
                        tracing::debug!(queue = &*shared.queue_name, error = %error, "cannot reserve jobs")
                    }
                    _ => tracing::error!(queue = &*shared.queue_name, error = %error, "cannot reserve jobs"),
                }
                tokio::time::sleep(QUEUE_ERROR_PAUSE).await;
                continue;
            }
        };
        // Metrics: the jobs consumed (one relaxed load when metrics are off).
        shared.job_metrics.consumed(batch.len());
        progress.start(batch.iter().map(Reserved::receipt).collect());
        for job in batch {
            if shutdown.is_cancelled() {
                for receipt in progress.claim_unstarted() {
                    shared.give_back(receipt, &mut state).await;
                }
                break;
            }
            if !progress.try_start() {
                break; // the runner gave back the rest of the batch
            }
            shared.process(job, &scope, &mut state).await;
            progress.finish_one();
            if state.pending.len() >= PENDING_LIMIT {
                drop_superseded(&mut state);
                Box::pin(shared.settle_now(&mut state)).await;
            }
        }
        if state.has_outcomes() {
            // Boxed: only queues that publish outcomes get here, and the slot's own future
            // stays small for the in-memory queue's sake.
            drop_superseded(&mut state);
            Box::pin(shared.settle_now(&mut state)).await;
        }
        shared.flush(&mut state.outbox);
    }
}

/// What a slot carries from job to job: status events not yet sent, and outcomes not yet
/// recorded.
#[derive(Default)]
struct SlotState {
    outbox: Vec<StatusEvent>,
    /// Outcomes waiting for one `Queue::settle` call; only for a queue that publishes
    /// outcome events itself, where one call per batch instead of one per job is what a
    /// networked queue needs (each call is a round trip). A queue that does not gets each
    /// outcome at once, so that a job's status events stay together in the outbox, where a
    /// batch with nobody listening can drop its superseded ones.
    pending: Vec<Settlement>,
    tallies: Vec<Tally>,
    /// The outcomes handed to a background task when a job started to wait.
    in_flight: Option<tokio::task::JoinHandle<()>>,
    /// The timestamps of the slot's events.
    clock: SlotClock,
}

impl SlotState {
    /// Whether outcomes wait to be recorded, or are being recorded in the background.
    fn has_outcomes(&self) -> bool {
        !self.pending.is_empty() || self.in_flight.is_some()
    }
}

/// Drops from the outbox the PROCESSING events of jobs whose outcome is about to be
/// recorded: their outcome event supersedes them before anybody could see them, as the
/// status server's rate limit and the broadcaster's batches would. For a queue that
/// publishes outcomes this is a third of the events a job writes to Redis.
fn drop_superseded(state: &mut SlotState) {
    if state.pending.is_empty() || state.outbox.is_empty() {
        return;
    }
    let finished: rustc_hash::FxHashSet<JobId> = state.pending.iter().map(|s| s.receipt.id).collect();
    state.outbox.retain(|event| event.status != JobStatus::Processing || !finished.contains(&event.job_id));
}

/// What a recorded outcome counts as, and the event to publish once it is recorded (for
/// a queue that does not publish outcomes).
struct Tally {
    id: JobId,
    counter: Counter,
    event: Option<StatusEvent>,
}

/// The run statistic an outcome adds to; it outlives the [`Outcome`], which the queue takes.
#[derive(Clone, Copy)]
enum Counter {
    Completed,
    /// With the step that failed, for alert rules that watch one action.
    Redelivered(Step),
    DeadLettered(Step),
    Returned,
}

impl Counter {
    /// The counter of `outcome`; the failed step is looked up only when there are alerts.
    fn of(outcome: &Outcome, alerts: Option<&AlertMonitor>) -> Self {
        let step = |failure: &Failure| alerts.map_or(Step::UNKNOWN, |alerts| alerts.step_of(&failure.action));
        match outcome {
            Outcome::Ack => Counter::Completed,
            Outcome::Nack { failure, .. } => Counter::Redelivered(step(failure)),
            Outcome::DeadLetter { failure } => Counter::DeadLettered(step(failure)),
            Outcome::Release => Counter::Returned,
        }
    }

    /// What it is to the alert rules; a job given back did not finish.
    fn finished(self) -> Option<Finished> {
        match self {
            Counter::Completed => Some(Finished::Completed),
            Counter::Redelivered(step) => Some(Finished::Redelivered(step)),
            Counter::DeadLettered(step) => Some(Finished::DeadLettered(step)),
            Counter::Returned => None,
        }
    }

    /// The queue operation that records it, for logs.
    fn operation(self) -> &'static str {
        match self {
            Counter::Completed => "ack",
            Counter::Redelivered(_) => "nack",
            Counter::DeadLettered(_) => "dead-letter",
            Counter::Returned => "release",
        }
    }
}

/// Outcomes a slot holds before it records them, unless a batch ends or a job waits first.
const PENDING_LIMIT: usize = 256;

impl<W, Q> Shared<W, Q>
where
    W: Worker,
    Q: Queue<JobOf<W>>,
{
    async fn process(
        self: &Arc<Self>,
        reserved: Reserved<JobOf<W>>,
        scope: &Arc<Scope>,
        state: &mut SlotState,
    ) {
        let receipt = reserved.receipt();
        let Reserved { id, job, delivery, trace, .. } = reserved;
        let span = trace::process_span(&self.queue_name, id, delivery, trace.as_deref(), self.producer_trace);
        // When the job starts, read only if anybody listens (its PROCESSING is built later).
        let mut started =
            self.status.is_some().then(|| Started { at_ms: state.clock.start(), announced: false });
        if delivery > self.redelivery.max_deliveries() {
            // Boxed, like every failure branch below: off the success path, so that the
            // job's future stays small and its poll inlines into the slot's.
            return Box::pin(self.dead_letter_unrun(receipt, delivery, scope, &span, state)).await;
        }
        let ctx = ActionContext::in_scope(scope.clone(), id, delivery, span);
        // Metrics: the processing time starts (no clock read when metrics are off).
        let timer = self.job_metrics.start();

        // Events wait in the outbox, and outcomes in `pending`, while the job runs without
        // waiting; once it waits, they go out, so PROCESSING is visible for as long as the job
        // is in flight and earlier jobs' outcomes are not held up by a long one.
        // The call to `execute` is guarded as well as its future: a panic in eager work before
        // the future exists fails the job like one inside it.
        // The job's span is entered while its call is built and polled, so that spans the
        // actions open (and the user's own) nest under it.
        // A one-step pipeline's `action` span (once spans are on) is entered here too, rather
        // than by a wrapper future: a wrapper around every job's call cost the no-op worker.
        let action = ctx.span().in_scope(|| SpanSlot::for_pipeline(&self.pipeline));
        let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _entered = (ctx.span().enter(), action.enter());
            self.pipeline.execute(job, &self.deps, &ctx)
        })) {
            Ok(call) => {
                let mut call = std::pin::pin!(AssertUnwindSafe(call).catch_unwind());
                std::future::poll_fn(|cx| {
                    let poll = {
                        let _entered = (ctx.span().enter(), action.enter());
                        call.as_mut().poll(cx)
                    };
                    if poll.is_pending() {
                        self.announce(&mut started, scope, id, delivery, &mut state.outbox);
                        drop_superseded(state);
                        self.flush(&mut state.outbox);
                        self.settle_in_background(state);
                    }
                    poll
                })
                .await
            }
            Err(payload) => Err(payload),
        };
        self.stats.retries.fetch_add(u64::from(ctx.retries()), Ordering::Relaxed);
        let result = outcome.unwrap_or_else(|payload| {
            Err(ActionError::system(Panicked::from_payload(payload)).in_context(self.pipeline.name(), &ctx))
        });
        action.finish(&result);
        // Metrics: the processing time ends, labelled with the error kind of a failure.
        self.job_metrics.processed(timer, &result);
        // A job that never waited: its PROCESSING goes before its outcome only if the sink
        // wants superseded events.
        if self.status.as_ref().is_some_and(|sink| sink.wants_superseded()) {
            self.announce(&mut started, scope, id, delivery, &mut state.outbox);
        }
        let started = started.map(|started| started.at_ms);
        match result {
            Ok(_) => {
                // The success path, spelled out rather than through `record`, so that the job's
                // future holds no state of the failure outcomes.
                let mut event =
                    || finished(scope, id, delivery, JobStatus::Completed, started, state.clock.end());
                if self.queue.publishes_outcomes() {
                    self.defer(receipt, Outcome::Ack, event(), state);
                } else if self.accepted(id, Counter::Completed, self.queue.ack(receipt, None).await) {
                    self.count(Counter::Completed);
                    self.publish(&mut state.outbox, event);
                }
            }
            Err(error) if error.is_cancelled() => Box::pin(self.give_back(receipt, state)).await,
            Err(error) => {
                let error = error.in_context(self.pipeline.name(), &ctx);
                Box::pin(self.fail(receipt, delivery, error, (scope, started, ctx.span()), state)).await;
            }
        }
    }

    /// Redelivers or dead-letters a failed job, by the redelivery policy.
    async fn fail(
        self: &Arc<Self>,
        receipt: Receipt,
        delivery: u32,
        error: ActionError,
        (scope, started, span): (&Arc<Scope>, Option<u64>, &tracing::Span),
        state: &mut SlotState,
    ) {
        let id = receipt.id;
        let failure = Failure::from_error(&error, delivery);
        trace::record_failure(span, &error);
        match self.redelivery.decide(&error, delivery) {
            Redelivery::After(delay) => {
                tracing::info!(parent: span, delay_ms = millis(delay), "job redelivery scheduled");
                let event = || {
                    let mut event = event(
                        scope,
                        id,
                        delivery + 1,
                        JobStatus::Pending,
                        JobStatus::Processing,
                        unix_now_ms(),
                    );
                    event.due_at_ms = Some(event.timestamp_ms.saturating_add(millis(delay)));
                    event.error(&error)
                };
                let nack = Outcome::Nack { failure, delay };
                self.record(receipt, nack, event, state).await;
            }
            Redelivery::DeadLetter(cause) => {
                tracing::info!(parent: span, cause = ?cause, "job dead-lettered");
                if cause == DeadLetterCause::Panicked {
                    self.stats.panics.fetch_add(1, Ordering::Relaxed);
                }
                let event =
                    || finished(scope, id, delivery, JobStatus::Failed, started, unix_now_ms()).error(&error);
                let dead = Outcome::DeadLetter { failure };
                self.record(receipt, dead, event, state).await;
            }
        }
    }

    /// Dead-letters a job that was handed out more often than the policy allows without an
    /// outcome: the workers that held it stopped (a crash, a kill) or lost their leases.
    async fn dead_letter_unrun(
        self: &Arc<Self>,
        receipt: Receipt,
        delivery: u32,
        scope: &Arc<Scope>,
        span: &tracing::Span,
        state: &mut SlotState,
    ) {
        let id = receipt.id;
        let error =
            ActionError::system(DeliveriesExhausted { delivery, max: self.redelivery.max_deliveries() })
                .stamped(self.pipeline.name(), 0, Some(id));
        trace::record_failure(span, &error);
        tracing::info!(parent: span, cause = ?DeadLetterCause::DeliveriesExhausted, "job dead-lettered");
        let failure = Outcome::DeadLetter { failure: Failure::from_error(&error, delivery) };
        let event =
            || event(scope, id, delivery, JobStatus::Failed, JobStatus::Pending, unix_now_ms()).error(&error);
        self.record(receipt, failure, event, state).await;
    }

    /// Records an outcome and publishes its status event: through the queue, atomically
    /// with the outcome, when the queue publishes outcomes itself (then the outcome waits in
    /// `pending` for the slot's next `settle` call); otherwise at once, and the event goes
    /// to the runner's sink once the queue took the outcome.
    async fn record(
        self: &Arc<Self>,
        receipt: Receipt,
        outcome: Outcome,
        event: impl FnOnce() -> StatusEvent,
        state: &mut SlotState,
    ) {
        if self.queue.publishes_outcomes() {
            return self.defer(receipt, outcome, event(), state);
        }
        let (id, counter) = (receipt.id, Counter::of(&outcome, self.alerts.as_deref()));
        let result = match outcome {
            Outcome::Ack => self.queue.ack(receipt, None).await,
            Outcome::Nack { failure, delay } => self.queue.nack(receipt, failure, delay, None).await,
            Outcome::Release => self.queue.release(receipt, None).await,
            Outcome::DeadLetter { failure } => self.queue.dead_letter(receipt, failure, None).await,
        };
        if self.accepted(id, counter, result) {
            self.count(counter);
            self.publish(&mut state.outbox, event);
        }
    }

    /// Keeps an outcome for the slot's next `settle` call (the slot makes it at the end of
    /// the batch, when a job waits, or when [`PENDING_LIMIT`] outcomes are kept).
    fn defer(&self, receipt: Receipt, outcome: Outcome, event: StatusEvent, state: &mut SlotState) {
        let counter = Counter::of(&outcome, self.alerts.as_deref());
        state.pending.push(Settlement { receipt, outcome, event: Some(event) });
        state.tallies.push(Tally { id: receipt.id, counter, event: None });
    }

    /// Records the slot's pending outcomes now, after any still in flight.
    async fn settle_now(&self, state: &mut SlotState) {
        // The slot waits here: the next job's start is read afresh.
        state.clock.forget();
        if let Some(in_flight) = state.in_flight.take() {
            let _ = in_flight.await;
        }
        if state.pending.is_empty() {
            return;
        }
        let settlements = std::mem::take(&mut state.pending);
        let tallies = std::mem::take(&mut state.tallies);
        let results = self.queue.settle(settlements).await;
        self.tally(tallies, results, &mut state.outbox);
    }

    /// Records the slot's pending outcomes in a task of their own (after any still in
    /// flight), so that a job that waits does not hold up the outcomes of the jobs before it.
    fn settle_in_background(self: &Arc<Self>, state: &mut SlotState) {
        if state.pending.is_empty() {
            return;
        }
        let settlements = std::mem::take(&mut state.pending);
        let tallies = std::mem::take(&mut state.tallies);
        let previous = state.in_flight.take();
        let shared = self.clone();
        state.in_flight = Some(tokio::spawn(async move {
            if let Some(previous) = previous {
                let _ = previous.await;
            }
            let results = shared.queue.settle(settlements).await;
            let mut events = Vec::new();
            shared.tally(tallies, results, &mut events);
            shared.flush(&mut events);
        }));
    }

    /// Counts the outcomes the queue took, and publishes their events.
    fn tally(
        &self,
        tallies: Vec<Tally>,
        results: Vec<Result<(), QueueError>>,
        outbox: &mut Vec<StatusEvent>,
    ) {
        for (tally, result) in tallies.into_iter().zip(results) {
            if self.accepted(tally.id, tally.counter, result) {
                self.count(tally.counter);
                if let Some(event) = tally.event {
                    self.publish(outbox, || event);
                }
            }
        }
    }

    fn count(&self, counter: Counter) {
        let stat = match counter {
            Counter::Completed => &self.stats.completed,
            Counter::Redelivered(_) => &self.stats.redelivered,
            Counter::DeadLettered(_) => &self.stats.dead_lettered,
            Counter::Returned => &self.stats.returned,
        };
        stat.fetch_add(1, Ordering::Relaxed);
        if let Some(alerts) = &self.alerts
            && let Some(finished) = counter.finished()
        {
            alerts.record(finished);
        }
    }

    /// Whether the queue took a job's outcome; logs the refusal if not. A refused outcome
    /// publishes nothing: the job is someone else's now (its lease ran out), or the queue
    /// will hand it out again, and that delivery will report it.
    fn accepted(&self, id: JobId, counter: Counter, result: Result<(), QueueError>) -> bool {
        let operation = counter.operation();
        match result {
            Ok(()) => true,
            Err(QueueError::LeaseLost(_)) => {
                tracing::warn!(
                    job_id = id.get(),
                    operation,
                    "the job's lease ran out before its outcome was recorded; another delivery will report it"
                );
                false
            }
            // The backend logs an outage once when it starts and once when it ends; one line
            // per job here would flood the log while it lasts.
            Err(error @ QueueError::Backend(_)) => {
                tracing::debug!(job_id = id.get(), operation, error = %error, "cannot record a job's outcome; it will run again");
                false
            }
            Err(error) => {
                tracing::error!(job_id = id.get(), operation, error = %error, "cannot record a job's outcome; it will run again");
                false
            }
        }
    }

    /// Returns the jobs of `receipts` to the queue and publishes their events now: for the
    /// runner, which has no slot state of its own.
    async fn give_back_all(self: &Arc<Self>, receipts: Vec<Receipt>) {
        if receipts.is_empty() {
            return;
        }
        let mut state = SlotState::default();
        for receipt in receipts {
            self.give_back(receipt, &mut state).await;
        }
        self.settle_now(&mut state).await;
        self.flush(&mut state.outbox);
    }

    /// Returns an unfinished job to the queue, to be handed out again at once.
    async fn give_back(self: &Arc<Self>, receipt: Receipt, state: &mut SlotState) {
        let id = receipt.id;
        let event = || {
            StatusEvent::from_worker(
                id,
                self.queue_name.clone(),
                self.worker_id.clone(),
                JobStatus::Pending,
                unix_now_ms(),
            )
            .previous(JobStatus::Processing)
        };
        self.record(receipt, Outcome::Release, event, state).await;
    }

    /// Puts the job's PROCESSING in the outbox, unless it is there already.
    fn announce(
        &self,
        started: &mut Option<Started>,
        scope: &Scope,
        id: JobId,
        delivery: u32,
        outbox: &mut Vec<StatusEvent>,
    ) {
        if let Some(started) = started
            && !started.announced
        {
            started.announced = true;
            let at_ms = started.at_ms;
            self.publish(outbox, || {
                event(scope, id, delivery, JobStatus::Processing, JobStatus::Pending, at_ms)
            });
        }
    }

    /// Builds an event if anybody listens and puts it in the slot's outbox, sending the
    /// outbox when it is full.
    fn publish(&self, outbox: &mut Vec<StatusEvent>, event: impl FnOnce() -> StatusEvent) {
        if self.status.is_none() {
            return;
        }
        outbox.push(event());
        // A queue that publishes outcomes leaves the outbox to the slot, which drops the
        // PROCESSING of jobs that finished before it is sent (at most a batch of events).
        if outbox.len() >= OUTBOX_LIMIT && !self.queue.publishes_outcomes() {
            self.flush(outbox);
        }
    }

    /// Hands the outbox's events to the sink, in order, in one batch.
    fn flush(&self, outbox: &mut Vec<StatusEvent>) {
        if let Some(sink) = &self.status
            && !outbox.is_empty()
        {
            sink.publish_all(outbox);
        }
    }
}

/// A job was handed out more often than its redelivery policy allows, without an outcome.
#[derive(Debug, thiserror::Error)]
#[error(
    "handed out {delivery} times, more than max_deliveries ({max}), without an outcome: the workers that took it stopped or lost their leases"
)]
struct DeliveriesExhausted {
    delivery: u32,
    max: u32,
}

/// When a job started, for its PROCESSING event and its duration; that event is built only
/// once somebody can see it: when the job first waits (it is in flight then, and goes out at
/// once), or before its outcome if the sink wants superseded events. Otherwise (the
/// broadcaster's case) a job that finishes without waiting reports its outcome alone, and
/// its PROCESSING costs nothing.
#[derive(Clone, Copy)]
struct Started {
    at_ms: u64,
    /// Whether its PROCESSING is in the outbox (or sent).
    announced: bool,
}

/// An event of a job run in the slot of `scope`, stamped `at_ms`.
fn event(
    scope: &Scope,
    id: JobId,
    delivery: u32,
    status: JobStatus,
    previous: JobStatus,
    at_ms: u64,
) -> StatusEvent {
    let mut event =
        StatusEvent::from_worker(id, scope.queue_name().clone(), scope.worker_name().clone(), status, at_ms)
            .previous(previous);
    event.attempt = delivery;
    event
}

/// The terminal event, stamped `at_ms`, of a job that started at `started_ms`; the duration
/// comes from the two timestamps, saving two clock reads per job.
fn finished(
    scope: &Scope,
    id: JobId,
    delivery: u32,
    status: JobStatus,
    started_ms: Option<u64>,
    at_ms: u64,
) -> StatusEvent {
    let mut event = event(scope, id, delivery, status, JobStatus::Processing, at_ms);
    event.duration_ms = started_ms.map(|started| event.timestamp_ms.saturating_sub(started));
    event
}

impl<W: Worker, Q> fmt::Debug for Runner<W, Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("worker_id", &self.shared.worker_id)
            .field("queue", &self.shared.queue_name)
            .field("concurrency", &self.concurrency)
            .field("batch", &self.shared.batch)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}
