//! The compiled workflow: an immutable [`Plan`] holding the item DAG.
//!
//! [`compile`] is the compiler's second stage: it takes what [`crate::spec::load`] read,
//! checks every reference, limit, condition and dependency, and reports *every* problem
//! at once with its position. Only a workflow with no errors becomes a `Plan`; the
//! engine and the simulator never see YAML.
//!
//! The DAG is derived, not declared: an edge runs from the item that produces a document
//! to every item that requires it, plus the explicit `after` waits that serial practice
//! writes down. The five stages add an implicit barrier (an item of a stage starts only
//! once every applicable item of the earlier stages is done), because that is how the
//! engine opens stages; [`schedule`] models it so that plan and engine agree.

//!
//! # Layout
//! - [`model`]: the [`Plan`] and its parts, with lookups.
//! - [`compile`]: the compiler's driver and the checks of everything but items and the DAG.
//! - [`item`]: compiling one item.
//! - [`graph`]: the DAG, its topological order and cycle reports.
//! - [`schedule`]: the critical-path method over a plan.
//! - [`numbering`]: document numbers and a department's numbering pattern.

mod compile;
mod graph;
mod item;
mod model;
pub mod numbering;
mod schedule;
mod step;

pub use compile::{compile, compile_file, compile_with};
pub use model::{
    Department, Document, Edge, Item, Limit, Material, Plan, Requires, SpecialProcedure, Stage,
    Step, MAX_DAYS,
};
pub use schedule::{ItemSchedule, Options, Schedule, StageSpan};
