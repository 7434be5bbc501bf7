//! The status server as an attacker or a confused client would use it, over loopback:
//! half-open sockets, more clients than `max_clients`, plain HTTP, duplicate Origin
//! headers, tokens in the query string, oversized frames, refusal logging. Every test is
//! bounded in connections and in time.

#[path = "status_support.rs"]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::SinkExt;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use worker_utils::prelude::*;
use worker_utils::status::StatusServerHandle;
use worker_utils_tests::Events;

/// An HTTP response read off a raw socket up to the end of the stream.
#[derive(Debug)]
struct Raw {
    status: u16,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Reads a whole response and checks what every answer must carry: a `Content-Length` that
/// matches the body, `Connection: close`, and the end of the stream after it.
async fn read_response(stream: &mut TcpStream) -> Raw {
    let mut bytes = Vec::new();
    timeout(READ_LIMIT, stream.read_to_end(&mut bytes))
        .await
        .expect("the server closes the connection after answering")
        .expect("read the answer");
    let text = String::from_utf8(bytes).expect("a UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or_else(|| panic!("a complete head: {text:?}"));
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().expect("a status code");
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').expect("a header line");
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let raw = Raw { status, headers, body: body.to_owned() };
    assert_eq!(raw.header("connection"), Some("close"), "{raw:?}");
    assert_eq!(raw.header("content-length"), Some(raw.body.len().to_string().as_str()), "{raw:?}");
    raw
}

/// Sends `request` on a new connection and reads the answer.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send the request");
    read_response(&mut stream).await
}

/// A WebSocket upgrade request for `target` (RFC 6455's example key) with `extra` headers.
fn upgrade(target: &str, extra: &str) -> String {
    format!(
        "GET {target} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

/// The HTTP refusal of a WebSocket handshake (panics if it was accepted).
async fn refused(
    request: impl IntoClientRequest + Unpin,
) -> tokio_tungstenite::tungstenite::http::Response<Option<Vec<u8>>> {
    match timeout(READ_LIMIT, tokio_tungstenite::connect_async(request)).await.expect("answer in time") {
        Err(WsError::Http(response)) => *response,
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected an HTTP refusal, the handshake succeeded"),
    }
}

fn bearer(server: &StatusServerHandle, token: &str) -> impl IntoClientRequest + Unpin + use<> {
    let mut request = server.ws_url().into_client_request().unwrap();
    request.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    request
}

async fn health(server: &StatusServerHandle) -> serde_json::Value {
    let raw = exchange(server.local_addr(), b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!((raw.status, raw.header("content-type")), (200, Some("application/json")), "{raw:?}");
    serde_json::from_str(&raw.body).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_half_open_sockets_do_not_keep_a_client_with_the_token_out() {
    let broadcaster = Broadcaster::new();
    publish(&broadcaster, 1, "q", JobStatus::Pending, 1);
    let server = start(&broadcaster, |b| b.auth_token("s3cret")).await;

    let mut half_open = Vec::with_capacity(300);
    for _ in 0..300 {
        let mut socket = TcpStream::connect(server.local_addr()).await.expect("connect");
        socket.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        half_open.push(socket);
    }

    let started = Instant::now();
    let within = Duration::from_secs(1);
    let admitted = async {
        let (mut client, _) =
            tokio_tungstenite::connect_async(bearer(&server, "s3cret")).await.expect("admitted");
        let (snapshot, _) = until_ready(&mut client).await;
        (client, snapshot)
    };
    let (_client, snapshot) = timeout(within, admitted).await.expect("the snapshot within 1 s");
    assert_eq!(snapshot.len(), 1);
    assert!(started.elapsed() < within);

    // The oldest half-open socket made room for newer connections, with an answer.
    let evicted = read_response(&mut half_open[0]).await;
    assert_eq!(evicted.status, 503, "{evicted:?}");
    assert!(evicted.header("retry-after").is_some());
    let report = health(&server).await;
    assert!(report["pending_handshakes"].as_u64().unwrap() < 128, "{report}");
    assert_eq!(report["clients"], 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_full_pending_bound_evicts_the_oldest_connection_with_503_and_keeps_the_others() {
    let server = start(&Broadcaster::new(), |b| b.max_pending_handshakes(4)).await;
    let mut sockets = Vec::new();
    for _ in 0..5 {
        let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
        socket.write_all(b"GET /ws HTTP/1.1\r\n").await.unwrap();
        sockets.push(socket);
    }
    let oldest = read_response(&mut sockets[0]).await;
    assert_eq!((oldest.status, oldest.header("retry-after")), (503, Some("1")), "{oldest:?}");
    // The four newer ones still wait for the rest of their request: no answer yet.
    for socket in &mut sockets[1..] {
        let mut byte = [0_u8; 1];
        let read = timeout(Duration::from_millis(100), socket.read(&mut byte)).await;
        assert!(read.is_err(), "a pending connection was answered early: {read:?}");
    }
    // And one that completes its request is served.
    let last = sockets.last_mut().unwrap();
    last.write_all(b"Host: x\r\n\r\n").await.unwrap();
    assert_eq!(read_response(last).await.status, 426);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_against_max_clients_get_503_and_the_admitted_keep_working() {
    const MAX: usize = 100;
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.max_clients(MAX).rate_limit(Duration::ZERO)).await;
    let mut admitted = Vec::new();
    for i in 0..200 {
        match timeout(READ_LIMIT, tokio_tungstenite::connect_async(server.ws_url())).await.unwrap() {
            Ok((mut client, _)) => {
                until_ready(&mut client).await;
                admitted.push(client);
            }
            Err(WsError::Http(response)) => {
                assert!(i >= MAX, "client {i} was refused with {MAX} places");
                assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
                assert_eq!(response.headers().get("retry-after").unwrap(), "5");
            }
            Err(other) => panic!("client {i}: expected 101 or 503, got {other}"),
        }
    }
    assert_eq!(admitted.len(), MAX);
    assert_eq!(health(&server).await["clients"], MAX);

    publish(&broadcaster, 7, "q", JobStatus::Pending, 1);
    for client in &mut admitted {
        assert_eq!(job_status(&next_json(client).await), (7, "PENDING".to_owned()));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn plain_http_gets_an_http_answer_on_every_path() {
    let server = start(&Broadcaster::new(), |b| b).await;
    let addr = server.local_addr();

    let root = exchange(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(root.status, 200, "the dashboard: {root:?}");
    let elsewhere = exchange(addr, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(elsewhere.status, 404, "{elsewhere:?}");
    assert!(elsewhere.body.contains("/ws"), "the 404 names the feed's path: {elsewhere:?}");
    assert_eq!(exchange(addr, b"GET /nope?x=1 HTTP/1.0\r\n\r\n").await.status, 404);
    assert_eq!(exchange(addr, upgrade("/nope", "").as_bytes()).await.status, 404, "an upgrade elsewhere");

    let post = exchange(addr, b"POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").await;
    assert_eq!((post.status, post.header("allow")), (405, Some("GET")), "{post:?}");

    assert_eq!(exchange(addr, b"hello world\r\n\r\n").await.status, 400);
    assert_eq!(exchange(addr, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").await.status, 400, "TLS");

    let plain_get = exchange(addr, b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!((plain_get.status, plain_get.header("upgrade")), (426, Some("websocket")), "{plain_get:?}");
    let old = upgrade("/ws", "").replace("Version: 13", "Version: 8");
    let old = exchange(addr, old.as_bytes()).await;
    assert_eq!((old.status, old.header("sec-websocket-version")), (426, Some("13")), "{old:?}");
    let keyless = upgrade("/ws", "").replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    assert_eq!(exchange(addr, keyless.as_bytes()).await.status, 400);

    let huge = format!("GET /ws HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(9000));
    assert_eq!(exchange(addr, huge.as_bytes()).await.status, 431);
    server.shutdown().await;
}

#[tokio::test]
async fn healthz_reports_clients_and_the_feed_without_a_token() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.max_clients(7).auth_token("t")).await;
    let mut first = tokio_tungstenite::connect_async(bearer(&server, "t")).await.unwrap().0;
    let mut second = tokio_tungstenite::connect_async(bearer(&server, "t")).await.unwrap().0;
    until_ready(&mut first).await;
    until_ready(&mut second).await;
    publish(&broadcaster, 1, "q", JobStatus::Pending, 1);
    publish(&broadcaster, 2, "q", JobStatus::Pending, 1);

    let report = health(&server).await;
    assert_eq!(
        report,
        serde_json::json!({
            "status": "ok", "clients": 2, "max_clients": 7, "pending_handshakes": 0,
            "subscribers": 2, "last_seq": 2,
        })
    );
    let head = exchange(server.local_addr(), b"HEAD /healthz HTTP/1.1\r\n\r\n").await;
    assert_eq!(head.status, 405);
    server.shutdown().await;
}

#[tokio::test]
async fn a_request_that_does_not_arrive_in_time_gets_408() {
    let server = start(&Broadcaster::new(), |b| b.handshake_timeout(Duration::from_millis(200))).await;
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    socket.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = Instant::now();
    assert_eq!(read_response(&mut socket).await.status, 408);
    assert!(started.elapsed() < Duration::from_secs(2));
    server.shutdown().await;
}

#[tokio::test]
async fn two_origin_headers_are_refused_with_403_whatever_they_say() {
    let open = start(&Broadcaster::new(), |b| b).await;
    let twice = upgrade("/ws", "Origin: https://a.example\r\nOrigin: https://a.example\r\n");
    assert_eq!(exchange(open.local_addr(), twice.as_bytes()).await.status, 403);
    let once = upgrade("/ws", "Origin: https://a.example\r\n");
    let mut socket = TcpStream::connect(open.local_addr()).await.unwrap();
    socket.write_all(once.as_bytes()).await.unwrap();
    let mut head = [0_u8; 12];
    socket.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
    drop(socket);

    let listed = start(&Broadcaster::new(), |b| b.allowed_origins(["https://dash.example"])).await;
    for origins in [
        "Origin: https://dash.example\r\nOrigin: https://evil.example\r\n",
        "Origin: https://evil.example\r\nOrigin: https://dash.example\r\n",
    ] {
        let raw = exchange(listed.local_addr(), upgrade("/ws", origins).as_bytes()).await;
        assert_eq!(raw.status, 403, "{origins:?}");
    }
    open.shutdown().await;
    listed.shutdown().await;
}

#[tokio::test]
async fn a_token_in_the_query_is_refused_unless_allowed() {
    let strict = start(&Broadcaster::new(), |b| b.auth_token("s3cr=t")).await;
    let response = refused(format!("{}?token=s3cr%3Dt", strict.ws_url())).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers().get("www-authenticate").unwrap(), "Bearer");
    let (mut by_header, _) = tokio_tungstenite::connect_async(bearer(&strict, "s3cr=t")).await.unwrap();
    until_ready(&mut by_header).await;

    let lenient = start(&Broadcaster::new(), |b| b.auth_token("s3cr=t").allow_query_token(true)).await;
    let (mut by_query, _) =
        tokio_tungstenite::connect_async(format!("{}?token=s3cr%3Dt", lenient.ws_url())).await.unwrap();
    until_ready(&mut by_query).await;
    let wrong = refused(format!("{}?token=s3cr", lenient.ws_url())).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    strict.shutdown().await;
    lenient.shutdown().await;
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    let server = start(&Broadcaster::new(), |b| b.max_message_size(1024)).await;
    let mut client = connect(&server, "/ws").await;
    until_ready(&mut client).await;
    let _ = client.send(Message::text("x".repeat(4096))).await;
    assert_eq!(close_frame(&mut client).await.expect("close frame").code, CloseCode::Size);
    server.shutdown().await;
}

#[tokio::test]
async fn frames_sent_right_behind_the_request_are_not_lost() {
    let server = start(&Broadcaster::new(), |b| b).await;
    let mut socket = TcpStream::connect(server.local_addr()).await.unwrap();
    // The request and a masked `subscribe` text frame in one write.
    let payload = br#"{"type":"subscribe","queues":["a"]}"#;
    let mask = [1_u8, 2, 3, 4];
    let mut bytes = upgrade("/ws", "").into_bytes();
    bytes.extend([0x81, 0x80 | u8::try_from(payload.len()).unwrap()]);
    bytes.extend(mask);
    bytes.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
    socket.write_all(&bytes).await.unwrap();

    // Up to the end of the 101's head, byte by byte, so no frame is read with it.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 1024, "a head of sane size");
        head.push(timeout(READ_LIMIT, socket.read_u8()).await.unwrap().unwrap());
    }
    assert!(head.starts_with(b"HTTP/1.1 101 "), "{}", String::from_utf8_lossy(&head));
    let mut client: Client =
        WebSocketStream::from_raw_socket(MaybeTlsStream::Plain(socket), Role::Client, None).await;
    until_ready(&mut client).await; // the query's (empty) filter
    let subscribed = next_json(&mut client).await;
    assert_eq!(
        (subscribed["type"].as_str(), &subscribed["queues"]),
        (Some("subscribed"), &serde_json::json!(["a"]))
    );
    server.shutdown().await;
}

#[test]
fn refusals_are_logged_at_debug_with_one_summary_line_not_one_line_each() {
    let events = Events::default();
    let subscriber =
        tracing_subscriber::layer::SubscriberExt::with(tracing_subscriber::registry(), events.clone());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let server = start(&Broadcaster::new(), |b| b.auth_token("s3cret")).await;
            for _ in 0..50 {
                assert_eq!(refused(server.ws_url()).await.status(), StatusCode::UNAUTHORIZED);
            }
            server.shutdown().await; // the summary of what was not summarized yet
        });
    });
    let events = events.take();
    let refusals: Vec<_> =
        events.iter().filter(|e| e.get("reason").is_some_and(|r| r == "unauthorized")).collect();
    assert_eq!(refusals.len(), 50);
    assert!(refusals.iter().all(|e| e["level"] == "DEBUG"), "{refusals:?}");
    let summaries: Vec<_> = events.iter().filter(|e| e.contains_key("by_reason")).collect();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert_eq!((summaries[0]["level"].as_str(), summaries[0]["refused"].as_str()), ("INFO", "50"));
    assert_eq!(summaries[0]["by_reason"], "unauthorized=50");
    let louder = events.iter().filter(|e| e["level"] == "INFO" || e["level"] == "WARN").count();
    assert!(louder <= 3, "listening, the summary, stopped: {events:?}");
}

// --- subscribe flood (client message limits) ---

/// A client that keeps sending `subscribe` is read at most once per 50 ms after each one and
/// is closed with 1008 once it has used up its allowance (20 messages at once, then 5 a
/// second), having been sent a few dozen snapshots, not one per message it sent. A client
/// connected at the same time still receives every terminal event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribe_flood_is_closed_with_1008_after_bounded_output_and_spares_other_clients() {
    use futures_util::StreamExt;

    const JOBS: u64 = 1024;
    const SUBSCRIBES: u64 = 2000;
    let broadcaster = Broadcaster::new();
    for job in 0..JOBS {
        publish(&broadcaster, job, "flood", JobStatus::Processing, 1);
    }
    let server = start(&broadcaster, |b| b).await;
    let mut watcher = connect(&server, "/ws").await;
    assert_eq!(until_ready(&mut watcher).await.0.len(), JOBS as usize);

    // One full snapshot's size: what a client gets on connecting.
    let mut flooder = connect(&server, "/ws").await;
    let mut snapshot_bytes = 0;
    for _ in 0..=JOBS {
        let Some(Message::Text(text)) = next_message(&mut flooder).await else { panic!("a snapshot") };
        snapshot_bytes += text.len();
        if text.as_str().starts_with(r#"{"type":"ready""#) {
            break;
        }
    }
    assert!(snapshot_bytes > 1000 * 50, "a snapshot of 1024 jobs: {snapshot_bytes} bytes");

    let (mut tx, mut rx) = flooder.split();
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        let mut sent = 0_u64;
        while sent < SUBSCRIBES && tx.send(Message::text(r#"{"type":"subscribe"}"#)).await.is_ok() {
            sent += 1;
        }
        sent
    });
    // Every job finishes while the flood goes on.
    let publisher = tokio::spawn({
        let broadcaster = broadcaster.clone();
        async move {
            for job in 0..JOBS {
                publish(&broadcaster, job, "flood", JobStatus::Completed, 1);
                if job % 64 == 63 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    });

    let (mut received, mut subscribed, mut close) = (0_usize, 0_usize, None);
    for _ in 0..SUBSCRIBES * (JOBS + 2) {
        let message = timeout(READ_LIMIT, rx.next()).await.expect("the flooder is closed in time");
        match message {
            Some(Ok(Message::Text(text))) => {
                received += text.len();
                subscribed += usize::from(text.as_str().contains(r#""type":"subscribed""#));
            }
            Some(Ok(Message::Close(frame))) => {
                close = frame;
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("the flooder's connection ended without a close frame: {other:?}"),
        }
    }
    let elapsed = started.elapsed();
    let close = close.expect("a close frame with a code");
    assert_eq!((close.code, close.reason.as_str()), (CloseCode::Policy, "too many messages"));
    // 20 at once, then one read per 50 ms against a token per 200 ms: about 26 served.
    assert!((20..=60).contains(&subscribed), "{subscribed} subscribes served");
    assert!(elapsed >= Duration::from_millis(50) * (subscribed as u32 - 1), "{subscribed} in {elapsed:?}");
    // Each served subscribe costs a snapshot; the live events cost about one more.
    assert!(received <= (subscribed + 2) * snapshot_bytes, "{received} bytes for {subscribed} snapshots");
    let sent = sender.await.unwrap();
    assert!(sent > 100, "the flooder sent {sent} subscribes");
    assert!(received * 20 < SUBSCRIBES as usize * snapshot_bytes);
    publisher.await.unwrap();

    let mut finished = std::collections::HashSet::new();
    for _ in 0..4 * JOBS {
        if finished.len() == JOBS as usize {
            break;
        }
        let json = next_json(&mut watcher).await;
        assert_ne!(json["type"], "lagged", "the watcher kept up");
        if json["status"] == "COMPLETED" {
            finished.insert(json["job_id"].as_u64().unwrap());
        }
    }
    assert_eq!(finished.len(), JOBS as usize, "every job's COMPLETED reached the watcher");
    for _ in 0..200 {
        if server.client_count() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.client_count(), 1, "the flooder is gone, the watcher stays");
    server.shutdown().await;
}
