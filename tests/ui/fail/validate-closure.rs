use worker_utils::prelude::*;

#[action(validate = |input: &u32| if *input > 0 { Ok(()) } else { Err("zero") })]
async fn step(input: u32) -> Result<u32, ActionError> {
    Ok(input)
}

fn main() {}
