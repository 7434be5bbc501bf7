//! `crate = "..."` points the expansion at a re-export of the runtime: a module that
//! re-exports it, or an `extern crate` alias.

extern crate worker_utils as runtime;

mod reexport {
    pub use ::worker_utils::*;
}

use runtime::ActionError;
use runtime::worker::Worker;

#[runtime::action(crate = "runtime")]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

#[runtime::worker(queue = "alias", pipeline = [step], redeliver(max_deliveries = 2), crate = "runtime")]
struct ThroughAlias;

#[reexport::worker(queue = "module", pipeline = [step, step], redeliver = false, crate = "crate::reexport")]
struct ThroughModule;

fn main() {
    assert_eq!(ThroughAlias.queue(), "alias");
    assert_eq!(ThroughModule.queue(), "module");
    assert_eq!(ThroughAlias.redelivery().max_deliveries(), 2);
    assert_eq!(ThroughModule.redelivery().max_deliveries(), 1);
}
