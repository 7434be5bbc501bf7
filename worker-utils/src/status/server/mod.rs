//! The WebSocket server that streams a [`Broadcaster`]'s events to dashboards.

mod client;
mod coalesce;
mod handshake;
mod protocol;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

use super::Broadcaster;
use crate::config::{ConfigError, WEBSOCKET_DEFAULTS, WebSocketDefaults};

/// Serves a [`Broadcaster`]'s status events to WebSocket clients (dashboards, CLIs).
///
/// Each client gets the latest state of the recent jobs, a `ready` marker, then the live
/// stream, one JSON text message per event (see `docs/protocol.md`). The server enforces
/// `max_clients` (refusing more with HTTP 503), a per-client rate limit that coalesces a
/// job's intermediate updates but never drops `COMPLETED`/`FAILED`, bounded buffering (a
/// client that falls behind is told how many events it missed, and cut off if it keeps
/// falling behind or stops reading), an optional bearer token and Origin allow-list,
/// ping/pong keep-alive, and a graceful shutdown with a normal close frame. It binds to
/// `127.0.0.1` unless told otherwise.
///
/// ```
/// use worker_utils::JobId;
/// use worker_utils::status::{publish_pending, Broadcaster, StatusServer};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let broadcaster = Broadcaster::new();
/// let server = StatusServer::builder(broadcaster.clone())
///     .port(0) // any free port on 127.0.0.1
///     .max_clients(50)
///     .auth_token("s3cret")
///     .build()?
///     .start()
///     .await?;
/// println!("status feed on ws://{}/", server.local_addr());
///
/// publish_pending(&broadcaster, JobId::new(1), "thumbnails"); // clients see it live
/// server.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct StatusServer {
    broadcaster: Broadcaster,
    settings: Arc<Settings>,
}

/// The validated settings every connection reads.
pub(crate) struct Settings {
    pub(crate) bind: SocketAddr,
    pub(crate) max_clients: usize,
    pub(crate) rate_limit: Duration,
    pub(crate) auth_token: Option<Box<str>>,
    pub(crate) allowed_origins: Option<Vec<Box<str>>>,
    pub(crate) max_message_size: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) pong_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_lags: u32,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a secret: only say whether one is set.
        f.debug_struct("Settings")
            .field("bind", &self.bind)
            .field("max_clients", &self.max_clients)
            .field("rate_limit", &self.rate_limit)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<redacted>"))
            .field("allowed_origins", &self.allowed_origins)
            .field("max_message_size", &self.max_message_size)
            .field("ping_interval", &self.ping_interval)
            .field("pong_timeout", &self.pong_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_lags", &self.max_lags)
            .finish()
    }
}

impl StatusServer {
    /// Starts configuring a server for `broadcaster`'s events, with
    /// [`WEBSOCKET_DEFAULTS`] for `max_clients` and `rate_limit`.
    ///
    /// ```
    /// use worker_utils::status::{Broadcaster, StatusServer};
    /// let server = StatusServer::builder(Broadcaster::new()).build().unwrap();
    /// assert_eq!(server.bind_addr().to_string(), "127.0.0.1:0");
    /// ```
    pub fn builder(broadcaster: Broadcaster) -> StatusServerBuilder {
        StatusServerBuilder::new(broadcaster)
    }

    /// The address [`start`](Self::start) binds to.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// let server = StatusServer::builder(Broadcaster::new()).port(9400).build().unwrap();
    /// assert_eq!(server.bind_addr().port(), 9400);
    /// ```
    pub fn bind_addr(&self) -> SocketAddr {
        self.settings.bind
    }

