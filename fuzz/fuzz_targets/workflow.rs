//! Fuzz target `workflow`: see `onewindow_testkit::fuzzing::workflow`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onewindow_testkit::fuzzing::workflow(data));
