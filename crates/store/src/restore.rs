//! Bringing things back from the store: a deployed workflow version compiled again from
//! its stored text, and a project's state from its snapshot and the log after it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{codec, Error, ReadStore, StoredWorkflow};
use onewindow_core::calendar::Calendar;
use onewindow_core::plan::{self, Plan};
use onewindow_engine::{ChainHash, Project};

/// A deployed version as the store keeps it: the workflow flattened, with its calendar's
/// files, so that it compiles again without the files it came from.
///
/// # Errors
/// The calendar directory cannot be read.
pub fn stored_workflow(plan: &Plan) -> Result<StoredWorkflow, Error> {
    let mut raw = onewindow_core::spec::RawWorkflow::clone(&plan.raw);
    raw.workflow = Some(plan.id.clone());
    raw.calendar = None;
    let yaml = serde_yaml::to_string(&raw).map_err(|e| Error::Corrupt(e.to_string()))?;
    let calendar = match &plan.calendar_dir {
        Some(dir) => calendar_files(dir)?,
        None => Vec::new(),
    };
    Ok(StoredWorkflow {
        version: plan.version.clone(),
        id: plan.id.clone(),
        yaml,
        calendar,
    })
}

/// A calendar directory's files as the store keeps them: `calendar.yaml` first, then one
/// per year, by file name.
///
/// # Errors
/// The directory or a file cannot be read.
pub fn calendar_files(dir: &Path) -> Result<Vec<(String, String)>, Error> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| Error::Backend(format!("{}: {e}", p.display())))
    };
    let mut files = vec![(
        "calendar.yaml".to_string(),
        read(&dir.join("calendar.yaml"))?,
    )];
    let mut years: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::Backend(format!("{}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "yaml")
                && p.file_stem()
                    .and_then(|s| s.to_str())
                    .is_some_and(|s| s.parse::<i32>().is_ok())
        })
        .collect();
    years.sort();
    for y in years {
        let name = y
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push((name, read(&y)?));
    }
    Ok(files)
}

/// A calendar from its stored files (`calendar.yaml` first).
///
/// # Errors
/// The files do not make a calendar (the message names the file).
pub fn calendar_of(
    files: &[(String, String)],
) -> Result<Calendar, onewindow_core::calendar::Error> {
    let Some(((_, head), years)) = files.split_first() else {
        return Calendar::from_texts(Path::new("calendar.yaml"), "", &[]);
    };
    let years: Vec<(PathBuf, String)> = years
        .iter()
        .map(|(n, t)| (PathBuf::from(n), t.clone()))
        .collect();
    Calendar::from_texts(Path::new("calendar.yaml"), head, &years)
}

/// Compiles a stored version again; the plan keeps the version it was deployed under.
///
/// # Errors
/// [`Error::Corrupt`] when the stored text no longer compiles.
pub fn restore_workflow(w: &StoredWorkflow) -> Result<Plan, Error> {
    let corrupt = |m: String| Error::Corrupt(format!("workflow {} ({}): {m}", w.id, w.version));
    let calendar = match w.calendar.is_empty() {
        true => None,
        false => Some(calendar_of(&w.calendar).map_err(|e| corrupt(e.to_string()))?),
    };
    let loaded = onewindow_core::spec::load_str(Path::new(&format!("{}.yaml", w.id)), &w.yaml)
        .map_err(|d| corrupt(d.to_string()))?;
    let (mut plan, _) =
        plan::compile_with(&loaded, calendar).map_err(|d| corrupt(d.to_string()))?;
    plan.version = w.version.clone();
    Ok(plan)
}

/// A project's state from the store: its snapshot, then the log after it; the audit
/// chain ([`super::chain`]) carried on over the events replayed (over the whole log when
/// the snapshot predates the chain). Returns the state (`None`: no such project) and how
/// many events were replayed.
///
/// # Errors
/// The store failed, the log has a gap or does not start with a submission, or the
/// project runs on a version `plan_of` does not know.
pub fn restore(
    store: &(impl ReadStore + ?Sized),
    id: &str,
    plan_of: impl Fn(&str) -> Option<Arc<Plan>>,
) -> Result<(Option<Project>, usize), Error> {
    let snapshot = store.snapshot(id)?;
    let (mut project, after): (Option<Project>, u64) = match &snapshot {
        Some(s) => (Some(codec::decode(&s.state)?), s.seq),
        None => (None, 0),
    };
    let (tail, chain) = match project
        .as_ref()
        .map_or(Some(ChainHash::GENESIS), |p| p.chain())
    {
        Some(c) => {
            let tail = store.events(id, after)?;
            let chain = super::chain::replay(c, &tail)?;
            (tail, chain)
        }
        None => {
            let mut all = store.events(id, 0)?;
            let chain = super::chain::replay(ChainHash::GENESIS, &all)?;
            all.retain(|e| e.seq > after);
            (all, chain)
        }
    };
    for (expected, env) in (after + 1..).zip(tail.iter()) {
        if env.seq != expected {
            return Err(Error::Inconsistent(format!(
                "project `{id}`: event {} where {expected} was expected",
                env.seq
            )));
        }
        match &mut project {
            None => {
                let version = match &env.event {
                    onewindow_engine::Event::Submitted { version, .. } => version,
                    other => {
                        return Err(Error::Inconsistent(format!(
                            "project `{id}` starts with {} instead of a submission",
                            other.summary()
                        )))
                    }
                };
                let plan = plan_of(version).ok_or_else(|| {
                    Error::Inconsistent(format!(
                        "project `{id}` runs on version {version}, which is not deployed"
                    ))
                })?;
                project = Some(Project::from_submitted(&plan, env));
            }
            Some(p) => {
                let plan = plan_of(p.version()).ok_or_else(|| {
                    Error::Inconsistent(format!("project `{id}`: version {} missing", p.version()))
                })?;
                p.apply(&plan, env);
            }
        }
    }
    if let Some(p) = &mut project {
        p.seal(chain);
    }
    Ok((project, tail.len()))
}
