//! An external client nobody here wrote — Python's `websockets` package — connects,
//! subscribes and checks the JSON of full job lifecycles (`tests/python/status_client.py`)
//! produced by a real runner on a `MemoryQueue`: a job that completes, one that fails for
//! good, and one that is redelivered once before it completes.

#[path = "status_support.rs"]
mod support;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue};
use worker_utils::worker::{RedeliveryPolicy, Runner, Worker};
use worker_utils_tests::external_missing;

fn python_websockets_present() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import websockets"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Job 1 succeeds, job 2 fails permanently, job 3 fails transiently on its first delivery.
/// Each first waits a moment, so that its PROCESSING is live: a job that never waits skips
/// it (docs/protocol.md).
struct ByPayload;

impl Action for ByPayload {
    type Input = u32;
    type Output = u32;

    fn name(&self) -> &'static str {
        "by_payload"
    }

    async fn execute(&self, n: u32, _: &(), ctx: &ActionContext) -> Result<u32, ActionError> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        match n {
            2 => Err(ActionError::permanent(std::io::Error::other("injected permanent failure"))),
            3 if ctx.delivery() == 1 => {
                Err(ActionError::transient(std::io::Error::other("injected transient failure")))
            }
            n => Ok(n),
        }
    }
}

struct Py;

impl Worker for Py {
    type Deps = ();
    type Pipeline = ByPayload;

    fn queue(&self) -> &str {
        "py"
    }

    fn pipeline(&self) -> ByPayload {
        ByPayload
    }

    fn redelivery(&self) -> RedeliveryPolicy {
        let policy = RedeliveryPolicy::builder().base_delay(Duration::from_millis(50)).jitter(false);
        policy.build().expect("valid policy")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_websockets_client_checks_full_lifecycles() {
    if external_missing("python3 with the `websockets` package", python_websockets_present()) {
        return;
    }
    let broadcaster = Broadcaster::new();
    let server = start(&broadcaster, |b| b.rate_limit(Duration::ZERO)).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/status_client.py");
    let mut child = tokio::process::Command::new("python3")
        .arg(script)
        .arg(url(&server, "/ws"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn python3");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(READ_LIMIT, lines.next_line()).await.expect("READY in time").unwrap();
    assert_eq!(ready.as_deref(), Some("READY"), "the script subscribed");

    publish(&broadcaster, 2, "elsewhere", JobStatus::Pending, 1); // filtered out
    let queue = Arc::new(MemoryQueue::builder("py").status(broadcaster.clone()).build().unwrap());
    queue.enqueue_batch(vec![1, 2, 3]).await.unwrap();
    let runner =
        Runner::builder(Py, queue, ()).status(broadcaster.clone()).worker_id("py-worker").build().unwrap();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(runner.run(shutdown.clone()));

    assert_eq!(
        tokio::time::timeout(READ_LIMIT, lines.next_line()).await.unwrap().unwrap().as_deref(),
        Some("OK")
    );
    let status = tokio::time::timeout(READ_LIMIT, child.wait()).await.expect("script ends").unwrap();
    assert!(status.success(), "the Python client's checks failed (see its stderr above)");
    shutdown.cancel();
    let report = running.await.unwrap();
    assert_eq!((report.completed, report.redelivered, report.dead_lettered), (2, 1, 1));
    server.shutdown().await;
}
