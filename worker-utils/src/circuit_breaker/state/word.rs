//! The breaker's state and generation packed into one `u64`, and the atomic cell the
//! breaker keeps it in.
//!
//! Packing saves the lock and a word: every call reads the state and the generation with
//! one atomic load, so a closed breaker lets a call through without taking its lock, and
//! the word a call was admitted under is its permit's ticket as it is (a half-open state
//! marks a probe), which keeps [`CallPermit`](super::CallPermit) three words with no
//! padding.

use std::sync::atomic::{AtomicU64, Ordering};

use super::CircuitState;

/// A breaker's generation and state: `generation << 2 | state code`.
///
/// The generation grows by one at every transition; 62 bits of it are more transitions
/// than a breaker makes in any lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Word(u64);

/// The low bits, which hold the state's code.
const STATE_BITS: u32 = 2;
const STATE_MASK: u64 = (1 << STATE_BITS) - 1;

impl Word {
    #[inline(always)]
    pub(super) const fn new(generation: u64, state: CircuitState) -> Self {
        Self(generation << STATE_BITS | state.code())
    }

    #[inline(always)]
    pub(super) const fn generation(self) -> u64 {
        self.0 >> STATE_BITS
    }

    #[inline(always)]
    pub(super) const fn state(self) -> CircuitState {
        CircuitState::from_code(self.0 & STATE_MASK)
    }

    /// Whether the state is [`Closed`](CircuitState::Closed): the one test a call makes
    /// before it goes through without the lock.
    #[inline(always)]
    pub(super) const fn is_closed(self) -> bool {
        self.0 & STATE_MASK == CircuitState::Closed.code()
    }

    /// Whether a permit holding this word as its ticket is a half-open probe.
    #[inline(always)]
    pub(super) const fn is_probe(self) -> bool {
        self.0 & STATE_MASK == CircuitState::HalfOpen.code()
    }
}

impl CircuitState {
    /// The state's code in the breaker's word, and its gauge value.
    pub(super) const fn code(self) -> u64 {
        match self {
            CircuitState::Closed => 0,
            CircuitState::Open => 1,
            CircuitState::HalfOpen => 2,
        }
    }

    const fn from_code(code: u64) -> Self {
        match code {
            0 => CircuitState::Closed,
            1 => CircuitState::Open,
            _ => CircuitState::HalfOpen,
        }
    }
}

/// The breaker's current [`Word`]: written under the breaker's lock at every transition
/// (release), read by every call without it (acquire).
#[derive(Debug)]
pub(super) struct AtomicWord(AtomicU64);

impl AtomicWord {
    pub(super) const fn new(word: Word) -> Self {
        Self(AtomicU64::new(word.0))
    }

    #[inline(always)]
    pub(super) fn load(&self) -> Word {
        Word(self.0.load(Ordering::Acquire))
    }

    pub(super) fn store(&self, word: Word) {
        self.0.store(word.0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const STATES: [CircuitState; 3] = [CircuitState::Closed, CircuitState::Open, CircuitState::HalfOpen];
    /// The largest generation the word holds.
    const MAX_GENERATION: u64 = u64::MAX >> STATE_BITS;

    proptest! {
        #[test]
        fn generation_and_state_come_back_as_packed(generation in 0..=MAX_GENERATION, state in 0..3_usize) {
            let word = Word::new(generation, STATES[state]);
            prop_assert_eq!((word.generation(), word.state()), (generation, STATES[state]));
            prop_assert_eq!(word.is_closed(), STATES[state] == CircuitState::Closed);
            prop_assert_eq!(word.is_probe(), STATES[state] == CircuitState::HalfOpen);
        }
    }

    #[test]
    fn the_extremes_round_trip() {
        for state in STATES {
            for generation in [0, 1, MAX_GENERATION] {
                let word = Word::new(generation, state);
                assert_eq!((word.generation(), word.state()), (generation, state));
            }
        }
    }

    #[test]
    fn a_new_breaker_word_is_zero_and_the_gauge_values_are_the_codes() {
        assert_eq!(Word::new(0, CircuitState::Closed).0, 0);
        assert_eq!(STATES.map(CircuitState::code), [0, 1, 2]);
    }

    #[test]
    fn the_atomic_cell_gives_back_what_was_stored() {
        let cell = AtomicWord::new(Word::new(0, CircuitState::Closed));
        cell.store(Word::new(7, CircuitState::HalfOpen));
        assert_eq!(cell.load(), Word::new(7, CircuitState::HalfOpen));
    }
}
