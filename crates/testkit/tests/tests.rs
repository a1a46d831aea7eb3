//! The integration tests of `onewindow-testkit`, one binary (each file a module).

mod fuzz_corpus;
