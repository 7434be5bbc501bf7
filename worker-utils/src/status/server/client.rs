//! One connected client: snapshot, live stream, filters, rate limits, keep-alive, close.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use super::coalesce::Coalescer;
use super::frames::TextFrames;
use super::limiter::{MessageLimiter, SUBSCRIBE_PAUSE, later};
use super::protocol::{self, FeedQuery, Filter, Inbound, ProtocolError};
use super::{Settings, Shared};
use crate::status::Broadcaster;
use crate::status::alerts::AlertMessage;
use crate::status::broadcaster::{FrameItem, FrameRef, Subscription};

/// Most events taken from the ring per write (one flush per batch).
const BATCH: usize = 512;
/// A batch stops taking events once this many bytes are framed, so a client's buffer stays
/// about this size (the same as tungstenite's write buffer before).
const WRITE_CHUNK: usize = 64 * 1024;
/// Jobs tracked by one client's rate limiter; beyond this, updates pass uncoalesced. At
/// 16 384 the limiter's map and timers were half of a 100-client server's heap (18 MiB), and
/// the soak's RSS kept rising as reconnecting clients freed and regrew them; at 4096 they
/// take at most about 0.4 MiB per client. Only a worker that starts more than 40 000 jobs a
/// second (4096 per 100 ms window) sends some intermediate updates uncoalesced.
const COALESCE_JOBS: usize = 4096;
/// How long a client that is still behind after the batch that reported its lag waits
/// before it reads the ring again. While publishers outrun the server, such a client costs
/// one batch per pause instead of every cycle the runtime would give it: what it cannot
/// keep up with it misses anyway, and the worker publishing keeps the CPU.
const LAG_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);
/// How long a close waits for the client's close reply.
const CLOSE_REPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// Invalid messages a client may send before it is closed.
const MAX_INVALID: u32 = 16;
/// The close reason (with 1008) of a client that sent more messages than
/// [`BURST`](super::limiter::BURST) at once and one per
/// [`REFILL_EVERY`](super::limiter::REFILL_EVERY) after that.
const TOO_MANY_MESSAGES: &str = "too many messages";

/// How a connection ends.
enum End {
    /// The client closed (or the stream ended); nothing more to send.
    PeerClosed,
    /// Send a close frame with this code and reason, then wait briefly for the reply.
    Close(CloseCode, &'static str),
    /// Drop the socket without a close frame (it cannot take one).
    Abort(&'static str),
}

impl End {
    fn reason(&self) -> &'static str {
        match self {
            End::PeerClosed => "peer_closed",
            End::Close(CloseCode::Normal, _) => "shutdown",
            End::Close(CloseCode::Policy, "client too slow") => "lagged",
            End::Close(CloseCode::Policy, TOO_MANY_MESSAGES) => "message_limit",
            End::Close(_, _) => "protocol",
            End::Abort("write timeout") => "write_timeout",
            End::Abort("shutdown while stalled") => "shutdown",
            End::Abort("peer unresponsive") => "keepalive",
            End::Abort(_) => "io",
        }
    }
}

pub(crate) struct Connection {
    ws: WebSocketStream<TcpStream>,
    peer: SocketAddr,
    settings: Arc<Settings>,
    broadcaster: Broadcaster,
    filter: Filter,
    coalescer: Coalescer,
    lags_in_a_row: u32,
    invalid: u32,
    /// Every message the client sends takes a token (a close frame excepted).
    limiter: MessageLimiter,
    /// The client's messages are not read before this (set after a `subscribe`).
    paused_until: Option<Instant>,
    /// Bumped by the server's pump after events reach the ring; clients never park on the
    /// ring itself, so a publish wakes one task, not every client.
    wake: watch::Receiver<()>,
    /// Whether the ring may hold more than the last batch took.
    more: bool,
    /// The ring is not read before this (set when a batch reported a lag and did not catch
    /// up: see [`LAG_PAUSE`]).
    behind_until: Option<Instant>,
    /// Alerts published since the last snapshot; set with each snapshot.
    alerts: Option<broadcast::Receiver<AlertMessage>>,
    last_heard: Instant,
    /// The frames of the next write; reused between batches.
    out: TextFrames,
    due: Vec<FrameRef>,
    _slot: OwnedSemaphorePermit,
    _connected: Connected,
}

/// Counts one client as connected, in [`client_count`](super::StatusServerHandle::client_count)
/// and the `worker_utils_status_clients` gauge, for as long as it lives: dropping it gives the
/// count back, so a client task that panics or is cancelled cannot leak it.
struct Connected {
    shared: Arc<Shared>,
    gauge: metrics::Gauge,
}

impl Connected {
    fn new(shared: &Arc<Shared>) -> Self {
        let gauge = crate::metrics::status_clients_gauge();
        shared.connected.fetch_add(1, Ordering::Relaxed);
        gauge.increment(1.0);
        Self { shared: Arc::clone(shared), gauge }
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.shared.connected.fetch_sub(1, Ordering::Relaxed);
        self.gauge.decrement(1.0);
    }
}

impl Connection {
    pub(crate) fn new(
        ws: WebSocketStream<TcpStream>,
        peer: SocketAddr,
        query: FeedQuery,
        shared: &Arc<Shared>,
        slot: OwnedSemaphorePermit,
    ) -> Self {
        let settings = Arc::clone(&shared.settings);
        let now = Instant::now();
        Self {
            _connected: Connected::new(shared),
            ws,
            peer,
            broadcaster: shared.broadcaster.clone(),
            filter: query.filter,
            coalescer: Coalescer::new(settings.rate_limit, COALESCE_JOBS),
            settings,
            lags_in_a_row: 0,
            invalid: 0,
            limiter: MessageLimiter::for_client(now),
            paused_until: None,
            wake: shared.wake.subscribe(),
            more: true,
            behind_until: None,
            alerts: None,
            last_heard: now,
            out: TextFrames::new(query.batched),
            due: Vec::new(),
            _slot: slot,
        }
    }

