use worker_utils::prelude::*;

#[derive(Debug, thiserror::Error, Classify)]
#[classify(transient, crate = "not a path")]
enum FetchError {
    #[error("busy")]
    Busy,
}

fn main() {}
