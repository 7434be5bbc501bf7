//! The front door of one connection: read its request, route it, and answer it (the
//! health report, a dashboard file, the metrics, the admin API, a refusal) or admit it as
//! a WebSocket client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_util::sync::CancellationToken;

use super::http::{self, Head, HeadError, Request, Response};
#[cfg(feature = "prometheus")]
use super::metrics;
use super::pending::Pending;
use super::refusal::{Refusal, Rejection};
use super::{Settings, Shared, admin, client, dashboard, handshake, protocol};

/// The path of the WebSocket feed.
pub(super) const WS_PATH: &str = "/ws";
/// The path of the health report.
const HEALTH_PATH: &str = "/healthz";

/// One connection from accept to its end: it stays pending (and may be evicted by a newer
/// connection) until its request is answered or it is admitted as a client.
pub(super) async fn connect(
    mut stream: TcpStream,
    peer: SocketAddr,
    pending: Pending,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%peer, %error, "could not set TCP_NODELAY");
    }
    let mut answered = false;
    let outcome = tokio::select! {
        biased;
        () = shutdown.cancelled() => Err(Rejection::ShuttingDown),
        () = pending.evicted() => Err(Rejection::Overloaded),
        admitted = front(&mut stream, peer, &shared, &mut answered) => Ok(admitted),
    };
    match outcome {
        Ok(Some(Admitted { query, slot, rest })) => {
            drop(pending);
            let ws = WebSocketStream::from_partially_read(
                stream,
                rest,
                Role::Server,
                Some(ws_config(&shared.settings)),
            )
            .await;
            client::Connection::new(ws, peer, query, &shared, slot).serve(shutdown).await;
        }
        Ok(None) => {}
        // Interrupted before an answer went out: answer now, without waiting on the client.
        Err(rejection) if !answered => {
            shared.refusals.record(rejection, peer);
            rejection.response(None).send_now(&mut stream).await;
        }
        Err(_) => {}
    }
}

/// A client that passed every check, its place among `max_clients`, and the first bytes
/// it sent after its request (the start of its WebSocket frames).
struct Admitted {
    query: protocol::FeedQuery,
    slot: tokio::sync::OwnedSemaphorePermit,
    rest: Vec<u8>,
}

/// Reads the request, within the handshake timeout, and answers it: the health report, a
/// refusal, or the `101` of an admitted client (returned). Sets `answered` before writing.
async fn front(
    stream: &mut TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    answered: &mut bool,
) -> Option<Admitted> {
    let settings = &shared.settings;
    let head = match tokio::time::timeout(settings.handshake_timeout, http::read_head(stream)).await {
        Ok(Ok(head)) => head,
        // Gone before sending anything, or the socket failed: nobody to answer.
        Ok(Err(HeadError::Closed { sent: 0 })) => return None,
        Ok(Err(HeadError::Io(error))) => {
            tracing::debug!(%peer, %error, "status connection failed before its request");
            return None;
        }
        Ok(Err(HeadError::Closed { .. } | HeadError::Malformed)) => {
            *answered = true;
            refuse(shared, peer, &Rejection::Malformed.into()).send(stream).await;
            return None;
        }
        Ok(Err(HeadError::TooLarge)) => {
            *answered = true;
            refuse(shared, peer, &Rejection::TooLarge.into()).send(stream).await;
            return None;
        }
        Err(_) => {
            *answered = true;
            refuse(shared, peer, &Rejection::Timeout.into()).send_now(stream).await;
            return None;
        }
    };
    let Head { request, rest } = head;
    let response = match route(&request, settings) {
        Ok(Route::Health) => health(shared),
        Ok(Route::Asset(asset)) => asset.response(),
        #[cfg(feature = "prometheus")]
        Ok(Route::Metrics(handle)) => match metrics::serve(settings, handle, &request) {
            Ok(response) => response,
            Err(refusal) => refuse(shared, peer, &refusal),
        },
        Ok(Route::Admin(config, endpoint)) => {
            admin::serve(shared, config, stream, peer, &request, rest, endpoint).await
        }
        Ok(Route::WebSocket) => match admit(shared, &request) {
            Ok((key, query, slot)) => {
                *answered = true;
                let accept = handshake::accept_response(key);
                let write = tokio::io::AsyncWriteExt::write_all(stream, &accept);
                return match tokio::time::timeout(settings.write_timeout, write).await {
                    Ok(Ok(())) => Some(Admitted { query, slot, rest }),
                    _ => {
                        tracing::debug!(%peer, "status handshake: the 101 could not be written");
                        None
                    }
                };
            }
            Err(refusal) => refuse(shared, peer, &refusal),
        },
        Err(rejection) => refuse(shared, peer, &rejection.into()),
    };
    *answered = true;
    response.send(stream).await;
    None
}