    /// Binds the listener and serves clients on a background task until the returned
    /// handle is shut down or dropped. Must be called inside a tokio runtime.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let server = StatusServer::builder(Broadcaster::new()).build().unwrap().start().await.unwrap();
    /// assert_ne!(server.local_addr().port(), 0);
    /// # }
    /// ```
    pub async fn start(self) -> io::Result<StatusServerHandle> {
        let listener = TcpListener::bind(self.settings.bind).await?;
        let local_addr = listener.local_addr()?;
        let shutdown = CancellationToken::new();
        let (wake, _) = watch::channel(());
        tokio::spawn(pump(self.broadcaster.clone(), wake.clone(), shutdown.clone()));
        let shared = Arc::new(Shared {
            wake,
            slots: Arc::new(Semaphore::new(self.settings.max_clients)),
            connected: AtomicUsize::new(0),
            broadcaster: self.broadcaster,
            settings: self.settings,
        });
        tracing::info!(%local_addr, "status server listening");
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), shutdown.clone()));
        Ok(StatusServerHandle { local_addr, shutdown, task: Some(task), shared })
    }
}

/// A running [`StatusServer`]: its address, its client count, and the way to stop it.
///
/// Dropping the handle stops the server too, without waiting for clients to be closed.
///
/// ```
/// # use worker_utils::status::{Broadcaster, StatusServer};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = StatusServer::builder(Broadcaster::new()).build().unwrap().start().await.unwrap();
/// assert_eq!(server.client_count(), 0);
/// server.shutdown().await; // every client gets a 1000 (normal) close frame
/// # }
/// ```
pub struct StatusServerHandle {
    local_addr: SocketAddr,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl StatusServerHandle {
    /// The address the server listens on (with the real port when bound to port 0).
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let server = StatusServer::builder(Broadcaster::new()).build().unwrap().start().await.unwrap();
    /// assert!(server.local_addr().ip().is_loopback());
    /// # }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// How many clients are connected now (handshake done, not yet gone).
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let server = StatusServer::builder(Broadcaster::new()).build().unwrap().start().await.unwrap();
    /// assert_eq!(server.client_count(), 0);
    /// # }
    /// ```
    pub fn client_count(&self) -> usize {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// Stops accepting, sends every client a normal (1000) close frame, and returns once all
    /// connections have ended (each bounded by the write timeout).
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let server = StatusServer::builder(Broadcaster::new()).build().unwrap().start().await.unwrap();
    /// server.shutdown().await;
    /// # }
    /// ```
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            tracing::warn!(%error, "status server task ended abnormally");
        }
    }
}

impl Drop for StatusServerHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl fmt::Debug for StatusServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusServerHandle")
            .field("local_addr", &self.local_addr)
            .field("clients", &self.client_count())
            .finish_non_exhaustive()
    }
}

/// State shared by the accept loop and every connection.
pub(crate) struct Shared {
    pub(crate) settings: Arc<Settings>,
    pub(crate) broadcaster: Broadcaster,
    slots: Arc<Semaphore>,
    pub(crate) connected: AtomicUsize,
    /// Bumped by [`pump`] whenever events reached the ring.
    pub(crate) wake: watch::Sender<()>,
}

/// The one task that waits for the ring's tail to move and wakes the connections, so a
/// `publish` wakes at most this task, and only when it is parked, instead of every parked
/// client (the fan-out of wake-ups runs on the server's runtime, not on the publisher's
/// thread).
async fn pump(broadcaster: Broadcaster, wake: watch::Sender<()>, shutdown: CancellationToken) {
    let tail = broadcaster.tail();
    let mut seen = tail.get();
    loop {
        seen = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            seen = tail.changed(seen) => seen,
        };
        wake.send_replace(());
        // Let the woken clients run before looking again, so a steady stream wakes them
        // once per round instead of once per event.
        tokio::task::yield_now().await;
    }
}

