//! Configuring a [`Runner`]: the [`RunnerBuilder`], its bounds, and the check that a
//! pipeline cannot outlive its queue's lease.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Runner, Shared};
use crate::action::Action;
use crate::alert::{AlertHandler, AlertMonitor, AlertRule, DynAlertHandler};
use crate::config::ConfigError;
use crate::metrics::JobMetrics;
use crate::queue::Queue;
use crate::status::{Name, StatusSink};
use crate::trace::ProducerTrace;
use crate::worker::redelivery::RedeliveryPolicy;
use crate::worker::{JobOf, Worker};

static NEXT_WORKER: AtomicU64 = AtomicU64::new(1);

/// A worker id unique in this process and across processes on the host: queue, pid, counter.
fn unique_worker_id(queue: &str) -> String {
    format!("{queue}-{}-{}", std::process::id(), NEXT_WORKER.fetch_add(1, Ordering::Relaxed))
}

/// Builds a [`Runner`]; [`build`](Self::build) checks the values.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use worker_utils::prelude::*;
/// use worker_utils::queue::MemoryQueue;
/// use worker_utils::worker::Runner;
///
/// #[action(timeout = "5s")]
/// async fn send_mail(to: String) -> Result<(), ActionError> {
///     Ok(())
/// }
///
/// #[worker(queue = "mail", pipeline = [send_mail])]
/// struct Mailer;
///
/// let queue = Arc::new(MemoryQueue::builder("mail").build().unwrap());
/// let runner = Runner::builder(Mailer, queue.clone(), ())
///     .concurrency(8)
///     .batch(32)
///     .grace(Duration::from_secs(10))
///     .worker_id("mailer-1")
///     .build()
///     .unwrap();
/// assert_eq!(runner.worker_id(), "mailer-1");
///
/// let err = Runner::builder(Mailer, queue, ()).batch(0).build().unwrap_err();
/// assert_eq!(err.field(), "batch");
/// ```
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
    producer_trace: ProducerTrace,
    alerts: Vec<AlertRule>,
    alert_handler: Option<Arc<dyn DynAlertHandler>>,
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

    pub(super) fn new(worker: W, queue: Arc<Q>, deps: W::Deps) -> Self {
        Self {
            concurrency: worker.concurrency(),
            worker,
            queue,
            deps: Arc::new(deps),
            status: None,
            batch: Self::DEFAULT_BATCH,
            grace: Self::DEFAULT_GRACE,
            worker_id: None,
            redelivery: None,
            producer_trace: ProducerTrace::default(),
            alerts: Vec::new(),
            alert_handler: None,
        }
    }

    /// Publishes status events to `sink` (default: discarded).
    pub fn status(mut self, sink: impl StatusSink) -> Self {
        self.status = Some(Arc::new(sink));
        self
    }

    /// Jobs running at once (default: the worker's own `concurrency()`); 1 to 1 000 000
    /// (`#[worker(concurrency = ..)]` stops at 10 000 and points here for more).
    pub fn concurrency(mut self, slots: usize) -> Self {
        self.concurrency = slots;
        self
    }

    /// Jobs a slot reserves at once (default 16; 1 to 10 000). A larger batch costs fewer queue round
    /// trips; reserved jobs wait in the slot, so keep it small for long jobs on a short lease.
    pub fn batch(mut self, jobs: usize) -> Self {
        self.batch = jobs;
        self
    }

    /// How long in-flight jobs may take to finish after shutdown (default 30 s, at most a
    /// day).
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

    /// How each delivery's `process` span relates to the span that enqueued the job
    /// (default: its child; see [`trace`](crate::trace)). Matters only with the `otel`
    /// feature, which carries the producer's trace context with the job.
    pub fn producer_trace(mut self, relation: ProducerTrace) -> Self {
        self.producer_trace = relation;
        self
    }

    /// Watches the run with an alert rule (call once per rule; added to the worker's own
    /// [`Worker::alerts`], which `#[worker(alert(..))]` sets). See [`crate::alert`].
    pub fn alert(mut self, rule: AlertRule) -> Self {
        self.alerts.push(rule);
        self
    }

    /// Calls `handler` with every alert raised or resolved (default: none; alerts are
    /// still logged and published on the status feed). Unused without rules. At shutdown,
    /// the alerts still waiting for it get the grace period.
    pub fn alert_handler(mut self, handler: impl AlertHandler) -> Self {
        self.alert_handler = Some(Arc::new(handler));
        self
    }

    /// Names this worker instance (default: `{queue}-{pid}-{n}`, unique per instance).
    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.worker_id = Some(id.into());
        self
    }

    /// Checks the values and builds the runner.
    pub fn build(self) -> Result<Runner<W, Q>, ConfigError> {
        // Upper bounds: each slot is a task and each batch a reservation of that many jobs;
        // past these, a typo (an extra zero or three) would exhaust memory, not speed up.
        const MAX_SLOTS: usize = 1_000_000;
        const MAX_BATCH: usize = 10_000;
        if !(1..=MAX_SLOTS).contains(&self.concurrency) {
            return Err(ConfigError::new("concurrency", format!("must be between 1 and {MAX_SLOTS}")));
        }
        if !(1..=MAX_BATCH).contains(&self.batch) {
            return Err(ConfigError::new("batch", format!("must be between 1 and {MAX_BATCH}")));
        }
        if self.grace > crate::queue::MAX_LEASE {
            return Err(ConfigError::new("grace", "must be at most a day"));
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
        let job_metrics = JobMetrics::new(queue_name.clone());
        let worker_id: Arc<str> = Arc::from(self.worker_id.unwrap_or_else(|| unique_worker_id(&queue_name)));
        let mut rules = self.worker.alerts();
        rules.extend(self.alerts);
        let alerts = AlertMonitor::new(
            rules,
            pipeline.step_names(),
            (queue_name.clone(), worker_id.clone()),
            self.status.clone(),
            self.alert_handler,
        )?;
        Ok(Runner {
            shared: Arc::new(Shared {
                pipeline,
                queue: self.queue,
                deps: self.deps,
                status: self.status,
                // Interned: the slots' events copy them (see `Name`).
                queue_name: Name::interned(&queue_name),
                worker_id: Name::interned(&worker_id),
                batch: self.batch,
                redelivery,
                producer_trace: self.producer_trace,
                stats: Arc::default(),
                job_metrics,
                alerts: alerts.map(Arc::new),
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
    let steps = pipeline.step_names();
    let what = match steps.as_slice() {
        [one] => format!("action `{one}`"),
        many => format!("pipeline `{}`", many.join(" → ")),
    };
    match pipeline.worst_case() {
        Some(worst) if worst >= lease => Err(ConfigError::new(
            "lease",
            format!(
                "{what} can run for up to {worst:?} (every attempt timing out, every retry waiting \
                 its longest) but queue `{queue}` leases a job for {lease:?}: the job could be handed to \
                 another worker while this one still works on it; make the lease longer than {worst:?} or \
                 lower the timeouts, attempts or max_delay"
            ),
        )),
        Some(_) => Ok(()),
        None => {
            tracing::warn!(
                pipeline = what,
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
            .field("alerts", &self.alerts)
            .finish_non_exhaustive()
    }
}