    pub(crate) async fn serve(mut self, shutdown: CancellationToken) {
        tracing::debug!(peer = %self.peer, "status client connected");

        let mut sub = None;
        let session = async {
            let sub = sub.insert(self.broadcaster.subscribe().await);
            match self.send_snapshot(sub, None).await {
                Ok(()) => self.run(sub, &shutdown).await,
                Err(end) => end,
            }
        };
        // A session answers a shutdown at once unless it is blocked writing to a client
        // that stopped reading; that one gets as long as a close reply, not a write timeout.
        let stuck = async {
            shutdown.cancelled().await;
            tokio::time::sleep(CLOSE_REPLY_WAIT).await;
        };
        let end = tokio::select! {
            end = session => end,
            () = stuck => End::Abort("shutdown while stalled"),
        };
        drop(sub);
        let reason = end.reason();
        self.finish(end).await;

        crate::metrics::count_status_disconnect(reason);
        tracing::debug!(
            peer = %self.peer,
            reason,
            coalesced = self.coalescer.coalesced(),
            "status client disconnected"
        );
    }

    async fn run(&mut self, sub: &mut Subscription, shutdown: &CancellationToken) -> End {
        // Settings up to `Duration::MAX` mean "never", not an overflow.
        let mut next_ping = later(Instant::now(), self.settings.ping_interval);
        loop {
            enum Step {
                Inbound(Option<Result<Message, WsError>>),
                Frames(Result<(), watch::error::RecvError>),
                Alert(AlertMessage),
                Due,
                Ping,
                Resume,
                ReadOn,
            }
            let due = self.coalescer.next_due();
            let paused = self.paused_until.filter(|until| *until > Instant::now());
            let behind = self.behind_until;
            let step = tokio::select! {
                biased;
                () = shutdown.cancelled() => return End::Close(CloseCode::Normal, "server shutting down"),
                inbound = self.ws.next(), if paused.is_none() => Step::Inbound(inbound),
                woken = wait_for_events(&mut self.wake, self.more), if behind.is_none() => Step::Frames(woken),
                alert = next_alert(&mut self.alerts, self.peer) => Step::Alert(alert),
                () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => Step::Due,
                () = tokio::time::sleep_until(next_ping) => Step::Ping,
                () = tokio::time::sleep_until(paused.unwrap_or_else(Instant::now)), if paused.is_some() => Step::Resume,
                () = tokio::time::sleep_until(behind.unwrap_or_else(Instant::now)), if behind.is_some() => Step::ReadOn,
            };
            let done = match step {
                Step::Inbound(inbound) => self.on_inbound(inbound, sub).await,
                Step::Frames(Ok(())) => self.on_frames(sub).await,
                Step::Frames(Err(_)) => Err(End::Close(CloseCode::Away, "status feed closed")),
                Step::Alert(alert) => {
                    if self.filter.matches_queue(&alert.alert.queue) {
                        self.out.push(&alert.json);
                    }
                    self.write_out().await
                }
                Step::Due => self.on_due().await,
                Step::Ping => {
                    next_ping = later(Instant::now(), self.settings.ping_interval);
                    self.on_ping().await
                }
                Step::Resume => {
                    self.paused_until = None;
                    Ok(())
                }
                Step::ReadOn => {
                    self.behind_until = None;
                    self.more = true;
                    Ok(())
                }
            };
            if let Err(end) = done {
                return end;
            }
        }
    }

