//! The expansion reaches std and the runtime only through absolute paths, so local items
//! named like them change nothing.
#![allow(dead_code, non_camel_case_types)]

use ::worker_utils::ActionError;

struct Result;
struct Option;
struct Ok;
struct Err;
struct Some;
struct None;
struct Box;
struct Default;
struct Send;
struct Sync;
struct Then;
struct Worker;
struct Action;
struct usize;
mod tokio {}
mod worker_utils {}
mod core {}
mod std {}

#[::worker_utils::action]
async fn first(input: u32) -> ::core::result::Result<u32, ActionError> {
    ::core::result::Result::Ok(input)
}

#[::worker_utils::action]
async fn second(input: u32) -> ::core::result::Result<u32, ActionError> {
    ::core::result::Result::Ok(input)
}

#[::worker_utils::worker(queue = "shadowed", pipeline = [first, second], concurrency = 2)]
struct Shadowed;

#[::worker_utils::worker(queue = "default_policy", pipeline = [first], redeliver)]
struct DefaultPolicy;

#[::worker_utils::worker(
    queue = "tuned_policy",
    pipeline = [first],
    redeliver(max_deliveries = 2, base_delay = "1s", max_delay = "1m", factor = 2.0, jitter = none, on = [System])
)]
struct TunedPolicy;

#[::worker_utils::worker(queue = "no_policy", pipeline = [first], redeliver = false)]
struct NoPolicy;

fn main() {
    let _ = <Shadowed as ::worker_utils::worker::Worker>::pipeline(&Shadowed);
    let _ = <DefaultPolicy as ::worker_utils::worker::Worker>::redelivery(&DefaultPolicy);
    let _ = <TunedPolicy as ::worker_utils::worker::Worker>::redelivery(&TunedPolicy);
    let _ = <NoPolicy as ::worker_utils::worker::Worker>::redelivery(&NoPolicy);
}
