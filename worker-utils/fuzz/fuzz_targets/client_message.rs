//! Feeds arbitrary text to the status server's client-message parser, as a WebSocket
//! client's text frame would.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        worker_utils::status::fuzzing::client_message(text);
    }
});
