//! The status server: its lifecycle (bind, accept, wake the clients, shut down), the
//! HTTP/1.1 front each connection goes through (`front`), and the WebSocket clients it
//! admits (`client`).

mod admin;
mod background;
mod builder;
mod client;
mod coalesce;
mod dashboard;
mod frames;
mod front;
#[cfg(fuzzing)]
pub mod fuzzing;
mod handshake;
mod http;
mod limiter;
#[cfg(feature = "prometheus")]
mod metrics;
mod pending;
mod protocol;
mod refusal;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Broadcaster;
pub(crate) use builder::Settings;
pub use builder::StatusServerBuilder;
use front::WS_PATH;
use pending::PendingHandshakes;
use refusal::RefusalLog;

/// Serves a [`Broadcaster`]'s status events to WebSocket clients (dashboards, CLIs).
///
/// Each client gets the latest state of the recent jobs, a `ready` marker, then the live
/// stream, one JSON text message per event (see `docs/protocol.md`). The server enforces
/// `max_clients` (refusing more with HTTP 503), a per-client rate limit that coalesces a
/// job's intermediate updates but never drops `COMPLETED`/`FAILED`, bounded buffering (a
/// client that falls behind is told how many events it missed, paused for a second if it
/// is still behind after the next batch, and cut off if it keeps
/// falling behind or stops reading), an optional bearer token and Origin allow-list,
/// ping/pong keep-alive, and a graceful shutdown with a normal close frame. It binds to
/// `127.0.0.1` unless told otherwise.
///
/// It speaks just enough HTTP/1.1 to answer every request:
///
/// | request | answer |
/// |---|---|
/// | `GET /ws` with a WebSocket upgrade (`?queues=…&job_ids=…`) | the status feed, once admitted: Origin (403), token (401), query (400), capacity (503) |
/// | `GET /ws` without an upgrade, or `Sec-WebSocket-Version` other than 13 | 426, with `Sec-WebSocket-Version: 13` |
/// | `GET /healthz` | 200, `{"status":"ok","clients":…,"max_clients":…,"pending_handshakes":…,"subscribers":…,"last_seq":…}`, no token needed |
/// | `GET /`, `/app.js`, `/app.css` | the live dashboard (see [`dashboard_url`](StatusServerHandle::dashboard_url)), embedded in the binary, with a Content-Security-Policy that forbids inline script and `eval` |
/// | `GET /metrics` | the metrics in the Prometheus text format, only when configured with `metrics` (feature `prometheus`): the read token, if any, as `Authorization: Bearer` (401), an allowed `Origin` if one is sent (403) |
/// | `GET /api/dead-letters`, `POST /api/dead-letters/requeue`, `POST /api/dead-letters/delete` | the admin API, only when configured with [`admin`](StatusServerBuilder::admin): the admin token as `Authorization: Bearer` (401), a same-origin or allowed `Origin` (403), a JSON body of at most 64 KiB |
/// | another path | 404 |
/// | another method on those paths | 405, with `Allow: GET` |
/// | a malformed request / one above 8 KiB / one not sent within the handshake timeout | 400 / 431 / 408 |
///
/// Every answer other than the upgrade carries `Content-Length` and `Connection: close`,
/// then the connection is closed. A connection takes one of the `max_clients` places only
/// once it is admitted; until then it is one of at most
/// [`max_pending_handshakes`](StatusServerBuilder::max_pending_handshakes), and when those
/// are all taken a new connection evicts the oldest (which is answered 503 with
/// `Retry-After`), so half-open sockets cannot keep clients out. Each refusal is logged
/// at debug, with one summary line of counts by reason at most every 10 s, and counted in
/// `worker_utils_status_rejected_total{reason}` (`malformed`, `too_large`, `timeout`,
/// `method`, `not_found`, `not_websocket`, `version`, `bad_handshake`, `origin`,
/// `unauthorized`, `bad_query`, `full`, `overloaded`, `shutdown`).
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
/// println!("status feed on {}", server.ws_url()); // ws://127.0.0.1:PORT/ws
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

impl StatusServer {
    /// Starts configuring a server for `broadcaster`'s events, with
    /// [`WEBSOCKET_DEFAULTS`](crate::config::WEBSOCKET_DEFAULTS) for `max_clients` and
    /// `rate_limit`.
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

