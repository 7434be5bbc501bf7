//! The status server's settings, their builder and the range of each.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use super::StatusServer;
use super::admin::Admin;
use crate::config::{ConfigError, MAX_CLIENTS, MAX_RATE_LIMIT, WEBSOCKET_DEFAULTS, WebSocketDefaults};
use crate::queue::DeadLetterAdmin;
use crate::status::Broadcaster;

/// The validated settings every connection reads.
pub(crate) struct Settings {
    pub(crate) bind: SocketAddr,
    pub(crate) max_clients: usize,
    pub(crate) max_pending_handshakes: usize,
    pub(crate) rate_limit: Duration,
    pub(crate) auth_token: Option<Box<str>>,
    pub(crate) allow_query_token: bool,
    pub(crate) allowed_origins: Option<Vec<Box<str>>>,
    pub(crate) max_message_size: usize,
    pub(crate) ping_interval: Duration,
    pub(crate) pong_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_lags: u32,
    pub(crate) admin: Option<Admin>,
    pub(crate) background_thread: bool,
    /// The recorder whose text `GET /metrics` serves.
    #[cfg(feature = "prometheus")]
    pub(crate) metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a secret: only say whether one is set.
        let mut debug = f.debug_struct("Settings");
        debug
            .field("bind", &self.bind)
            .field("max_clients", &self.max_clients)
            .field("max_pending_handshakes", &self.max_pending_handshakes)
            .field("rate_limit", &self.rate_limit)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<redacted>"))
            .field("allow_query_token", &self.allow_query_token)
            .field("allowed_origins", &self.allowed_origins)
            .field("max_message_size", &self.max_message_size)
            .field("ping_interval", &self.ping_interval)
            .field("pong_timeout", &self.pong_timeout)
            .field("write_timeout", &self.write_timeout)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_lags", &self.max_lags)
            .field("admin", &self.admin)
            .field("background_thread", &self.background_thread);
        #[cfg(feature = "prometheus")]
        debug.field("metrics", &self.metrics.is_some());
        debug.finish()
    }
}

/// The ranges [`StatusServerBuilder::build`] accepts (see the builder's table).
const MAX_PENDING_HANDSHAKES: RangeInclusive<usize> = 1..=65_536;
const MAX_MESSAGE_SIZE: RangeInclusive<usize> = 64..=1 << 20;
const TIMEOUT: RangeInclusive<Duration> = Duration::from_millis(1)..=Duration::from_secs(60 * 60);
const HANDSHAKE_TIMEOUT: RangeInclusive<Duration> = Duration::from_millis(1)..=Duration::from_secs(60);
const MAX_LAGS: RangeInclusive<u32> = 0..=1000;
const MAX_TOKEN_LEN: usize = 1024;
const MAX_ORIGINS: usize = 1024;
const MAX_ORIGIN_LEN: usize = 1024;

