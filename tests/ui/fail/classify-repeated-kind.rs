use worker_utils::prelude::*;

#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("timed out")]
    #[classify(transient)]
    #[classify(transient)]
    Timeout,
}

fn main() {}
