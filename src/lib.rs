//! onewindow: a joint-approval workflow engine for multi-plan integration (多规合一).
//!
//! One form and one set of materials go to one window; the departments review in
//! parallel, each within a time limit in working days, under electronic supervision.
//!
//! This library is the workspace's crates under one name, for the `onewindow` binary,
//! its tests and examples, and whoever embeds the engine; each crate's rule (what it may
//! depend on) is in ARCHITECTURE.md and kept by its dependency list:
//!
//! - `onewindow-core` ([`textfile`], [`diagnostic`], [`calendar`], [`form`],
//!   [`condition`], [`spec`], [`plan`], [`report`], [`site`], [`stats`]): the workflow
//!   language, its compiler and analysis, calendars, the form.
//! - [`engine`]: the pure state machine that takes projects through the five stages.
//! - [`blueprint`]: one blueprint (一张蓝图): plan layers, the site check, the plans'
//!   conflicts.
//! - [`store`]: the store contract, its backends and the durable service.
//! - [`audit`]: the hash chain verified, signed checkpoints, sealed documents.
//! - [`simulate`]: the analyst's simulator.
//! - [`mining`]: the record as process-mining logs.
//! - [`twin`]: the simulator calibrated from the record (docs/twin.md).
//! - [`server`]: the gRPC and HTTP sides of a node; [`server::run`] composes one.
//! - [`loadgen`]: the in-process load generator (`onewindow store drive`, the store
//!   benchmark, the crash test's child).

#![deny(missing_docs)]

pub use onewindow_audit as audit;
pub use onewindow_blueprint as blueprint;
pub use onewindow_core::{
    calendar, condition, diagnostic, forecast, form, plan, report, site, spec, stats, textfile,
};
pub use onewindow_drive as loadgen;
pub use onewindow_engine as engine;
/// The record as process-mining logs (XES, OCEL 2.0).
pub use onewindow_mining as mining;
pub use onewindow_server as server;
pub use onewindow_simulate as simulate;
pub use onewindow_store as store;
/// The analyst's digital twin: a scenario calibrated from the record.
pub use onewindow_twin as twin;
