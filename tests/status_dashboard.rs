//! The dashboard served by the status server, over loopback: its files, their types, the
//! Content-Security-Policy and the other security headers; a page with no inline script,
//! no inline event handler and no third-party URL; and the feed and health report still
//! answering beside it.

#[path = "status_support.rs"]
mod support;

use support::*;
use worker_utils::prelude::*;
use worker_utils::status::StatusServerHandle;

async fn request(server: &StatusServerHandle, method: &str, path: &str, headers: &str) -> Answer {
    http_request(server, method, path, headers, "").await
}

async fn get(server: &StatusServerHandle, path: &str) -> Answer {
    request(server, "GET", path, "").await
}

fn assert_secured(answer: &Answer, content_type: &str) {
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], content_type);
    assert_eq!(answer.headers["x-content-type-options"], "nosniff");
    assert_eq!(answer.headers["content-length"], answer.body.len().to_string());
    let csp = &answer.headers["content-security-policy"];
    for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'"] {
        assert!(csp.split(';').any(|d| d.trim() == directive), "{directive} in {csp}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

/// The `id="…"` values of an HTML page.
fn ids(html: &str) -> Vec<&str> {
    html.split(" id=\"").skip(1).map(|rest| &rest[..rest.find('"').unwrap()]).collect()
}

#[tokio::test]
async fn the_dashboard_files_are_served_with_their_types_and_policy() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b).await;
    let page = get(&server, "/").await;
    assert_secured(&page, "text/html; charset=utf-8");
    let script = get(&server, "/app.js").await;
    assert_secured(&script, "text/javascript; charset=utf-8");
    let style = get(&server, "/app.css").await;
    assert_secured(&style, "text/css; charset=utf-8");
    assert!(page.body.starts_with("<!doctype html>"));
    assert!(page.body.contains("<script src=\"/app.js\" defer></script>"));
    assert!(page.body.contains("<link rel=\"stylesheet\" href=\"/app.css\">"));
    assert!(script.body.contains("new WebSocket("));

    for path in ["/index.html", "/app.js/", "/api", "/favicon.ico"] {
        assert_eq!(get(&server, path).await.status, 404, "{path}");
    }
    for method in ["POST", "HEAD", "PUT"] {
        let answer = request(&server, method, "/", "Content-Length: 0\r\n").await;
        assert_eq!((answer.status, answer.headers["allow"].as_str()), (405, "GET"), "{method} /");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_page_has_no_inline_script_handler_style_or_third_party_url() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b).await;
    let page = get(&server, "/").await.body;
    let lower = page.to_ascii_lowercase();
    // Every <script> loads a file and has no body.
    for tag in lower.split("<script").skip(1) {
        let (attributes, rest) = tag.split_once('>').unwrap();
        assert!(attributes.contains("src=\"/"), "a script with its own file: <script{attributes}>");
        assert!(rest.starts_with("</script>"), "no inline script body");
    }
    // No on*= attribute anywhere, no style attribute or element.
    for (at, _) in lower.match_indices("on") {
        let before = lower[..at].chars().next_back().unwrap();
        let name: String = lower[at..].chars().take_while(char::is_ascii_alphabetic).collect();
        let after = lower[at + name.len()..].trim_start();
        assert!(
            !(before.is_ascii_whitespace() && after.starts_with('=')),
            "an inline event handler: {name}= in the page"
        );
    }
    assert!(!lower.contains(" style=") && !lower.contains("<style"), "no inline style");

    let script = get(&server, "/app.js").await.body;
    let style = get(&server, "/app.css").await.body;
    for (name, text) in [("index.html", &page), ("app.js", &script), ("app.css", &style)] {
        assert!(!text.contains("http://") && !text.contains("https://"), "{name} names no other site");
    }
    for forbidden in [
        "eval(",
        "new Function",
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "setAttribute('style",
    ] {
        assert!(!script.contains(forbidden), "app.js uses {forbidden}");
    }
    assert!(
        !script.contains("localStorage") && !script.contains("document.cookie"),
        "the admin token stays in sessionStorage"
    );
    // Every element the script looks up exists in the page.
    let page_ids = ids(&page);
    for lookup in script.split("$('").skip(1) {
        let id = &lookup[..lookup.find('\'').unwrap()];
        assert!(page_ids.contains(&id), "app.js looks up #{id}, which the page lacks");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_feed_and_the_health_report_still_answer_beside_the_page() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b).await;
    assert_eq!(get(&server, "/").await.status, 200);
    let health = get(&server, "/healthz").await;
    assert_eq!((health.status, health.headers["content-type"].as_str()), (200, "application/json"));
    let health: serde_json::Value = serde_json::from_str(&health.body).unwrap();
    assert_eq!(health["status"], "ok");
    let mut client = connect(&server, "/ws").await;
    assert_eq!(until_ready(&mut client).await, (vec![], 0));
    publish(&broadcaster, 7, "q", JobStatus::Pending, 1);
    assert_eq!(job_status(&next_json(&mut client).await), (7, "PENDING".to_owned()));
    assert_eq!(get(&server, "/ws").await.status, 426, "a plain GET on /ws is still told to upgrade");
    server.shutdown().await;
}

#[tokio::test]
async fn with_a_read_token_the_page_is_public_and_the_feed_takes_the_query_token() {
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.auth_token("r3ad").allow_query_token(true)).await;
    assert_eq!(server.dashboard_url(), format!("http://{}/", server.local_addr()));
    // The page holds no data: it is served without the token, and reads the feed with it.
    assert_eq!(get(&server, "/").await.status, 200);
    let refused = tokio_tungstenite::connect_async(url(&server, "/ws")).await;
    assert!(refused.is_err(), "no token, no feed");
    let mut client = connect(&server, "/ws?token=r3ad").await;
    assert_eq!(until_ready(&mut client).await, (vec![], 0));
    server.shutdown().await;
}
