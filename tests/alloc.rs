//! The success path of `ErrorHandling(Retry(Timeout(action)))` allocates nothing.

use futures_util::FutureExt as _;
use worker_utils::prelude::*;
use worker_utils_tests::{CountingAllocator, allocations};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

struct AddOne;

impl Action for AddOne {
    type Input = u64;
    type Output = u64;

    fn name(&self) -> &'static str {
        "add_one"
    }

    async fn execute(&self, input: u64, _: &(), _: &ActionContext) -> Result<u64, ActionError> {
        Ok(input + 1)
    }
}

#[test]
fn the_success_path_allocates_nothing() {
    let before = allocations();
    drop(std::hint::black_box(Box::new(1_u8)));
    assert_eq!(allocations() - before, 1, "the counter sees allocations");

    let action =
        AddOne.timeout(std::time::Duration::from_secs(5)).retry(RetryConfig::default()).error_handling();
    let ctx = ActionContext::detached();
    // The first call registers the cached metric handles; inside a runtime for the timer.
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let _guard = rt.enter();
    assert_eq!(action.execute(0, &(), &ctx).now_or_never().unwrap().unwrap(), 1);

    let before = allocations();
    for i in 0..10_000 {
        let out = action.execute(i, &(), &ctx).now_or_never().expect("ready at once").expect("success");
        assert_eq!(out, i + 1);
    }
    assert_eq!(allocations() - before, 0, "allocations on the success path");

    // With timing on, the first call registers the duration histogram; later ones reuse it.
    worker_utils::metrics::enable();
    action.execute(0, &(), &ctx).now_or_never().unwrap().unwrap();
    let before = allocations();
    for i in 0..10_000 {
        action.execute(i, &(), &ctx).now_or_never().expect("ready at once").expect("success");
    }
    assert_eq!(allocations() - before, 0, "allocations on the timed success path");
}
