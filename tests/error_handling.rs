//! Error handling: panics become System errors, cleanup and handlers, context preservation,
//! classification and metrics (its log events: `error_events.rs`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use worker_utils::error_handling::Panicked;
use worker_utils::prelude::*;
use worker_utils::testing::{FailTimes, Panics, RecordingHandler, paused_runtime};

fn job_ctx() -> ActionContext {
    ActionContext::builder().job_id(JobId::new(31)).queue("images").worker_id("images-1").build()
}

#[tokio::test]
async fn a_panic_becomes_a_system_error_and_the_caller_lives_on() {
    let action = Panics::<u8>::new("index out of bounds").error_handling();
    let err = action.execute(1, &(), &job_ctx()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::System);
    assert_eq!(err.action(), "panics");
    assert_eq!(err.job_id(), Some(JobId::new(31)));
    assert_eq!(err.downcast_ref::<Panicked>().unwrap().message(), "index out of bounds");
    // The same instance keeps working after a panic.
    assert!(action.execute(2, &(), &job_ctx()).await.is_err());
}

#[tokio::test]
async fn a_panic_in_the_handler_or_the_cleanup_hook_becomes_a_system_error_too() {
    let handler_panics = FailTimes::new(1, ErrorKind::Permanent).error_handling().handler(
        |_: ActionError, _: &(), _: &ActionContext| -> Result<u8, ActionError> { panic!("handler") },
    );
    let cleanup_panics = FailTimes::new(1, ErrorKind::Permanent)
        .error_handling()
        .cleanup(|_: &ActionError, _: &(), _: &ActionContext| panic!("cleanup"));
    for (err, message) in [
        (handler_panics.execute(1_u8, &(), &job_ctx()).await.unwrap_err(), "handler"),
        (cleanup_panics.execute(1_u8, &(), &job_ctx()).await.unwrap_err(), "cleanup"),
    ] {
        assert_eq!(err.kind(), ErrorKind::System);
        assert_eq!((err.action(), err.job_id()), ("fail_times", Some(JobId::new(31))));
        assert_eq!(err.downcast_ref::<Panicked>().unwrap().message(), message);
    }
    // The caller lives on, and so does the action: its next call succeeds.
    assert_eq!(handler_panics.execute(2_u8, &(), &job_ctx()).await.unwrap(), 2);
}

#[tokio::test]
async fn cleanup_runs_before_the_handler_once_per_failure() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let (o1, o2) = (order.clone(), order.clone());
    let action = FailTimes::new(2, ErrorKind::Transient)
        .error_handling()
        .cleanup(move |e: &ActionError, _: &(), _: &ActionContext| {
            o1.lock().unwrap().push(format!("cleanup {}", e.kind()))
        })
        .handler(move |e: ActionError, _: &(), _: &ActionContext| {
            o2.lock().unwrap().push("handler".to_owned());
            Err::<u32, _>(e)
        });
    for _ in 0..3 {
        let _ = action.execute(1, &(), &ActionContext::detached()).await;
    }
    assert_eq!(*order.lock().unwrap(), ["cleanup transient", "handler", "cleanup transient", "handler"]);
}

#[tokio::test]
async fn a_handler_may_suppress_convert_or_inspect() {
    let suppress = FailTimes::new(1, ErrorKind::BusinessLogic)
        .error_handling()
        .handler(|_: ActionError, _: &(), _: &ActionContext| Ok(0_u32));
    assert_eq!(suppress.execute(9, &(), &ActionContext::detached()).await.unwrap(), 0);

    let convert = FailTimes::new(1, ErrorKind::Transient).error_handling().handler(
        |e: ActionError, _: &(), _: &ActionContext| Err::<u32, _>(e.with_kind(ErrorKind::Permanent)),
    );
    assert_eq!(
        convert.execute(9, &(), &ActionContext::detached()).await.unwrap_err().kind(),
        ErrorKind::Permanent
    );

    let recorder = RecordingHandler::default();
    let inspect = FailTimes::new(1, ErrorKind::System).error_handling().handler(recorder.clone());
    assert!(inspect.execute(9_u32, &(), &ActionContext::detached()).await.is_err());
    assert_eq!(
        recorder.seen(),
        [(ErrorKind::System, "fail_times, attempt 1: injected system failure #1".to_owned())]
    );
}

#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error("storage rejected the object")]
    Rejected(#[source] std::io::Error),
    #[error("slow down")]
    Throttled,
}

impl Classify for UploadError {
    fn kind(&self) -> ErrorKind {
        match self {
            UploadError::Rejected(_) => ErrorKind::Permanent,
            UploadError::Throttled => ErrorKind::Transient,
        }
    }
    fn retry_after(&self) -> Option<Duration> {
        matches!(self, UploadError::Throttled).then_some(Duration::from_secs(5))
    }
}

#[test]
fn context_and_the_source_chain_are_preserved() {
    let ctx = job_ctx();
    let err = ActionError::from(UploadError::Rejected(std::io::Error::other("quota exceeded")))
        .in_context("upload", &ctx);
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert_eq!((err.action(), err.attempt(), err.job_id()), ("upload", 1, Some(JobId::new(31))));
    assert_eq!(err.chain().to_string(), "upload, attempt 1: storage rejected the object: quota exceeded");
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(source.to_string(), "quota exceeded");
    assert!(matches!(err.downcast_ref::<UploadError>(), Some(UploadError::Rejected(_))));
    assert!(
        matches!(ActionError::from(UploadError::Throttled).retry_after(), Some(d) if d == Duration::from_secs(5))
    );
}

#[test]
fn io_errors_are_classified_by_their_kind() {
    use std::io::{Error, ErrorKind as Io};
    let kind = |k: Io| ActionError::from(Error::from(k)).kind();
    assert_eq!(kind(Io::TimedOut), ErrorKind::Transient);
    assert_eq!(kind(Io::ConnectionReset), ErrorKind::Transient);
    assert_eq!(kind(Io::NotFound), ErrorKind::Permanent);
    assert_eq!(kind(Io::InvalidInput), ErrorKind::Permanent);
    assert_eq!(kind(Io::OutOfMemory), ErrorKind::System);
}

#[test]
fn metrics_count_attempts_retries_and_errors_by_kind() {
    worker_utils::metrics::enable();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let cfg =
            RetryConfig::builder().max_attempts(3).base_delay(Duration::from_millis(1)).build().unwrap();
        let action = FailTimes::new(9, ErrorKind::Transient).retry(cfg).error_handling();
        assert!(paused_runtime().block_on(action.execute(1_u8, &(), &ActionContext::detached())).is_err());
    });
    let values: BTreeMap<String, u64> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| match value {
            DebugValue::Counter(n) => {
                let labels: Vec<String> =
                    key.key().labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
                Some((format!("{}{{{}}}", key.key().name(), labels.join(",")), n))
            }
            _ => None,
        })
        .collect();
    assert_eq!(values["worker_utils_action_attempts_total{action=fail_times}"], 3);
    assert_eq!(values["worker_utils_action_retries_total{action=fail_times,kind=transient}"], 2);
    assert_eq!(values["worker_utils_action_errors_total{action=fail_times,kind=transient}"], 1);
}