/// Configures a [`StatusServer`]; [`build`](Self::build) checks every value against its
/// range and names the field it rejects.
///
/// | setting | default | range |
/// |---|---|---|
/// | [`bind`](Self::bind) | `127.0.0.1:0` (loopback, any free port) | any |
/// | [`max_clients`](Self::max_clients) | [`WEBSOCKET_DEFAULTS`]`.max_clients` (100) | 1 ..= 1 048 576 |
/// | [`max_pending_handshakes`](Self::max_pending_handshakes) | 128 | 1 ..= 65 536 |
/// | [`rate_limit`](Self::rate_limit) | [`WEBSOCKET_DEFAULTS`]`.rate_limit` (100 ms) | 0 (off) ..= 60 s |
/// | [`auth_token`](Self::auth_token) | none (no authentication) | 1 ..= 1024 characters, no whitespace |
/// | [`allow_query_token`](Self::allow_query_token) | `false` (`Authorization` header only) | |
/// | [`allowed_origins`](Self::allowed_origins) | none (any Origin) | 1 ..= 1024 origins of 1 ..= 1024 bytes |
/// | [`max_message_size`](Self::max_message_size) | 4 KiB | 64 B ..= 1 MiB |
/// | [`ping_interval`](Self::ping_interval) / [`pong_timeout`](Self::pong_timeout) | 30 s / 10 s | 1 ms ..= 1 h each |
/// | [`write_timeout`](Self::write_timeout) | 10 s | 1 ms ..= 1 h |
/// | [`handshake_timeout`](Self::handshake_timeout) | 5 s | 1 ms ..= 60 s |
/// | [`max_lags`](Self::max_lags) | 3 | 0 ..= 1000 |
/// | [`admin`](Self::admin) | none (no admin API) | a token like `auth_token`'s, not equal to it |
/// | `metrics` (feature `prometheus`) | none (`/metrics` is 404) | a recorder's handle |
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
    pub(super) fn new(broadcaster: Broadcaster) -> Self {
        Self {
            broadcaster,
            settings: Settings {
                bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                max_clients: WEBSOCKET_DEFAULTS.max_clients,
                max_pending_handshakes: 128,
                rate_limit: WEBSOCKET_DEFAULTS.rate_limit,
                auth_token: None,
                allow_query_token: false,
                allowed_origins: None,
                max_message_size: 4 * 1024,
                ping_interval: Duration::from_secs(30),
                pong_timeout: Duration::from_secs(10),
                write_timeout: Duration::from_secs(10),
                handshake_timeout: Duration::from_secs(5),
                max_lags: 3,
                admin: None,
                background_thread: false,
                #[cfg(feature = "prometheus")]
                metrics: None,
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
    /// free port, see [`StatusServerHandle::local_addr`](super::StatusServerHandle::local_addr)).
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

    /// Serves clients from a thread of the server's own, at the lowest CPU priority (nice 19
    /// on Linux; elsewhere at the thread's default priority), instead of on the runtime that
    /// calls [`start`](StatusServer::start). The worker's jobs then always come first: when
    /// they keep every core busy, clients get what CPU is left and fall behind (they are
    /// told they lagged, and catch up when the load eases) rather than slow the jobs down.
    /// Off by default, so that the server runs on the caller's runtime, paused clock
    /// included. Measured beside a no-op worker that saturates the cores: BENCHMARKS.md §16.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let server = StatusServer::builder(Broadcaster::new()).background_thread(true).build().unwrap();
    /// let server = server.start().await.unwrap();
    /// assert_eq!(server.client_count(), 0);
    /// server.shutdown().await;
    /// # }
    /// ```
    pub fn background_thread(mut self, on: bool) -> Self {
        self.settings.background_thread = on;
        self
    }

    /// Accepts at most `clients` WebSocket clients; more are refused with HTTP 503 and
    /// `Retry-After`, and the connected ones are unaffected. A client takes its place only
    /// once admitted (after the Origin and token checks). Between 1 and 1 048 576.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// assert!(StatusServer::builder(Broadcaster::new()).max_clients(1).build().is_ok());
    /// assert_eq!(StatusServer::builder(Broadcaster::new()).max_clients(2_000_000).build().unwrap_err().field(), "max_clients");
    /// ```
    pub fn max_clients(mut self, clients: usize) -> Self {
        self.settings.max_clients = clients;
        self
    }

    /// Keeps at most `connections` connections that are not admitted yet (still sending
    /// their request, or being answered). When that many are pending, a new connection
    /// evicts the oldest one, which is answered HTTP 503 with `Retry-After` and closed: a
    /// pile of half-open sockets cannot keep a real client out. Between 1 and 65 536.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// assert!(StatusServer::builder(Broadcaster::new()).max_pending_handshakes(16).build().is_ok());
    /// let err = StatusServer::builder(Broadcaster::new()).max_pending_handshakes(0).build().unwrap_err();
    /// assert_eq!(err.field(), "max_pending_handshakes");
    /// ```
    pub fn max_pending_handshakes(mut self, connections: usize) -> Self {
        self.settings.max_pending_handshakes = connections;
        self
    }

    /// Per client, sends at most one non-terminal update per job in each `window`, the
    /// latest one; `COMPLETED` and `FAILED` always go out at once. Zero turns it off; at
    /// most 60 s.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// assert!(StatusServer::builder(Broadcaster::new()).rate_limit(Duration::ZERO).build().is_ok());
    /// let err = StatusServer::builder(Broadcaster::new()).rate_limit(Duration::MAX).build().unwrap_err();
    /// assert_eq!(err.field(), "rate_limit");
    /// ```
    pub fn rate_limit(mut self, window: Duration) -> Self {
        self.settings.rate_limit = window;
        self
    }

    /// Requires clients to present `token` as `Authorization: Bearer <token>`; others get
    /// HTTP 401. 1 to 1024 characters without whitespace. The token is compared in constant
    /// time and is never logged or shown by `Debug`. See also
    /// [`allow_query_token`](Self::allow_query_token).
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

    /// Also accepts the token as the `token` query parameter (percent-encoded), for clients
    /// that cannot set headers (a browser's `WebSocket`). Off by default: a URL ends up in
    /// proxy logs and browser history, a header does not.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// let b = StatusServer::builder(Broadcaster::new()).auth_token("s3cret").allow_query_token(true);
    /// assert!(b.build().is_ok());
    /// ```
    pub fn allow_query_token(mut self, allow: bool) -> Self {
        self.settings.allow_query_token = allow;
        self
    }

    /// Refuses (HTTP 403) browser connections whose `Origin` header is not one of
    /// `origins` (compared case-insensitively, e.g. `https://dash.example.com`). Requests
    /// without an `Origin` header (non-browser clients) are not affected; a request with
    /// more than one is always refused. 1 to 1024 origins, each 1 to 1024 bytes.
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

    /// Pings each client this often. Between 1 ms and 1 h.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// let err = StatusServer::builder(Broadcaster::new()).ping_interval(Duration::ZERO).build().unwrap_err();
    /// assert_eq!(err.field(), "ping_interval");
    /// let err = StatusServer::builder(Broadcaster::new()).ping_interval(Duration::MAX).build().unwrap_err();
    /// assert_eq!(err.field(), "ping_interval");
    /// ```
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.settings.ping_interval = interval;
        self
    }

    /// Drops a client that has sent nothing, not even a pong, for `ping_interval +
    /// timeout` (checked at each ping). Between 1 ms and 1 h.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// assert!(StatusServer::builder(Broadcaster::new()).pong_timeout(Duration::from_secs(5)).build().is_ok());
    /// let err = StatusServer::builder(Broadcaster::new()).pong_timeout(Duration::MAX).build().unwrap_err();
    /// assert_eq!(err.field(), "pong_timeout");
    /// ```
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.settings.pong_timeout = timeout;
        self
    }

    /// Drops a client whose socket does not take a batch of messages within `timeout`
    /// (a client that stopped reading). Between 1 ms and 1 h.
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

    /// Answers HTTP 408 and closes a connection whose request has not arrived in full within
    /// `timeout` of connecting. Short, because a pending connection holds a place among the
    /// [`max_pending_handshakes`](Self::max_pending_handshakes). Between 1 ms and 60 s.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// assert!(StatusServer::builder(Broadcaster::new()).handshake_timeout(Duration::from_secs(3)).build().is_ok());
    /// let err = StatusServer::builder(Broadcaster::new()).handshake_timeout(Duration::from_secs(3600)).build().unwrap_err();
    /// assert_eq!(err.field(), "handshake_timeout");
    /// ```
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.settings.handshake_timeout = timeout;
        self
    }

    /// Closes (code 1008) a client told it lagged more than `times` times in a row without
    /// catching up in between. Each lag is reported with the number of events missed. At
    /// most 1000.
    ///
    /// ```
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// assert!(StatusServer::builder(Broadcaster::new()).max_lags(0).build().is_ok());
    /// assert_eq!(StatusServer::builder(Broadcaster::new()).max_lags(u32::MAX).build().unwrap_err().field(), "max_lags");
    /// ```
    pub fn max_lags(mut self, times: u32) -> Self {
        self.settings.max_lags = times;
        self
    }

    /// Serves the admin API for `backend`'s dead letters to clients that present `token` as
    /// `Authorization: Bearer <token>`: `GET /api/dead-letters` lists them (with their
    /// whole failure history), `POST /api/dead-letters/requeue` and
    /// `POST /api/dead-letters/delete` take `{"ids":[…]}` (see `docs/protocol.md`). The
    /// dashboard shows its admin actions only to a page given this token.
    ///
    /// The token must differ from the read token ([`auth_token`](Self::auth_token)), is
    /// accepted only in the header (never from the query or a cookie, so a cross-site
    /// request cannot carry it), and is compared in constant time. A browser request must
    /// also come from the server's own origin or an [allowed](Self::allowed_origins) one.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use worker_utils::queue::MemoryQueue;
    /// use worker_utils::status::{Broadcaster, StatusServer};
    ///
    /// let queue = Arc::new(MemoryQueue::<String>::builder("mail").build().unwrap());
    /// let server = StatusServer::builder(Broadcaster::new())
    ///     .auth_token("read-token")
    ///     .admin("admin-token", queue.clone())
    ///     .build();
    /// assert!(server.is_ok());
    ///
    /// let same = StatusServer::builder(Broadcaster::new()).auth_token("t").admin("t", queue).build();
    /// assert_eq!(same.unwrap_err().field(), "admin");
    /// ```
    pub fn admin(mut self, token: impl Into<String>, backend: impl DeadLetterAdmin) -> Self {
        let token = token.into().into_boxed_str();
        self.settings.admin = Some(Admin { token, backend: Arc::new(backend) });
        self
    }

    /// Serves `GET /metrics`: the text of `handle`, a Prometheus recorder's (e.g. from
    /// [`install_prometheus`](crate::metrics::install_prometheus)), as
    /// `text/plain; version=0.0.4`. Without it, `/metrics` is 404 (feature `prometheus`).
    ///
    /// A scrape is a reader like a feed client: when the server has an
    /// [`auth_token`](Self::auth_token) it must present it as `Authorization: Bearer`
    /// (Prometheus: `authorization: { credentials: … }`; never from the query), and an
    /// `Origin`, if sent, must be [allowed](Self::allowed_origins). Prometheus sends none.
    ///
    /// ```
    /// use metrics_exporter_prometheus::PrometheusBuilder;
    /// use worker_utils::status::{Broadcaster, StatusServer};
    ///
    /// // A recorder of your own (not installed here); `install_prometheus` does it all.
    /// let handle = PrometheusBuilder::new().build_recorder().handle();
    /// let server = StatusServer::builder(Broadcaster::new()).auth_token("scrape-token").metrics(handle).build();
    /// assert!(server.is_ok());
    /// ```
    #[cfg(feature = "prometheus")]
    pub fn metrics(mut self, handle: metrics_exporter_prometheus::PrometheusHandle) -> Self {
        self.settings.metrics = Some(handle);
        self
    }

    /// Checks every setting against its range (see the table above).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use worker_utils::status::{Broadcaster, StatusServer};
    /// let err = StatusServer::builder(Broadcaster::new()).write_timeout(Duration::ZERO).build().unwrap_err();
    /// assert_eq!(err.to_string(), "invalid `write_timeout`: must be between 1 ms and 1 h");
    /// ```
    pub fn build(self) -> Result<StatusServer, ConfigError> {
        let s = &self.settings;
        if !(1..=MAX_CLIENTS).contains(&s.max_clients) {
            return Err(ConfigError::new("max_clients", format!("must be between 1 and {MAX_CLIENTS}")));
        }
        if !MAX_PENDING_HANDSHAKES.contains(&s.max_pending_handshakes) {
            return Err(ConfigError::new(
                "max_pending_handshakes",
                format!("must be between 1 and {}", MAX_PENDING_HANDSHAKES.end()),
            ));
        }
        if s.rate_limit > MAX_RATE_LIMIT {
            return Err(ConfigError::new("rate_limit", format!("must be at most {}", show(MAX_RATE_LIMIT))));
        }
        if !MAX_MESSAGE_SIZE.contains(&s.max_message_size) {
            return Err(ConfigError::new("max_message_size", "must be between 64 bytes and 1 MiB"));
        }
        for (field, value, range) in [
            ("ping_interval", s.ping_interval, TIMEOUT),
            ("pong_timeout", s.pong_timeout, TIMEOUT),
            ("write_timeout", s.write_timeout, TIMEOUT),
            ("handshake_timeout", s.handshake_timeout, HANDSHAKE_TIMEOUT),
        ] {
            if !range.contains(&value) {
                let (low, high) = (show(*range.start()), show(*range.end()));
                return Err(ConfigError::new(field, format!("must be between {low} and {high}")));
            }
        }
        if !MAX_LAGS.contains(&s.max_lags) {
            return Err(ConfigError::new("max_lags", format!("must be at most {}", MAX_LAGS.end())));
        }
        if let Some(token) = &s.auth_token
            && !valid_token(token)
        {
            return Err(ConfigError::new(
                "auth_token",
                format!("must be 1 to {MAX_TOKEN_LEN} characters without whitespace"),
            ));
        }
        if let Some(admin) = &s.admin
            && (!valid_token(&admin.token) || s.auth_token.as_deref() == Some(&*admin.token))
        {
            return Err(ConfigError::new(
                "admin",
                format!(
                    "the admin token must be 1 to {MAX_TOKEN_LEN} characters without whitespace, and not the read token"
                ),
            ));
        }
        if let Some(origins) = &s.allowed_origins
            && (origins.is_empty()
                || origins.len() > MAX_ORIGINS
                || origins.iter().any(|o| o.is_empty() || o.len() > MAX_ORIGIN_LEN))
        {
            return Err(ConfigError::new(
                "allowed_origins",
                format!("must list 1 to {MAX_ORIGINS} non-empty origins of at most {MAX_ORIGIN_LEN} bytes"),
            ));
        }
        Ok(StatusServer { broadcaster: self.broadcaster, settings: Arc::new(self.settings) })
    }
}

