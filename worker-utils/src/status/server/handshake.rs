//! The WebSocket handshake as pure checks over a request head: is it a valid upgrade, is the
//! client admitted (Origin, token, filter), and the `101` answer.

use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::Settings;
use super::http::Request;
use super::protocol::{FeedQuery, percent_decode, query_pairs};
use super::refusal::{Refusal, Rejection};

/// Checks that `request` is a WebSocket upgrade this server speaks (RFC 6455 §4.2.1) and
/// returns its `Sec-WebSocket-Key`.
pub(crate) fn upgrade_key(request: &Request) -> Result<&[u8], Refusal> {
    if !request.has_token("upgrade", "websocket") {
        return Err(Rejection::NotWebSocket.into());
    }
    match request.single_header("sec-websocket-version") {
        Ok(b"13") => {}
        _ => return Err(Rejection::Version.into()),
    }
    if request.version != 1 || !request.has_token("connection", "upgrade") {
        return Err(Rejection::BadHandshake.into());
    }
    // The key is 16 random bytes in base64: 24 characters ending in `==`.
    match request.single_header("sec-websocket-key") {
        Ok(key)
            if key.len() == 24
                && key.ends_with(b"==")
                && key[..22].iter().all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/') =>
        {
            Ok(key)
        }
        _ => Err(Rejection::BadHandshake.into()),
    }
}

/// Decides whether the client of `request` is admitted and returns what its query string
/// asks for. Order: Origin, token, query — a client that fails the first two learns
/// nothing about the rest. Capacity is checked by the caller, after this.
pub(crate) fn admit(settings: &Settings, request: &Request) -> Result<FeedQuery, Refusal> {
    check_origin(settings, request)?;
    if let Some(token) = &settings.auth_token
        && !presents_token(request, token.as_bytes(), settings.allow_query_token)
    {
        return Err(Rejection::Unauthorized.into());
    }
    FeedQuery::parse(&request.query)
        .map_err(|e| Refusal { rejection: Rejection::BadQuery, detail: Some(e.message) })
}

/// More than one `Origin` header is always refused (a browser sends one; two could be read
/// differently by a proxy and by us); a single one must be on the allow-list if there is one.
pub(crate) fn check_origin(settings: &Settings, request: &Request) -> Result<(), Refusal> {
    match request.single_header("origin") {
        Err(0) => Ok(()),
        Err(_) => Err(Rejection::Origin.into()),
        Ok(origin) => match &settings.allowed_origins {
            Some(allowed) if !allowed.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(origin)) => {
                Err(Rejection::Origin.into())
            }
            _ => Ok(()),
        },
    }
}

/// Whether an `Authorization: Bearer` header, or (only if allowed) a `token` query
/// parameter, carries `token`. Every candidate is compared in full.
pub(crate) fn presents_token(request: &Request, token: &[u8], allow_query: bool) -> bool {
    let mut found = false;
    for value in request.headers("authorization") {
        if let Some(at) = value.iter().position(|&b| b == b' ') {
            let (scheme, presented) = value.split_at(at);
            if scheme.eq_ignore_ascii_case(b"bearer") {
                found |= constant_time_eq(presented.trim_ascii(), token);
            }
        }
    }
    if allow_query {
        for (_, value) in query_pairs(&request.query).filter(|(key, _)| *key == "token") {
            if let Some(presented) = percent_decode(value) {
                found |= constant_time_eq(presented.as_bytes(), token);
            }
        }
    }
    found
}

/// Whether `presented` equals `expected`, in a time that depends only on `expected`'s length:
/// not on how much of `presented` matched, nor on its length (a length mismatch is folded
/// into the result, not returned early).
fn constant_time_eq(presented: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(presented.len() != expected.len());
    for (i, &e) in expected.iter().enumerate() {
        let p = presented.get(i).copied().unwrap_or(0);
        diff |= std::hint::black_box(p ^ e);
    }
    diff == 0
}

