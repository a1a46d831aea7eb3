//! Fuzz target `scenario`: see `onewindow_testkit::fuzzing::scenario`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_testkit::fuzzing::scenario(data));
