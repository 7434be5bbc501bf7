use worker_utils::prelude::*;

#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("busy")]
    #[classify(transient, retry_after = 0)]
    Busy(u64),
}

fn main() {}
