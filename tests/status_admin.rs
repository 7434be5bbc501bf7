//! The admin API over loopback: refused without the admin token, with the read token, with
//! a wrong one, from a cookie or from another origin; bodies bounded and checked; requeue
//! and delete carried out on a `MemoryQueue` and on a `RedisQueue` (skipped without a
//! Redis); absent when not configured.

#[path = "status_support.rs"]
mod support;

#[path = "redis_support.rs"]
mod redis_support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::*;
use worker_utils::prelude::*;
use worker_utils::queue::{Failure, MemoryQueue, Queue, RedisQueue};
use worker_utils::status::{StatusServer, StatusServerHandle};

const ADMIN: &str = "Authorization: Bearer adm1n\r\n";

/// A queue with dead letters for jobs 1, 2 and 3 (payloads 10, 20, 30) and a server
/// administering it.
async fn setup() -> (Arc<MemoryQueue<u32>>, Broadcaster, StatusServerHandle) {
    let broadcaster = Broadcaster::new();
    let queue = Arc::new(MemoryQueue::builder("q").status(broadcaster.clone()).build().unwrap());
    queue.enqueue_batch(vec![10, 20, 30]).await.unwrap();
    let failure = Failure::from_error(&ActionError::permanent(std::io::Error::other("no such image")), 1);
    for job in queue.reserve(3, Duration::ZERO).await.unwrap() {
        queue.dead_letter(job.receipt(), failure.clone(), None).await.unwrap();
    }
    let server = start(&broadcaster, |b| {
        b.auth_token("r3ad").handshake_timeout(Duration::from_secs(1)).admin("adm1n", queue.clone())
    })
    .await;
    (queue, broadcaster, server)
}

async fn list(server: &StatusServerHandle, headers: &str) -> Answer {
    http_request(server, "GET", "/api/dead-letters", headers, "").await
}

async fn post(server: &StatusServerHandle, action: &str, headers: &str, body: &str) -> Answer {
    let headers = format!("{headers}Content-Type: application/json\r\nContent-Length: {}\r\n", body.len());
    http_request(server, "POST", &format!("/api/dead-letters/{action}"), &headers, body).await
}

fn json(answer: &Answer) -> Value {
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.headers["content-type"], "application/json");
    assert!(answer.headers.contains_key("content-security-policy"));
    serde_json::from_str(&answer.body).unwrap()
}

