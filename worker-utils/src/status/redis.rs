//! Status events across processes (feature `redis`): workers publish to a capped Redis
//! stream with [`RedisStatusSink`]; any process serves the merged feed by running a
//! [`RedisStatusFeed`] into its [`Broadcaster`](super::Broadcaster).
//!
//! Each queue has its stream, `<namespace>:{<queue>}:status`, in the queue's Redis Cluster
//! slot, so that a [`RedisQueue`](crate::queue::RedisQueue) adds `PENDING`, `COMPLETED`,
//! `FAILED` and redelivery events in the same script as the enqueue or outcome they report.
//! Each entry holds one batch of events as a JSON array (field `e`), so a batch costs one
//! `XADD`. An [`Alert`] a runner raises goes to the same stream, as an entry of its own
//! (field `a`, the alert's JSON), so a status-only process shows the alerts of every worker.
//! The stream is capped (`MAXLEN ~`), and a feed that finds it has been trimmed past
//! where it was reading logs and counts the gap.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Compact, StatusEvent, StatusSink};
use crate::alert::Alert;
use crate::redis_connection::{self, ConnectError};

/// Events waiting to be written before new ones are dropped (and counted): status must
/// never make a worker wait.
const BACKLOG: usize = 65_536;
/// Events written by one `XADD` at most.
const MAX_BATCH: usize = 1024;
/// Alerts waiting to be written before new ones are dropped (and counted).
const ALERT_BACKLOG: usize = 1024;
/// How long a failed write or read waits before it tries again.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// The status stream of `queue` in `namespace`.
pub(crate) fn stream_key(namespace: &str, queue: &str) -> String {
    format!("{namespace}:{{{queue}}}:status")
}

/// Stream entries kept (approximately). An entry is one batch of events: one event when
/// the queue is quiet, up to a few hundred under load, so the stream holds from 2 000 events
/// to about a million (some 200 MB) at most, whatever the traffic.
pub(crate) const DEFAULT_STREAM_CAP: usize = 2_000;

/// A [`StatusSink`] that writes events to Redis for every status server to read: what a
/// runner on a [`RedisQueue`](crate::queue::RedisQueue) publishes itself (`PROCESSING`; the
/// queue adds the outcome events).
///
/// `publish` only queues the event: a background task writes each batch with one `XADD`
/// per queue. `publish_alert` queues the alert for one `XADD` of its own.
/// When Redis is slow or away, up to 65 536 events wait; past that, new events are dropped
/// and counted (`worker_utils_status_broadcast_failures_total{reason="redis_backlog"}`).
///
/// ```no_run
/// use worker_utils::status::RedisStatusSink;
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sink = RedisStatusSink::connect("redis://127.0.0.1:6379", "wu").await?;
/// // Runner::builder(worker, queue, deps).status(sink.clone())…
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStatusSink {
    events: mpsc::Sender<StatusEvent>,
    alerts: mpsc::Sender<Alert>,
    url: Arc<str>,
}

impl RedisStatusSink {
    /// Connects to the Redis at `url` and writes to the stream of `namespace` (the same
    /// namespace as the queues', `wu` by default).
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, ConnectError> {
        let connected = redis_connection::connect(url).await?;
        let (events, receiver) = mpsc::channel(BACKLOG);
        let (alerts, alert_receiver) = mpsc::channel(ALERT_BACKLOG);
        let writer = Writer {
            connection: connected.commands,
            namespace: namespace.to_owned(),
            cap: DEFAULT_STREAM_CAP,
            failing: Arc::default(),
        };
        tokio::spawn(write_alerts(alert_receiver, writer.clone()));
        tokio::spawn(write(receiver, writer));
        Ok(Self { events, alerts, url: Arc::from(connected.url) })
    }
}

impl StatusSink for RedisStatusSink {
    fn publish(&self, event: StatusEvent) {
        if self.events.try_send(event).is_err() {
            crate::metrics::count_broadcast_failure("redis_backlog");
        }
    }

    fn publish_alert(&self, alert: Alert) {
        if self.alerts.try_send(alert).is_err() {
            crate::metrics::count_broadcast_failure("redis_backlog");
        }
    }
}

impl fmt::Debug for RedisStatusSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStatusSink").field("url", &self.url).finish_non_exhaustive()
    }
}

/// Where a sink's writer tasks write: the status streams of one namespace.
#[derive(Clone)]
struct Writer {
    connection: ConnectionManager,
    namespace: String,
    cap: usize,
    failing: Arc<AtomicBool>,
}

impl Writer {
    /// Adds `XADD <stream of queue> MAXLEN ~ cap * <field> <value>` to `pipe`.
    fn add(&self, pipe: &mut redis::Pipeline, queue: &str, field: &str, value: String) {
        pipe.cmd("XADD")
            .arg(stream_key(&self.namespace, queue))
            .arg("MAXLEN")
            .arg("~")
            .arg(self.cap)
            .arg("*")
            .arg(field)
            .arg(value)
            .ignore();
    }

