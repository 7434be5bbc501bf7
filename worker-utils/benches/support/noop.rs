//! The no-op job the throughput benches run: the worker's own cost, nothing else.

use worker_utils::prelude::*;
use worker_utils::worker::Worker;

/// Returns its input.
pub(crate) struct Noop;

impl Action for Noop {
    type Input = u64;
    type Output = u64;

    fn name(&self) -> &'static str {
        "noop"
    }

    async fn execute(&self, input: u64, _: &(), _: &ActionContext) -> Result<u64, ActionError> {
        Ok(input)
    }
}

/// Runs [`Noop`] on queue `bench`.
pub(crate) struct NoopWorker;

impl Worker for NoopWorker {
    type Deps = ();
    type Pipeline = Noop;

    fn queue(&self) -> &str {
        "bench"
    }

    fn pipeline(&self) -> Noop {
        Noop
    }
}
