//! The expansion reaches std and the runtime only through absolute paths, so local items
//! named like them change nothing.
#![allow(dead_code, non_camel_case_types)]

use ::worker_utils::{ActionError, Classify as _};

struct Result;
struct Option;
struct Ok;
struct Err;
struct Some;
struct None;
struct Box;
struct Default;
struct Debug;
struct Send;
struct Sync;
struct Future;
struct Duration;
struct Clone;
struct CircuitBreaker;
struct RetryBudget;
mod tokio {}
mod worker_utils {}
mod core {}
mod std {}

#[derive(::std::fmt::Debug, ::thiserror::Error, ::worker_utils::Classify)]
enum StepError {
    #[error("busy")]
    #[classify(transient, retry_after = 0)]
    Busy(::core::time::Duration),
    #[error("bad")]
    #[classify(permanent)]
    Bad,
}

static BREAKER: ::std::sync::LazyLock<::worker_utils::CircuitBreaker> = ::std::sync::LazyLock::new(|| {
    ::worker_utils::CircuitBreaker::new(
        "shared",
        ::worker_utils::circuit_breaker::CircuitBreakerConfig::default(),
    )
});

#[::worker_utils::action(
    retry(max_attempts = 2, on = [Transient], budget(ratio = 0.1, per_second = 1)),
    error_handling,
    timeout = "1s",
    total_timeout = "2s",
    circuit_breaker(window = "1m", on = [System])
)]
async fn step(input: u32, ctx: &::worker_utils::ActionContext) -> ::core::result::Result<u32, StepError> {
    let _ = ctx;
    ::core::result::Result::Ok(input)
}

#[::worker_utils::action(
    error_handling(handler = recover),
    circuit_breaker = BREAKER,
    retry(budget = false),
    validate = positive
)]
async fn other(input: u32) -> ::core::result::Result<u32, ActionError> {
    ::core::result::Result::Ok(input)
}

fn positive(input: &u32) -> ::core::result::Result<(), &'static str> {
    if *input > 0 { ::core::result::Result::Ok(()) } else { ::core::result::Result::Err("zero") }
}

fn recover<D: ?::core::marker::Sized>(
    _: ActionError,
    _: &D,
    _: &::worker_utils::ActionContext,
) -> ::core::result::Result<u32, ActionError> {
    ::core::result::Result::Ok(0)
}

fn main() {
    let _ = Step::new();
    let _ = <Other as ::core::default::Default>::default();
    let _ = StepError::Bad.kind();
}
