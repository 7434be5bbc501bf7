//! Entry points for the fuzz targets in `worker-utils/fuzz`. Compiled only under
//! `cfg(fuzzing)`, which `cargo fuzz` sets; each runs the code a remote peer's bytes reach,
//! exactly as the server runs it, and throws the result away: the fuzzer looks for panics,
//! hangs and runaway memory.

use super::front::{Route, route};
use super::http::Request;
use super::protocol::{self, Filter, Inbound};
use super::{StatusServer, handshake};
use crate::status::Broadcaster;

/// A WebSocket client's text message: parsed, and for a subscribe, turned into a filter
/// and its `subscribed` reply; a refusal into its error message.
pub fn client_message(text: &str) {
    match Inbound::parse(text) {
        Ok(Inbound::Subscribe { queues, job_ids }) => match Filter::new(queues, job_ids) {
            Ok(filter) => drop(protocol::subscribed(&filter)),
            Err(error) => drop(error.to_message()),
        },
        Err(error) => drop(error.to_message()),
    }
}

/// An HTTP request head: parsed, routed, and for a WebSocket upgrade, checked (upgrade
/// headers, Origin, token, query) against a server with a token and an Origin allow-list,
/// with the query-string token allowed or not; every refusal rendered as its response.
pub fn request_head(bytes: &[u8], allow_query_token: bool) {
    let Ok(Some((request, _))) = Request::parse(bytes) else { return };
    let server = StatusServer::builder(Broadcaster::new())
        .auth_token("s3cret-token")
        .allowed_origins(["https://dash.example.com"])
        .allow_query_token(allow_query_token)
        .build()
        .expect("valid fuzzing settings");
    check(&request, &server);
}

fn check(request: &Request, server: &StatusServer) {
    match route(request, &server.settings) {
        Ok(Route::WebSocket) => {
            match handshake::upgrade_key(request) {
                Ok(key) => drop(handshake::accept_response(key)),
                Err(refusal) => drop(refusal.response().encode()),
            }
            match handshake::admit(&server.settings, request) {
                Ok(query) => drop(query.filter.is_everything()),
                Err(refusal) => drop(refusal.response().encode()),
            }
        }
        Ok(Route::Health) => {}
        Ok(Route::Asset(asset)) => drop(asset.response().encode()),
        // Answered by an async handler that needs a connection; its checks run in tests.
        Ok(Route::Admin(..)) => {}
        // Served from a recorder's handle; tested in `tests/metrics_prometheus.rs`.
        #[cfg(feature = "prometheus")]
        Ok(Route::Metrics(_)) => {}
        Err(rejection) => drop(super::refusal::Refusal::from(rejection).response().encode()),
    }
}
