use worker_utils::prelude::*;

#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("timed out")]
    #[classify(flaky)]
    Timeout,
}

fn main() {}
