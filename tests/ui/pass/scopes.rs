//! Actions at module scope (reached from outside by the CamelCase rule) and at function
//! scope.

mod steps {
    use worker_utils::prelude::*;

    pub struct Deps {
        pub factor: u32,
    }

    #[action(retry)]
    pub async fn scale(input: u32, deps: &Deps) -> Result<u32, ActionError> {
        Ok(input * deps.factor)
    }
}

use worker_utils::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    #[action(timeout = "1s")]
    async fn local_step(input: String) -> Result<usize, ActionError> {
        Ok(input.len())
    }

    let ctx = ActionContext::detached();
    let deps = steps::Deps { factor: 3 };
    assert_eq!(steps::Scale::new().execute(2, &deps, &ctx).await.unwrap(), 6);
    // The fn itself stays callable.
    assert_eq!(steps::scale(2, &deps).await.unwrap(), 6);
    assert_eq!(LocalStep::new().execute("abc".to_owned(), &(), &ctx).await.unwrap(), 3);
    assert_eq!(LocalStep::WORST_CASE, Some(std::time::Duration::from_secs(1)));
}
