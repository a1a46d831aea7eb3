//! The integration tests of `onewindow-core`, one binary (each file a module).

mod diagnostics;
mod docs;
mod properties;
