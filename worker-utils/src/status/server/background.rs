//! The status server's own thread, at the lowest CPU priority, for
//! [`StatusServerBuilder::background_thread`](super::StatusServerBuilder::background_thread).

use std::future::Future;
use std::io;
use std::thread::JoinHandle;

/// Runs `serve` to its end on a new thread with a runtime of its own, after lowering the
/// thread's CPU priority: the worker's threads then always come first. The thread logs to
/// the `tracing` subscriber of the caller, as a task spawned there would.
pub(super) fn spawn(serve: impl Future<Output = ()> + Send + 'static) -> io::Result<JoinHandle<()>> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    std::thread::Builder::new().name("worker-utils-status".to_owned()).spawn(move || {
        tracing::dispatcher::with_default(&dispatch, || {
            lower_priority();
            runtime.block_on(serve);
        });
    })
}

/// Nice 19, the lowest priority, for the calling thread only: on Linux the nice value is a
/// thread's own, and `nice(2)` changes the caller's.
#[cfg(target_os = "linux")]
fn lower_priority() {
    if let Err(error) = rustix::process::nice(19) {
        tracing::warn!(%error, "status server thread keeps its default priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}
