//! Why a connection was refused, the HTTP answer it gets, and the rate-limited log of refusals.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use super::http::Response;

/// Why a connection got an HTTP error instead of a WebSocket (or the health report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// The request head does not parse as HTTP/1.x.
    Malformed,
    /// The request head is larger than [`MAX_HEAD`](super::http::MAX_HEAD) or has too many
    /// headers.
    TooLarge,
    /// The request head did not arrive within the handshake timeout.
    Timeout,
    /// A method other than `GET`.
    Method,
    /// A path the server does not serve.
    NotFound,
    /// A plain `GET` (no `Upgrade: websocket`) on the WebSocket path.
    NotWebSocket,
    /// An upgrade with a `Sec-WebSocket-Version` other than 13.
    Version,
    /// An upgrade that is not a valid WebSocket handshake (no key, no `Connection: upgrade`,
    /// HTTP/1.0).
    BadHandshake,
    /// An `Origin` outside the allow-list, or more than one `Origin` header.
    Origin,
    /// A missing or wrong token.
    Unauthorized,
    /// `queues` / `job_ids` in the query do not parse.
    BadQuery,
    /// `max_clients` clients are connected.
    Full,
    /// Evicted from the pending handshakes by a newer connection while the bound was full.
    Overloaded,
    /// The server is shutting down.
    ShuttingDown,
}

impl Rejection {
    /// Every reason, in the order the summary lists them.
    const ALL: [Rejection; 14] = [
        Rejection::Malformed,
        Rejection::TooLarge,
        Rejection::Timeout,
        Rejection::Method,
        Rejection::NotFound,
        Rejection::NotWebSocket,
        Rejection::Version,
        Rejection::BadHandshake,
        Rejection::Origin,
        Rejection::Unauthorized,
        Rejection::BadQuery,
        Rejection::Full,
        Rejection::Overloaded,
        Rejection::ShuttingDown,
    ];

    /// The `reason` label of `worker_utils_status_rejected_total` and of the log summary.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::TooLarge => "too_large",
            Rejection::Timeout => "timeout",
            Rejection::Method => "method",
            Rejection::NotFound => "not_found",
            Rejection::NotWebSocket => "not_websocket",
            Rejection::Version => "version",
            Rejection::BadHandshake => "bad_handshake",
            Rejection::Origin => "origin",
            Rejection::Unauthorized => "unauthorized",
            Rejection::BadQuery => "bad_query",
            Rejection::Full => "full",
            Rejection::Overloaded => "overloaded",
            Rejection::ShuttingDown => "shutdown",
        }
    }

    /// Whether the refusal says the server is short of room (worth a warning in the summary).
    fn is_capacity(self) -> bool {
        matches!(self, Rejection::Full | Rejection::Overloaded)
    }

    /// The HTTP answer, with `detail` as the body where one is given.
    pub(crate) fn response(self, detail: Option<&str>) -> Response {
        let (status, body) = match self {
            Rejection::Malformed => (400, "malformed request"),
            Rejection::TooLarge => (431, "request head too large"),
            Rejection::Timeout => (408, "request head not received in time"),
            Rejection::Method => (405, "only GET is served"),
            Rejection::NotFound => (404, "not found; the status feed is a WebSocket on /ws"),
            Rejection::NotWebSocket => (426, "/ws is a WebSocket endpoint"),
            Rejection::Version => (426, "unsupported WebSocket version; use 13"),
            Rejection::BadHandshake => (400, "invalid WebSocket handshake"),
            Rejection::Origin => (403, "origin not allowed"),
            Rejection::Unauthorized => (401, "missing or wrong token"),
            Rejection::BadQuery => (400, "bad query"),
            Rejection::Full => (503, "too many clients"),
            Rejection::Overloaded => (503, "too many pending connections"),
            Rejection::ShuttingDown => (503, "shutting down"),
        };
        let response = Response::text(status, detail.unwrap_or(body));
        match self {
            Rejection::Method => response.header("Allow", "GET"),
            Rejection::NotWebSocket => {
                response.header("Upgrade", "websocket").header("Sec-WebSocket-Version", "13")
            }
            Rejection::Version => response.header("Sec-WebSocket-Version", "13"),
            Rejection::Unauthorized => response.header("WWW-Authenticate", "Bearer"),
            Rejection::Full => response.header("Retry-After", "5"),
            Rejection::Overloaded | Rejection::ShuttingDown => response.header("Retry-After", "1"),
            _ => response,
        }
    }
}