    /// Sends the optional reply, the snapshot events the filter wants, `ready`, then the
    /// alerts firing now that the filter wants.
    async fn send_snapshot(&mut self, sub: &mut Subscription, reply: Option<Utf8Bytes>) -> Result<(), End> {
        if let Some(reply) = reply {
            self.out.push(&reply);
        }
        let mut count = 0;
        // Shared with other subscribers: release it once sent.
        for frame in std::mem::take(&mut sub.snapshot).iter() {
            if self.filter.matches(frame.event()) && !frame.json().is_empty() {
                self.out.push(frame.json());
                count += 1;
                if self.out.len() >= WRITE_CHUNK {
                    self.write_out().await?;
                }
            }
        }
        self.out.push(&protocol::ready(sub.seq, count));
        let (firing, live) = self.broadcaster.alerts().subscribe();
        self.alerts = Some(live);
        for alert in firing.iter().filter(|alert| self.filter.matches_queue(&alert.alert.queue)) {
            self.out.push(&alert.json);
        }
        self.write_out().await
    }

    /// Takes the events that are ready (up to a batch), filters and rate-limits them, and
    /// writes what is left with one flush.
    async fn on_frames(&mut self, sub: &mut Subscription) -> Result<(), End> {
        let now = Instant::now();
        let missed = sub.catch_up();
        if missed > 0 {
            self.out.push(&protocol::lagged(missed));
        }
        let mut caught_up = false;
        for _ in 0..BATCH {
            if self.out.len() >= WRITE_CHUNK {
                break;
            }
            match sub.cursor.next() {
                Some(frame) => self.take(frame, now),
                None => {
                    // Nothing readable: either nothing new, or lapped while reading (the
                    // tail says there is more; the next round reports the lag).
                    caught_up = !sub.behind();
                    break;
                }
            }
        }
        // A full batch may have left more behind: come back without waiting for a wake-up.
        self.more = !caught_up;
        if missed > 0 {
            self.lags_in_a_row += 1;
            crate::metrics::count_status_lagged(missed);
            tracing::debug!(peer = %self.peer, missed, "status client lagged");
            if self.lags_in_a_row > self.settings.max_lags {
                return Err(End::Close(CloseCode::Policy, "client too slow"));
            }
            if !caught_up {
                self.behind_until = Some(later(now, LAG_PAUSE));
            }
        } else if caught_up {
            self.lags_in_a_row = 0;
        }
        self.write_out().await
    }

    fn take(&mut self, frame: FrameItem<'_>, now: Instant) {
        if self.filter.matches(frame.event()) && self.coalescer.offer(frame, now) {
            let json = frame.json();
            if !json.is_empty() {
                self.out.push(json);
            }
        }
    }

    async fn on_due(&mut self) -> Result<(), End> {
        debug_assert!(self.due.is_empty());
        let mut due = std::mem::take(&mut self.due);
        self.coalescer.take_due(Instant::now(), &mut due);
        for frame in due.drain(..) {
            let json = frame.json();
            if !json.is_empty() {
                self.out.push(json);
            }
        }
        self.due = due;
        self.write_out().await
    }