    /// Runs `pipe` until it succeeds, logging an outage once when it starts and once when it
    /// ends; gives up once `abandoned` says every sink is dropped.
    async fn run(&mut self, pipe: &redis::Pipeline, abandoned: impl Fn() -> bool) {
        let namespace = &*self.namespace;
        loop {
            let written: redis::RedisResult<()> = pipe.query_async(&mut self.connection).await;
            match written {
                Ok(()) => {
                    if self.failing.swap(false, Ordering::Relaxed) {
                        tracing::info!(namespace, "status events reach Redis again");
                    }
                    return;
                }
                Err(error) => {
                    if !self.failing.swap(true, Ordering::Relaxed) {
                        tracing::error!(namespace, error = %error, "cannot write status events to Redis; retrying");
                    }
                    if abandoned() {
                        return;
                    }
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
            }
        }
    }
}

/// Writes each alert as an entry of its own (field `a`), until every sink is dropped.
async fn write_alerts(mut receiver: mpsc::Receiver<Alert>, mut writer: Writer) {
    while let Some(alert) = receiver.recv().await {
        match serde_json::to_string(&alert) {
            Ok(json) => {
                let mut pipe = redis::pipe();
                writer.add(&mut pipe, &alert.queue, "a", json);
                writer.run(&pipe, || receiver.is_closed()).await;
            }
            Err(error) => tracing::error!(error = %error, "cannot encode an alert; dropping it"),
        }
    }
}

/// Writes batches of events, one `XADD` per queue, until every sink is dropped.
async fn write(mut receiver: mpsc::Receiver<StatusEvent>, mut writer: Writer) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut pipe = redis::pipe();
        let mut by_queue: Vec<(&str, Vec<Compact<'_>>)> = Vec::new();
        for event in &batch {
            match by_queue.iter_mut().find(|(queue, _)| *queue == &*event.queue) {
                Some((_, events)) => events.push(Compact(event)),
                None => by_queue.push((&event.queue, vec![Compact(event)])),
            }
        }
        for (queue, events) in &by_queue {
            match serde_json::to_string(events) {
                Ok(json) => writer.add(&mut pipe, queue, "e", json),
                Err(error) => tracing::error!(error = %error, "cannot encode status events; dropping them"),
            }
        }
        writer.run(&pipe, || receiver.is_closed()).await;
        batch.clear();
    }
}

/// Reads the status stream of every worker into a local sink, usually the
/// [`Broadcaster`](super::Broadcaster) a [`StatusServer`](super::StatusServer) serves.
///
/// It follows the status stream of each queue it is given. On start it replays the newest
/// entries (so a restarted status server has its snapshot back), then follows live,
/// reconnecting by itself. Two feeds in two processes see the same events in the same order
/// per queue.
///
/// ```no_run
/// use worker_utils::status::{Broadcaster, RedisStatusFeed, StatusServer};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let broadcaster = Broadcaster::new();
/// let feed = RedisStatusFeed::builder("redis://127.0.0.1:6379")
///     .queue("thumbnails")
///     .start(broadcaster.clone())
///     .await?;
/// let server = StatusServer::builder(broadcaster).build()?.start().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct RedisStatusFeed {
    tasks: Vec<JoinHandle<()>>,
}

impl RedisStatusFeed {
    /// Starts building a feed from the Redis at `url`.
    pub fn builder(url: impl Into<String>) -> RedisStatusFeedBuilder {
        RedisStatusFeedBuilder {
            url: url.into(),
            namespace: "wu".to_owned(),
            queues: Vec::new(),
            replay: DEFAULT_STREAM_CAP,
        }
    }

    /// Stops reading.
    pub fn stop(self) {}
}

impl Drop for RedisStatusFeed {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Configures a [`RedisStatusFeed`].
///
/// ```
/// use worker_utils::status::{Broadcaster, RedisStatusFeed};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // A feed follows named queues; without one it is refused before connecting.
/// let err = RedisStatusFeed::builder("redis://127.0.0.1:6379").start(Broadcaster::new()).await.unwrap_err();
/// assert!(err.to_string().contains("queues"));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RedisStatusFeedBuilder {
    url: String,
    namespace: String,
    queues: Vec<String>,
    replay: usize,
}

impl RedisStatusFeedBuilder {
    /// The namespace the workers write to (default `wu`).
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Follows the status of `queue` (call once per queue).
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queues.push(queue.into());
        self
    }

    /// How many of the newest stream entries to replay on start (default: all the 2 000 a
    /// stream keeps; 0 starts with live events only).
    pub fn replay(mut self, entries: usize) -> Self {
        self.replay = entries;
        self
    }

    /// Connects, replays the newest entries of each queue's stream into `sink`, and
    /// follows them.
    pub async fn start(self, sink: impl StatusSink + Clone) -> Result<RedisStatusFeed, ConnectError> {
        if self.queues.is_empty() {
            return Err(ConnectError::Config(crate::config::ConfigError::new(
                "queues",
                "name at least one queue to follow with `.queue(name)`",
            )));
        }
        let connected = redis_connection::connect(&self.url).await?;
        let mut tasks = Vec::with_capacity(self.queues.len());
        for queue in &self.queues {
            let unreachable = |source| ConnectError::Unreachable { url: connected.url.clone(), source };
            let mut reader = redis_connection::blocking(&connected.client).await.map_err(unreachable)?;
            let stream = stream_key(&self.namespace, queue);
            let last = replay(&mut reader, &stream, self.replay, &sink).await.map_err(unreachable)?;
            tasks.push(tokio::spawn(follow(connected.client.clone(), reader, stream, last, sink.clone())));
        }
        Ok(RedisStatusFeed { tasks })
    }
}

