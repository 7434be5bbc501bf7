use worker_utils::prelude::*;

#[action(retry)]
struct Step;

fn main() {}
