//! onewindow: a joint-approval workflow engine for multi-plan integration (多规合一).
//!
//! One form and one set of materials go to one window; the departments review in
//! parallel, each within a time limit in working days, under electronic supervision.
//!
//! # Layout
//! - [`blueprint`]: one blueprint (一张蓝图): plan layers, the site check, the plan audit.
//! - [`calendar`]: working-day calendars and the day arithmetic of time limits.
//! - [`form`]: the one application form: typed fields and filled-in values.
//! - [`condition`]: `when:` conditions on the form (a pest grammar).
//! - [`spec`]: the workflow language as written: YAML, `extends`, source positions.
//! - [`plan`]: the compiler's second stage and the immutable [`plan::Plan`] DAG, with
//!   critical-path analysis.
//! - [`diagnostic`]: what is wrong, where, and about which id.
//! - [`engine`]: the pure state machine that takes projects through the five stages.
//! - [`store`]: durability: the event log and its indexes on sled, and the service that
//!   answers a command only once its events are on disk.
//! - [`audit`]: showing the record was not changed: the hash chain verified, signed
//!   checkpoints.
//! - [`report`]: what the analyst's commands print (tables, JSON, graphs).
//! - [`stats`]: the percentile every report uses.
//! - [`server`]: the gRPC API over the durable service; [`server::run`] is the
//!   composition root of a running node, over any store.
//! - [`simulate`]: the analyst's simulator — workflow variants under the same load, on
//!   the real engine and a virtual clock.
//! - [`textfile`]: reading the files people write, bounded (regular files, size, YAML
//!   depth, repeated keys).
//! - [`fuzzing`]: the fuzz targets' entry points, replayed over the committed corpora.
//! - [`loadgen`]: a load generator that drives the durable service directly (the store
//!   benchmark, `onewindow store drive`, the crash test's child).
//!
//! The dependency direction keeps the core pure: nothing in `spec`, `plan` and `engine`
//! reads a clock or does IO except loading files in `spec` and `calendar`; the engine
//! takes `now` as an argument. `store` and `server` are the edges that do IO; they depend
//! on the engine, never the reverse. Errors at the library's boundaries are typed
//! (thiserror); `anyhow` and clap live only in the binary.

#![deny(missing_docs)]

pub mod audit;
pub mod blueprint;
pub mod calendar;
pub mod condition;
pub mod diagnostic;
pub mod engine;
pub mod form;
pub mod fuzzing;
pub mod loadgen;
pub mod plan;
pub mod report;
pub mod server;
pub mod simulate;
pub mod spec;
pub mod stats;
pub mod store;
pub mod textfile;
