//! trybuild UI tests of `#[action]`, `#[worker]` and `#[derive(Classify)]`: every error the
//! macros emit,
//! with its span (`tests/ui/fail`), and the forms that must compile (`tests/ui/pass`).
//!
//! Regenerate the expected output after a reviewed change with `TRYBUILD=overwrite`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
