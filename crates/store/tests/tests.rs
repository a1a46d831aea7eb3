//! The integration tests of `onewindow-store`, one binary (each file a module).

mod numbers;
mod store;
