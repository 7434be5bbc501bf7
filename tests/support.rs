//! Helpers shared by the integration tests.

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
