use worker_utils::prelude::*;

use std::time::Duration;

#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("busy")]
    #[classify(transient, retry_after = a, retry_after = b)]
    Busy { a: Duration, b: Duration },
}

fn main() {}
