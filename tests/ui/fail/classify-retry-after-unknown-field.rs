use worker_utils::prelude::*;

use std::time::Duration;

#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("busy")]
    #[classify(transient, retry_after = wait)]
    Busy { delay: Duration },
}

fn main() {}
