use worker_utils::prelude::*;

use std::time::Duration;

#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("busy")]
    #[classify(transient)]
    Busy {
        #[classify(retry_after)]
        delay: Duration,
    },
}

fn main() {}