#[tokio::test]
async fn without_the_admin_token_every_endpoint_is_refused() {
    let (queue, _broadcaster, server) = setup().await;
    for headers in [
        "",
        "Authorization: Bearer r3ad\r\n",
        "Authorization: Bearer adm1n-\r\n",
        "Authorization: Basic adm1n\r\n",
        "Cookie: token=adm1n\r\n",
    ] {
        let answer = list(&server, headers).await;
        assert_eq!(
            (answer.status, answer.headers["www-authenticate"].as_str()),
            (401, "Bearer"),
            "{headers:?}"
        );
        assert!(!answer.body.contains("no such image"), "a refusal leaks nothing");
        for action in ["requeue", "delete"] {
            assert_eq!(
                post(&server, action, headers, r#"{"ids":[1]}"#).await.status,
                401,
                "{action} {headers:?}"
            );
        }
    }
    let query = http_request(&server, "GET", "/api/dead-letters?token=adm1n", "", "").await;
    assert_eq!(query.status, 401, "never from the query");
    assert_eq!(queue.dead_letters().await.unwrap().len(), 3, "nothing was changed");
    server.shutdown().await;
}

#[tokio::test]
async fn another_origin_is_refused_even_with_the_token() {
    let (queue, _broadcaster, server) = setup().await;
    let own = format!("Origin: http://{}\r\n", server.local_addr());
    assert_eq!(list(&server, &format!("{ADMIN}{own}")).await.status, 200, "same origin");
    for origin in ["Origin: http://evil.example\r\n", "Origin: null\r\n", &format!("{own}{own}")] {
        assert_eq!(list(&server, &format!("{ADMIN}{origin}")).await.status, 403, "{origin:?}");
        assert_eq!(post(&server, "delete", &format!("{ADMIN}{origin}"), r#"{"ids":[1]}"#).await.status, 403);
    }
    let cross_site = format!("{ADMIN}Sec-Fetch-Site: cross-site\r\n");
    assert_eq!(post(&server, "delete", &cross_site, r#"{"ids":[1]}"#).await.status, 403);
    assert_eq!(queue.dead_letters().await.unwrap().len(), 3);
    server.shutdown().await;

    // An allowed origin other than the server's own.
    let broadcaster = Broadcaster::new();
    let server =
        start(&broadcaster, |b| b.allowed_origins(["https://ops.example"]).admin("adm1n", queue)).await;
    assert_eq!(list(&server, &format!("{ADMIN}Origin: https://ops.example\r\n")).await.status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn the_listing_has_every_dead_letter_with_its_history() {
    let (_queue, _broadcaster, server) = setup().await;
    let listing = json(&list(&server, ADMIN).await);
    assert_eq!((listing["queue"].as_str(), listing["total"].as_u64()), (Some("q"), Some(3)));
    let letters = listing["dead_letters"].as_array().unwrap();
    let ids: Vec<u64> = letters.iter().map(|l| l["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(letters[1]["job"], 20);
    assert_eq!(letters[0]["failure"]["kind"], "permanent");
    assert!(letters[0]["failure"]["message"].as_str().unwrap().contains("no such image"));
    assert_eq!(letters[0]["failure"]["attempts"].as_array().unwrap().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn requeue_and_delete_act_on_the_queue_and_are_seen_on_the_feed() {
    let (queue, _broadcaster, server) = setup().await;
    let mut feed = {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url(&server, "/ws").into_client_request().unwrap();
        request.headers_mut().insert("Authorization", "Bearer r3ad".parse().unwrap());
        tokio_tungstenite::connect_async(request).await.expect("handshake").0
    };
    until_ready(&mut feed).await;

    let requeued = json(&post(&server, "requeue", ADMIN, r#"{"ids":[1,99]}"#).await);
    assert_eq!(requeued["requeued"], serde_json::json!([[1, 4]]), "99 is no dead letter");
    assert_eq!(queue.len(), 1, "job 4 waits");
    let pending = next_json(&mut feed).await;
    assert_eq!((job_status(&pending), pending["attempt"].as_u64()), ((4, "PENDING".to_owned()), Some(1)));

    let deleted = json(&post(&server, "delete", ADMIN, r#"{"ids":[2,1]}"#).await);
    assert_eq!(deleted["deleted"], 1, "1 left the dead letters already");
    let left: Vec<u64> = queue.dead_letters().await.unwrap().iter().map(|l| l.id.get()).collect();
    assert_eq!(left, [3]);
    server.shutdown().await;
}

#[tokio::test]
async fn bodies_are_bounded_and_checked() {
    let (queue, _broadcaster, server) = setup().await;
    let path = "/api/dead-letters/delete";
    let answer = |headers: String, body: String| {
        let server = &server;
        async move { http_request(server, "POST", path, &headers, &body).await.status }
    };
    let typed = |len: usize| format!("{ADMIN}Content-Type: application/json\r\nContent-Length: {len}\r\n");
    assert_eq!(answer(format!("{ADMIN}Content-Type: application/json\r\n"), String::new()).await, 411);
    assert_eq!(
        answer(
            format!("{ADMIN}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"),
            String::new()
        )
        .await,
        411
    );
    assert_eq!(answer(typed(64 * 1024 + 1), String::new()).await, 413);
    assert_eq!(
        answer(
            format!("{ADMIN}Content-Type: text/plain\r\nContent-Length: 10\r\n"),
            r#"{"ids":[1]}"#[..10].to_owned()
        )
        .await,
        415
    );
    for bad in [r#"{"ids":[]}"#, r#"{"ids":[-1]}"#, r#"{"ids":"1"}"#, r#"{"ids":[1],"all":true}"#, "[1]", "{"]
    {
        assert_eq!(answer(typed(bad.len()), bad.to_owned()).await, 400, "{bad}");
    }
    let many = format!("{{\"ids\":[{}]}}", vec!["1"; 10_001].join(","));
    assert_eq!(answer(typed(many.len()), many).await, 400, "at most 10 000 ids");
    // A body that never arrives in full.
    let short = tokio::time::timeout(READ_LIMIT, answer(typed(100), r#"{"ids":[1]}"#.to_owned())).await;
    assert!(matches!(short, Ok(400 | 408)), "{short:?}");
    assert_eq!(queue.dead_letters().await.unwrap().len(), 3);

    assert_eq!(http_request(&server, "GET", path, ADMIN, "").await.headers["allow"], "POST");
    let listing = http_request(&server, "POST", "/api/dead-letters", &typed(0), "").await;
    assert_eq!((listing.status, listing.headers["allow"].as_str()), (405, "GET"));
    server.shutdown().await;
}

#[tokio::test]
async fn without_an_admin_backend_there_is_no_admin_api() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b).await;
    assert_eq!(list(&server, ADMIN).await.status, 404);
    assert_eq!(post(&server, "delete", ADMIN, r#"{"ids":[1]}"#).await.status, 404);
    server.shutdown().await;
    let queue = Arc::new(MemoryQueue::<u32>::builder("q").build().unwrap());
    let err = StatusServer::builder(Broadcaster::new()).admin("", queue.clone()).build().unwrap_err();
    assert_eq!(err.field(), "admin");
    let err = StatusServer::builder(Broadcaster::new())
        .auth_token("same")
        .admin("same", queue)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "admin");
}

/// The same API on a `RedisQueue` (when a Redis is there): the dead letters are listed with
/// their history, requeued as new jobs and deleted; an empty id list (which the backend
/// reads as "every one") is refused before it gets there.
#[tokio::test]
async fn the_admin_api_acts_on_a_redis_queue_too() {
    if redis_support::redis_missing().await {
        return;
    }
    let ns = redis_support::namespace("admin");
    let url = redis_support::redis_url();
    let queue = RedisQueue::<u32>::builder("q").url(&url).namespace(&ns).connect().await.expect("connect");
    let queue = Arc::new(queue);
    let ids = queue.enqueue_batch(vec![10, 20, 30]).await.unwrap();
    let failure = Failure::from_error(&ActionError::permanent(std::io::Error::other("no such image")), 1);
    for job in queue.reserve(3, Duration::ZERO).await.unwrap() {
        queue.dead_letter(job.receipt(), failure.clone(), None).await.unwrap();
    }
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.admin("adm1n", queue.clone())).await;

    let listing = json(&list(&server, ADMIN).await);
    let listed: Vec<u64> =
        listing["dead_letters"].as_array().unwrap().iter().map(|l| l["id"].as_u64().unwrap()).collect();
    assert_eq!(listed, ids.iter().map(|id| id.get()).collect::<Vec<_>>());
    assert_eq!(listing["dead_letters"][0]["failure"]["kind"], "permanent");
    assert_eq!(post(&server, "delete", ADMIN, r#"{"ids":[]}"#).await.status, 400);
    assert_eq!(queue.dead_letters().await.unwrap().len(), 3, "an empty list deleted nothing");

    let requeued = json(&post(&server, "requeue", ADMIN, &format!(r#"{{"ids":[{}]}}"#, ids[0].get())).await);
    let pair = requeued["requeued"][0].as_array().unwrap();
    assert_eq!(pair[0].as_u64(), Some(ids[0].get()));
    assert!(pair[1].as_u64().unwrap() > ids[2].get(), "a new job");
    let deleted = json(&post(&server, "delete", ADMIN, &format!(r#"{{"ids":[{}]}}"#, ids[1].get())).await);
    assert_eq!(deleted["deleted"], 1);
    let left: Vec<JobId> = queue.dead_letters().await.unwrap().iter().map(|l| l.id).collect();
    assert_eq!(left, [ids[2]]);
    server.shutdown().await;
    redis_support::delete_namespace(&url, &ns).await;
}
