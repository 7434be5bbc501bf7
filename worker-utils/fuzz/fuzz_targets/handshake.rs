//! Feeds arbitrary bytes to the status server's HTTP front: request-head parsing, routing,
//! and the upgrade, Origin, token and query checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks whether a token in the query string is allowed.
    let Some((&mode, head)) = data.split_first() else { return };
    worker_utils::status::fuzzing::request_head(head, mode & 1 == 1);
});
