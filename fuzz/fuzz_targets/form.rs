//! Fuzz target `form`: see `onewindow_testkit::fuzzing::form`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_testkit::fuzzing::form(data));
