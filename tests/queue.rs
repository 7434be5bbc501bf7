//! The in-memory queue: delivery contract (reserve, ack, nack with delay, leases), bounds,
//! dead letters, and PENDING on enqueue.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use worker_utils::prelude::*;
use worker_utils::queue::{EnqueueOptions, Failure, MemoryQueue, Queue, QueueError};
use worker_utils::status::{StatusEvent, StatusSink};

const WAIT: Duration = Duration::ZERO;

fn queue(capacity: usize) -> MemoryQueue<u32> {
    MemoryQueue::builder("q").capacity(capacity).lease(Duration::from_secs(10)).build().unwrap()
}

#[tokio::test(start_paused = true)]
async fn jobs_come_out_in_order_and_ack_removes_them() {
    let q = queue(10);
    let ids = q.enqueue_batch(vec![1, 2, 3]).await.unwrap();
    let first = q.reserve(2, WAIT).await.unwrap();
    assert_eq!(
        first.iter().map(|r| (r.id, r.job, r.delivery)).collect::<Vec<_>>(),
        [(ids[0], 1, 1), (ids[1], 2, 1)]
    );
    assert_eq!(q.reserved_len(), 2);
    q.ack(first[0].receipt(), None).await.unwrap();
    assert!(matches!(q.ack(first[0].receipt(), None).await, Err(QueueError::LeaseLost(id)) if id == ids[0]));
    assert_eq!(q.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn reserve_waits_for_a_job_or_gives_up() {
    let q = Arc::new(queue(10));
    let started = tokio::time::Instant::now();
    assert!(q.reserve(1, Duration::from_secs(2)).await.unwrap().is_empty());
    assert_eq!(started.elapsed(), Duration::from_secs(2));

    let producer = q.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        producer.enqueue(9).await.unwrap();
    });
    let started = tokio::time::Instant::now();
    let got = q.reserve(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!((got[0].job, started.elapsed()), (9, Duration::from_millis(300)));
}

#[tokio::test(start_paused = true)]
async fn delayed_jobs_and_nack_delays_wait_their_turn() {
    let q = queue(10);
    q.enqueue_with(1, EnqueueOptions::default().delay(Duration::from_secs(5))).await.unwrap();
    assert!(q.reserve(1, Duration::from_secs(4)).await.unwrap().is_empty());
    let got = q.reserve(1, Duration::from_secs(2)).await.unwrap();
    assert_eq!(got[0].job, 1);

    q.nack(got[0].receipt(), failure(1), Duration::from_secs(3), None).await.unwrap();
    let started = tokio::time::Instant::now();
    let again = q.reserve(1, Duration::from_secs(10)).await.unwrap();
    assert_eq!((again[0].delivery, started.elapsed()), (2, Duration::from_secs(3)));
}

fn failure(delivery: u32) -> Failure {
    Failure::from_error(&ActionError::transient(std::io::Error::other("reset")), delivery)
}

#[tokio::test(start_paused = true)]
async fn nacked_failures_travel_with_the_job_into_its_dead_letter() {
    let q = queue(10);
    let id = q.enqueue(4).await.unwrap();
    for delivery in 1..=2 {
        let got = q.reserve(1, Duration::from_secs(60)).await.unwrap();
        assert_eq!(got[0].delivery, delivery);
        q.nack(got[0].receipt(), failure(delivery), Duration::from_secs(1), None).await.unwrap();
    }
    let last = q.reserve(1, Duration::from_secs(60)).await.unwrap();
    q.dead_letter(last[0].receipt(), failure(3), None).await.unwrap();
    let dead = q.dead_letters().await.unwrap();
    assert_eq!((dead[0].id, dead[0].deliveries), (id, 3));
    assert_eq!(dead[0].history().map(|f| f.delivery).collect::<Vec<_>>(), [1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn a_released_job_is_ready_at_once_and_its_delivery_does_not_count() {
    let q = queue(10);
    let id = q.enqueue(4).await.unwrap();
    let got = q.reserve(1, WAIT).await.unwrap();
    q.release(got[0].receipt(), None).await.unwrap();
    let again = q.reserve(1, Duration::ZERO).await.unwrap();
    assert_eq!((again[0].id, again[0].delivery), (id, 1));
}

#[tokio::test(start_paused = true)]
async fn outcomes_of_a_reservation_that_no_longer_holds_are_refused() {
    let q = queue(10);
    let id = q.enqueue(4).await.unwrap();
    let stale = q.reserve(1, WAIT).await.unwrap()[0].receipt();
    tokio::time::sleep(Duration::from_secs(10)).await; // the lease runs out
    let current = q.reserve(1, WAIT).await.unwrap();
    assert_eq!(current[0].delivery, 2, "still there, handed out again");

    // The stale holder's outcomes change nothing; the new holder's counts.
    let refused = |r: Result<(), QueueError>| matches!(r, Err(QueueError::LeaseLost(j)) if j == id);
    assert!(refused(q.ack(stale, None).await));
    assert!(refused(q.nack(stale, failure(1), Duration::ZERO, None).await));
    assert!(refused(q.release(stale, None).await));
    assert!(refused(q.dead_letter(stale, failure(1), None).await));
    assert_eq!(q.reserved_len(), 1);
    q.ack(current[0].receipt(), None).await.unwrap();
    assert!(q.is_empty());
    assert!(q.dead_letters().await.unwrap().is_empty(), "exactly one outcome");
}

#[tokio::test(start_paused = true)]
async fn an_expired_lease_hands_the_job_out_again() {
    let q = queue(10);
    let id = q.enqueue(5).await.unwrap();
    q.reserve(1, WAIT).await.unwrap();
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(q.reserve(1, WAIT).await.unwrap().is_empty(), "still leased");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let again = q.reserve(1, WAIT).await.unwrap();
    assert_eq!((again[0].id, again[0].delivery), (id, 2));
    assert!(matches!(q.ack(again[0].receipt(), None).await, Ok(())));
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_refuses_try_enqueue_and_makes_enqueue_wait() {
    let q = Arc::new(queue(2));
    q.enqueue(1).await.unwrap();
    q.enqueue(2).await.unwrap();
    let err = q.try_enqueue(3).unwrap_err();
    assert_eq!(err.to_string(), "queue `q` is full (2 jobs)");

    let waiting = tokio::spawn({
        let q = q.clone();
        async move { q.enqueue(3).await.unwrap() }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!waiting.is_finished(), "waits for room");
    let first = q.reserve(1, WAIT).await.unwrap();
    q.ack(first[0].receipt(), None).await.unwrap();
    waiting.await.unwrap();
    assert_eq!(q.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn dead_letters_keep_the_failure_and_can_be_requeued() {
    let q = queue(10);
    let id = q.enqueue(7).await.unwrap();
    let got = q.reserve(1, WAIT).await.unwrap();
    let failure = Failure::from_error(&ActionError::permanent(std::io::Error::other("bad payload")), 1);
    q.dead_letter(got[0].receipt(), failure.clone(), None).await.unwrap();
    assert!(q.is_empty());

    let dead = q.dead_letters().await.unwrap();
    assert_eq!((dead[0].id, dead[0].job, dead[0].deliveries, &dead[0].failure), (id, 7, 1, &failure));
    let new_id = q.requeue_dead(id).await.unwrap();
    assert_ne!(new_id, id);
    assert!(q.dead_letters().await.unwrap().is_empty());
    assert_eq!(q.reserve(1, WAIT).await.unwrap()[0].job, 7);
    assert!(matches!(q.requeue_dead(id).await, Err(QueueError::UnknownJob(_))));
}

#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<StatusEvent>>>);

impl StatusSink for Collect {
    fn publish(&self, event: StatusEvent) {
        self.0.lock().unwrap().push(event);
    }
}

#[tokio::test(start_paused = true)]
async fn enqueue_publishes_pending() {
    let sink = Collect::default();
    let q: MemoryQueue<u32> = MemoryQueue::builder("mail").status(sink.clone()).build().unwrap();
    let id = q.enqueue(1).await.unwrap();
    let events = sink.0.lock().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].job_id, &*events[0].queue, events[0].status), (id, "mail", JobStatus::Pending));
}

#[test]
fn bad_settings_name_the_field() {
    assert_eq!(MemoryQueue::<u8>::builder("q").capacity(0).build().unwrap_err().field(), "capacity");
    assert_eq!(MemoryQueue::<u8>::builder("q").lease(Duration::ZERO).build().unwrap_err().field(), "lease");
}