/// What a request asks for.
pub(super) enum Route<'s> {
    WebSocket,
    Health,
    /// A file of the dashboard.
    Asset(&'static dashboard::Asset),
    /// The admin API (which checks its own methods).
    Admin(&'s admin::Admin, admin::Endpoint),
    /// The Prometheus text of this recorder.
    #[cfg(feature = "prometheus")]
    Metrics(&'s metrics_exporter_prometheus::PrometheusHandle),
}

/// Path first (404), then method (405); the admin API and the metrics exist only when
/// configured.
pub(super) fn route<'s>(request: &Request, settings: &'s Settings) -> Result<Route<'s>, Rejection> {
    let route = match &*request.path {
        WS_PATH => Route::WebSocket,
        HEALTH_PATH => Route::Health,
        #[cfg(feature = "prometheus")]
        metrics::PATH => Route::Metrics(settings.metrics.as_ref().ok_or(Rejection::NotFound)?),
        path => match (admin::Endpoint::at(path), &settings.admin) {
            (Some(endpoint), Some(admin)) => return Ok(Route::Admin(admin, endpoint)),
            _ => Route::Asset(dashboard::asset(path).ok_or(Rejection::NotFound)?),
        },
    };
    if &*request.method != "GET" {
        return Err(Rejection::Method);
    }
    Ok(route)
}

/// A WebSocket upgrade's checks in order: a valid upgrade (400/426), admission (Origin,
/// token, query: 403/401/400), then a free place (503) — taken only now, so connections
/// that never complete a request or are refused hold none.
fn admit<'r>(
    shared: &Shared,
    request: &'r Request,
) -> Result<(&'r [u8], protocol::FeedQuery, tokio::sync::OwnedSemaphorePermit), Refusal> {
    let key = handshake::upgrade_key(request)?;
    let query = handshake::admit(&shared.settings, request)?;
    let slot = Arc::clone(&shared.slots).try_acquire_owned().map_err(|_| Refusal::from(Rejection::Full))?;
    Ok((key, query, slot))
}

/// Records the refusal and returns its answer.
fn refuse(shared: &Shared, peer: SocketAddr, refusal: &Refusal) -> Response {
    shared.refusals.record(refusal.rejection, peer);
    refusal.response()
}

/// The health report: what the server knows about its clients and its feed, nothing secret.
fn health(shared: &Shared) -> Response {
    let body = serde_json::json!({
        "status": "ok",
        "clients": shared.connected.load(Ordering::Relaxed),
        "max_clients": shared.settings.max_clients,
        // Others than the one asking.
        "pending_handshakes": shared.pending.len().saturating_sub(1),
        "subscribers": shared.broadcaster.subscriber_count(),
        "last_seq": shared.broadcaster.last_seq(),
    });
    Response::json(200, body.to_string())
}

fn ws_config(settings: &Settings) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(64 * 1024)
        .max_write_buffer_size(16 << 20)
        .max_message_size(Some(settings.max_message_size))
        .max_frame_size(Some(settings.max_message_size))
}
