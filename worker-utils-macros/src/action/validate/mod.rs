//! Checks of `#[action]`: the fn's [`signature`], and the arguments against each other and
//! the runtime's rules, which give the [`plan`] that [`expand`](super::expand) turns into
//! code without further decisions.

mod plan;
mod signature;

pub(crate) use plan::{BreakerConfig, BreakerPlan, BudgetPlan, Layer, Plan, RETRY_BACKOFF, RetryPlan, plan};
pub(crate) use signature::{Role, Signature, signature};
