//! [`QueueSampler`]: reads a queue's lag and counts into gauges now and then, off the
//! jobs' path.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{queue_jobs_gauge, queue_lag_gauge};
use crate::config::ConfigError;
use crate::queue::{Queue, QueueCounts};

/// A task that sets `worker_utils_queue_lag_seconds{queue}` from
/// [`Queue::oldest_ready_age`] and `worker_utils_queue_jobs{queue,state}` from
/// [`Queue::counts`] at a fixed period; it stops when dropped.
///
/// Every [`Runner`](crate::worker::Runner) starts one for its queue, every
/// [`DEFAULT_EVERY`](Self::DEFAULT_EVERY), when metrics are [enabled](super::enable);
/// start one yourself for a queue that no runner of this process works (a producer, a
/// monitor). A queue error skips that sample (the gauges keep their last values).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use worker_utils::metrics::QueueSampler;
/// use worker_utils::queue::MemoryQueue;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let queue = Arc::new(MemoryQueue::<u32>::builder("emails").build().unwrap());
/// let sampler = QueueSampler::start(queue, Duration::from_secs(10)).unwrap();
/// drop(sampler); // stops sampling
///
/// let queue = Arc::new(MemoryQueue::<u32>::builder("emails").build().unwrap());
/// let err = QueueSampler::start(queue, Duration::ZERO).unwrap_err();
/// assert_eq!(err.field(), "every");
/// # }
/// ```
pub struct QueueSampler {
    queue: Arc<str>,
    task: JoinHandle<()>,
}

impl QueueSampler {
    /// The period of a runner's sampler: a fraction of a usual scrape interval (15 s), and
    /// one small read of the queue per runner.
    pub const DEFAULT_EVERY: Duration = Duration::from_secs(5);

    /// Samples `queue` now, then every `every` (1 ms to 1 h), on the current tokio
    /// runtime, until the sampler is dropped. Must be called inside a tokio runtime.
    pub fn start<J, Q>(queue: Arc<Q>, every: Duration) -> Result<Self, ConfigError>
    where
        J: 'static,
        Q: Queue<J>,
    {
        const EVERY: std::ops::RangeInclusive<Duration> =
            Duration::from_millis(1)..=Duration::from_secs(3600);
        if !EVERY.contains(&every) {
            return Err(ConfigError::new("every", "must be between 1 ms and 1 h"));
        }
        let name = Arc::from(queue.name());
        Ok(Self { queue: name, task: tokio::spawn(sample(queue, every)) })
    }

    /// A runner's sampler, when metrics are on.
    pub(crate) fn if_enabled<J: 'static, Q: Queue<J>>(queue: &Arc<Q>) -> Option<Self> {
        if !super::enabled() {
            return None;
        }
        Self::start(Arc::clone(queue), Self::DEFAULT_EVERY).ok()
    }
}

async fn sample<J, Q: Queue<J>>(queue: Arc<Q>, every: Duration) {
    let name = queue.name();
    let lag = queue_lag_gauge(name);
    let [ready, delayed, reserved, dead] =
        ["ready", "delayed", "reserved", "dead"].map(|state| queue_jobs_gauge(name, state));
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match queue.oldest_ready_age().await {
            Ok(age) => lag.set(age.unwrap_or_default().as_secs_f64()),
            Err(error) => {
                tracing::debug!(queue = name, %error, "cannot read the queue's lag; trying again next sample")
            }
        }
        match queue.counts().await {
            Ok(QueueCounts { ready: r, delayed: d, reserved: s, dead: x }) => {
                for (gauge, jobs) in [(&ready, r), (&delayed, d), (&reserved, s), (&dead, x)] {
                    gauge.set(jobs as f64);
                }
            }
            Err(error) => {
                tracing::debug!(queue = name, %error, "cannot count the queue's jobs; trying again next sample")
            }
        }
    }
}

impl Drop for QueueSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl fmt::Debug for QueueSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueSampler").field("queue", &self.queue).finish_non_exhaustive()
    }
}