/// Hands the newest `entries` of `stream` to `sink`, oldest first; returns the id to read on
/// from (the newest entry's, or `0-0` for an empty stream).
async fn replay(
    reader: &mut redis::aio::MultiplexedConnection,
    stream: &str,
    entries: usize,
    sink: &impl StatusSink,
) -> redis::RedisResult<String> {
    let newest: StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(entries.max(1))
        .query_async(reader)
        .await?;
    let Some(last) = newest.ids.first().map(|entry| entry.id.clone()) else {
        return Ok(String::from("0-0"));
    };
    if entries > 0 {
        for entry in newest.ids.iter().rev() {
            deliver(sink, entry);
        }
    }
    Ok(last)
}

/// Follows the stream from after `last`, forever; reconnects after an error and reports a
/// gap if the stream was trimmed past `last` meanwhile.
async fn follow(
    client: redis::Client,
    mut reader: redis::aio::MultiplexedConnection,
    stream: String,
    mut last: String,
    sink: impl StatusSink,
) {
    let options = StreamReadOptions::default().count(256).block(1000);
    let mut failing = false;
    loop {
        let read: redis::RedisResult<Option<StreamReadReply>> = redis::cmd("XREAD")
            .arg(&options)
            .arg("STREAMS")
            .arg(&stream)
            .arg(&last)
            .query_async(&mut reader)
            .await;
        match read {
            Ok(reply) => {
                if failing {
                    failing = false;
                    tracing::info!(stream, "reading status events from Redis again");
                    report_gap(&mut reader, &stream, &last).await;
                }
                for key in reply.map(|reply| reply.keys).unwrap_or_default() {
                    for entry in key.ids {
                        deliver(&sink, &entry);
                        last = entry.id;
                    }
                }
            }
            Err(error) => {
                if !failing {
                    failing = true;
                    tracing::error!(stream, error = %error, "cannot read status events from Redis; reconnecting");
                }
                tokio::time::sleep(RETRY_PAUSE).await;
                if let Ok(fresh) = redis_connection::blocking(&client).await {
                    reader = fresh;
                }
            }
        }
    }
}

/// Logs and counts the events lost if the stream was trimmed past `last` while the feed
/// could not read.
async fn report_gap(reader: &mut redis::aio::MultiplexedConnection, stream: &str, last: &str) {
    let oldest: redis::RedisResult<StreamRangeReply> =
        redis::cmd("XRANGE").arg(stream).arg("-").arg("+").arg("COUNT").arg(1).query_async(reader).await;
    if let Ok(oldest) = oldest
        && let Some(first) = oldest.ids.first()
        && stream_id_after(&first.id, last)
        && last != "0-0"
    {
        crate::metrics::count_status_lagged(1);
        tracing::warn!(
            stream,
            last,
            first = first.id,
            "the status stream was trimmed past where this feed was; events were missed"
        );
    }
}

/// Whether stream id `a` comes after `b` (ids are `<ms>-<seq>`).
fn stream_id_after(a: &str, b: &str) -> bool {
    let parse = |id: &str| {
        let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
        (ms.parse::<u64>().unwrap_or(0), seq.parse::<u64>().unwrap_or(0))
    };
    parse(a) > parse(b)
}

/// Decodes one entry, a batch of events (field `e`) or an alert (field `a`), and hands it
/// to `sink`; an entry that does not decode is skipped with a warning (written by
/// something else, or by another version).
fn deliver(sink: &impl StatusSink, entry: &StreamId) {
    let decoded = if let Some(batch) = entry.get::<Vec<u8>>("e") {
        serde_json::from_slice::<Vec<StatusEvent>>(&batch).map(|mut events| sink.publish_all(&mut events))
    } else if let Some(alert) = entry.get::<Vec<u8>>("a") {
        serde_json::from_slice::<Alert>(&alert).map(|alert| sink.publish_alert(alert))
    } else {
        return;
    };
    if let Err(error) = decoded {
        tracing::warn!(error = %error, "skipping a status stream entry that does not decode");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_compare_by_time_then_sequence() {
        assert!(stream_id_after("1700000000001-0", "1700000000000-5"));
        assert!(stream_id_after("1700000000000-6", "1700000000000-5"));
        assert!(!stream_id_after("1700000000000-5", "1700000000000-5"));
    }
}
