use worker_utils::prelude::*;

#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("timed out")]
    #[classify(transient)]
    Timeout,
    #[error("bad url")]
    BadUrl,
}

fn main() {}
