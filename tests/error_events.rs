//! Error handling's log events: one structured event per failure, with the job's context,
//! and retries inside it logged as retries, not failures.
//!
//! A binary of its own: these tests watch tracing's process-wide state (callsite interest,
//! the max level) through a thread-local subscriber, and tests running actions in parallel
//! in the same process, with no subscriber, made them miss events now and then.

use std::collections::BTreeMap;
use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt;
use worker_utils::prelude::*;
use worker_utils::testing::{FailTimes, paused_runtime};
use worker_utils_tests::Events;

fn capture<T>(f: impl FnOnce() -> T) -> (T, Vec<BTreeMap<String, String>>) {
    let events = Events::default();
    let subscriber = tracing_subscriber::registry().with(events.clone());
    let out = tracing::subscriber::with_default(subscriber, f);
    (out, events.take())
}

fn job_ctx() -> ActionContext {
    ActionContext::builder().job_id(JobId::new(31)).queue("images").worker_id("images-1").build()
}

#[test]
fn one_structured_event_per_failure_with_full_context() {
    let action = FailTimes::new(1, ErrorKind::Permanent).error_handling();
    let (result, events) = capture(|| paused_runtime().block_on(action.execute(5_u32, &(), &job_ctx())));
    assert!(result.is_err());
    let failures: Vec<_> =
        events.iter().filter(|e| e.get("message").is_some_and(|m| m == "action failed")).collect();
    assert_eq!(failures.len(), 1, "{events:?}");
    let e = failures[0];
    assert_eq!(e["level"], "ERROR");
    assert_eq!(e["job_id"], "31");
    assert_eq!(e["queue"], "images");
    assert_eq!(e["worker"], "images-1");
    assert_eq!(e["action"], "fail_times");
    assert_eq!(e["attempt"], "1");
    assert_eq!(e["kind"], "permanent");
    assert_eq!(e["error"], "fail_times, attempt 1: injected permanent failure #1");
}

#[test]
fn retries_inside_error_handling_report_once_at_the_end() {
    let cfg = RetryConfig::builder().max_attempts(3).base_delay(Duration::from_millis(1)).build().unwrap();
    let action = FailTimes::new(9, ErrorKind::Transient).retry(cfg).error_handling();
    let (_, events) = capture(|| paused_runtime().block_on(action.execute(5_u32, &(), &job_ctx())));
    let failed = events.iter().filter(|e| e["message"] == "action failed").count();
    let retried = events.iter().filter(|e| e["message"] == "retrying after backoff").count();
    assert_eq!((failed, retried), (1, 2));
}
