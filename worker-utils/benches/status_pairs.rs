//! Issue 16's targets 1 and 4 as paired trials: status on against status off, and a status
//! server with 100 clients against one with none, each pair run back to back many times.
//!
//! The criterion rows of the worker bench measure each side for 10 s, 30–60 s apart; on an
//! instance whose speed drifts by up to 2× between rounds (BENCHMARKS.md §16), a ratio of
//! two such rows says as much about the drift as about the status path. Here, after 25
//! untimed pairs, each trial times one run of 100 000 no-op jobs (`support/runs.rs`, as the
//! worker bench) on each side, the sides alternating which goes first, and the ratio is
//! taken per trial: drift slower than a trial's 40 ms or so cancels out. It prints every
//! trial's ratio, then the median, the quartiles and the extremes, and a `RESULT key=value …`
//! line. (With 5 untimed pairs instead of 25, the first run's median of status on / off came
//! out 0.75, against 0.82–0.86 after: the first runs pay for the allocator's growth.)
//!
//! Target 4's clients are the worker bench's mix in a child process (10 stalled, 2 flooding,
//! 88 reading), on a server on a background thread. They are stopped (`SIGSTOP`) while the
//! no-client side runs, so that side has no client activity at all, and continued before the
//! side with clients runs.
//!
//! Run: `cargo bench -p worker-utils --bench status_pairs [-- --trials N]`
//!
//! To profile one side, `-- --side on` (or `off`) `[--runs N]` runs only that side, `N`
//! runs (300 by default) after the warm-up, and prints its throughput: run the binary under
//! `perf record` once per side and compare the two profiles (BENCHMARKS.md §20).
#![allow(missing_docs, reason = "a bench binary")]

#[path = "support/clients.rs"]
#[allow(dead_code, reason = "shared with the worker bench, which paces a client too")]
mod clients;
#[path = "support/noop.rs"]
mod noop;
#[path = "support/runs.rs"]
mod runs;

use std::process::{Child, Command};
use std::time::Duration;

use runs::run_once;
use worker_utils::prelude::*;

const DEFAULT_TRIALS: usize = 60;
/// Untimed pairs first: the allocator, the caches and (for target 4) the clients settle.
const WARM_UP: usize = 25;

/// Sends `signal` (`STOP` or `CONT`) to `child`.
fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
    assert!(sent.is_ok_and(|status| status.success()), "kill -{signal} the client process");
}

/// `trials` ratios of `b`'s throughput to `a`'s, each from one run of each, alternating
/// which runs first.
async fn pairs<A, B>(trials: usize, mut a: impl FnMut() -> A, mut b: impl FnMut() -> B) -> Vec<f64>
where
    A: Future<Output = Duration>,
    B: Future<Output = Duration>,
{
    let mut ratios = Vec::with_capacity(trials);
    for trial in 0..trials {
        let (a_time, b_time) = if trial % 2 == 0 {
            let a_time = a().await;
            (a_time, b().await)
        } else {
            let b_time = b().await;
            (a().await, b_time)
        };
        // Throughput ratio b / a: the same jobs, so the inverse ratio of the times.
        ratios.push(a_time.as_secs_f64() / b_time.as_secs_f64());
    }
    ratios
}

/// Prints the ratios and their summary as `name`, and returns `(median, min)`.
fn report(name: &str, mut ratios: Vec<f64>) -> (f64, f64) {
    let listed: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    println!("{name}: {}", listed.join(" "));
    ratios.sort_by(f64::total_cmp);
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name}: median {:.3}, quartiles {:.3}–{:.3}, min {:.3}, max {:.3} over {} trials",
        at(0.5),
        at(0.25),
        at(0.75),
        at(0.0),
        at(1.0),
        ratios.len()
    );
    (at(0.5), at(0.0))
}

async fn trials(trials: usize) {
    // Target 1: status on (no client) over status off.
    let on = Broadcaster::new();
    for _ in 0..WARM_UP {
        run_once(None).await;
        run_once(Some(&on)).await;
    }
    let (on_off, on_off_min) =
        report("status on / off", pairs(trials, || run_once(None), || run_once(Some(&on))).await);

    // Target 4: 100 clients (10 stalled, 2 flooding) over none, the server on a background
    // thread; the clients are stopped while the side without them runs.
    let alone = Broadcaster::new();
    let alone_server = clients::start_server(&alone, true).await;
    let mixed = Broadcaster::new();
    let mixed_server = clients::start_server(&mixed, true).await;
    let url = mixed_server.ws_url();
    let child = tokio::task::spawn_blocking(move || clients::spawn_child(&url)).await.expect("clients");
    for _ in 0..WARM_UP {
        run_once(Some(&mixed)).await;
        run_once(Some(&alone)).await;
    }
    let paused = || {
        signal(&child, "STOP");
        async {
            let time = run_once(Some(&alone)).await;
            signal(&child, "CONT");
            time
        }
    };
    let (clients, clients_min) =
        report("100 clients / none", pairs(trials, paused, || run_once(Some(&mixed))).await);
    let report = tokio::task::spawn_blocking(move || clients::stop_child(child)).await.expect("clients");
    println!("{report}");
    alone_server.shutdown().await;
    mixed_server.shutdown().await;
    println!(
        "RESULT trials={trials} on_off_median={on_off:.4} on_off_min={on_off_min:.4} \
         clients_median={clients:.4} clients_min={clients_min:.4}"
    );
}

/// Target 1's sides one at a time, for a profiler: `runs` runs of status `on` or off.
async fn one_side(on: bool, runs: u32) {
    let broadcaster = on.then(Broadcaster::new);
    for _ in 0..WARM_UP {
        run_once(broadcaster.as_ref()).await;
    }
    let total = runs::sum_runs(runs.into(), broadcaster.as_ref()).await;
    let jobs = f64::from(runs) * runs::JOBS as f64;
    let side = if on { "on" } else { "off" };
    println!("status {side}: {:.3} M jobs/s over {runs} runs", jobs / total.as_secs_f64() / 1e6);
}

fn main() {
    if let Some(url) = clients::arg(clients::CHILD_FLAG) {
        return clients::run_child(&url);
    }
    let number = |flag: &str| {
        clients::arg(flag).map(|n| n.parse().unwrap_or_else(|_| panic!("{flag} takes a number")))
    };
    let side = clients::arg("--side").map(|side| match side.as_str() {
        "on" => true,
        "off" => false,
        other => panic!("--side takes `on` or `off`, not `{other}`"),
    });
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    match side {
        Some(on) => runtime.block_on(async move {
            let runs = number("--runs").unwrap_or(300);
            tokio::spawn(one_side(on, runs)).await.expect("one side");
        }),
        None => runtime.block_on(async {
            let trials = number("--trials").map_or(DEFAULT_TRIALS, |n: u32| n as usize);
            tokio::spawn(self::trials(trials)).await.expect("trials");
        }),
    }
}
