//! A worker process for the multi-process Redis tests: works queue `jobs` of a namespace
//! until it has been idle for five seconds (or is killed).
//!
//! Usage: `redis-worker REDIS_URL NAMESPACE LEASE_MS SLEEP_MS`. Each job sleeps `SLEEP_MS`
//! milliseconds; payloads that are multiples of 100 fail permanently, multiples of 7 fail
//! transiently on their first delivery. It prints `READY` once connected and its run report
//! as the last line.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use worker_utils::prelude::*;
use worker_utils::queue::RedisQueue;
use worker_utils::status::RedisStatusSink;
use worker_utils::worker::{RedeliveryPolicy, Runner, Worker};

struct Job {
    sleep: Duration,
}

impl Action for Job {
    type Input = u32;
    type Output = u32;

    fn name(&self) -> &'static str {
        "job"
    }

    async fn execute(&self, n: u32, _: &(), ctx: &ActionContext) -> Result<u32, ActionError> {
        tokio::time::sleep(self.sleep).await;
        if n.is_multiple_of(100) {
            return Err(ActionError::permanent(std::io::Error::other("bad payload")));
        }
        if n.is_multiple_of(7) && ctx.delivery() == 1 {
            return Err(ActionError::transient(std::io::Error::other("try again")));
        }
        Ok(n)
    }
}

struct Jobs {
    sleep: Duration,
}

impl Worker for Jobs {
    type Deps = ();
    type Pipeline = Job;

    fn queue(&self) -> &str {
        "jobs"
    }

    fn pipeline(&self) -> Job {
        Job { sleep: self.sleep }
    }

    fn concurrency(&self) -> usize {
        4
    }

    fn redelivery(&self) -> RedeliveryPolicy {
        let policy = RedeliveryPolicy::builder()
            .base_delay(Duration::from_millis(50))
            .max_delay(Duration::from_millis(200));
        policy.build().expect("valid policy")
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, namespace, lease_ms, sleep_ms] = args.as_slice() else {
        eprintln!("usage: redis-worker REDIS_URL NAMESPACE LEASE_MS SLEEP_MS");
        std::process::exit(2);
    };
    let lease = Duration::from_millis(lease_ms.parse().expect("LEASE_MS"));
    let sleep = Duration::from_millis(sleep_ms.parse().expect("SLEEP_MS"));
    let queue = RedisQueue::<u32>::builder("jobs").url(url).namespace(namespace).lease(lease).connect().await;
    let queue = Arc::new(queue.expect("connect to Redis"));
    let sink = RedisStatusSink::connect(url, namespace).await.expect("connect the status sink");
    let runner = Runner::builder(Jobs { sleep }, queue, ()).status(sink).build().expect("runner");
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(runner.run(shutdown.clone()));
    println!("READY");
    let mut idle = 0;
    let mut last = 0;
    while idle < 100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let finished = stats.finished();
        idle = if finished == last { idle + 1 } else { 0 };
        last = finished;
    }
    shutdown.cancel();
    let report = run.await.expect("runner");
    // Let the status sink write its last events.
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("{report:?}");
}
