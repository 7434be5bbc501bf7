use worker_utils::prelude::*;

#[derive(Debug, thiserror::Error, Classify)]
#[error("disk full")]
struct DiskFull;

fn main() {}
