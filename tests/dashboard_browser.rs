//! The dashboard in a real browser: the quickstart (built binary) runs with its status
//! server and `--linger`; headless Chromium (the system's, driven by Python Playwright in
//! `tests/python/dashboard_check.py`) opens the page, waits until every job is terminal,
//! checks the page's counters against the quickstart's printed summary, requeues a dead
//! letter from the UI with the admin token and watches it run again, checks that a page
//! without the token has no admin control and is refused, and saves a screenshot under
//! `target/tmp/`. A second test restarts the server under an open page: the page shows the
//! lost feed, reconnects and counts every job once.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};
use worker_utils::JobId;
use worker_utils::status::{Broadcaster, JobStatus, StatusEvent, StatusServer, StatusSink};
use worker_utils_tests::external_missing;

const JOBS: u32 = 400;
const ADMIN_TOKEN: &str = "dashboard-test-admin";
const LIMIT: Duration = Duration::from_secs(180);

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

fn playwright_present() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import playwright.sync_api"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The number after `label` at the start of a summary line (`completed     397`).
fn count(line: &str, label: &str) -> Option<u64> {
    let rest = line.strip_prefix(label)?;
    if !rest.starts_with(' ') {
        return None;
    }
    rest.split_whitespace().next()?.parse().ok()
}

/// Whether Chromium or Python's `playwright` is absent (printing the notice, or failing
/// under `WORKER_UTILS_REQUIRE_EXTERNAL=1`).
fn browser_missing() -> bool {
    let present = std::path::Path::new(&chromium()).exists();
    external_missing(&format!("Chromium at {}", chromium()), present)
        || external_missing(
            "python3 with the `playwright` package (pip, no browser download)",
            playwright_present(),
        )
}

