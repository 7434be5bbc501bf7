//! Just enough HTTP/1.1 for the server's front: read one request head (bounded in size),
//! answer it with one response, close.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest request head (request line and headers) read before answering 431.
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// The most headers a request may have.
const MAX_HEADERS: usize = 64;
/// How long writing a response may take (it fits any socket's send buffer at once).
const WRITE_LIMIT: Duration = Duration::from_secs(1);
/// After a response, how long and how much of what the client still sends is read and
/// discarded before closing, so that unread input does not turn the close into a reset
/// that could discard the response before the client reads it.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 64 * 1024;

/// A parsed request head; header names are kept lower-cased, values as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: Box<str>,
    /// The path of the request target, without the query.
    pub(crate) path: Box<str>,
    /// The query string, without the `?` (empty when there is none).
    pub(crate) query: Box<str>,
    /// The minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(crate) version: u8,
    headers: Vec<(Box<str>, Box<[u8]>)>,
}

/// Why no request could be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// Not HTTP/1.x.
    Malformed,
    /// Longer than [`MAX_HEAD`] or more than 64 headers.
    TooLarge,
    /// The client closed its side after sending `sent` bytes of a head.
    Closed {
        sent: usize,
    },
    Io(io::Error),
}

impl Request {
    /// Parses the head at the start of `bytes`: the request and the head's length, or
    /// `None` if the head is not complete yet.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Option<(Self, usize)>, HeadError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        let len = match parsed.parse(bytes) {
            Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD => len,
            Ok(httparse::Status::Complete(_)) => return Err(HeadError::TooLarge),
            Ok(httparse::Status::Partial) if bytes.len() >= MAX_HEAD => return Err(HeadError::TooLarge),
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
            Err(_) => return Err(HeadError::Malformed),
        };
        let (Some(method), Some(target), Some(version)) = (parsed.method, parsed.path, parsed.version) else {
            return Err(HeadError::Malformed);
        };
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let headers = parsed
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase().into_boxed_str(), Box::<[u8]>::from(h.value)))
            .collect();
        let request =
            Self { method: method.into(), path: path.into(), query: query.into(), version, headers };
        Ok(Some((request, len)))
    }

    /// Every value of header `name` (lower-case), in order.
    pub(crate) fn headers<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.headers.iter().filter(move |(n, _)| **n == *name).map(|(_, v)| &**v)
    }

    /// The value of header `name` (lower-case) if it is sent exactly once; `Err(n)` with the
    /// number of times it was sent otherwise.
    pub(crate) fn single_header(&self, name: &str) -> Result<&[u8], usize> {
        let mut values = self.headers(name);
        match (values.next(), values.next()) {
            (Some(value), None) => Ok(value),
            (None, _) => Err(0),
            (Some(_), Some(_)) => Err(2 + values.count()),
        }
    }

    /// Whether header `name` (lower-case) lists `token` (comma-separated, any case), in any
    /// of its occurrences.
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers(name).any(|value| {
            value.split(|&b| b == b',').any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    }
}

/// A request head read from a connection, and what the client sent after it (the start of
/// its WebSocket frames).
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) request: Request,
    pub(crate) rest: Vec<u8>,
}

/// Reads one request head, at most [`MAX_HEAD`] bytes. The caller bounds the time.
pub(crate) async fn read_head(stream: &mut TcpStream) -> Result<Head, HeadError> {
    let mut buf = vec![0; MAX_HEAD];
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..]).await.map_err(HeadError::Io)?;
        if n == 0 {
            return Err(HeadError::Closed { sent: filled });
        }
        let new = &buf[filled..filled + n];
        filled += n;
        // A head ends with a line break, and most malformed ones are seen at one (or in the
        // first bytes: TLS, another protocol); parsing only then keeps a client that
        // trickles bytes from costing a parse per byte.
        if filled != n && !new.contains(&b'\n') && filled < MAX_HEAD {
            continue;
        }
        if let Some((request, len)) = Request::parse(&buf[..filled])? {
            return Ok(Head { request, rest: buf[len..filled].to_vec() });
        }
    }
}

/// Reads a request body of `len` bytes, starting with `read`, the bytes read past the head
/// (any beyond `len` are dropped). The caller bounds `len` and the time.
pub(crate) async fn read_body(stream: &mut TcpStream, mut read: Vec<u8>, len: usize) -> io::Result<Vec<u8>> {
    if read.len() >= len {
        read.truncate(len);
        return Ok(read);
    }
    let start = read.len();
    read.resize(len, 0);
    stream.read_exact(&mut read[start..]).await?;
    Ok(read)
}

/// One response, always with `Connection: close` and a `Content-Length`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    status: u16,
    headers: Vec<(&'static str, Cow<'static, str>)>,
    body: Cow<'static, [u8]>,
}

