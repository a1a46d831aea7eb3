//! The analyst's digital twin: the city's own record read back as a simulator scenario
//! (`calibrate`), so that what an analyst simulates starts from the city as it is.
//!
//! The twin sits between the record and the simulator and depends on both: `mining`
//! reads a period of the record one project at a time, `simulate` owns the scenario
//! format and runs it. Durations are measured on the simulator's own clock ([`clock`]):
//! working minutes of the workflow's calendar.

#![deny(missing_docs)]

pub mod calibrate;
pub mod clock;
pub mod forecast;
pub mod validate;

/// Why the twin could not answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record could not be read.
    #[error("{0}")]
    Record(#[from] onewindow_mining::Error),
    /// The store failed.
    #[error("{0}")]
    Store(#[from] onewindow_store::Error),
    /// The request cannot be answered from this record (an empty period, several
    /// workflows and none chosen): the message says why.
    #[error("{0}")]
    Input(String),
}
