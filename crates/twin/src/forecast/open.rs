//! The open projects as they stand at a moment: each project's log up to that moment
//! replayed by the engine (`Project::apply`, the fold the server itself restores with),
//! and, per task, how long it has been where it is — the part of its state the engine
//! does not keep (when it was claimed, when the applicant was asked) but the forecast
//! needs, read from the same log.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDateTime;
use onewindow_core::plan::Plan;
use onewindow_engine::{Envelope, Event, Project, Status};
use onewindow_simulate::des::forecast::{OpenProject, OpenTask};
use onewindow_store::ReadStore;

use crate::clock::WorkClock;
use crate::Error;

/// The open projects of one workflow version at `at`, and how many open projects of
/// other versions were left out (by version).
pub struct Open {
    /// Projects of the plan's version, still open at `at`.
    pub projects: Vec<OpenProject>,
    /// Open projects on other versions (the forecast runs one version), by version.
    pub left_out: BTreeMap<String, usize>,
    /// Events read.
    pub events: usize,
}

/// Restores every project open at `at` (events recorded up to it) whose workflow version
/// has `plan`'s items in `plan`'s order — the version the scenario runs, or another edition
/// of it that only changed limits or wording (its due dates as they stand are its own;
/// what becomes ready later counts on the scenario's limits). Each is replayed on its own
/// version's plan.
///
/// # Errors
/// The store fails.
pub fn open_at(
    store: &dyn ReadStore,
    plan: &Arc<Plan>,
    at: NaiveDateTime,
    clock: &WorkClock,
) -> Result<Open, Error> {
    let mut out = Open {
        projects: Vec::new(),
        left_out: BTreeMap::new(),
        events: 0,
    };
    let now = clock.minutes(at);
    let ids: Vec<&str> = plan.items.iter().map(|i| i.id.as_str()).collect();
    let mut fits: BTreeMap<String, Option<Arc<Plan>>> = BTreeMap::new();
    for w in store.workflows()? {
        let own = onewindow_store::restore::restore_workflow(&w)?;
        let same = own.id == plan.id
            && own
                .items
                .iter()
                .map(|i| i.id.as_str())
                .eq(ids.iter().copied());
        fits.insert(w.version.clone(), same.then(|| Arc::new(own)));
    }
    for id in store.projects()? {
        let mut events = store.events(&id, 0)?;
        events.retain(|e| e.at <= at);
        let Some(first) = events.first() else {
            continue;
        };
        let Event::Submitted { version, .. } = &first.event else {
            continue;
        };
        let own = fits.get(version).cloned().flatten();
        let Some(own) = own else {
            // Still open? Only then does leaving it out matter.
            let ended = events
                .iter()
                .any(|e| matches!(e.event, Event::Completed | Event::Withdrawn { .. }));
            if !ended {
                *out.left_out.entry(version.clone()).or_default() += 1;
            }
            continue;
        };
        out.events += events.len();
        let mut project = Project::from_submitted(&own, first);
        for e in &events[1..] {
            project.apply(&own, e);
        }
        if project.status() != Status::Active {
            continue;
        }
        let tasks = tasks(plan, &events, clock, now);
        out.projects.push(OpenProject { id, project, tasks });
    }
    Ok(out)
}

/// Per item: when it entered its present state, and what it has been through.
fn tasks(plan: &Plan, events: &[Envelope], clock: &WorkClock, now: u64) -> Vec<OpenTask> {
    let mut since = vec![0u64; plan.items.len()];
    let mut t: Vec<OpenTask> = vec![OpenTask::default(); plan.items.len()];
    for e in events {
        let at = clock.minutes(e.at);
        let index = |item: &str| plan.item_index(item);
        match &e.event {
            Event::TaskReady { item, .. }
            | Event::Resubmitted { item, .. }
            | Event::Reopened { item, .. }
            | Event::TaskClaimed { item } => {
                if let Some(i) = index(item) {
                    since[i] = at;
                    t[i].rework = false;
                }
            }
            Event::Returned { item, by, .. } => {
                if let Some(i) = index(item) {
                    since[i] = at;
                    t[i].rework = false;
                }
                if let Some(b) = index(by) {
                    t[b].returned = true;
                }
            }
            Event::SupplementRequested { item, .. } => {
                if let Some(i) = index(item) {
                    since[i] = at;
                    t[i].supplemented = true;
                }
            }
            Event::SupplementProvided { item, .. } => {
                if let Some(i) = index(item) {
                    since[i] = at;
                    t[i].rework = true;
                }
            }
            Event::TaskRejected { item, .. } => {
                if let Some(i) = index(item) {
                    since[i] = at;
                    t[i].rejected = true;
                }
            }
            _ => {}
        }
    }
    for (task, s) in t.iter_mut().zip(since) {
        task.elapsed = now.saturating_sub(s);
    }
    t
}
