//! The bound on connections not yet admitted (reading their request, being answered): when it
//! is full, the oldest is evicted, so a newcomer always gets its chance.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

/// Connections not yet admitted, oldest first.
#[derive(Debug)]
pub(crate) struct PendingHandshakes {
    max: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    /// Cancelled when the connection is evicted; ids grow, so the first is the oldest.
    waiting: BTreeMap<u64, CancellationToken>,
}

impl PendingHandshakes {
    pub(crate) fn new(max: usize) -> Self {
        Self { max, state: Mutex::new(State::default()) }
    }

    /// Registers a new connection; if `max` are already pending, evicts the oldest first.
    /// The connection stays pending until the returned guard is dropped.
    pub(crate) fn register(self: &Arc<Self>) -> Pending {
        let evicted = CancellationToken::new();
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        if state.waiting.len() >= self.max
            && let Some((_, oldest)) = state.waiting.pop_first()
        {
            oldest.cancel();
        }
        state.waiting.insert(id, evicted.clone());
        drop(state);
        Pending { registry: Arc::clone(self), id, evicted }
    }

    /// How many connections are pending now.
    pub(crate) fn len(&self) -> usize {
        self.lock().waiting.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a map that every operation leaves consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One pending connection; dropping it (admitted, answered or gone) frees its place.
#[derive(Debug)]
pub(crate) struct Pending {
    registry: Arc<PendingHandshakes>,
    id: u64,
    evicted: CancellationToken,
}

impl Pending {
    /// Resolves once a newer connection has taken this one's place.
    pub(crate) fn evicted(&self) -> WaitForCancellationFuture<'_> {
        self.evicted.cancelled()
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.evicted.is_cancelled() {
            self.registry.lock().waiting.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bound_evicts_the_oldest_and_a_dropped_guard_frees_its_place() {
        let pending = Arc::new(PendingHandshakes::new(2));
        let first = pending.register();
        let second = pending.register();
        assert_eq!(pending.len(), 2);
        let third = pending.register();
        assert!(first.evicted.is_cancelled());
        assert!(!second.evicted.is_cancelled() && !third.evicted.is_cancelled());
        assert_eq!(pending.len(), 2);
        drop(first);
        assert_eq!(pending.len(), 2, "an evicted guard has already left");
        drop(second);
        assert_eq!(pending.len(), 1);
        let _fourth = pending.register();
        assert!(!third.evicted.is_cancelled(), "there was room");
    }
}