/// The `101 Switching Protocols` answer to an admitted upgrade with `key`.
pub(crate) fn accept_response(key: &[u8]) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key)
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Broadcaster;
    use crate::status::server::StatusServer;

    const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
                           Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

    fn request(target: &str, headers: &str) -> Request {
        let head = format!("GET {target} HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
        Request::parse(head.as_bytes()).unwrap().unwrap().0
    }

    fn settings(
        configure: impl FnOnce(crate::status::StatusServerBuilder) -> crate::status::StatusServerBuilder,
    ) -> std::sync::Arc<Settings> {
        configure(StatusServer::builder(Broadcaster::new())).build().unwrap().settings
    }

    fn rejection<T: std::fmt::Debug>(result: Result<T, Refusal>) -> Rejection {
        result.unwrap_err().rejection
    }

    #[test]
    fn constant_time_eq_compares_whole_strings_and_lengths() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secreT", b"secret"));
        assert!(!constant_time_eq(b"secret2", b"secret"));
        assert!(!constant_time_eq(b"secre", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
        // A guess that is the token followed by zero bytes still differs in length.
        assert!(!constant_time_eq(b"secret\0", b"secret"));
    }

    #[test]
    fn a_valid_upgrade_yields_its_key_and_the_rfc_accept_value() {
        let request = request("/ws", UPGRADE);
        let key = upgrade_key(&request).unwrap();
        let response = String::from_utf8(accept_response(key)).unwrap();
        // The example of RFC 6455 §1.3.
        assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{response}");
    }

    #[test]
    fn invalid_upgrades_are_told_apart() {
        assert_eq!(rejection(upgrade_key(&request("/ws", ""))), Rejection::NotWebSocket);
        let v8 = UPGRADE.replace("Version: 13", "Version: 8");
        assert_eq!(rejection(upgrade_key(&request("/ws", &v8))), Rejection::Version);
        let no_key = UPGRADE.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
        assert_eq!(rejection(upgrade_key(&request("/ws", &no_key))), Rejection::BadHandshake);
        let short_key = UPGRADE.replace("dGhlIHNhbXBsZSBub25jZQ==", "abc");
        assert_eq!(rejection(upgrade_key(&request("/ws", &short_key))), Rejection::BadHandshake);
        let no_connection = UPGRADE.replace("Connection: Upgrade", "Connection: keep-alive");
        assert_eq!(rejection(upgrade_key(&request("/ws", &no_connection))), Rejection::BadHandshake);
    }

    #[test]
    fn every_origin_header_is_checked_and_two_are_refused() {
        let open = settings(|b| b);
        assert!(admit(&open, &request("/ws", "Origin: https://a\r\n")).is_ok());
        let two = "Origin: https://a\r\nOrigin: https://a\r\n";
        assert_eq!(rejection(admit(&open, &request("/ws", two))), Rejection::Origin);

        let listed = settings(|b| b.allowed_origins(["https://a"]));
        assert!(admit(&listed, &request("/ws", "Origin: HTTPS://A\r\n")).is_ok());
        assert!(admit(&listed, &request("/ws", "")).is_ok(), "no Origin: not a browser");
        let evil = "Origin: https://a\r\nOrigin: https://evil\r\n";
        assert_eq!(rejection(admit(&listed, &request("/ws", evil))), Rejection::Origin);
        let evil_first = "Origin: https://evil\r\nOrigin: https://a\r\n";
        assert_eq!(rejection(admit(&listed, &request("/ws", evil_first))), Rejection::Origin);
    }

    #[test]
    fn the_token_comes_from_a_bearer_header_and_from_the_query_only_if_allowed() {
        let header = settings(|b| b.auth_token("s3cr=t"));
        assert!(admit(&header, &request("/ws", "Authorization: Bearer s3cr=t\r\n")).is_ok());
        assert!(admit(&header, &request("/ws", "Authorization: bearer  s3cr=t \r\n")).is_ok());
        let basic = "Authorization: Basic s3cr=t\r\n";
        assert_eq!(rejection(admit(&header, &request("/ws", basic))), Rejection::Unauthorized);
        assert_eq!(rejection(admit(&header, &request("/ws?token=s3cr%3Dt", ""))), Rejection::Unauthorized);

        let query = settings(|b| b.auth_token("s3cr=t").allow_query_token(true));
        assert!(admit(&query, &request("/ws?token=s3cr%3Dt", "")).is_ok());
        assert_eq!(rejection(admit(&query, &request("/ws?token=s3cr", ""))), Rejection::Unauthorized);
    }

    #[test]
    fn the_token_is_checked_before_the_query() {
        let header = settings(|b| b.auth_token("t"));
        assert_eq!(rejection(admit(&header, &request("/ws?job_ids=x", ""))), Rejection::Unauthorized);
        let refusal = admit(&header, &request("/ws?job_ids=x", "Authorization: Bearer t\r\n")).unwrap_err();
        assert_eq!(refusal.rejection, Rejection::BadQuery);
        assert!(refusal.detail.unwrap().contains("job_ids"));
    }
}
