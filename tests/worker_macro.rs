//! `#[worker]` behaves exactly like the `impl Worker` it stands for: a macro-defined
//! worker and a hand-written one with the same steps give the same results, the same run
//! report and the same dead letters through a `Runner` on a `MemoryQueue`, and their
//! pipeline types are the same `Then` chain. `redeliver(...)` sets the worker's
//! `RedeliveryPolicy`.

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use worker_utils::pipeline::Then;
use worker_utils::prelude::*;
use worker_utils::queue::{MemoryQueue, Queue};
use worker_utils::retry::{Backoff, Jitter, KindSet};
use worker_utils::worker::{DeadLetterCause, Redelivery, RedeliveryPolicy, RunReport, Runner, Worker};

/// What the steps share: the results of completed jobs.
struct Deps {
    results: Arc<Mutex<Vec<u32>>>,
}

/// Parses the payload; a non-number fails permanently.
#[action]
async fn parse(input: String) -> Result<u32, ActionError> {
    input.trim().parse().map_err(ActionError::permanent)
}

/// Doubles; multiples of 7 fail transiently on their first attempt, so retries show.
#[action(retry(max_attempts = 2, base_delay = "10ms", jitter = "none"))]
async fn double(input: u32, ctx: &ActionContext) -> Result<u32, ActionError> {
    if input.is_multiple_of(7) && ctx.attempt() == 1 {
        return Err(ActionError::transient(std::io::Error::other("flaky")));
    }
    Ok(input * 2)
}

mod steps {
    use super::Deps;
    use worker_utils::prelude::*;

    /// Records the result; results above 100 break a business rule.
    #[action]
    pub(crate) async fn record(input: u32, deps: &Deps) -> Result<(), ActionError> {
        if input > 100 {
            return Err(ActionError::business_logic(std::io::Error::other(format!("{input} is too big"))));
        }
        deps.results.lock().map_err(|_| ActionError::system(std::io::Error::other("poisoned")))?.push(input);
        Ok(())
    }
}

#[worker(queue = "numbers", deps = Deps, pipeline = [parse, double, steps::record], concurrency = 2)]
struct MacroWorker;

/// What `#[worker]` stands for, written out.
struct HandWorker;

impl Worker for HandWorker {
    type Deps = Deps;
    type Pipeline = Then<Then<Parse, Double>, steps::Record>;

    fn queue(&self) -> &str {
        "numbers"
    }

    fn pipeline(&self) -> Self::Pipeline {
        Parse::new().then(Double::new()).then(steps::Record::new())
    }

    fn concurrency(&self) -> usize {
        2
    }
}

/// Compiles only if `A` and `B` are the same type.
fn same_type<A, B>(_: PhantomData<A>, _: PhantomData<B>)
where
    A: SameAs<B>,
{
}

trait SameAs<T> {}
impl<T> SameAs<T> for T {}

#[test]
fn the_pipeline_is_the_hand_written_then_chain() {
    same_type(
        PhantomData::<<MacroWorker as Worker>::Pipeline>,
        PhantomData::<<HandWorker as Worker>::Pipeline>,
    );
    same_type(PhantomData::<<MacroWorker as Worker>::Deps>, PhantomData::<Deps>);
    same_type(PhantomData::<worker_utils::worker::JobOf<MacroWorker>>, PhantomData::<String>);
    assert_eq!(MacroWorker.queue(), HandWorker.queue());
    assert_eq!(MacroWorker.concurrency(), 2);
}

/// Everything a run leaves behind, comparable across workers.
#[derive(Debug, PartialEq)]
struct Outcome {
    /// Completed, dead-lettered, returned, retries, panics.
    report: (u64, u64, u64, u64, u64),
    results: Vec<u32>,
    /// Payload, error kind, failing action, attempts recorded.
    dead: Vec<(String, ErrorKind, String, usize)>,
}

const JOBS: &[&str] = &["1", "7", "x", "21", "60", "3", " 14 ", "", "50"];

