//! The integration tests of `onewindow-engine`, one binary (each file a module).

mod assessment;
mod engine_properties;
mod scenarios;
