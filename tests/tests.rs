//! Every integration test of the `onewindow` package in one binary (as ripgrep's
//! `tests/tests.rs`): one link instead of one per file, on a 2-core machine the larger
//! part of a test build. Each file is a module; `common` is what the server tests share.
//! The crates' own rules are tested in their crates (`crates/*/tests/`).

mod common;

mod api;
mod audit;
mod bad_input;
mod blueprint;
mod browser;
mod callbacks;
mod certs;
mod cli;
mod cluster;
mod console;
mod crash;
mod documents;
mod doors;
mod export;
mod http;
mod identity;
mod office;
mod people;
mod server;
mod simulate;
mod sse;
mod streams;
mod twin;
mod verbs;
mod walls;
mod zones;