async fn run<W>(worker: W) -> Outcome
where
    W: Worker<Deps = Deps>,
    W::Pipeline: Action<Deps, Input = String>,
{
    let queue = Arc::new(MemoryQueue::builder("numbers").build().unwrap());
    queue.enqueue_batch(JOBS.iter().map(|job| (*job).to_owned()).collect()).await.unwrap();
    let results = Arc::new(Mutex::new(Vec::new()));
    let runner = Runner::builder(worker, queue.clone(), Deps { results: results.clone() }).build().unwrap();
    let stats = runner.stats();
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(runner.run(shutdown.clone()));
    worker_utils_tests::wait_until("the jobs finish", Duration::from_secs(60), || {
        stats.finished() >= JOBS.len() as u64
    })
    .await;
    shutdown.cancel();
    let report: RunReport = handle.await.unwrap();
    let mut dead: Vec<_> = queue
        .dead_letters()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.job, d.failure.kind, d.failure.action, d.failure.attempts.len()))
        .collect();
    dead.sort_by(|a, b| a.0.cmp(&b.0));
    let mut results = results.lock().unwrap().clone();
    results.sort_unstable();
    Outcome {
        report: (report.completed, report.dead_lettered, report.returned, report.retries, report.panics),
        results,
        dead,
    }
}

#[tokio::test(start_paused = true)]
async fn macro_and_hand_written_workers_run_alike() {
    let by_macro = run(MacroWorker).await;
    let by_hand = run(HandWorker).await;
    assert_eq!(by_macro, by_hand);
    // And what they both did is what the steps say.
    assert_eq!(by_macro.results, vec![2, 6, 14, 28, 42, 100]);
    // 6 completed, 3 dead-lettered, one in-action retry each for 7, 14 and 21.
    assert_eq!(by_macro.report, (6, 3, 0, 3, 0));
    let dead: Vec<_> =
        by_macro.dead.iter().map(|(job, kind, action, _)| (job.as_str(), *kind, action.as_str())).collect();
    assert_eq!(
        dead,
        vec![
            ("", ErrorKind::Permanent, "parse"),
            ("60", ErrorKind::BusinessLogic, "record"),
            ("x", ErrorKind::Permanent, "parse"),
        ]
    );
}

#[worker(
    queue = "numbers",
    pipeline = [parse],
    redeliver(max_deliveries = 3, base_delay = "1s", max_delay = "5s", jitter = false, on = [Transient])
)]
struct TunedRedelivery;

#[worker(queue = "numbers", pipeline = [parse], redeliver = false)]
struct NeverRedelivers;

fn transient() -> ActionError {
    ActionError::transient(std::io::Error::other("reset"))
}

#[test]
fn redeliver_sets_the_policy_it_names() {
    let policy = TunedRedelivery.redelivery();
    assert_eq!(policy.max_deliveries(), 3);
    assert_eq!(policy.base_delay(), Duration::from_secs(1));
    assert_eq!(policy.max_delay(), Duration::from_secs(5));
    assert_eq!(policy.jitter(), Jitter::None);
    assert_eq!(policy.redeliver_on(), KindSet::of(&[ErrorKind::Transient]));
    assert_eq!(policy.backoff(), Backoff::default(), "an unset key keeps its default");
    // And it decides accordingly: exponential from 1 s without jitter, three deliveries,
    // only `Transient` redelivered.
    assert_eq!(policy.decide(&transient(), 1), Redelivery::After(Duration::from_secs(1)));
    assert_eq!(policy.decide(&transient(), 2), Redelivery::After(Duration::from_secs(2)));
    assert_eq!(policy.decide(&transient(), 3), Redelivery::DeadLetter(DeadLetterCause::DeliveriesExhausted));
    let system = ActionError::system(std::io::Error::other("disk full"));
    assert_eq!(
        policy.decide(&system, 1),
        Redelivery::DeadLetter(DeadLetterCause::NotRedelivered(ErrorKind::System))
    );
}

#[test]
fn redeliver_false_never_redelivers() {
    let policy = NeverRedelivers.redelivery();
    assert_eq!(policy.max_deliveries(), 1);
    assert_eq!(policy.decide(&transient(), 1), Redelivery::DeadLetter(DeadLetterCause::DeliveriesExhausted));
}

#[test]
fn without_redeliver_the_policy_is_the_default() {
    let (policy, default) = (MacroWorker.redelivery(), RedeliveryPolicy::default());
    assert_eq!(policy.max_deliveries(), default.max_deliveries());
    assert_eq!(policy.base_delay(), default.base_delay());
    assert_eq!(policy.max_delay(), default.max_delay());
    assert_eq!(policy.backoff(), default.backoff());
    assert_eq!(policy.jitter(), default.jitter());
    assert_eq!(policy.redeliver_on(), default.redeliver_on());
}
