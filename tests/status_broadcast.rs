//! The broadcaster and the status actions: sequence numbers, latest state, lifecycle
//! events published exactly once.

use std::sync::{Arc, Mutex};

use worker_utils::prelude::*;
use worker_utils::status::{
    BroadcastCompleted, BroadcastFailed, BroadcastProcessing, StatusEvent, publish_pending,
};
use worker_utils::testing::{FailTimes, Panics, Sleep};

/// A sink that remembers every event.
#[derive(Debug, Default, Clone)]
struct Recording(Arc<Mutex<Vec<StatusEvent>>>);

impl StatusSink for Recording {
    fn publish(&self, event: StatusEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Recording {
    fn statuses(&self) -> Vec<JobStatus> {
        self.0.lock().unwrap().iter().map(|e| e.status).collect()
    }

    fn last(&self) -> StatusEvent {
        self.0.lock().unwrap().last().cloned().expect("an event")
    }
}

fn ctx(job: u64) -> ActionContext {
    ActionContext::builder().job_id(JobId::new(job)).queue("images").worker_id("images-1").delivery(2).build()
}

#[tokio::test(start_paused = true)]
async fn with_status_publishes_processing_then_completed_with_duration() {
    let sink = Recording::default();
    let action = Sleep::new(std::time::Duration::from_millis(250)).with_status(sink.clone());
    action.execute((), &(), &ctx(1)).await.unwrap();

    assert_eq!(sink.statuses(), [JobStatus::Processing, JobStatus::Completed]);
    let done = sink.last();
    assert_eq!(done.job_id, JobId::new(1));
    assert_eq!((&*done.queue, &*done.worker, done.attempt), ("images", "images-1", 2));
    assert_eq!(done.previous, Some(JobStatus::Processing));
    assert_eq!(done.duration_ms, Some(250));
    assert_eq!(done.error, None);
}

#[tokio::test(start_paused = true)]
async fn with_status_publishes_failed_with_kind_and_message_once() {
    let sink = Recording::default();
    let config = RetryConfig::builder().max_attempts(2).jitter(false).build().unwrap();
    let action = FailTimes::new(5, ErrorKind::Transient).retry(config).with_status(sink.clone());
    let err = action.execute("x", &(), &ctx(2)).await.unwrap_err();

    assert_eq!(
        sink.statuses(),
        [JobStatus::Processing, JobStatus::Failed],
        "one lifecycle around the retries"
    );
    let failed = sink.last();
    let error = failed.error.expect("error on FAILED");
    assert_eq!(error.kind, err.kind());
    assert_eq!(error.message, err.chain().to_string());
    assert_eq!(failed.duration_ms, Some(1000));
}

#[tokio::test]
async fn with_status_still_ends_the_lifecycle_when_the_action_panics() {
    let sink = Recording::default();
    let action = Arc::new(Panics::<u32>::new("boom").with_status(sink.clone()));
    let task = tokio::spawn(async move { action.execute(1, &(), &ctx(3)).await });
    assert!(task.await.unwrap_err().is_panic());

    assert_eq!(sink.statuses(), [JobStatus::Processing, JobStatus::Failed]);
    let error = sink.last().error.unwrap();
    assert_eq!((error.kind, error.message.as_str()), (ErrorKind::System, "action panicked"));
}

#[tokio::test(start_paused = true)]
async fn with_status_still_ends_the_lifecycle_when_the_call_is_dropped() {
    let sink = Recording::default();
    let action = Sleep::new(std::time::Duration::from_secs(60)).with_status(sink.clone());
    let ctx = ctx(4);
    let cut = tokio::time::timeout(std::time::Duration::from_secs(1), action.execute((), &(), &ctx)).await;
    assert!(cut.is_err());

    assert_eq!(sink.statuses(), [JobStatus::Processing, JobStatus::Failed]);
    assert_eq!(sink.last().error.unwrap().message, "job stopped before it finished");
    assert_eq!(sink.last().duration_ms, Some(1000));
}

#[tokio::test]
async fn status_actions_pass_their_input_through_and_publish() {
    let broadcaster = Broadcaster::new();
    let ctx = ctx(5);
    publish_pending(&broadcaster, JobId::new(5), "images");

    let input = vec![1_u8, 2, 3];
    let out = BroadcastProcessing::new(broadcaster.clone()).execute(input.clone(), &(), &ctx).await.unwrap();
    assert_eq!(out, input);
    assert_eq!(broadcaster.latest(JobId::new(5)).unwrap().status, JobStatus::Processing);

    let out = BroadcastCompleted::new(broadcaster.clone()).execute(out, &(), &ctx).await.unwrap();
    assert_eq!(out, input);
    assert_eq!(broadcaster.latest(JobId::new(5)).unwrap().status, JobStatus::Completed);

    let err = ActionError::business_logic(std::io::Error::other("quota exceeded"));
    let err = BroadcastFailed::new(broadcaster.clone()).execute(err, &(), &ctx).await.unwrap();
    assert_eq!(err.kind(), ErrorKind::BusinessLogic);
    let failed = broadcaster.latest(JobId::new(5)).unwrap();
    assert_eq!((failed.status, failed.seq), (JobStatus::Failed, 4));
    assert_eq!(failed.error.unwrap().message, "quota exceeded");
}

#[test]
fn sequence_numbers_are_unique_and_increasing_across_threads() {
    let broadcaster = Broadcaster::builder().recent_jobs(10_000).build().unwrap();
    std::thread::scope(|scope| {
        for t in 0..4_u64 {
            let b = &broadcaster;
            scope.spawn(move || {
                for i in 0..1000 {
                    b.publish(StatusEvent::new(JobId::new(t * 1000 + i), "q", JobStatus::Pending));
                }
            });
        }
    });
    let mut seqs: Vec<u64> = broadcaster.snapshot().iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), 4000);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "snapshot is in publish order");
    seqs.dedup();
    assert_eq!(seqs, (1..=4000).collect::<Vec<_>>());
}

#[test]
fn published_events_are_counted_through_the_metrics_facade() {
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let broadcaster = Broadcaster::new();
        for job in 0..3 {
            broadcaster.publish(StatusEvent::new(JobId::new(job), "q", JobStatus::Pending));
        }
    });
    let published = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find(|(key, ..)| key.key().name() == "worker_utils_status_published_total")
        .map(|(.., value)| value);
    assert_eq!(published, Some(metrics_util::debugging::DebugValue::Counter(3)));
}
