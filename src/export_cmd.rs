//! `onewindow export`: the city's record (or a simulator's run kept as a store) as
//! process-mining logs — XES for the case-centric tools, OCEL 2.0 (SQLite or JSON) for the
//! object-centric ones — read from a sled data directory (through a private copy, so a
//! running server is not disturbed) or a PostgreSQL store.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Args;

use crate::args::StoreArgs;

/// What to export, and where.
#[derive(Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The first day of the period (events recorded on or after it; default: the first).
    #[arg(long)]
    from: Option<NaiveDate>,
    /// The last day of the period (default: the last).
    #[arg(long)]
    to: Option<NaiveDate>,
    /// Write XES (IEEE 1849) here (`.xes`, or `.xes.gz`).
    #[arg(long, value_name = "FILE")]
    xes: Option<PathBuf>,
    /// Write OCEL 2.0 here: `.sqlite` or `.json` (repeat for both).
    #[arg(long, value_name = "FILE")]
    ocel: Vec<PathBuf>,
}

/// Runs `onewindow export`.
pub(crate) fn run(a: ExportArgs) -> Result<ExitCode> {
    if a.xes.is_none() && a.ocel.is_empty() {
        anyhow::bail!("nothing to write: give --xes FILE and/or --ocel FILE.sqlite|FILE.json");
    }
    if let (Some(f), Some(t)) = (a.from, a.to) {
        anyhow::ensure!(f <= t, "--from {f} is after --to {t}");
    }
    for p in &a.ocel {
        let name = p.to_string_lossy().to_lowercase();
        anyhow::ensure!(
            name.ends_with(".sqlite") || name.ends_with(".json") || name.ends_with(".jsonocel"),
            "--ocel {}: an OCEL file ends in .sqlite or .json",
            p.display()
        );
    }
    let record = open_record(&a.store)?;
    let store = record.store();
    let started = std::time::Instant::now();
    let empty = || {
        let period = match (a.from, a.to) {
            (None, None) => "at all".to_string(),
            (f, t) => format!(
                "between {} and {}",
                f.map_or("the first day".into(), |d| d.to_string()),
                t.map_or("the last day".into(), |d| d.to_string())
            ),
        };
        anyhow::anyhow!(
            "{}: no events {period}; nothing written",
            a.store.describe()
        )
    };
    let (mut projects, mut events) = (0, 0);
    // XES is written as the store is read, one project at a time.
    if let Some(path) = &a.xes {
        let stream = onewindow::mining::Projects::new(store, a.from, a.to)?;
        (projects, events) = onewindow::mining::xes::write_streaming(stream, path)?;
        if projects == 0 {
            return Err(empty());
        }
        println!("{}: XES", path.display());
    }
    // OCEL relates objects across projects: the record is read whole.
    if !a.ocel.is_empty() {
        let record = onewindow::mining::read(store, a.from, a.to)?;
        if record.projects.is_empty() {
            return Err(empty());
        }
        for path in &a.ocel {
            onewindow::mining::ocel::write(&record, path)?;
            println!("{}: OCEL 2.0", path.display());
        }
        (projects, events) = (record.projects.len(), record.events());
    }
    println!(
        "{projects} projects, {events} events in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// A store opened to be read: PostgreSQL, or a private read-only copy of a sled
/// directory (so a running server is not disturbed).
pub(crate) enum OpenRecord {
    /// PostgreSQL.
    Shared(std::sync::Arc<dyn onewindow::store::Store>),
    /// sled, read through a copy.
    Local(onewindow::store::disk::SledStore),
}

impl OpenRecord {
    /// The store.
    pub(crate) fn store(&self) -> &dyn onewindow::store::ReadStore {
        match self {
            OpenRecord::Shared(s) => &**s,
            OpenRecord::Local(l) => l,
        }
    }
}

/// Opens the store `StoreArgs` names for reading; a data directory that holds no store is
/// an error, not a new empty store.
pub(crate) fn open_record(a: &StoreArgs) -> Result<OpenRecord> {
    Ok(match &a.store {
        Some(_) => OpenRecord::Shared(
            crate::launch::open_store(a, onewindow::store::disk::Flush::Group)?.0,
        ),
        None => {
            let data = &a.data;
            let empty = std::fs::read_dir(data)
                .map(|mut d| d.next().is_none())
                .unwrap_or(true);
            anyhow::ensure!(
                data.is_dir() && !empty,
                "{}: no onewindow store here",
                data.display()
            );
            OpenRecord::Local(
                onewindow::store::readonly::open_read_only(data)
                    .with_context(|| format!("cannot open {}", data.display()))?,
            )
        }
    })
}
