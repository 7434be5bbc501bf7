use worker_utils::prelude::*;

#[derive(Debug, thiserror::Error, Classify)]
enum FetchError {
    #[error("busy")]
    #[classify(transient, crate = "worker_utils")]
    Busy,
}

fn main() {}