/// Whether `token` is 1 to 1024 characters without whitespace or control characters.
fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.chars().count() <= MAX_TOKEN_LEN
        && !token.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A bound as the table writes it: `1 ms`, `60 s`, `10 min`, `1 h`.
fn show(bound: Duration) -> String {
    let secs = bound.as_secs();
    match secs {
        0 => format!("{} ms", bound.as_millis()),
        _ if secs.is_multiple_of(3600) => format!("{} h", secs / 3600),
        _ if secs.is_multiple_of(60) && secs > 60 => format!("{} min", secs / 60),
        _ => format!("{secs} s"),
    }
}

impl fmt::Debug for StatusServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatusServerBuilder").field("settings", &self.settings).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Configure = fn(StatusServerBuilder) -> StatusServerBuilder;

    fn field(configure: impl FnOnce(StatusServerBuilder) -> StatusServerBuilder) -> Option<String> {
        configure(StatusServerBuilder::new(Broadcaster::new())).build().err().map(|e| e.field().to_owned())
    }

    #[test]
    fn the_defaults_are_in_range() {
        assert_eq!(field(|b| b), None);
    }

    #[test]
    fn every_bound_is_inclusive_and_one_past_it_is_refused_by_name() {
        const SEC: Duration = Duration::from_secs(1);
        let cases: [(&str, Configure, Configure); 11] = [
            ("max_clients", |b| b.max_clients(MAX_CLIENTS), |b| b.max_clients(MAX_CLIENTS + 1)),
            (
                "max_pending_handshakes",
                |b| b.max_pending_handshakes(65_536),
                |b| b.max_pending_handshakes(65_537),
            ),
            ("rate_limit", |b| b.rate_limit(60 * SEC), |b| b.rate_limit(60 * SEC + Duration::from_nanos(1))),
            ("max_message_size", |b| b.max_message_size(64), |b| b.max_message_size(63)),
            ("ping_interval", |b| b.ping_interval(3600 * SEC), |b| b.ping_interval(3601 * SEC)),
            (
                "pong_timeout",
                |b| b.pong_timeout(Duration::from_millis(1)),
                |b| b.pong_timeout(Duration::from_micros(999)),
            ),
            ("write_timeout", |b| b.write_timeout(3600 * SEC), |b| b.write_timeout(3601 * SEC)),
            ("handshake_timeout", |b| b.handshake_timeout(60 * SEC), |b| b.handshake_timeout(61 * SEC)),
            ("max_lags", |b| b.max_lags(1000), |b| b.max_lags(1001)),
            ("auth_token", |b| b.auth_token("é".repeat(1024)), |b| b.auth_token("a".repeat(1025))),
            (
                "allowed_origins",
                |b| b.allowed_origins(vec!["o"; 1024]),
                |b| b.allowed_origins(vec!["o"; 1025]),
            ),
        ];
        for (name, inside, outside) in cases {
            assert_eq!(field(inside), None, "{name} at its bound");
            assert_eq!(field(outside).as_deref(), Some(name), "{name} past its bound");
        }
    }

    #[test]
    fn durations_that_would_overflow_later_are_refused() {
        for configure in [
            (|b| b.ping_interval(Duration::MAX)) as Configure,
            |b| b.pong_timeout(Duration::MAX),
            |b| b.write_timeout(Duration::MAX),
            |b| b.handshake_timeout(Duration::MAX),
            |b| b.rate_limit(Duration::MAX),
        ] {
            assert!(field(configure).is_some());
        }
    }

    #[test]
    fn bounds_read_as_the_table_writes_them() {
        assert_eq!(show(Duration::from_millis(1)), "1 ms");
        assert_eq!(show(Duration::from_secs(60)), "60 s");
        assert_eq!(show(Duration::from_secs(600)), "10 min");
        assert_eq!(show(Duration::from_secs(3600)), "1 h");
    }
}