impl Response {
    /// A `text/plain` response; a line break is added to `body`.
    pub(crate) fn text(status: u16, body: &str) -> Self {
        let mut text = String::with_capacity(body.len() + 1);
        text.push_str(body);
        text.push('\n');
        Self::with_body(status, "text/plain; charset=utf-8", text.into_bytes())
    }

    /// An `application/json` response.
    pub(crate) fn json(status: u16, body: String) -> Self {
        Self::with_body(status, "application/json", body.into_bytes())
    }

    pub(crate) fn with_body(status: u16, content_type: &'static str, body: Vec<u8>) -> Self {
        Self::with_cow_body(status, content_type, body.into())
    }

    /// A response whose body is a file embedded in the binary (no copy).
    pub(crate) fn with_static_body(status: u16, content_type: &'static str, body: &'static [u8]) -> Self {
        Self::with_cow_body(status, content_type, Cow::Borrowed(body))
    }

    fn with_cow_body(status: u16, content_type: &'static str, body: Cow<'static, [u8]>) -> Self {
        Self {
            status,
            headers: vec![
                ("Content-Type", content_type.into()),
                ("Cache-Control", "no-store".into()),
                ("X-Content-Type-Options", "nosniff".into()),
            ],
            body,
        }
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    #[cfg(test)]
    pub(crate) fn body(&self) -> &[u8] {
        &self.body
    }

    #[cfg(test)]
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// The value of header `name` (any case), if set.
    #[cfg(test)]
    pub(crate) fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| &**v)
    }

    /// The response as bytes on the wire.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut head = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let _ = write!(head, "Content-Length: {}\r\nConnection: close\r\n\r\n", self.body.len());
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// Writes the response, ends the connection's sending side, and reads what the client
    /// still sends for a short while before the socket is dropped (see [`LINGER`]).
    pub(crate) async fn send(&self, stream: &mut TcpStream) {
        if !self.write(stream).await {
            return;
        }
        let drain = async {
            let mut sink = [0_u8; 4096];
            let mut drained = 0;
            while drained < LINGER_BYTES {
                match stream.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => drained += n,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    }

    /// Writes the response and ends the sending side, without waiting for the client to read
    /// it: for connections that must go now (evicted, shutting down, timed out).
    pub(crate) async fn send_now(&self, stream: &mut TcpStream) {
        // Only what the socket takes at once.
        let _ = stream.try_write(&self.encode());
        let _ = stream.shutdown().await;
    }

    /// Writes and shuts the sending side down; whether that worked in time.
    async fn write(&self, stream: &mut TcpStream) -> bool {
        let write = async {
            stream.write_all(&self.encode()).await?;
            stream.shutdown().await
        };
        matches!(tokio::time::timeout(WRITE_LIMIT, write).await, Ok(Ok(())))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(head: &str) -> Result<Option<(Request, usize)>, HeadError> {
        Request::parse(head.as_bytes())
    }

    #[test]
    fn a_complete_head_parses_with_lower_case_names_and_the_rest_left_over() {
        let head = "GET /ws?queues=a HTTP/1.1\r\nHost: x\r\nOrigin: A\r\norigin: B\r\n\r\nFRAME";
        let (request, len) = parse(head).unwrap().unwrap();
        assert_eq!(&head[len..], "FRAME");
        assert_eq!((&*request.method, &*request.path, &*request.query), ("GET", "/ws", "queues=a"));
        assert_eq!(request.version, 1);
        assert_eq!(request.headers("origin").collect::<Vec<_>>(), [b"A", b"B"]);
        assert_eq!(request.single_header("origin"), Err(2));
        assert_eq!(request.single_header("host"), Ok(&b"x"[..]));
        assert_eq!(request.single_header("upgrade"), Err(0));
    }

    #[test]
    fn a_partial_head_asks_for_more_and_garbage_is_malformed() {
        assert!(parse("GET /ws HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        assert!(matches!(parse("hello world\r\n\r\n"), Err(HeadError::Malformed)));
        assert!(matches!(parse("GET / HTTP/2.0\r\n\r\n"), Err(HeadError::Malformed)));
    }

    #[test]
    fn too_long_or_too_many_headers_is_too_large() {
        let long = format!("GET / HTTP/1.1\r\nX: {}", "a".repeat(MAX_HEAD));
        assert!(matches!(parse(&long), Err(HeadError::TooLarge)));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: 1\r\n")).collect();
        assert!(matches!(parse(&format!("GET / HTTP/1.1\r\n{many}\r\n")), Err(HeadError::TooLarge)));
    }

    #[test]
    fn token_lists_match_any_item_in_any_case() {
        let (request, _) =
            parse("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n\r\n").unwrap().unwrap();
        assert!(request.has_token("connection", "upgrade"));
        assert!(!request.has_token("connection", "close"));
    }

    #[test]
    fn a_response_has_its_length_and_closes() {
        let bytes = Response::text(404, "not here").header("X-A", "1").encode();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert!(text.contains("\r\nX-A: 1\r\n"));
        assert!(text.contains("\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot here\n"), "{text}");
    }
}
