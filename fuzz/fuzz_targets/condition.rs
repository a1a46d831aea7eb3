//! Fuzz target `condition`: see `onewindow_testkit::fuzzing::condition`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_testkit::fuzzing::condition(data));
