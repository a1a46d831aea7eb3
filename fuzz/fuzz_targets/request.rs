//! Fuzz target `request`: see `onewindow_testkit::fuzzing::request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_testkit::fuzzing::request(data));
