//! Moving a running project to a new version of its workflow ([`Command::Migrate`]).
//!
//! A project is pinned to the version it was submitted under; an administrator may move
//! it, project by project, after previewing what changes (`preview`: the same decision on
//! a copy). What carries over, item by item (matched by id):
//!
//! - a task that started or was decided keeps its state, round, limit and due date: the
//!   limit in force when its round began stays its limit (a new round counts the new one);
//!   its step is matched by id, else the first;
//! - a task not started yet (pending, waiting) or an item that did not apply is decided
//!   afresh on the new version's condition;
//! - an item the new version adds starts pending, and opens (waiting or ready) if its
//!   stage is open already; an item it removes is gone — an open task of it is
//!   cancelled, on record;
//! - documents issued stay issued where the new version knows them; what is available
//!   is derived again (issued, supplied by a material on file, or waived).
//!
//! The [`Event::Migrated`] event carries the new layout itself, so applying it needs no
//! plan; the events after it are applied with the new version's plan.

use std::collections::BTreeMap;

use onewindow_core::plan::{Plan, Stage};

use super::apply::*;
use super::notice;
use super::*;

/// One item of the new version, as the migration lays it out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MigratedItem {
    /// The item's id.
    pub item: String,
    /// Its task's index in the old layout, when the old version had the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<u32>,
    /// The state it starts in when it is not carried (new, or not started):
    /// `pending`, `waiting` or `not_applicable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TaskState>,
    /// The step it is at (carried tasks; matched by id).
    #[serde(default)]
    pub step: u16,
}

/// What a migration changes for one project, for people: the preview and the record.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MigrationSummary {
    /// Items the new version adds (that apply to this project).
    pub added: Vec<String>,
    /// Items it removes.
    pub removed: Vec<String>,
    /// Open tasks of removed items: cancelled.
    pub cancelled: Vec<String>,
    /// Items whose limit (in the workflow's default limits) or unit changes: new rounds
    /// count the new limit.
    pub limits_changed: Vec<String>,
}

impl Project {
    /// Moves the project to `new` (its workflow's other version): checks, then the
    /// `Migrated` event, then what the new layout opens.
    pub(super) fn migrate(
        &mut self,
        old: &Plan,
        new: &Plan,
        actor: &Actor,
        now: chrono::NaiveDateTime,
        effects: bool,
    ) -> Result<Outcome, Refusal> {
        if !matches!(actor, Actor::Supervisor | Actor::System) {
            return Err(decide::not_allowed(
                actor,
                "move a project to another workflow version",
            ));
        }
        match self.status {
            Status::Active => {}
            Status::Completed => return Err(Refusal::Closed("completed".into())),
            Status::Withdrawn => return Err(Refusal::Closed("withdrawn".into())),
        }
        if new.id != old.id || new.version == old.version {
            return Err(Refusal::NotAllowed {
                actor: "an administrator".into(),
                action: format!(
                    "move project `{}` from {} ({}) to {} ({}): only to another version of its own workflow",
                    self.id, old.id, old.version, new.id, new.version
                ),
            });
        }
        let applies = notice::applicable(new, &self.form);
        let started = |t: &Task| {
            !matches!(
                t.state,
                TaskState::Pending | TaskState::Waiting | TaskState::NotApplicable
            )
        };
        let mut summary = MigrationSummary::default();
        let mut items = Vec::with_capacity(new.items.len());
        for (j, it) in new.items.iter().enumerate() {
            let fresh = if applies[j] {
                TaskState::Pending
            } else {
                TaskState::NotApplicable
            };
            match old.item_index(&it.id) {
                Some(i) if started(&self.tasks[i]) => {
                    let t = &self.tasks[i];
                    let step = old.items[i]
                        .steps
                        .get(usize::from(t.step))
                        .and_then(|s| it.steps.iter().position(|x| x.id == s.id))
                        .unwrap_or(0);
                    items.push(MigratedItem {
                        item: it.id.clone(),
                        from: u32::try_from(i).ok(),
                        state: None,
                        step: u16::try_from(step).unwrap_or(0),
                    });
                }
                // Not started: decided again on the new condition; one still waiting
                // goes on waiting.
                Some(i) => items.push(MigratedItem {
                    item: it.id.clone(),
                    from: u32::try_from(i).ok(),
                    state: Some(match (self.tasks[i].state, fresh) {
                        (TaskState::Waiting, TaskState::Pending) => TaskState::Waiting,
                        (_, s) => s,
                    }),
                    step: 0,
                }),
                None => {
                    if applies[j] {
                        summary.added.push(it.id.clone());
                    }
                    items.push(MigratedItem {
                        item: it.id.clone(),
                        from: None,
                        state: Some(fresh),
                        step: 0,
                    });
                }
            }
            if let Some(i) = old.item_index(&it.id) {
                let (a, b) = (&old.items[i].limit, &it.limit);
                if a.days(old.default_limits) != b.days(new.default_limits) || a.unit != b.unit {
                    summary.limits_changed.push(it.id.clone());
                }
            }
        }
        for (i, it) in old.items.iter().enumerate() {
            if new.item_index(&it.id).is_none() {
                summary.removed.push(it.id.clone());
                if self.tasks[i].is_open() {
                    summary.cancelled.push(it.id.clone());
                }
            }
        }
        let by_id: BTreeMap<&str, &IssuedDocument> = self
            .documents
            .iter()
            .flatten()
            .map(|d| (d.document.as_str(), d))
            .collect();
        let documents: Vec<Option<IssuedDocument>> = new
            .documents
            .iter()
            .map(|d| by_id.get(d.id.as_str()).map(|x| (*x).clone()))
            .collect();
        let available: Vec<bool> = (0..new.documents.len())
            .map(|d| {
                documents[d].is_some()
                    || new.supplier[d].is_some_and(|m| self.has_material(&new.materials[m].id))
                    || new.producer[d].is_some_and(|p| !applies[p])
            })
            .collect();
        // The event is applied with the old plan (it needs none); what follows, with the
        // new one.
        let mut em = Emitter {
            plan: old,
            at: now,
            actor,
            out: Outcome::default(),
            effects,
        };
        em.emit(
            self,
            Event::Migrated {
                from: old.version.clone(),
                to: new.version.clone(),
                items,
                documents,
                available,
                summary: Box::new(summary),
            },
        );
        let mut em = Emitter {
            plan: new,
            at: now,
            actor,
            out: em.out,
            effects,
        };
        if let Some(stage) = self.stage {
            for s in Stage::ALL.iter().filter(|s| **s <= stage) {
                self.open_stage(&mut em, *s);
            }
        }
        self.advance(&mut em);
        Ok(em.out)
    }
}

impl Project {
    /// Applies a `Migrated` event: the new layout, carried in the event.
    pub(super) fn apply_migrated(
        &mut self,
        to: &str,
        items: &[MigratedItem],
        documents: &[Option<IssuedDocument>],
        available: &[bool],
    ) {
        let old = std::mem::take(&mut self.tasks);
        self.tasks = items
            .iter()
            .map(|m| {
                let carried = m.from.and_then(|i| old.get(i as usize));
                match (carried, m.state) {
                    (Some(t), None) => Task {
                        step: m.step,
                        ..t.clone()
                    },
                    (Some(t), Some(s)) => Task {
                        state: s,
                        round: t.round,
                        ready_on: t.ready_on,
                        ..Task::new(s != TaskState::NotApplicable)
                    },
                    (None, s) => Task::new(s != Some(TaskState::NotApplicable)),
                }
            })
            .collect();
        self.documents = documents.to_vec();
        self.available = available.to_vec();
        self.version = to.to_string();
    }
}
