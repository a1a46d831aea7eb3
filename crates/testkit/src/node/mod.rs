//! What the server tests share, one module a concept: starting a server
//! ([`in_process`], the default, or the real [`binary`]), the [`tokens`] of each role,
//! the shipped workflows' [`requests`], the [`http`] side, what a test needs from the
//! [`machine`], a callback [`receiver`], and how to [`wait`] for a condition instead of a fixed time. Everything
//! is re-exported here, so a test says `use onewindow_testkit::node::*`.

pub mod binary;
pub mod http;
pub mod in_process;
pub mod machine;
pub mod receiver;
pub mod requests;
pub mod tokens;
pub mod wait;

pub use binary::*;
pub use http::*;
pub use in_process::*;
pub use machine::*;
pub use receiver::*;
pub use requests::*;
pub use tokens::*;
pub use wait::*;
