//! Fuzz target `codec`: see `onewindow_testkit::fuzzing::codec`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_testkit::fuzzing::codec(data));