    async fn on_ping(&mut self) -> Result<(), End> {
        let silence = self.settings.ping_interval.saturating_add(self.settings.pong_timeout);
        if self.last_heard.elapsed() >= silence {
            return Err(End::Abort("peer unresponsive"));
        }
        let ping = self.ws.send(Message::Ping(Bytes::new()));
        match tokio::time::timeout(self.settings.write_timeout, ping).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Abort("write error")),
            Err(_) => Err(End::Abort("write timeout")),
        }
    }

    async fn on_inbound(
        &mut self,
        inbound: Option<Result<Message, WsError>>,
        sub: &mut Subscription,
    ) -> Result<(), End> {
        let message = match inbound {
            None => return Err(End::PeerClosed),
            Some(Ok(message)) => message,
            Some(Err(WsError::Capacity(_))) => return Err(End::Close(CloseCode::Size, "message too big")),
            Some(Err(WsError::Utf8(_))) => return Err(End::Close(CloseCode::Invalid, "invalid utf-8")),
            Some(Err(WsError::Protocol(_))) => return Err(End::Close(CloseCode::Protocol, "protocol error")),
            Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => return Err(End::PeerClosed),
            Some(Err(_)) => return Err(End::Abort("read error")),
        };
        let now = Instant::now();
        self.last_heard = now;
        if !matches!(message, Message::Close(_)) && !self.limiter.try_take(now) {
            tracing::debug!(peer = %self.peer, "status client sent too many messages");
            return Err(End::Close(CloseCode::Policy, TOO_MANY_MESSAGES));
        }
        match message {
            Message::Text(text) => match Inbound::parse(text.as_str()) {
                Ok(Inbound::Subscribe { queues, job_ids }) => match Filter::new(queues, job_ids) {
                    Ok(filter) => {
                        // A snapshot is the most a message can cost: at most one per pause.
                        self.paused_until = Some(later(now, SUBSCRIBE_PAUSE));
                        self.resubscribe(filter, sub).await
                    }
                    Err(error) => self.refuse(&error).await,
                },
                Err(error) => self.refuse(&error).await,
            },
            Message::Binary(_) => {
                Err(End::Close(CloseCode::Unsupported, "binary messages are not supported"))
            }
            // tungstenite queues the close reply; the next read sends it and ends the stream.
            Message::Close(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(()),
        }
    }

    /// Replaces the filter and restarts from a fresh (filtered) snapshot, so nothing is
    /// lost or repeated across the switch. Held rate-limited updates are superseded by the
    /// snapshot.
    async fn resubscribe(&mut self, filter: Filter, sub: &mut Subscription) -> Result<(), End> {
        let reply = protocol::subscribed(&filter);
        self.filter = filter;
        self.coalescer = Coalescer::new(self.settings.rate_limit, COALESCE_JOBS);
        self.lags_in_a_row = 0;
        *sub = self.broadcaster.subscribe().await;
        self.more = true;
        self.send_snapshot(sub, Some(reply)).await
    }

    async fn refuse(&mut self, error: &ProtocolError) -> Result<(), End> {
        self.invalid += 1;
        if self.invalid > MAX_INVALID {
            return Err(End::Close(CloseCode::Policy, "too many invalid messages"));
        }
        self.out.push(&error.to_message());
        self.write_out().await
    }

    /// Writes every queued frame, within the write timeout: what tungstenite still holds
    /// (a pong) first, then the frames in one write.
    async fn write_out(&mut self) -> Result<(), End> {
        if self.out.is_empty() {
            return Ok(());
        }
        let ws = &mut self.ws;
        let out = self.out.finish();
        let write = async {
            ws.flush().await?;
            ws.get_mut().write_all(out).await.map_err(WsError::Io)
        };
        let result = tokio::time::timeout(self.settings.write_timeout, write).await;
        self.out.clear();
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => Err(End::PeerClosed),
            Ok(Err(error)) => {
                crate::metrics::count_broadcast_failure("write");
                tracing::debug!(peer = %self.peer, %error, "status write failed");
                Err(End::Abort("write error"))
            }
            Err(_) => {
                crate::metrics::count_broadcast_failure("write_timeout");
                tracing::info!(peer = %self.peer, "status client stopped reading; disconnecting");
                Err(End::Abort("write timeout"))
            }
        }
    }

    async fn finish(&mut self, end: End) {
        let End::Close(code, reason) = end else { return };
        let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
        let ws = &mut self.ws;
        let close = async {
            if ws.close(Some(frame)).await.is_ok() {
                // Read until the client's close reply ends the stream.
                while let Some(Ok(_)) = ws.next().await {}
            }
        };
        // Bounded: a client that does not answer the close is dropped after a second.
        let _ = tokio::time::timeout(self.settings.write_timeout.min(CLOSE_REPLY_WAIT), close).await;
    }
}

