//! Moving running projects to another version of their workflow: the preview (the same
//! decision on a copy of the state, nothing written) and what indexing a migrated
//! project takes (its old layout's entries go, the new one's come).

use super::Service;
use crate::Store;
use onewindow_core::plan::Plan;
use onewindow_engine::{Actor, Command, Event, Refusal};

/// What moving one project would do.
#[derive(Debug, Clone, PartialEq)]
pub struct Preview {
    /// The project.
    pub project: String,
    /// The version it is on.
    pub from: String,
    /// What the migration would record, as the engine would write it (the `migrated`
    /// event first, then what the new layout opens), or why it is refused.
    pub outcome: Result<Vec<Event>, Refusal>,
}

impl<S: Store + ?Sized> Service<S> {
    /// What moving `project` to `version` would do, decided on a copy of its state at
    /// `now`: nothing is written. `None`: no such project.
    pub fn preview_migration(
        &self,
        project: &str,
        version: &str,
        now: chrono::NaiveDateTime,
    ) -> Option<Preview> {
        let mut state = Some(self.project(project)?);
        let from = state
            .as_ref()
            .map(|p| p.version().to_string())
            .unwrap_or_default();
        let outcome = onewindow_engine::execute(
            &mut state,
            project,
            |v| self.plan(v),
            &self.policy,
            &Actor::Supervisor,
            Command::Migrate {
                version: version.to_string(),
            },
            now,
        )
        .map(|(out, _)| out.events.into_iter().map(|e| e.event).collect());
        Some(Preview {
            project: project.to_string(),
            from: from.to_string(),
            outcome,
        })
    }

    /// The active projects of workflow `workflow` on a version other than `version`:
    /// those a migration to it concerns.
    pub fn projects_to_migrate(&self, workflow: &str, version: &str) -> Vec<String> {
        self.project_ids()
            .into_iter()
            .filter(|id| {
                self.with_project(id, |p| {
                    p.status() == onewindow_engine::Status::Active
                        && p.workflow() == workflow
                        && p.version() != version
                })
                .unwrap_or(false)
            })
            .collect()
    }
}

/// The version a command's events moved the project from, if they migrated it.
pub(super) fn migrated_from(out: &onewindow_engine::Outcome) -> Option<&str> {
    out.events.iter().find_map(|e| match &e.event {
        onewindow_engine::Event::Migrated { from, .. } => Some(from.as_str()),
        _ => None,
    })
}

/// The index entries of a project laid out on `plan`, from what was kept of its tasks.
pub(super) fn entries_of(
    plan: &Plan,
    project: &str,
    tasks: &[crate::index::Indexed],
) -> Vec<crate::IndexKey> {
    let mut out = Vec::new();
    for (i, t) in tasks.iter().enumerate().take(plan.items.len()) {
        crate::index::index_entries(plan, project, i, *t, &mut out);
    }
    out
}
