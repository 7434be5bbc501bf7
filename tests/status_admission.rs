//! Who gets in and what they may send: max_clients, auth token, Origin allow-list,
//! malformed, oversized and binary client messages.

#[path = "status_support.rs"]
mod support;

use std::time::Duration;

use futures_util::SinkExt;
use support::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use worker_utils::prelude::*;
use worker_utils::status::StatusServerHandle;

/// The HTTP status of a refused handshake (panics if it was accepted).
async fn refused(request: impl IntoClientRequest + Unpin) -> StatusCode {
    match tokio_tungstenite::connect_async(request).await {
        Err(WsError::Http(response)) => response.status(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected an HTTP refusal, the handshake succeeded"),
    }
}

fn with_header(
    server: &StatusServerHandle,
    path: &str,
    name: &'static str,
    value: &str,
) -> impl IntoClientRequest + Unpin {
    let mut request = url(server, path).into_client_request().unwrap();
    request.headers_mut().insert(name, HeaderValue::from_str(value).unwrap());
    request
}

#[tokio::test]
async fn clients_beyond_max_clients_get_503_and_the_others_are_unaffected() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.max_clients(2).rate_limit(Duration::ZERO)).await;
    let mut first = connect(&server, "/ws").await;
    let mut second = connect(&server, "/ws").await;
    until_ready(&mut first).await;
    until_ready(&mut second).await;

    assert_eq!(refused(url(&server, "/ws")).await, StatusCode::SERVICE_UNAVAILABLE);

    publish(&broadcaster, 1, "q", JobStatus::Pending, 1);
    assert_eq!(job_status(&next_json(&mut first).await), (1, "PENDING".to_owned()));
    assert_eq!(job_status(&next_json(&mut second).await), (1, "PENDING".to_owned()));

    // A freed slot is reusable.
    first.close(None).await.unwrap();
    let _ = close_frame(&mut first).await;
    let mut admitted = None;
    for _ in 0..200 {
        if let Ok((client, _)) = tokio_tungstenite::connect_async(url(&server, "/ws")).await {
            admitted = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut third = admitted.expect("a slot frees up once a client leaves");
    let (snapshot, _) = until_ready(&mut third).await;
    assert_eq!(snapshot.len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_token_is_required_in_the_header_or_the_query() {
    let broadcaster = Broadcaster::new();
    // The query is accepted only when allowed (status_abuse.rs checks the default).
    let server = start(&broadcaster, |b| b.auth_token("s3cr=t").allow_query_token(true)).await;

    assert_eq!(refused(url(&server, "/ws")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refused(url(&server, "/ws?token=wrong")).await, StatusCode::UNAUTHORIZED);
    let wrong = with_header(&server, "/ws", "authorization", "Bearer s3cr=x");
    assert_eq!(refused(wrong).await, StatusCode::UNAUTHORIZED);
    let basic = with_header(&server, "/ws", "authorization", "Basic s3cr=t");
    assert_eq!(refused(basic).await, StatusCode::UNAUTHORIZED);

    let (mut by_header, _) =
        tokio_tungstenite::connect_async(with_header(&server, "/ws", "authorization", "Bearer s3cr=t"))
            .await
            .unwrap();
    until_ready(&mut by_header).await;
    let mut by_query = connect(&server, "/ws?token=s3cr%3Dt").await;
    until_ready(&mut by_query).await;
    server.shutdown().await;
}

#[tokio::test]
async fn origins_outside_the_allow_list_are_refused() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.allowed_origins(["https://dash.example.com"])).await;

    let evil = with_header(&server, "/ws", "origin", "https://evil.example.com");
    assert_eq!(refused(evil).await, StatusCode::FORBIDDEN);

    let good = with_header(&server, "/ws", "origin", "https://DASH.example.com");
    let (mut client, _) = tokio_tungstenite::connect_async(good).await.unwrap();
    until_ready(&mut client).await;
    // No Origin header: not a browser, not subject to the allow-list.
    let mut cli = connect(&server, "/ws").await;
    until_ready(&mut cli).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_query_filter_is_refused_with_400() {
    let server = start(&Broadcaster::new(), |b| b).await;
    assert_eq!(refused(url(&server, "/ws?job_ids=abc")).await, StatusCode::BAD_REQUEST);
    assert_eq!(refused(url(&server, "/ws?batch=yes")).await, StatusCode::BAD_REQUEST);
    server.shutdown().await;
}

#[tokio::test]
async fn malformed_messages_get_an_error_and_the_connection_lives_on() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.rate_limit(Duration::ZERO)).await;
    let mut client = connect(&server, "/ws").await;
    until_ready(&mut client).await;

    for bad in ["not json", r#"{"type":"unsubscribe"}"#, r#"{"type":"subscribe","job_ids":["x"]}"#, "[]"] {
        client.send(Message::text(bad)).await.unwrap();
        let reply = next_json(&mut client).await;
        assert_eq!(
            (reply["type"].as_str(), reply["code"].as_str()),
            (Some("error"), Some("invalid_message")),
            "{bad}"
        );
        assert!(reply["message"].as_str().is_some_and(|m| !m.is_empty() && m.len() <= 200));
    }
    let too_many: Vec<u64> = (0..300).collect();
    client
        .send(Message::text(serde_json::json!({"type": "subscribe", "job_ids": too_many}).to_string()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut client).await["code"], "too_many_entries");

    publish(&broadcaster, 1, "q", JobStatus::Pending, 1);
    assert_eq!(job_status(&next_json(&mut client).await), (1, "PENDING".to_owned()));
    server.shutdown().await;
}

#[tokio::test]
async fn endless_malformed_messages_end_with_a_policy_close() {
    let server = start(&Broadcaster::new(), |b| b).await;
    let mut client = connect(&server, "/ws").await;
    until_ready(&mut client).await;
    for _ in 0..17 {
        client.send(Message::text("nope")).await.unwrap();
    }
    let frame = close_frame(&mut client).await.expect("close frame");
    assert_eq!(frame.code, CloseCode::Policy);
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_message_closes_with_1009_and_others_are_unaffected() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.max_message_size(4096).rate_limit(Duration::ZERO)).await;
    let mut bystander = connect(&server, "/ws").await;
    until_ready(&mut bystander).await;
    let mut client = connect(&server, "/ws").await;
    until_ready(&mut client).await;

    // Sending may fail midway once the server closes; only the close frame matters.
    let _ = client.send(Message::text("x".repeat(5000))).await;
    let frame = close_frame(&mut client).await.expect("close frame");
    assert_eq!(frame.code, CloseCode::Size);

    publish(&broadcaster, 1, "q", JobStatus::Pending, 1);
    assert_eq!(job_status(&next_json(&mut bystander).await), (1, "PENDING".to_owned()));
    server.shutdown().await;
}

#[tokio::test]
async fn a_binary_message_closes_with_1003() {
    let server = start(&Broadcaster::new(), |b| b).await;
    let mut client = connect(&server, "/ws").await;
    until_ready(&mut client).await;
    client.send(Message::binary(vec![1_u8, 2, 3])).await.unwrap();
    let frame = close_frame(&mut client).await.expect("close frame");
    assert_eq!(frame.code, CloseCode::Unsupported);
    server.shutdown().await;
}
