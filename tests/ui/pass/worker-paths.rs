//! Steps given as paths into modules reach the action types the same way.

use worker_utils::worker::Worker;

mod steps {
    use worker_utils::prelude::*;

    #[action]
    pub async fn parse(input: String) -> Result<u32, ActionError> {
        input.parse().map_err(ActionError::permanent)
    }

    pub mod math {
        use worker_utils::prelude::*;

        #[action]
        pub async fn double(input: u32) -> Result<u32, ActionError> {
            Ok(input * 2)
        }
    }
}

#[worker_utils::worker(queue = "numbers", pipeline = [steps::parse, self::steps::math::double, crate::steps::math::double])]
struct Numbers;

fn main() {
    let _: worker_utils::pipeline::Then<
        worker_utils::pipeline::Then<steps::Parse, steps::math::Double>,
        steps::math::Double,
    > = Numbers.pipeline();
    assert_eq!(Numbers.queue(), "numbers");
}
