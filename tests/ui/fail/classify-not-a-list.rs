use worker_utils::prelude::*;

#[derive(Debug, thiserror::Error, Classify)]
#[classify = "transient"]
enum FetchError {
    #[error("timed out")]
    Timeout,
}

fn main() {}
