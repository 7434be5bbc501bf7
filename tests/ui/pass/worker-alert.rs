//! `alert(..)` rules, one per `alert`, reach the runtime through absolute paths only, so
//! local items named like std's and the runtime's change nothing.
#![allow(dead_code, non_camel_case_types)]

use ::worker_utils::ActionError;
use ::worker_utils::worker::Worker as _;

struct Vec;
struct AlertRule;
mod std {}
mod worker_utils {}

#[::worker_utils::action]
async fn check(input: u32) -> ::core::result::Result<u32, ActionError> {
    ::core::result::Result::Ok(input)
}

#[::worker_utils::action(name = "store-renamed")]
async fn store(input: u32) -> ::core::result::Result<u32, ActionError> {
    ::core::result::Result::Ok(input)
}

#[::worker_utils::worker(
    queue = "watched",
    pipeline = [check, store],
    alert(failure_rate = 0.5),
    alert(dead_letter_rate = 0.1, resolve_below = 0.05, window = "5m", min_calls = 50, action = store),
    alert(failure_rate = 0.2, window = 30000, name = "check-flaky", action = check)
)]
struct Watched;

fn main() {
    let rules = Watched.alerts();
    let names: ::std::vec::Vec<&str> = rules.iter().map(|rule| rule.name()).collect();
    // The action's runtime name, as its failures carry it.
    assert_eq!(names, ["failure_rate", "dead_letter_rate:store-renamed", "check-flaky"]);
    assert_eq!(rules[1].window(), ::core::time::Duration::from_secs(300));
    assert_eq!(rules[2].window(), ::core::time::Duration::from_secs(30));
}
