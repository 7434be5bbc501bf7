use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::redelivery::{DeadLetterCause, Redelivery, RedeliveryPolicy};
use super::{JobOf, Worker};
use crate::action::Action;
use crate::config::ConfigError;
use crate::context::{ActionContext, JobId, Scope};
use crate::error::ActionError;
use crate::error_handling::Panicked;
use crate::queue::{Failure, Queue, QueueError, Receipt, Reserved};
use crate::status::{JobStatus, StatusEvent, StatusSink};

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
/// Shutdown (the token passed to [`run`](Self::run)): slots stop reserving and give back
/// the jobs of their batch they had not started; jobs in flight get the grace period to
/// finish; then their contexts are cancelled (retry waits stop at once) and whatever still
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
    queue_name: Arc<str>,
    worker_id: Arc<str>,
    batch: usize,
    redelivery: RedeliveryPolicy,
    stats: Arc<RunStats>,
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
    /// Jobs still running when the grace period ended; they were given back to the queue.
    pub unfinished: Vec<JobId>,
}

/// Which jobs of a slot's current batch are not finished yet, so that a slot that is
/// dropped at the end of the grace period can give them back. Locked once per batch.
#[derive(Debug, Default)]
struct SlotProgress {
    batch: Mutex<Vec<Receipt>>,
    done: AtomicUsize,
}

impl SlotProgress {
    fn start(&self, receipts: Vec<Receipt>) {
        *self.batch.lock().unwrap_or_else(PoisonError::into_inner) = receipts;
        self.done.store(0, Ordering::Release);
    }

    fn finish_one(&self) {
        self.done.fetch_add(1, Ordering::Release);
    }

    fn unfinished(&self) -> Vec<Receipt> {
        let batch = self.batch.lock().unwrap_or_else(PoisonError::into_inner);
        batch.get(self.done.load(Ordering::Acquire)..).unwrap_or_default().to_vec()
    }
}

static NEXT_WORKER: AtomicU64 = AtomicU64::new(1);

/// A worker id unique in this process and across processes on the host: queue, pid, counter.
fn unique_worker_id(queue: &str) -> String {
    format!("{queue}-{}-{}", std::process::id(), NEXT_WORKER.fetch_add(1, Ordering::Relaxed))
}

impl<W, Q> Runner<W, Q>
where
    W: Worker,
    Q: Queue<JobOf<W>>,
{
    /// Starts building a runner of `worker` on `queue` with `deps`.
    pub fn builder(worker: W, queue: Arc<Q>, deps: W::Deps) -> RunnerBuilder<W, Q> {
        RunnerBuilder {
            concurrency: worker.concurrency(),
            worker,
            queue,
            deps: Arc::new(deps),
            status: None,
            batch: RunnerBuilder::<W, Q>::DEFAULT_BATCH,
            grace: RunnerBuilder::<W, Q>::DEFAULT_GRACE,
            worker_id: None,
            redelivery: None,
        }
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
        let mut slots = JoinSet::new();
        for slot_progress in progress.iter() {
            slots.spawn(slot(
                self.shared.clone(),
                shutdown.clone(),
                hard_stop.clone(),
                slot_progress.clone(),
            ));
        }
        tracing::info!(
            worker = &*self.shared.worker_id,
            queue = &*self.shared.queue_name,
            concurrency = self.concurrency,
            "worker started"
        );

        shutdown.cancelled().await;
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
            let mut outbox = Vec::new();
            for slot_progress in progress.iter() {
                for receipt in slot_progress.unfinished() {
                    self.shared.give_back(receipt, &mut outbox).await;
                    unfinished.push(receipt.id);
                }
            }
            self.shared.flush(&mut outbox);
        }
        heartbeat.abort();
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
    // Names of its own (not clones of the runner's), so that the reference counts the
    // slot's contexts and events touch stay on this slot's core.
    let scope = Scope::new(Arc::from(&*shared.queue_name), Arc::from(&*shared.worker_id), hard_stop);
    let mut outbox = Vec::with_capacity(OUTBOX_LIMIT);
    while !shutdown.is_cancelled() {
        let reserved = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            reserved = shared.queue.reserve(shared.batch, RESERVE_WAIT) => reserved,
        };
        let batch = match reserved {
            Ok(batch) => batch,
            Err(error) => {
                tracing::error!(queue = &*shared.queue_name, error = %error, "cannot reserve jobs");
                tokio::time::sleep(QUEUE_ERROR_PAUSE).await;
                continue;
            }
        };
        progress.start(batch.iter().map(Reserved::receipt).collect());
        let mut jobs = batch.into_iter();
        for job in jobs.by_ref() {
            if shutdown.is_cancelled() {
                shared.give_back(job.receipt(), &mut outbox).await;
                progress.finish_one();
                break;
            }
            shared.process(job, &scope, &mut outbox).await;
            progress.finish_one();
        }
        for job in jobs {
            shared.give_back(job.receipt(), &mut outbox).await;
            progress.finish_one();
        }
        shared.flush(&mut outbox);
    }
}