/// A refused request: why, and what was wrong with it where that helps the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) rejection: Rejection,
    pub(crate) detail: Option<String>,
}

impl Refusal {
    pub(crate) fn response(&self) -> Response {
        self.rejection.response(self.detail.as_deref())
    }
}

impl From<Rejection> for Refusal {
    fn from(rejection: Rejection) -> Self {
        Self { rejection, detail: None }
    }
}

/// Counts refusals by reason between two summaries, so that unauthenticated clients cannot
/// flood the log: each refusal is logged at debug, and the counts at most once per
/// summary period (by the accept loop).
#[derive(Debug, Default)]
pub(crate) struct RefusalLog {
    counts: [AtomicU64; Rejection::ALL.len()],
}

impl RefusalLog {
    /// Counts and meters one refusal, and logs it at debug.
    pub(crate) fn record(&self, rejection: Rejection, peer: SocketAddr) {
        self.counts[rejection as usize].fetch_add(1, Ordering::Relaxed);
        crate::metrics::count_status_rejected(rejection.as_str());
        tracing::debug!(%peer, reason = rejection.as_str(), "status connection refused");
    }

    /// Takes the counts since the last call: `(reason, count)` of each reason seen.
    pub(crate) fn take(&self) -> Vec<(Rejection, u64)> {
        Rejection::ALL
            .into_iter()
            .filter_map(|rejection| {
                let count = self.counts[rejection as usize].swap(0, Ordering::Relaxed);
                (count > 0).then_some((rejection, count))
            })
            .collect()
    }

    /// Logs one line with the counts since the last summary, if there were refusals: a
    /// warning when some were for lack of room, info otherwise.
    pub(crate) fn summarize(&self) {
        let counts = self.take();
        if counts.is_empty() {
            return;
        }
        let refused: u64 = counts.iter().map(|(_, n)| n).sum();
        let mut by_reason = String::new();
        for (rejection, count) in &counts {
            let sep = if by_reason.is_empty() { "" } else { " " };
            let _ = write!(by_reason, "{sep}{}={count}", rejection.as_str());
        }
        if counts.iter().any(|(rejection, _)| rejection.is_capacity()) {
            tracing::warn!(refused, %by_reason, "status server refused connections since the last summary");
        } else {
            tracing::info!(refused, %by_reason, "status server refused connections since the last summary");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_counts_by_reason_and_starts_over_after_each_take() {
        let log = RefusalLog::default();
        let peer = SocketAddr::from(([127, 0, 0, 1], 1));
        for _ in 0..3 {
            log.record(Rejection::Unauthorized, peer);
        }
        log.record(Rejection::NotFound, peer);
        assert_eq!(log.take(), [(Rejection::NotFound, 1), (Rejection::Unauthorized, 3)]);
        assert!(log.take().is_empty());
    }

    #[test]
    fn every_reason_has_its_own_counter_and_label() {
        for (i, rejection) in Rejection::ALL.into_iter().enumerate() {
            assert_eq!(rejection as usize, i, "ALL is in declaration order");
        }
        let labels: std::collections::HashSet<_> = Rejection::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels.len(), Rejection::ALL.len());
    }

    #[test]
    fn refusals_that_ask_the_client_to_do_something_say_what() {
        let header = |r: Rejection, name: &str| r.response(None).header_value(name).map(str::to_owned);
        assert_eq!(header(Rejection::Version, "sec-websocket-version").as_deref(), Some("13"));
        assert_eq!(header(Rejection::Method, "allow").as_deref(), Some("GET"));
        assert_eq!(header(Rejection::Full, "retry-after").as_deref(), Some("5"));
        assert_eq!(header(Rejection::Overloaded, "retry-after").as_deref(), Some("1"));
        assert_eq!(header(Rejection::Unauthorized, "www-authenticate").as_deref(), Some("Bearer"));
        assert_eq!(Rejection::TooLarge.response(None).status(), 431);
    }
}