    /// Binds the listener and serves clients on a background task (or on a thread of its
    /// own: [`background_thread`](StatusServerBuilder::background_thread)) until the
    /// returned handle is shut down or dropped. Must be called inside a tokio runtime.
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
        let shared = Arc::new(Shared {
            wake,
            slots: Arc::new(Semaphore::new(self.settings.max_clients)),
            pending: Arc::new(PendingHandshakes::new(self.settings.max_pending_handshakes)),
            refusals: RefusalLog::default(),
            connected: AtomicUsize::new(0),
            broadcaster: self.broadcaster,
            settings: self.settings,
        });
        tracing::info!(%local_addr, "status server listening");
        let serving = if shared.settings.background_thread {
            // The listener moves to the thread's runtime as a std socket: a tokio socket
            // belongs to the runtime that made it.
            let listener = listener.into_std()?;
            let (shared, shutdown) = (Arc::clone(&shared), shutdown.clone());
            Serving::Thread(background::spawn(async move {
                match TcpListener::from_std(listener) {
                    Ok(listener) => serve(listener, shared, shutdown).await,
                    Err(error) => tracing::error!(%error, "status server could not listen on its thread"),
                }
            })?)
        } else {
            Serving::Task(tokio::spawn(serve(listener, Arc::clone(&shared), shutdown.clone())))
        };
        Ok(StatusServerHandle { local_addr, shutdown, serving: Some(serving), shared })
    }
}

/// Where a running server serves its clients.
enum Serving {
    Task(JoinHandle<()>),
    Thread(std::thread::JoinHandle<()>),
}

impl Serving {
    /// Waits until serving ended; `Err` if it panicked.
    async fn join(self) -> Result<(), String> {
        match self {
            Serving::Task(task) => task.await.map_err(|error| error.to_string()),
            Serving::Thread(thread) => match tokio::task::spawn_blocking(move || thread.join()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err("the server thread panicked".to_owned()),
                Err(error) => Err(error.to_string()),
            },
        }
    }
}

/// Serves clients until `shutdown`: wakes them as events arrive and accepts new ones.
async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    tokio::spawn(pump(shared.broadcaster.clone(), shared.wake.clone(), shutdown.clone()));
    accept_loop(listener, shared, shutdown).await;
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
    serving: Option<Serving>,
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

    /// The URL of the WebSocket feed: `ws://` + [`local_addr`](Self::local_addr) + `/ws`.
    /// Add `?queues=…&job_ids=…` to filter.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let server = StatusServer::builder(Broadcaster::new()).build().unwrap().start().await.unwrap();
    /// assert_eq!(server.ws_url(), format!("ws://{}/ws", server.local_addr()));
    /// # }
    /// ```
    pub fn ws_url(&self) -> String {
        format!("ws://{}{WS_PATH}", self.local_addr)
    }

    /// The URL of the live dashboard: `http://` + [`local_addr`](Self::local_addr) + `/`.
    ///
    /// The page is self-contained (no CDN, no build step) and reads the same feed as any
    /// client, on [`ws_url`](Self::ws_url). When the server requires a token, a browser
    /// cannot send the `Authorization` header on a WebSocket: build the server with
    /// [`allow_query_token(true)`](StatusServerBuilder::allow_query_token) and open
    /// `…/#token=SECRET` (the fragment never leaves the browser; the page passes it as the
    /// `token` query parameter of `/ws`).
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let server = StatusServer::builder(Broadcaster::new()).build().unwrap().start().await.unwrap();
    /// assert_eq!(server.dashboard_url(), format!("http://{}/", server.local_addr()));
    /// # }
    /// ```
    pub fn dashboard_url(&self) -> String {
        format!("http://{}/", self.local_addr)
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
        if let Some(serving) = self.serving.take()
            && let Err(error) = serving.join().await
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
    /// One permit per admitted client, taken after the admission checks.
    slots: Arc<Semaphore>,
    /// Connections not admitted yet.
    pending: Arc<PendingHandshakes>,
    refusals: RefusalLog,
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

/// How often the refusals since the last summary are logged (when there were any).
const REFUSAL_SUMMARY_EVERY: Duration = Duration::from_secs(10);

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut connections = JoinSet::new();
    let mut summary = tokio::time::interval_at(Instant::now() + REFUSAL_SUMMARY_EVERY, REFUSAL_SUMMARY_EVERY);
    summary.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = summary.tick() => shared.refusals.summarize(),
            accepted = listener.accept() => match accepted {
                // Every connection gets a task: the pending bound evicts the oldest instead
                // of refusing the newest, so nothing is dropped here unanswered. Registered
                // here, in the order of arrival.
                Ok((stream, peer)) => {
                    let pending = shared.pending.register();
                    connections.spawn(front::connect(stream, peer, pending, Arc::clone(&shared), shutdown.clone()));
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
    shared.refusals.summarize();
    tracing::info!("status server stopped");
}
