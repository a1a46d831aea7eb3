//! Fuzz target `workflow`: see `onewindow::fuzzing::workflow`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow::fuzzing::workflow(data));
