//! Helpers for the status integration tests: a server on loopback and a WebSocket client.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use worker_utils::JobId;
use worker_utils::status::{
    Broadcaster, JobStatus, StatusEvent, StatusServer, StatusServerBuilder, StatusServerHandle, StatusSink,
};

pub(crate) type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any single read may take before the test fails (a hang is a failure).
pub(crate) const READ_LIMIT: Duration = Duration::from_secs(20);

/// A server for `broadcaster` on 127.0.0.1 (any free port), configured by `configure`.
pub(crate) async fn start(
    broadcaster: &Broadcaster,
    configure: impl FnOnce(StatusServerBuilder) -> StatusServerBuilder,
) -> StatusServerHandle {
    let builder = StatusServer::builder(broadcaster.clone()).port(0);
    configure(builder).build().expect("valid settings").start().await.expect("bind loopback")
}

/// The `ws://` URL of `server` with `path_and_query` (e.g. `/ws?queues=a`; the feed is on
/// `/ws`).
pub(crate) fn url(server: &StatusServerHandle, path_and_query: &str) -> String {
    format!("ws://{}{path_and_query}", server.local_addr())
}

/// Connects to `server` (the handshake must succeed).
pub(crate) async fn connect(server: &StatusServerHandle, path_and_query: &str) -> Client {
    let (client, _) = tokio_tungstenite::connect_async(url(server, path_and_query)).await.expect("handshake");
    client
}

/// The next message, ping/pong skipped; `None` when the stream ended.
pub(crate) async fn next_message(client: &mut Client) -> Option<Message> {
    loop {
        let message = tokio::time::timeout(READ_LIMIT, client.next()).await.expect("message in time");
        match message {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(message)) => return Some(message),
            Some(Err(_)) | None => return None,
        }
    }
}

/// The next message as JSON (must be a text message).
pub(crate) async fn next_json(client: &mut Client) -> Value {
    match next_message(client).await {
        Some(Message::Text(text)) => serde_json::from_str(text.as_str()).expect("valid JSON"),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Reads the snapshot up to `ready`; returns its status events and `ready`'s `seq`.
pub(crate) async fn until_ready(client: &mut Client) -> (Vec<Value>, u64) {
    let mut snapshot = Vec::new();
    loop {
        let json = next_json(client).await;
        match json["type"].as_str() {
            Some("status") => snapshot.push(json),
            Some("ready") => {
                assert_eq!(json["snapshot"].as_u64(), Some(snapshot.len() as u64));
                return (snapshot, json["seq"].as_u64().expect("ready has seq"));
            }
            Some("subscribed") => {}
            _ => panic!("unexpected message before ready: {json}"),
        }
    }
}

/// Reads until the server's close frame (returned) or the end of the stream (`None`).
pub(crate) async fn close_frame(client: &mut Client) -> Option<CloseFrame> {
    loop {
        match next_message(client).await {
            Some(Message::Close(frame)) => return frame,
            Some(_) => continue,
            None => return None,
        }
    }
}

/// Publishes `status` for `job` in `queue` with `attempt`.
pub(crate) fn publish(broadcaster: &Broadcaster, job: u64, queue: &str, status: JobStatus, attempt: u32) {
    let mut event = StatusEvent::new(JobId::new(job), queue, status);
    event.attempt = attempt;
    broadcaster.publish(event);
}

/// `(job_id, status)` of a status message.
pub(crate) fn job_status(json: &Value) -> (u64, String) {
    (json["job_id"].as_u64().expect("job_id"), json["status"].as_str().expect("status").to_owned())
}

/// A plain HTTP answer: status, headers (lower-case names), body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: std::collections::BTreeMap<String, String>,
    pub(crate) body: String,
}

/// Sends `method path` with `headers` (each ending in CRLF) and `body` over a new loopback
/// connection, and reads the answer until the server closes.
pub(crate) async fn http_request(
    server: &StatusServerHandle,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Answer {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n{headers}\r\n{body}", server.local_addr());
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    tokio::time::timeout(READ_LIMIT, stream.read_to_end(&mut bytes)).await.expect("answer in time").unwrap();
    let text = String::from_utf8(bytes).expect("UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    Answer { status, headers, body: body.to_owned() }
}
