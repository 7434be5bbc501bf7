use worker_utils::prelude::*;

mod steps {
    pub fn self_() {}
}

// `self_` in CamelCase is the keyword `Self`: no action type can have that name.
#[worker(queue = "jobs", pipeline = [steps::self_])]
struct MyWorker;

fn main() {}
