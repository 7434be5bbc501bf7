//! Helpers shared by the integration tests.

use std::time::Duration;

/// A [`wait_until`] limit for tests on tokio's paused clock, where waiting costs no real
/// time: a day, longer than any backoff or redelivery delay the tests set.
pub const PAUSED_CLOCK_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// Waits until `done()` holds, checking every millisecond, and fails the test naming `what`
/// if it does not within `limit` (of the paused clock as of the real one): a wait for a
/// count that never comes fails instead of hanging.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let start = tokio::time::Instant::now();
/// worker_utils_tests::wait_until("a second passes", std::time::Duration::from_secs(5), || {
///     start.elapsed() >= std::time::Duration::from_secs(1)
/// })
/// .await;
/// # }
/// ```
pub async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(limit, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    waited.await.unwrap_or_else(|_| panic!("{what}: not done within {limit:?}"));
}

/// The worker of the metrics tests: it consumes queue `mail` with one step, [`check`](mail::check),
/// so a test can count jobs that complete and jobs that are dead-lettered.
pub mod mail {
    use worker_utils::prelude::*;

    /// Succeeds, except payload 0, which fails permanently (dead-lettered at once).
    #[action]
    pub async fn check(input: u32) -> Result<u32, ActionError> {
        if input == 0 {
            return Err(ActionError::permanent(std::io::Error::other("zero")));
        }
        Ok(input)
    }

    /// Consumes queue `mail` with [`check`].
    #[worker(queue = "mail", pipeline = [check])]
    #[derive(Debug)]
    pub struct Mail;
}

/// Whether an external part a test needs (a program, a Python module, a server) is
/// missing, given `present`. When it is missing the test should return early: this prints a
/// visible `SKIPPED: …` notice, unless `WORKER_UTILS_REQUIRE_EXTERNAL=1` (as `.ci/run`
/// sets), where a missing part fails the test instead.
///
/// ```no_run
/// let present = std::process::Command::new("python3").arg("--version").output().is_ok();
/// if worker_utils_tests::external_missing("python3", present) {
///     return;
/// }
/// ```
pub fn external_missing(what: &str, present: bool) -> bool {
    if present {
        return false;
    }
    assert!(
        std::env::var("WORKER_UTILS_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
        "{what} is required (WORKER_UTILS_REQUIRE_EXTERNAL=1) but missing"
    );
    eprintln!("SKIPPED: {what} is missing; set it up or run .ci/run to include this test");
    true
}

/// Counts the allocations made by each thread; a test binary installs it with
/// `#[global_allocator] static GLOBAL: CountingAllocator = CountingAllocator;` and reads
/// [`allocations`] around the code that must not allocate.
#[derive(Debug)]
pub struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[allow(unsafe_code, reason = "a global allocator is unsafe by definition; it only counts and delegates")]
// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

/// How many allocations this thread has made (counted only where [`CountingAllocator`] is
/// the global allocator).
pub fn allocations() -> u64 {
    ALLOCATIONS.with(std::cell::Cell::get)
}

/// A `tracing` layer that keeps the fields of every event (plus its `level`) as strings.
#[derive(Debug, Clone, Default)]
pub struct Events(std::sync::Arc<std::sync::Mutex<Vec<std::collections::BTreeMap<String, String>>>>);

impl Events {
    /// The events recorded so far, oldest first; forgets them.
    pub fn take(&self) -> Vec<std::collections::BTreeMap<String, String>> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

struct FieldMap<'a>(&'a mut std::collections::BTreeMap<String, String>);

impl tracing::field::Visit for FieldMap<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = std::collections::BTreeMap::new();
        fields.insert("level".to_owned(), event.metadata().level().to_string());
        event.record(&mut FieldMap(&mut fields));
        self.0.lock().unwrap().push(fields);
    }
}
