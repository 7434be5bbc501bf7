//! Admission checks run during the WebSocket handshake: Origin, auth token, capacity, filter.

use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request};
use tokio_tungstenite::tungstenite::http::{StatusCode, header};

use super::Settings;
use super::protocol::{Filter, percent_decode, query_pairs};

/// Why a handshake was refused; becomes the HTTP error response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    Origin,
    Unauthorized,
    Full,
    BadQuery,
}

impl Rejection {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Rejection::Origin => "origin",
            Rejection::Unauthorized => "unauthorized",
            Rejection::Full => "full",
            Rejection::BadQuery => "bad_query",
        }
    }

    fn response(self, detail: Option<String>) -> ErrorResponse {
        let (status, body) = match self {
            Rejection::Origin => (StatusCode::FORBIDDEN, "origin not allowed".to_owned()),
            Rejection::Unauthorized => (StatusCode::UNAUTHORIZED, "missing or wrong token".to_owned()),
            Rejection::Full => (StatusCode::SERVICE_UNAVAILABLE, "too many clients".to_owned()),
            Rejection::BadQuery => {
                (StatusCode::BAD_REQUEST, detail.unwrap_or_else(|| "bad query".to_owned()))
            }
        };
        let mut response = ErrorResponse::new(Some(body));
        *response.status_mut() = status;
        if self == Rejection::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        if self == Rejection::Full {
            response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        response
    }
}

/// A refused handshake: why, and for a bad query, what was wrong with it.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) rejection: Rejection,
    detail: Option<String>,
}

impl Refusal {
    pub(crate) fn into_response(self) -> ErrorResponse {
        self.rejection.response(self.detail)
    }
}

/// Checks a handshake request; on success returns the filter named in its query string.
/// Order: Origin, token, capacity, query — an unauthenticated client learns nothing else.
pub(crate) fn admit(settings: &Settings, has_slot: bool, request: &Request) -> Result<Filter, Refusal> {
    let query = request.uri().query().unwrap_or("");
    if let Some(allowed) = &settings.allowed_origins
        && let Some(origin) = request.headers().get(header::ORIGIN)
    {
        let origin = origin.to_str().unwrap_or("");
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
            return Err(Refusal { rejection: Rejection::Origin, detail: None });
        }
    }
    if let Some(token) = &settings.auth_token
        && !presents_token(request, query, token)
    {
        return Err(Refusal { rejection: Rejection::Unauthorized, detail: None });
    }
    if !has_slot {
        return Err(Refusal { rejection: Rejection::Full, detail: None });
    }
    Filter::from_query(query).map_err(|e| Refusal { rejection: Rejection::BadQuery, detail: Some(e.message) })
}

fn presents_token(request: &Request, query: &str, token: &str) -> bool {
    let from_header = request
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .any(|(_, presented)| constant_time_eq(presented.trim().as_bytes(), token.as_bytes()));
    from_header
        || query_pairs(query)
            .filter(|(key, _)| *key == "token")
            .filter_map(|(_, value)| percent_decode(value))
            .any(|presented| constant_time_eq(presented.as_bytes(), token.as_bytes()))
}

/// Compares without an early exit, so timing does not reveal how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_strings() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
