//! Fuzz target `codec`: see `onewindow::fuzzing::codec`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow::fuzzing::codec(data));
