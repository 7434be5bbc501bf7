//! `GET /metrics`: the Prometheus text of the recorder the server was given (feature
//! `prometheus`), for a scraper that passes the readers' checks.

use metrics_exporter_prometheus::PrometheusHandle;

use super::Settings;
use super::handshake::{check_origin, presents_token};
use super::http::{Request, Response};
use super::refusal::{Refusal, Rejection};

/// Where the metrics are served.
pub(crate) const PATH: &str = "/metrics";
/// The Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics as text, for a request that passes the checks of a feed client: an allowed
/// `Origin` if it sends one (403), the read token if the server has one, in the header only
/// (401).
pub(crate) fn serve(
    settings: &Settings,
    handle: &PrometheusHandle,
    request: &Request,
) -> Result<Response, Refusal> {
    check_origin(settings, request)?;
    if let Some(token) = &settings.auth_token
        && !presents_token(request, token.as_bytes(), false)
    {
        return Err(Rejection::Unauthorized.into());
    }
    Ok(Response::with_body(200, CONTENT_TYPE, handle.render().into_bytes()))
}
