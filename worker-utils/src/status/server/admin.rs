//! The admin API under `/api/`: list, requeue and delete one queue's dead letters, for a
//! client that presents the admin token in an `Authorization: Bearer` header.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;

use super::Shared;
use super::dashboard::secured;
use super::handshake::presents_token;
use super::http::{self, Request, Response};
use super::refusal::Rejection;
use crate::context::JobId;
use crate::queue::DeadLetterAdmin;

/// The largest request body accepted (a list of ids).
pub(crate) const MAX_BODY: usize = 64 * 1024;
/// The most ids one request may name.
const MAX_IDS: usize = 10_000;
/// The most dead letters one listing returns (the newest).
const MAX_LISTED: usize = 5_000;

/// The admin token and the queue it administers.
pub(crate) struct Admin {
    pub(crate) token: Box<str>,
    pub(crate) backend: Arc<dyn DeadLetterAdmin>,
}

impl fmt::Debug for Admin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admin")
            .field("token", &"<redacted>")
            .field("queue", &self.backend.queue_name())
            .finish()
    }
}

/// An admin endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `GET /api/dead-letters`
    List,
    /// `POST /api/dead-letters/requeue`
    Requeue,
    /// `POST /api/dead-letters/delete`
    Delete,
}

impl Endpoint {
    /// The endpoint at `path`, if any.
    pub(crate) fn at(path: &str) -> Option<Self> {
        match path {
            "/api/dead-letters" => Some(Self::List),
            "/api/dead-letters/requeue" => Some(Self::Requeue),
            "/api/dead-letters/delete" => Some(Self::Delete),
            _ => None,
        }
    }

    fn method(self) -> &'static str {
        match self {
            Self::List => "GET",
            Self::Requeue | Self::Delete => "POST",
        }
    }
}

/// The body of a requeue or delete.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Ids {
    ids: Vec<u64>,
}

/// A refused admin request: the reason it is counted under and its answer.
type Refused = (Rejection, Response);

fn refused(rejection: Rejection, status: u16, message: &str) -> Refused {
    (rejection, secured(Response::text(status, message)))
}

/// Answers an admin request: checked in the order method (405), Origin (403), token (401),
/// body (411, 413, 415, 400), then carried out (500 if the queue fails).
pub(crate) async fn serve(
    shared: &Shared,
    admin: &Admin,
    stream: &mut TcpStream,
    peer: SocketAddr,
    request: &Request,
    rest: Vec<u8>,
    endpoint: Endpoint,
) -> Response {
    match answer(shared, admin, stream, request, rest, endpoint).await {
        Ok(response) => response,
        Err((rejection, response)) => {
            shared.refusals.record(rejection, peer);
            response
        }
    }
}

async fn answer(
    shared: &Shared,
    admin: &Admin,
    stream: &mut TcpStream,
    request: &Request,
    rest: Vec<u8>,
    endpoint: Endpoint,
) -> Result<Response, Refused> {
    if *request.method != *endpoint.method() {
        let (rejection, response) = refused(Rejection::Method, 405, &format!("use {}", endpoint.method()));
        return Err((rejection, response.header("Allow", endpoint.method())));
    }
    check_origin(shared, request)?;
    if !presents_token(request, admin.token.as_bytes(), false) {
        let (rejection, response) = refused(Rejection::Unauthorized, 401, "missing or wrong admin token");
        return Err((rejection, response.header("WWW-Authenticate", "Bearer")));
    }
    let backend = &*admin.backend;
    let failed = |error: crate::queue::QueueError| {
        tracing::warn!(queue = backend.queue_name(), %error, "dead-letter admin request failed");
        secured(Response::text(500, "the queue failed; see the server's log"))
    };
    let body = match endpoint {
        Endpoint::List => match backend.list().await {
            Ok(letters) => {
                let total = letters.len();
                let listed = &letters[total.saturating_sub(MAX_LISTED)..];
                serde_json::json!({ "queue": backend.queue_name(), "total": total, "dead_letters": listed })
            }
            Err(error) => return Ok(failed(error)),
        },
        Endpoint::Requeue | Endpoint::Delete => {
            let ids = read_ids(shared, stream, request, rest).await?;
            if endpoint == Endpoint::Requeue {
                match backend.requeue(ids).await {
                    Ok(moved) => {
                        let pairs: Vec<[u64; 2]> =
                            moved.iter().map(|(old, new)| [old.get(), new.get()]).collect();
                        tracing::info!(
                            queue = backend.queue_name(),
                            requeued = pairs.len(),
                            "dead letters requeued"
                        );
                        serde_json::json!({ "requeued": pairs })
                    }
                    Err(error) => return Ok(failed(error)),
                }
            } else {
                match backend.purge(ids).await {
                    Ok(deleted) => {
                        tracing::info!(queue = backend.queue_name(), deleted, "dead letters deleted");
                        serde_json::json!({ "deleted": deleted })
                    }
                    Err(error) => return Ok(failed(error)),
                }
            }
        }
    };
    Ok(secured(Response::json(200, body.to_string())))
}

