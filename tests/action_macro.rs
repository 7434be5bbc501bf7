//! `#[action]` and `#[derive(Classify)]`: the macro-built action behaves exactly like the
//! hand-composed one.

use std::time::Duration;

use worker_utils::prelude::*;

#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("upstream timed out")]
    #[classify(transient)]
    Timeout,
    #[error("bad url {0}")]
    #[classify(permanent)]
    BadUrl(String),
    #[error("busy")]
    #[classify(transient, retry_after = delay)]
    Busy { delay: Duration },
}

struct Deps {
    fail: u32,
}

#[action(retry(max_attempts = 5, base_delay = "200ms", max_delay = "10s"), error_handling, timeout = "30s")]
async fn fetch_image(url: String, deps: &Deps, ctx: &ActionContext) -> Result<Vec<u8>, FetchError> {
    if ctx.attempt() <= deps.fail {
        return Err(FetchError::Timeout);
    }
    if url.is_empty() {
        return Err(FetchError::BadUrl(url));
    }
    Ok(url.into_bytes())
}

#[action]
async fn plain(x: u32) -> Result<u32, ActionError> {
    Ok(x + 1)
}

#[tokio::test(start_paused = true)]
async fn smoke() {
    let a = FetchImage::new();
    let out = a.execute("x".to_owned(), &Deps { fail: 2 }, &ActionContext::detached()).await.unwrap();
    assert_eq!(out, b"x");
    assert_eq!(Plain::new().execute(1, &(), &ActionContext::detached()).await.unwrap(), 2);
    println!("{:?} {:?}", FetchImage::WORST_CASE, a);
    let _ = FetchError::Busy { delay: Duration::ZERO };
}
