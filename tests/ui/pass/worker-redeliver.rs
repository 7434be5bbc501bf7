//! `redeliver(...)` with every key, bare `redeliver`, and `redeliver = false`.

use std::time::Duration;

use worker_utils::prelude::*;
use worker_utils::retry::{Backoff, Jitter, KindSet};
use worker_utils::worker::{RedeliveryPolicy, Worker};

#[action]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

#[worker(
    queue = "payments",
    pipeline = [step],
    redeliver(
        max_deliveries = 8,
        base_delay = "30s",
        max_delay = "2h",
        backoff = exponential,
        factor = 3.0,
        jitter = equal,
        on = [Transient, System, BusinessLogic]
    )
)]
struct EveryKey;

#[worker(queue = "linear", pipeline = [step], redeliver(backoff = "linear", jitter = false, max_delay = "720h"))]
struct Linear;

#[worker(queue = "defaults", pipeline = [step], redeliver)]
struct Defaults;

#[worker(queue = "emails", pipeline = [step], redeliver = false)]
struct Never;

fn main() {
    let policy = EveryKey.redelivery();
    assert_eq!(policy.max_deliveries(), 8);
    assert_eq!(policy.base_delay(), Duration::from_secs(30));
    assert_eq!(policy.max_delay(), Duration::from_secs(2 * 3600));
    assert_eq!(policy.backoff(), Backoff::Exponential { factor: 3.0 });
    assert_eq!(policy.jitter(), Jitter::Equal);
    assert_eq!(
        policy.redeliver_on(),
        KindSet::of(&[ErrorKind::Transient, ErrorKind::System, ErrorKind::BusinessLogic])
    );

    let policy = Linear.redelivery();
    assert_eq!((policy.backoff(), policy.jitter()), (Backoff::Linear, Jitter::None));
    assert_eq!(policy.max_delay(), RedeliveryPolicy::MAX_DELAY_LIMIT);

    let policy = Defaults.redelivery();
    assert_eq!(policy.max_deliveries(), RedeliveryPolicy::DEFAULT_MAX_DELIVERIES);
    assert_eq!(policy.base_delay(), RedeliveryPolicy::DEFAULT_BASE_DELAY);

    assert_eq!(Never.redelivery().max_deliveries(), 1);
}