/// A browser always sends `Origin` on a POST and on any cross-origin request: it must be
/// this server's own origin (`http(s)://` + `Host`) or on the allow-list. A request without
/// one is no browser's, and still needs the token.
fn check_origin(shared: &Shared, request: &Request) -> Result<(), Refused> {
    let forbidden = || refused(Rejection::Origin, 403, "origin not allowed");
    if request.single_header("sec-fetch-site").is_ok_and(|site| site.eq_ignore_ascii_case(b"cross-site")) {
        return Err(forbidden());
    }
    let origin = match request.single_header("origin") {
        Err(0) => return Ok(()),
        Err(_) => return Err(forbidden()),
        Ok(origin) => origin,
    };
    let same = request.single_header("host").is_ok_and(|host| {
        [&b"http://"[..], b"https://"].iter().any(|scheme| {
            origin.len() == scheme.len() + host.len()
                && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
                && origin[scheme.len()..].eq_ignore_ascii_case(host)
        })
    });
    let listed = shared
        .settings
        .allowed_origins
        .as_ref()
        .is_some_and(|allowed| allowed.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(origin)));
    if same || listed { Ok(()) } else { Err(forbidden()) }
}

/// Reads the JSON body `{"ids":[…]}`: a `Content-Length` of at most [`MAX_BODY`], an
/// `application/json` type, 1 to 10 000 ids.
async fn read_ids(
    shared: &Shared,
    stream: &mut TcpStream,
    request: &Request,
    rest: Vec<u8>,
) -> Result<Vec<JobId>, Refused> {
    if request.single_header("transfer-encoding").is_ok() {
        return Err(refused(Rejection::Malformed, 411, "send the body with a Content-Length"));
    }
    let length = match request.single_header("content-length") {
        Ok(value) => std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .ok_or_else(|| refused(Rejection::Malformed, 400, "bad Content-Length"))?,
        Err(0) => return Err(refused(Rejection::Malformed, 411, "send the body with a Content-Length")),
        Err(_) => return Err(refused(Rejection::Malformed, 400, "more than one Content-Length")),
    };
    if length > MAX_BODY {
        return Err(refused(Rejection::TooLarge, 413, "the body is larger than 64 KiB"));
    }
    let json = request.single_header("content-type").is_ok_and(|value| {
        let media = value.split(|&b| b == b';').next().unwrap_or_default();
        media.trim_ascii().eq_ignore_ascii_case(b"application/json")
    });
    if !json {
        return Err(refused(Rejection::Malformed, 415, "send application/json"));
    }
    let read = http::read_body(stream, rest, length);
    let body = match tokio::time::timeout(shared.settings.handshake_timeout, read).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return Err(refused(Rejection::Malformed, 400, "the body ended early")),
        Err(_) => return Err(refused(Rejection::Timeout, 408, "the body was not received in time")),
    };
    let ids: Ids = serde_json::from_slice(&body)
        .map_err(|_| refused(Rejection::Malformed, 400, "expected {\"ids\":[job ids]}"))?;
    if ids.ids.is_empty() || ids.ids.len() > MAX_IDS {
        return Err(refused(Rejection::Malformed, 400, "name 1 to 10000 ids"));
    }
    Ok(ids.ids.into_iter().map(JobId::new).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_found_by_exact_path_with_their_method() {
        assert_eq!(Endpoint::at("/api/dead-letters"), Some(Endpoint::List));
        assert_eq!(Endpoint::at("/api/dead-letters/requeue").map(Endpoint::method), Some("POST"));
        assert_eq!(Endpoint::at("/api/dead-letters/delete").map(Endpoint::method), Some("POST"));
        assert_eq!(Endpoint::at("/api/dead-letters/"), None);
        assert_eq!(Endpoint::at("/api"), None);
    }
}
