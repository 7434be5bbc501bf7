//! Procedural macros for `worker-utils`. Use them through the `worker-utils` crate, which
//! re-exports them; expanded code only reaches the runtime through
//! `::worker_utils::__private`.
