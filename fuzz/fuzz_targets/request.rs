//! Fuzz target `request`: see `onewindow::fuzzing::request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow::fuzzing::request(data));
