//! onewindow's core: the workflow language and its compiler, working-day calendars, the
//! one application form, and what a site check found — data and analysis, no clock, no
//! async runtime, no database, no network. Everything above it (the engine, the stores,
//! the server, the simulator) works on a compiled [`plan::Plan`] and never reads YAML.
//!
//! - [`textfile`]: reading the files people write, bounded (regular files, size, YAML
//!   depth, repeated keys); writing owner-only files.
//! - [`diagnostic`]: what is wrong, where, and about which id.
//! - [`calendar`]: working-day calendars and the day arithmetic of time limits.
//! - [`form`]: the one application form: typed fields and filled-in values.
//! - [`condition`]: `when:` conditions on the form (a pest grammar).
//! - [`spec`]: the workflow language as written: YAML, `extends`, source positions.
//! - [`plan`]: the compiler's second stage and the immutable [`plan::Plan`] DAG, with
//!   critical-path analysis.
//! - [`report`]: what the analyst's commands print (tables, JSON, graphs).
//! - [`site`]: a site check's findings as the record keeps them.
//! - [`stats`]: the percentile every report uses.
//! - [`forecast`]: the forecast's headline, as the analyst publishes it and the dashboard shows it.
//!
//! Rule: this crate reads files (workflows, calendars) and nothing else of the world;
//! errors are typed (thiserror).

#![deny(missing_docs)]

pub mod calendar;
pub mod condition;
pub mod diagnostic;
pub mod forecast;
pub mod form;
pub mod plan;
pub mod report;
pub mod site;
pub mod spec;
pub mod stats;
pub mod textfile;
