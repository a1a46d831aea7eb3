//! Fuzz target `form`: see `onewindow::fuzzing::form`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow::fuzzing::form(data));
