//! Fuzz target `scenario`: see `onewindow::fuzzing::scenario`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow::fuzzing::scenario(data));