impl<W, Q> Shared<W, Q>
where
    W: Worker,
    Q: Queue<JobOf<W>>,
{
    async fn process(&self, reserved: Reserved<JobOf<W>>, scope: &Arc<Scope>, outbox: &mut Vec<StatusEvent>) {
        let receipt = reserved.receipt();
        let Reserved { id, job, delivery, .. } = reserved;
        if delivery > self.redelivery.max_deliveries() {
            // Boxed, like every failure branch below: off the success path, so that the
            // job's future stays small and its poll inlines into the slot's.
            return Box::pin(self.dead_letter_unrun(receipt, delivery, scope, outbox)).await;
        }
        let span = tracing::info_span!("job", job_id = id.get(), queue = &*self.queue_name, delivery);
        let ctx = ActionContext::in_scope(scope.clone(), id, delivery, span);
        let started =
            self.publish(outbox, || event(scope, id, delivery, JobStatus::Processing, JobStatus::Pending));

        // Events wait in the outbox while the job runs without waiting; once it waits, they go
        // out, so PROCESSING is visible for as long as the job is in flight.
        let mut call =
            std::pin::pin!(AssertUnwindSafe(self.pipeline.execute(job, &self.deps, &ctx)).catch_unwind());
        let outcome = std::future::poll_fn(|cx| {
            let poll = call.as_mut().poll(cx);
            if poll.is_pending() {
                self.flush(outbox);
            }
            poll
        })
        .await;
        self.stats.retries.fetch_add(u64::from(ctx.retries()), Ordering::Relaxed);
        let result = outcome.unwrap_or_else(|payload| {
            Err(ActionError::system(Panicked::from_payload(payload)).in_context(self.pipeline.name(), &ctx))
        });
        match result {
            Ok(_) => {
                let event = || finished(scope, id, delivery, JobStatus::Completed, started);
                if self.record(id, "ack", outbox, event, |event| self.queue.ack(receipt, event)).await {
                    self.stats.completed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(error) if error.is_cancelled() => Box::pin(self.give_back(receipt, outbox)).await,
            Err(error) => {
                let error = error.in_context(self.pipeline.name(), &ctx);
                Box::pin(self.fail(receipt, delivery, error, (scope, started), outbox)).await;
            }
        }
    }

    /// Redelivers or dead-letters a failed job, by the redelivery policy.
    async fn fail(
        &self,
        receipt: Receipt,
        delivery: u32,
        error: ActionError,
        (scope, started): (&Arc<Scope>, Option<u64>),
        outbox: &mut Vec<StatusEvent>,
    ) {
        let id = receipt.id;
        let failure = Failure::from_error(&error, delivery);
        match self.redelivery.decide(&error, delivery) {
            Redelivery::After(delay) => {
                let event = || {
                    let mut event = event(scope, id, delivery + 1, JobStatus::Pending, JobStatus::Processing);
                    event.due_at_ms = Some(event.timestamp_ms.saturating_add(millis(delay)));
                    event.error(&error)
                };
                let nack = |event| self.queue.nack(receipt, failure, delay, event);
                if self.record(id, "nack", outbox, event, nack).await {
                    self.stats.redelivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            Redelivery::DeadLetter(cause) => {
                if cause == DeadLetterCause::Panicked {
                    self.stats.panics.fetch_add(1, Ordering::Relaxed);
                }
                let event = || finished(scope, id, delivery, JobStatus::Failed, started).error(&error);
                let dead_letter = |event| self.queue.dead_letter(receipt, failure, event);
                if self.record(id, "dead-letter", outbox, event, dead_letter).await {
                    self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Dead-letters a job that was handed out more often than the policy allows without an
    /// outcome: the workers that held it stopped (a crash, a kill) or lost their leases.
    async fn dead_letter_unrun(
        &self,
        receipt: Receipt,
        delivery: u32,
        scope: &Arc<Scope>,
        outbox: &mut Vec<StatusEvent>,
    ) {
        let id = receipt.id;
        let error =
            ActionError::system(DeliveriesExhausted { delivery, max: self.redelivery.max_deliveries() })
                .stamped(self.pipeline.name(), 0, Some(id));
        let failure = Failure::from_error(&error, delivery);
        let event = || event(scope, id, delivery, JobStatus::Failed, JobStatus::Pending).error(&error);
        let dead_letter = |event| self.queue.dead_letter(receipt, failure, event);
        if self.record(id, "dead-letter", outbox, event, dead_letter).await {
            self.stats.dead_lettered.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether the queue took a job's outcome; logs the refusal if not. A refused outcome
    /// publishes nothing: the job is someone else's now (its lease ran out), or the queue
    /// will hand it out again, and that delivery will report it.
    /// Records an outcome and publishes its status event: through the queue, atomically
    /// with the outcome, when the queue publishes outcomes itself; otherwise to the runner's
    /// sink once the queue took the outcome. Returns whether the outcome was recorded.
    async fn record<F>(
        &self,
        id: JobId,
        operation: &str,
        outbox: &mut Vec<StatusEvent>,
        event: impl FnOnce() -> StatusEvent,
        outcome: impl FnOnce(Option<StatusEvent>) -> F,
    ) -> bool
    where
        F: Future<Output = Result<(), QueueError>>,
    {
        if self.queue.publishes_outcomes() {
            return self.settle(id, operation, outcome(Some(event())).await);
        }
        let recorded = self.settle(id, operation, outcome(None).await);
        if recorded {
            self.publish(outbox, event);
        }
        recorded
    }

    fn settle(&self, id: JobId, operation: &str, result: Result<(), QueueError>) -> bool {
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
            Err(error) => {
                tracing::error!(job_id = id.get(), operation, error = %error, "cannot record a job's outcome; it will run again");
                false
            }
        }
    }

    /// Returns an unfinished job to the queue, to be handed out again at once.
    async fn give_back(&self, receipt: Receipt, outbox: &mut Vec<StatusEvent>) {
        let id = receipt.id;
        let event = || {
            StatusEvent::from_worker(id, self.queue_name.clone(), self.worker_id.clone(), JobStatus::Pending)
                .previous(JobStatus::Processing)
        };
        if self.record(id, "release", outbox, event, |event| self.queue.release(receipt, event)).await {
            self.stats.returned.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Builds an event if anybody listens and puts it in the slot's outbox, sending the
    /// outbox when it is full; returns the event's timestamp.
    fn publish(&self, outbox: &mut Vec<StatusEvent>, event: impl FnOnce() -> StatusEvent) -> Option<u64> {
        self.status.as_ref()?;
        let event = event();
        let timestamp = event.timestamp_ms;
        outbox.push(event);
        if outbox.len() >= OUTBOX_LIMIT {
            self.flush(outbox);
        }
        Some(timestamp)
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// An event of a job run in the slot of `scope`.
fn event(scope: &Scope, id: JobId, delivery: u32, status: JobStatus, previous: JobStatus) -> StatusEvent {
    let mut event =
        StatusEvent::from_worker(id, scope.queue_arc().clone(), scope.worker_arc().clone(), status)
            .previous(previous);
    event.attempt = delivery;
    event
}

/// The terminal event of a job whose PROCESSING event was stamped `started_ms`; the
/// duration comes from the two timestamps, saving two clock reads per job.
fn finished(
    scope: &Scope,
    id: JobId,
    delivery: u32,
    status: JobStatus,
    started_ms: Option<u64>,
) -> StatusEvent {
    let mut event = event(scope, id, delivery, status, JobStatus::Processing);
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

/// Builds a [`Runner`]; [`build`](Self::build) checks the values.
pub struct RunnerBuilder<W: Worker, Q> {
    worker: W,
    queue: Arc<Q>,
    deps: Arc<W::Deps>,
    status: Option<Arc<dyn StatusSink>>,
    concurrency: usize,
    batch: usize,
    grace: Duration,
    worker_id: Option<String>,
    redelivery: Option<RedeliveryPolicy>,
}

impl<W, Q> RunnerBuilder<W, Q>
where
    W: Worker,
    Q: Queue<JobOf<W>>,
{
    /// Jobs a slot reserves at once, unless told otherwise.
    pub const DEFAULT_BATCH: usize = 16;
    /// How long in-flight jobs may take to finish after shutdown, unless told otherwise.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

    /// Publishes status events to `sink` (default: discarded).
    pub fn status(mut self, sink: impl StatusSink) -> Self {
        self.status = Some(Arc::new(sink));
        self
    }

    /// Jobs running at once (default: the worker's own `concurrency()`).
    pub fn concurrency(mut self, slots: usize) -> Self {
        self.concurrency = slots;
        self
    }

    /// Jobs a slot reserves at once (default 16). A larger batch costs fewer queue round
    /// trips; reserved jobs wait in the slot, so keep it small for long jobs on a short lease.
    pub fn batch(mut self, jobs: usize) -> Self {
        self.batch = jobs;
        self
    }

    /// How long in-flight jobs may take to finish after shutdown (default 30 s).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Which failed jobs go back to the queue and after how long (default: the worker's
    /// own [`Worker::redelivery`], which `#[worker(redeliver(..))]` sets).
    pub fn redelivery(mut self, policy: RedeliveryPolicy) -> Self {
        self.redelivery = Some(policy);
        self
    }

    /// Names this worker instance (default: `{queue}-{pid}-{n}`, unique per instance).
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.worker_id = Some(id.into());
        self
    }

    /// Checks the values and builds the runner.
    pub fn build(self) -> Result<Runner<W, Q>, ConfigError> {
        if self.concurrency == 0 {
            return Err(ConfigError::new("concurrency", "must be at least 1"));
        }
        if self.batch == 0 {
            return Err(ConfigError::new("batch", "must be at least 1"));
        }
        let queue_name = self.queue.name();
        if queue_name != self.worker.queue() {
            return Err(ConfigError::new(
                "queue",
                format!("the worker consumes `{}` but was given queue `{queue_name}`", self.worker.queue()),
            ));
        }
        let pipeline = self.worker.pipeline();
        let redelivery = self.redelivery.unwrap_or_else(|| self.worker.redelivery());
        check_lease(&pipeline, queue_name, self.queue.lease())?;
        let queue_name: Arc<str> = Arc::from(queue_name);
        let worker_id = self.worker_id.unwrap_or_else(|| unique_worker_id(&queue_name));
        Ok(Runner {
            shared: Arc::new(Shared {
                pipeline,
                queue: self.queue,
                deps: self.deps,
                status: self.status,
                queue_name,
                worker_id: Arc::from(worker_id),
                batch: self.batch,
                redelivery,
                stats: Arc::default(),
            }),
            concurrency: self.concurrency,
            grace: self.grace,
        })
    }
}

/// Refuses a pipeline that may still be running when the queue hands its job to another
/// worker: the duplicate execution that Celery users meet (celery#3270).
fn check_lease<D: ?Sized + Sync>(
    pipeline: &impl Action<D>,
    queue: &str,
    lease: Duration,
) -> Result<(), ConfigError> {
    match pipeline.worst_case() {
        Some(worst) if worst >= lease => Err(ConfigError::new(
            "lease",
            format!(
                "action `{}` can run for up to {worst:?} (every attempt timing out, every retry waiting \
                 its longest) but queue `{queue}` leases a job for {lease:?}: the job could be handed to \
                 another worker while this one still works on it; make the lease longer than {worst:?} or \
                 lower the timeouts, attempts or max_delay",
                pipeline.name()
            ),
        )),
        Some(_) => Ok(()),
        None => {
            tracing::warn!(
                action = pipeline.name(),
                queue,
                ?lease,
                "the pipeline has no time limit (a step without a timeout); a job that outlives its lease runs twice"
            );
            Ok(())
        }
    }
}

impl<W: Worker, Q> fmt::Debug for RunnerBuilder<W, Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunnerBuilder")
            .field("concurrency", &self.concurrency)
            .field("batch", &self.batch)
            .field("grace", &self.grace)
            .field("worker_id", &self.worker_id)
            .field("redelivery", &self.redelivery)
            .finish_non_exhaustive()
    }
}
