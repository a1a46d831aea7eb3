//! Fuzz target `condition`: see `onewindow::fuzzing::condition`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow::fuzzing::condition(data));
