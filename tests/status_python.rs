//! An external client nobody here wrote — Python's `websockets` package — connects,
//! subscribes and checks the JSON of full job lifecycles (`tests/python/status_client.py`).

#[path = "status_support.rs"]
mod support;

use std::process::Stdio;
use std::time::Duration;

use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use worker_utils::prelude::*;
use worker_utils::status::publish_pending;
use worker_utils::testing::FailTimes;
use worker_utils_tests::external_missing;

fn python_websockets_present() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import websockets"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
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
        .arg(url(&server, "/"))
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn python3");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(READ_LIMIT, lines.next_line()).await.expect("READY in time").unwrap();
    assert_eq!(ready.as_deref(), Some("READY"), "the script subscribed");

    let run = |job: u64, failures: u32| {
        let broadcaster = broadcaster.clone();
        async move {
            publish_pending(&broadcaster, JobId::new(job), "py");
            let ctx =
                ActionContext::builder().job_id(JobId::new(job)).queue("py").worker_id("py-worker").build();
            let action = FailTimes::<u32>::new(failures, ErrorKind::Permanent).with_status(broadcaster);
            let _ = action.execute(0, &(), &ctx).await;
        }
    };
    run(1, 0).await;
    publish(&broadcaster, 2, "elsewhere", JobStatus::Pending, 1); // filtered out
    run(3, 1).await;

    assert_eq!(
        tokio::time::timeout(READ_LIMIT, lines.next_line()).await.unwrap().unwrap().as_deref(),
        Some("OK")
    );
    let status = tokio::time::timeout(READ_LIMIT, child.wait()).await.expect("script ends").unwrap();
    assert!(status.success(), "the Python client's checks failed (see its stderr above)");
    server.shutdown().await;
}