/// Connections still in the handshake, beyond `max_clients`, before new ones are dropped
/// unanswered.
const MAX_PENDING_HANDSHAKES: usize = 64;

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut connections = JoinSet::new();
    let max_tasks = shared.settings.max_clients.saturating_add(MAX_PENDING_HANDSHAKES);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) if connections.len() < max_tasks => {
                    connections.spawn(connect(stream, peer, Arc::clone(&shared), shutdown.clone()));
                }
                Ok((stream, peer)) => {
                    drop(stream);
                    metrics::counter!("worker_utils_status_rejected_total", "reason" => "overloaded").increment(1);
                    tracing::debug!(%peer, "status connection dropped: too many pending handshakes");
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "status server accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    tracing::info!("status server stopped");
}

async fn connect(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, shutdown: CancellationToken) {
    let settings = &shared.settings;
    let slot: Option<OwnedSemaphorePermit> = Arc::clone(&shared.slots).try_acquire_owned().ok();
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%peer, %error, "could not set TCP_NODELAY");
    }
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(64 * 1024)
        .max_write_buffer_size(16 << 20)
        .max_message_size(Some(settings.max_message_size))
        .max_frame_size(Some(settings.max_message_size));

    let mut filter = None;
    let mut rejected = None;
    // The callback's signature is tungstenite's; its large error type is not ours to box.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        match handshake::admit(settings, slot.is_some(), request) {
            Ok(admitted) => {
                filter = Some(admitted);
                Ok(response)
            }
            Err(refusal) => {
                rejected = Some(refusal.rejection);
                Err(refusal.into_response())
            }
        }
    };
    let accepted = tokio::select! {
        () = shutdown.cancelled() => return,
        accepted = tokio::time::timeout(
            settings.handshake_timeout,
            tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)),
        ) => accepted,
    };
    if let Some(rejection) = rejected {
        metrics::counter!("worker_utils_status_rejected_total", "reason" => rejection.as_str()).increment(1);
        tracing::info!(%peer, reason = rejection.as_str(), "status client refused");
        return;
    }
    let ws = match accepted {
        Ok(Ok(ws)) => ws,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "status handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "status handshake timed out");
            return;
        }
    };
    // Admission succeeded, so both are set.
    let (Some(filter), Some(slot)) = (filter, slot) else { return };
    client::Connection::new(ws, peer, filter, &shared, slot).serve(shutdown).await;
}

/// Configures a [`StatusServer`]; [`build`](Self::build) checks every value and names the
/// field it rejects.
///
/// | setting | default |
/// |---|---|
/// | [`bind`](Self::bind) | `127.0.0.1:0` (loopback, any free port) |
/// | [`max_clients`](Self::max_clients) | [`WEBSOCKET_DEFAULTS`]`.max_clients` (100) |
/// | [`rate_limit`](Self::rate_limit) | [`WEBSOCKET_DEFAULTS`]`.rate_limit` (100 ms) |
/// | [`auth_token`](Self::auth_token) | none (no authentication) |
/// | [`allowed_origins`](Self::allowed_origins) | none (any Origin) |
/// | [`max_message_size`](Self::max_message_size) | 4 KiB |
/// | [`ping_interval`](Self::ping_interval) / [`pong_timeout`](Self::pong_timeout) | 30 s / 10 s |
/// | [`write_timeout`](Self::write_timeout) | 10 s |
/// | [`handshake_timeout`](Self::handshake_timeout) | 10 s |
/// | [`max_lags`](Self::max_lags) | 3 |
///
/// ```
/// use std::time::Duration;
/// use worker_utils::status::{Broadcaster, StatusServer};
///
/// let err = StatusServer::builder(Broadcaster::new()).max_clients(0).build().unwrap_err();
/// assert_eq!(err.field(), "max_clients");
///
/// let server = StatusServer::builder(Broadcaster::new())
///     .bind("0.0.0.0:9400".parse().unwrap()) // all interfaces, only because asked
///     .rate_limit(Duration::from_millis(250))
///     .allowed_origins(["https://dashboard.example.com"])
///     .build()
///     .unwrap();
/// assert_eq!(server.bind_addr().port(), 9400);
/// ```
pub struct StatusServerBuilder {
    broadcaster: Broadcaster,
    settings: Settings,
}