/// Each test drives its own Chromium. Two at once on a two-core machine starve the page under
/// load until it falls behind the feed, so the tests take turns.
static BROWSER_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The quickstart's next line of output.
async fn next_line(lines: &mut Lines<BufReader<ChildStdout>>) -> Option<String> {
    tokio::time::timeout(LIMIT, lines.next_line()).await.expect("the quickstart prints in time").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_chromium_matches_the_quickstart_and_requeues_a_dead_letter() {
    if browser_missing() {
        return;
    }
    let _turn = BROWSER_TURN.lock().await;
    let mut quickstart = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .args(["--jobs", &JOBS.to_string(), "--linger", "300", "--admin-token", ADMIN_TOKEN])
        .args(["--ws-addr", "127.0.0.1:0"])
        // Every event reaches the page, so a requeued job's PROCESSING is seen however short.
        .env("WORKER_UTILS_WS_RATE_LIMIT_MS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("run the quickstart");
    let mut lines = BufReader::new(quickstart.stdout.take().unwrap()).lines();

    let url = loop {
        let line = next_line(&mut lines).await.expect("the quickstart prints the dashboard URL");
        if let Some(rest) = line.strip_prefix("dashboard:") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with('/'), "{url}");

    let screenshot = format!("{}/dashboard.png", env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::remove_file(&screenshot);
    let mut check = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/python/dashboard_check.py"))
        .args([&url, ADMIN_TOKEN, &JOBS.to_string(), &screenshot])
        .env("CHROMIUM", chromium())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run python3");

    // The quickstart's summary.
    let (mut completed, mut failed, mut redelivered, mut kinds) = (None, None, None, None);
    while kinds.is_none() || redelivered.is_none() {
        let line = next_line(&mut lines).await.expect("the quickstart prints its summary");
        completed = completed.or(count(&line, "completed"));
        failed = failed.or(count(&line, "failed"));
        redelivered = redelivered.or(count(&line, "redelivered"));
        if let Some(rest) = line.strip_prefix("dead letters by kind: ") {
            let by_kind: serde_json::Map<String, serde_json::Value> = rest
                .split(", ")
                .map(|pair| {
                    let (kind, n) = pair.rsplit_once(' ').unwrap();
                    (kind.to_owned(), n.parse::<u64>().unwrap().into())
                })
                .collect();
            kinds = Some(by_kind);
        }
    }
    let (completed, failed) = (completed.unwrap(), failed.unwrap());
    assert_eq!(completed + failed, u64::from(JOBS), "every job finished");
    assert!(failed > 0, "the quickstart makes dead letters");
    let summary = serde_json::json!({
        "completed": completed, "failed": failed, "redelivered": redelivered.unwrap(), "kinds": kinds.unwrap(),
    });

    let mut out = BufReader::new(check.stdout.take().unwrap()).lines();
    let terminal =
        tokio::time::timeout(LIMIT, out.next_line()).await.expect("the page sees every job in time");
    assert_eq!(terminal.unwrap().as_deref(), Some("TERMINAL"), "the browser check failed (see its stderr)");
    let mut stdin = check.stdin.take().unwrap();
    stdin.write_all(format!("{summary}\n").as_bytes()).await.unwrap();
    stdin.flush().await.unwrap();
    let ok = tokio::time::timeout(LIMIT, out.next_line()).await.expect("the browser check ends in time");
    let status = tokio::time::timeout(LIMIT, check.wait()).await.expect("python3 exits").unwrap();
    assert!(
        status.success() && ok.unwrap().as_deref() == Some("OK"),
        "the browser check failed (see its stderr)"
    );
    assert!(std::fs::metadata(&screenshot).is_ok_and(|m| m.len() > 10_000), "a screenshot at {screenshot}");
    eprintln!("dashboard screenshot: {screenshot}");
    quickstart.kill().await.unwrap();
}

/// Publishes a job that completed on delivery `deliveries` (so `deliveries - 1`
/// redeliveries): PENDING, PROCESSING, COMPLETED.
fn complete(broadcaster: &Broadcaster, job: u64, deliveries: u32) {
    for status in [JobStatus::Pending, JobStatus::Processing, JobStatus::Completed] {
        let mut event = StatusEvent::new(JobId::new(job), "q", status);
        event.attempt = deliveries;
        broadcaster.publish(event);
    }
}

/// The page (given the read token as `#token=`) loses its server, which comes back on the
/// same address with the same broadcaster: the page shows it reconnects, takes the new
/// snapshot, counts the jobs finished meanwhile and none of the others twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_reconnects_after_a_server_restart_without_counting_twice() {
    if browser_missing() {
        return;
    }
    let _turn = BROWSER_TURN.lock().await;
    let broadcaster = Broadcaster::new();
    let start = |addr: SocketAddr| {
        // A feed that needs a token: the page reads it from its URL's fragment.
        let server = StatusServer::builder(broadcaster.clone())
            .bind(addr)
            .rate_limit(Duration::ZERO)
            .auth_token("r3ad")
            .allow_query_token(true);
        async move { server.build().unwrap().start().await.expect("bind") }
    };
    let server = start("127.0.0.1:0".parse().unwrap()).await;
    let addr = server.local_addr();
    for job in 1..=40 {
        complete(&broadcaster, job, if job <= 10 { 2 } else { 1 });
    }
    let mut check = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/python/dashboard_reconnect.py"))
        .args([&format!("{}#token=r3ad", server.dashboard_url()), "40", "60"])
        .env("CHROMIUM", chromium())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run python3");
    let mut out = BufReader::new(check.stdout.take().unwrap()).lines();
    let mut expect = async |line: &str| {
        let got =
            tokio::time::timeout(LIMIT, out.next_line()).await.expect("the page answers in time").unwrap();
        assert_eq!(got.as_deref(), Some(line), "the reconnect check failed (see its stderr)");
    };
    expect("SEEN").await;
    server.shutdown().await;
    expect("DISCONNECTED").await;
    // While the page is away: 20 more jobs finish, 5 of them redelivered once.
    for job in 41..=60 {
        complete(&broadcaster, job, if job <= 45 { 2 } else { 1 });
    }
    let server = start(addr).await;
    let counts =
        tokio::time::timeout(LIMIT, out.next_line()).await.expect("the page resumes in time").unwrap();
    let counts: serde_json::Value = serde_json::from_str(&counts.expect("the page's counts")).unwrap();
    assert_eq!(
        counts,
        serde_json::json!({"pending": 0, "processing": 0, "completed": 60, "failed": 0, "redelivered": 15,
                           "connection": "live"}),
        "every job once, the snapshot's and the live ones"
    );
    assert!(tokio::time::timeout(LIMIT, check.wait()).await.unwrap().unwrap().success());
    server.shutdown().await;
}

/// 100 000 jobs' events at 5 000 a second: the page keeps up (never told it lagged), counts
/// every job, and stays usable (a filter answers within a second; the table keeps its
/// window).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_keeps_up_with_5000_events_a_second_and_100000_jobs() {
    const JOBS: u64 = 100_000;
    const PER_TICK: u64 = 500; // every 100 ms: 5 000 events a second
    if browser_missing() {
        return;
    }
    let _turn = BROWSER_TURN.lock().await;
    let broadcaster = Broadcaster::new();
    let server = StatusServer::builder(broadcaster.clone()).build().unwrap().start().await.unwrap();
    let mut check = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/python/dashboard_load.py"))
        .args([&server.dashboard_url(), &JOBS.to_string()])
        .env("CHROMIUM", chromium())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run python3");
    let mut out = BufReader::new(check.stdout.take().unwrap()).lines();
    let ready =
        tokio::time::timeout(LIMIT, out.next_line()).await.expect("the page is live in time").unwrap();
    assert_eq!(ready.as_deref(), Some("READY"), "the load check failed (see its stderr)");

    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for first in (1..=JOBS).step_by(PER_TICK as usize) {
        tick.tick().await;
        let mut events: Vec<StatusEvent> = (first..first + PER_TICK)
            .map(|job| {
                let mut event = StatusEvent::new(JobId::new(job), "load", JobStatus::Completed);
                event.duration_ms = Some(job % 50);
                event
            })
            .collect();
        broadcaster.publish_all(&mut events);
    }
    let measured =
        tokio::time::timeout(LIMIT, out.next_line()).await.expect("the page catches up in time").unwrap();
    let status = tokio::time::timeout(LIMIT, check.wait()).await.expect("python3 exits").unwrap();
    assert!(status.success(), "the load check failed (see its stderr)");
    eprintln!("dashboard under load: {}", measured.unwrap_or_default());
    server.shutdown().await;
}
