use worker_utils::prelude::*;

mod steps {
    pub fn self_() {}
}

// A plain fn whose name in CamelCase is the keyword `Self`: the worker names it by its
// own name, and says that it is not an `#[action]` fn.
#[worker(queue = "jobs", pipeline = [steps::self_])]
struct MyWorker;

fn main() {}