impl StatusServerBuilder {
    fn new(broadcaster: Broadcaster) -> Self {
        Self {
            broadcaster,
            settings: Settings {
                bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                max_clients: WEBSOCKET_DEFAULTS.max_clients,
                rate_limit: WEBSOCKET_DEFAULTS.rate_limit,
                auth_token: None,
                allowed_origins: None,
                max_message_size: 4 * 1024,
                ping_interval: Duration::from_secs(30),
                pong_timeout: Duration::from_secs(10),
                write_timeout: Duration::from_secs(10),
                handshake_timeout: Duration::from_secs(10),
                max_lags: 3,
            },
        }
    }

    /// Listens on `addr`. The default is `127.0.0.1:0`; binding to all interfaces
    /// (`0.0.0.0`, `[::]`) happens only when asked for here.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// let s = StatusServer::builder(Broadcaster::new()).bind("127.0.0.1:9001".parse().unwrap()).build().unwrap();
    /// assert_eq!(s.bind_addr().to_string(), "127.0.0.1:9001");
    /// ```
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.settings.bind = addr;
        self
    }

    /// Listens on `port`, keeping the bind address's IP (loopback by default; 0 picks a
    /// free port, see [`StatusServerHandle::local_addr`]).
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// let s = StatusServer::builder(Broadcaster::new()).port(9002).build().unwrap();
    /// assert_eq!(s.bind_addr().to_string(), "127.0.0.1:9002");
    /// ```
    pub fn port(mut self, port: u16) -> Self {
        self.settings.bind.set_port(port);
        self
    }

    /// Takes `max_clients` and `rate_limit` from `defaults`, e.g.
    /// [`WebSocketDefaults::from_env`].
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// use worker_utils::config::WebSocketDefaults;
    /// let defaults = WebSocketDefaults::from_lookup(|_| None).unwrap();
    /// let s = StatusServer::builder(Broadcaster::new()).defaults(defaults).build();
    /// assert!(s.is_ok());
    /// ```
    pub fn defaults(mut self, defaults: WebSocketDefaults) -> Self {
        self.settings.max_clients = defaults.max_clients;
        self.settings.rate_limit = defaults.rate_limit;
        self
    }

    /// Accepts at most `clients` connections; more are refused in the handshake with
    /// HTTP 503, and the connected ones are unaffected. Must be at least 1.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// assert!(StatusServer::builder(Broadcaster::new()).max_clients(1).build().is_ok());
    /// ```
    pub fn max_clients(mut self, clients: usize) -> Self {
        self.settings.max_clients = clients;
        self
    }

    /// Per client, sends at most one non-terminal update per job in each `window`, the
    /// latest one; `COMPLETED` and `FAILED` always go out at once. Zero turns it off.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// assert!(StatusServer::builder(Broadcaster::new()).rate_limit(Duration::ZERO).build().is_ok());
    /// ```
    pub fn rate_limit(mut self, window: Duration) -> Self {
        self.settings.rate_limit = window;
        self
    }

    /// Requires clients to present `token`, as `Authorization: Bearer <token>` or as the
    /// `token` query parameter (percent-encoded); others get HTTP 401. The token is never
    /// logged or shown by `Debug`.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// let b = StatusServer::builder(Broadcaster::new()).auth_token("s3cret");
    /// assert!(!format!("{b:?}").contains("s3cret"));
    /// assert_eq!(StatusServer::builder(Broadcaster::new()).auth_token("").build().unwrap_err().field(), "auth_token");
    /// ```
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.settings.auth_token = Some(token.into().into_boxed_str());
        self
    }

    /// Refuses (HTTP 403) browser connections whose `Origin` header is not one of
    /// `origins` (compared case-insensitively, e.g. `https://dash.example.com`). Requests
    /// without an `Origin` header (non-browser clients) are not affected.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// let err = StatusServer::builder(Broadcaster::new()).allowed_origins([""]).build().unwrap_err();
    /// assert_eq!(err.field(), "allowed_origins");
    /// ```
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.allowed_origins =
            Some(origins.into_iter().map(|o| o.into().into_boxed_str()).collect());
        self
    }

    /// Closes a client (code 1009) that sends a message larger than `bytes`. Between 64
    /// bytes and 1 MiB; the default 4 KiB fits any subscribe message.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// let err = StatusServer::builder(Broadcaster::new()).max_message_size(10).build().unwrap_err();
    /// assert_eq!(err.field(), "max_message_size");
    /// ```
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.settings.max_message_size = bytes;
        self
    }

    /// Pings each client this often.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// let err = StatusServer::builder(Broadcaster::new()).ping_interval(Duration::ZERO).build().unwrap_err();
    /// assert_eq!(err.field(), "ping_interval");
    /// ```
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.settings.ping_interval = interval;
        self
    }

    /// Drops a client that has sent nothing, not even a pong, for `ping_interval +
    /// timeout` (checked at each ping).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// assert!(StatusServer::builder(Broadcaster::new()).pong_timeout(Duration::from_secs(5)).build().is_ok());
    /// ```
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.settings.pong_timeout = timeout;
        self
    }

    /// Drops a client whose socket does not take a batch of messages within `timeout`
    /// (a client that stopped reading).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// assert!(StatusServer::builder(Broadcaster::new()).write_timeout(Duration::from_secs(2)).build().is_ok());
    /// ```
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.settings.write_timeout = timeout;
        self
    }

    /// Drops a connection that has not completed the WebSocket handshake within `timeout`.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// assert!(StatusServer::builder(Broadcaster::new()).handshake_timeout(Duration::from_secs(3)).build().is_ok());
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.settings.handshake_timeout = timeout;
        self
    }

    /// Closes (code 1008) a client told it lagged more than `times` times in a row without
    /// catching up in between. Each lag is reported with the number of events missed.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// assert!(StatusServer::builder(Broadcaster::new()).max_lags(0).build().is_ok());
    /// ```
    pub fn max_lags(mut self, times: u32) -> Self {
        self.settings.max_lags = times;
        self
    }

    /// Checks the settings.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// let err = StatusServer::builder(Broadcaster::new()).write_timeout(Duration::ZERO).build().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid `write_timeout`: must be greater than zero");
    /// ```
    pub fn build(self) -> Result<StatusServer, ConfigError> {
        const MAX_CLIENTS: usize = 1 << 20;
        let s = &self.settings;
        if s.max_clients == 0 || s.max_clients > MAX_CLIENTS {
            return Err(ConfigError::new("max_clients", format!("must be between 1 and {MAX_CLIENTS}")));
        }
        if !(64..=1 << 20).contains(&s.max_message_size) {
            return Err(ConfigError::new("max_message_size", "must be between 64 bytes and 1 MiB"));
        }
        for (field, value) in [
            ("ping_interval", s.ping_interval),
            ("pong_timeout", s.pong_timeout),
            ("write_timeout", s.write_timeout),
            ("handshake_timeout", s.handshake_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(field, "must be greater than zero"));
            }
        }
        if let Some(token) = &s.auth_token
            && (token.is_empty()
                || token.len() > 1024
                || token.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(ConfigError::new("auth_token", "must be 1 to 1024 characters without whitespace"));
        }
        if let Some(origins) = &s.allowed_origins
            && (origins.is_empty() || origins.iter().any(|o| o.is_empty()))
        {
            return Err(ConfigError::new("allowed_origins", "must list at least one non-empty origin"));
        }
        Ok(StatusServer { broadcaster: self.broadcaster, settings: Arc::new(self.settings) })
    }
}

impl fmt::Debug for StatusServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusServerBuilder").field("settings", &self.settings).finish_non_exhaustive()
    }
}