/// The next alert published; never, before the first snapshot. A client that fell more
/// than the channel behind skips the alerts it missed.
async fn next_alert(
    alerts: &mut Option<broadcast::Receiver<AlertMessage>>,
    peer: SocketAddr,
) -> AlertMessage {
    let Some(alerts) = alerts else { return std::future::pending().await };
    loop {
        match alerts.recv().await {
            Ok(alert) => return alert,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(%peer, missed, "status client missed alerts");
            }
            // The broadcaster keeps the sender as long as a client can hold its handle.
            Err(broadcast::error::RecvError::Closed) => return std::future::pending().await,
        }
    }
}

/// Resolves at once when the ring may hold more, else when the pump signals new events.
async fn wait_for_events(wake: &mut watch::Receiver<()>, more: bool) -> Result<(), watch::error::RecvError> {
    if more { Ok(()) } else { wake.changed().await }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::time::Duration;

    use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

    use super::*;
    use crate::JobId;
    use crate::status::{JobStatus, StatusEvent, StatusServer, StatusSink};

    /// A recorder that keeps the `worker_utils_status_clients` gauge and nothing else.
    #[derive(Default)]
    struct ClientsGauge(Arc<AtomicU64>);

    impl ClientsGauge {
        fn value(&self) -> f64 {
            f64::from_bits(self.0.load(Ordering::Relaxed))
        }
    }

    impl Recorder for ClientsGauge {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, _: &Key, _: &Metadata<'_>) -> Counter {
            Counter::noop()
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            if key.name() == crate::metrics::STATUS_CLIENTS {
                Gauge::from_arc(Arc::clone(&self.0))
            } else {
                Gauge::noop()
            }
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn a_client_task_that_panics_gives_its_count_and_gauge_back() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let server = runtime.block_on(async {
            StatusServer::builder(Broadcaster::new()).build().unwrap().start().await.unwrap()
        });
        let shared = Arc::clone(&server.shared);
        let recorder = ClientsGauge::default();
        let unwound = metrics::with_local_recorder(&recorder, || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _connected = Connected::new(&shared);
                assert_eq!((server.client_count(), recorder.value()), (1, 1.0));
                panic!("a client task panicked");
            }))
        });
        assert!(unwound.is_err());
        assert_eq!((server.client_count(), recorder.value()), (0, 0.0));
        runtime.block_on(server.shutdown());
    }

    /// Keep-alive and rate-limit settings of `Duration::MAX` used to overflow an `Instant`
    /// in the client task (a panic that also leaked the client count).
    #[tokio::test]
    async fn settings_of_duration_max_mean_never_and_the_count_is_released() {
        let broadcaster = Broadcaster::new();
        let mut server = StatusServer::builder(broadcaster.clone()).build().unwrap();
        let settings = Arc::get_mut(&mut server.settings).unwrap();
        settings.ping_interval = Duration::MAX;
        settings.pong_timeout = Duration::MAX;
        settings.rate_limit = Duration::MAX;
        let server = server.start().await.unwrap();
        let (mut ws, _) = tokio_tungstenite::connect_async(server.ws_url()).await.unwrap();
        let mut next_text = async || loop {
            let message = tokio::time::timeout(Duration::from_secs(10), ws.next()).await;
            match message.expect("a message in time") {
                Some(Ok(Message::Text(text))) => return text.to_string(),
                Some(Ok(_)) => {}
                other => panic!("connection ended: {other:?}"),
            }
        };
        assert!(next_text().await.starts_with(r#"{"type":"ready""#));
        for status in [JobStatus::Processing, JobStatus::Processing, JobStatus::Completed] {
            broadcaster.publish(StatusEvent::new(JobId::new(1), "q", status));
        }
        // The second PROCESSING is held by a window that never ends; COMPLETED discards it.
        assert!(next_text().await.contains(r#""status":"PROCESSING""#));
        assert!(next_text().await.contains(r#""status":"COMPLETED""#));
        assert_eq!(server.client_count(), 1);
        ws.close(None).await.unwrap();
        for _ in 0..1000 {
            if server.client_count() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(server.client_count(), 0);
        server.shutdown().await;
    }
}
