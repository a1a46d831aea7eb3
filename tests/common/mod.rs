//! What the server tests share lives in the testkit (`onewindow_testkit::node`), beside
//! the store's conformance suite and the throwaway PostgreSQL: one place for every
//! crate's tests.

pub use onewindow_testkit::node::*;
