//! Every argument, in a non-canonical order, and every parameter shape.

use std::time::Duration;

use worker_utils::prelude::*;

struct Deps;

fn retryable(error: &ActionError) -> bool {
    !error.to_string().contains("fatal")
}

fn handler(error: ActionError, _: &Deps, _: &ActionContext) -> Result<Vec<u8>, ActionError> {
    Err(error)
}

fn cleanup(_: &ActionError, _: &Deps, _: &ActionContext) {}

#[action(
    timeout = "30s",
    error_handling(handler = handler, cleanup = cleanup),
    name = "fetch",
    retry(
        max_attempts = 5,
        base_delay = 200,
        max_delay = "1m",
        backoff = exponential,
        factor = 3,
        jitter = "equal",
        on = [Transient, System, BusinessLogic],
        when = retryable,
    ),
)]
async fn fetch_image(url: String, ctx: &ActionContext, deps: &Deps) -> Result<Vec<u8>, ActionError> {
    let _ = (ctx, deps);
    Ok(url.into_bytes())
}

#[action(retry(backoff = fixed, jitter = false), error_handling(cleanup = cleanup))]
async fn fixed(input: (u8, u8), _: &Deps) -> std::io::Result<u8> {
    Ok(input.0 + input.1)
}

#[action(retry(backoff = "linear", jitter = true))]
async fn linear(input: ()) -> Result<(), ActionError> {
    Ok(input)
}

#[action(retry(backoff = decorrelated))]
async fn decorrelated(_: ()) -> Result<(), ActionError> {
    Ok(())
}

fn main() {
    let _ = FetchImage::new();
    let _ = Fixed::new();
    let _ = Linear::new();
    let _ = Decorrelated::new();
    // 5 × 30 s + 200 ms + 600 ms + 1.8 s + 5.4 s of backoff.
    assert_eq!(FetchImage::WORST_CASE, Some(Duration::from_millis(150_000 + 8_000)));
    assert_eq!(Fixed::WORST_CASE, None);
}
