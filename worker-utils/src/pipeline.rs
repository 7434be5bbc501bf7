//! [`Then`]: two actions in sequence, the output of the first being the input of the
//! second. A worker's pipeline is a chain of `Then`s, so its typing is checked by the
//! compiler.

use crate::action::Action;
use crate::context::ActionContext;
use crate::error::ActionError;
use crate::trace;

/// Runs `first`, then `second` on its output.
///
/// Build one with [`ActionExt::then`](crate::ActionExt::then); the job type of a chain is
/// the first step's input and its result the last step's output.
///
/// ```
/// use worker_utils::prelude::*;
/// use worker_utils::testing::Mock;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let parse = Mock::new(|s: &str| s.parse::<u32>().map_err(ActionError::permanent));
/// let double = Mock::new(|n: u32| Ok(n * 2));
/// let pipeline = parse.then(double);
/// assert_eq!(pipeline.execute("21", &(), &ActionContext::detached()).await.unwrap(), 42);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Then<A, B> {
    first: A,
    second: B,
}

impl<A, B> Then<A, B> {
    /// `first`, then `second`.
    pub fn new(first: A, second: B) -> Self {
        Self { first, second }
    }

    /// The first step.
    pub fn first(&self) -> &A {
        &self.first
    }

    /// The second step.
    pub fn second(&self) -> &B {
        &self.second
    }
}

impl<D, A, B> Action<D> for Then<A, B>
where
    D: ?Sized + Sync,
    A: Action<D>,
    B: Action<D, Input = A::Output>,
{
    type Input = A::Input;
    type Output = B::Output;

    /// The name of the last step: errors carry the name of the step that failed.
    fn name(&self) -> &'static str {
        self.second.name()
    }

    /// Both steps' worst cases added; unbounded if either is.
    fn worst_case(&self) -> Option<std::time::Duration> {
        Some(self.first.worst_case()?.saturating_add(self.second.worst_case()?))
    }

    fn step_names(&self) -> Vec<&'static str> {
        let mut names = self.first.step_names();
        names.extend(self.second.step_names());
        names
    }

    async fn execute(
        &self,
        input: A::Input,
        deps: &D,
        ctx: &ActionContext,
    ) -> Result<B::Output, ActionError> {
        let middle = trace::in_step_span(&self.first, input, deps, ctx).await?;
        trace::in_step_span(&self.second, middle, deps, ctx).await
    }
}
