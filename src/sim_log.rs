//! `simulate … --log DIR`: each variant's first replication written as a real store
//! (`DIR/<variant>/`, sled): the simulator drives the real engine, so its events are the
//! events a city with those parameters would have recorded — sealed into each project's
//! audit chain, with the variant's workflow version deployed — and everything that reads
//! a store (`onewindow export`, `store open`) reads it. A world whose parameters are
//! known, for testing what learns parameters from a record.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use onewindow::engine::Envelope;
use onewindow::simulate::scenario::Scenario;
use onewindow::store::{Commit, WriteStore};

/// Writes each variant's log under `dir`; returns (variant, directory, projects, events).
pub(crate) fn write(
    dir: &Path,
    scenario: &Scenario,
    logs: Vec<(String, Vec<Envelope>)>,
) -> Result<Vec<(String, PathBuf, usize, usize)>> {
    let mut written = Vec::new();
    for (name, events) in logs {
        let variant = scenario
            .variants
            .iter()
            .find(|v| v.name == name)
            .context("a logged variant is the scenario's")?;
        let at = dir.join(sanitize(&name));
        if at.exists() && std::fs::read_dir(&at)?.next().is_some() {
            anyhow::bail!("{}: not empty; --log writes a new store", at.display());
        }
        let store =
            onewindow::store::disk::SledStore::open(&at, onewindow::store::disk::Flush::Group)
                .with_context(|| format!("cannot create {}", at.display()))?;
        store.put_workflow(&onewindow::store::restore::stored_workflow(&variant.plan)?)?;
        let total = events.len();
        let mut by_project: BTreeMap<String, Vec<Envelope>> = BTreeMap::new();
        for e in events {
            by_project.entry(e.project.to_string()).or_default().push(e);
        }
        let projects = by_project.len();
        for (project, mut events) in by_project {
            let mut chain = onewindow::engine::ChainHash::GENESIS;
            onewindow::store::chain::seal(&mut chain, &mut events)?;
            store.commit(Commit {
                project,
                events,
                ..Commit::default()
            })?;
        }
        written.push((name, at, projects, total));
    }
    Ok(written)
}

/// A variant's name as a directory name: letters, digits, `-`, `_` and `.` kept, the
/// rest `_`.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s == "." || s == ".." {
        "variant".into()
    } else {
        s
    }
}
