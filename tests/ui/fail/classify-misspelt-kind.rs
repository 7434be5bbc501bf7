use worker_utils::prelude::*;

// One error, which suggests the kind that was meant: no second "needs its kind", and none
// where the type is used as an action's error (the derive still emits an impl).
#[derive(Debug, thiserror::Error, Classify)]
#[classify(transiant)]
#[error("the image server is busy")]
struct Busy;

#[action]
async fn fetch(url: String) -> Result<String, Busy> {
    Ok(url)
}

fn main() {}
