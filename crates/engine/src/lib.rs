//! The engine: a deterministic state machine for projects going through joint approval.
//!
//! No IO, no clock, no randomness: a command, the project's state, its compiled [`Plan`]
//! and `now` go in; events (and effects to run once the events are stored) come out; the
//! state is the fold of the events ([`Project::apply`]). A refused command changes
//! nothing and returns a typed [`Refusal`].
//!
//! 1. [`notice::pre_review`] checks a form and the materials handed in against every item
//!    that applies, and says everything missing at once (一次性告知).
//! 2. A submission ([`execute`] without a state) creates a project on a pinned workflow version (一窗受理); an
//!    incomplete submission is refused with the same notice.
//! 3. Stages open in order. When a stage opens, each applicable item of it becomes a task;
//!    a task whose required documents all exist is *ready* and its clock starts: due at
//!    the end of the limit's last working day, the start day not counted.
//! 4. Departments claim, approve (issuing documents, which make later tasks ready at
//!    once), reject, or ask for a supplement (补正), which stops the clock until the window
//!    provides it; a special procedure (art. 45) stops it too; one extension (art. 42) adds
//!    the item's `extension`.
//! 5. When every applicable item of a stage is approved the next stage opens; after
//!    acceptance the project is complete. [`Command::Tick`] emits a warning as a task nears
//!    its due date and an overdue event when it passes it, each once.
//!
//! ```
//! use onewindow_engine::{Actor, Command, Engine, MaterialRef, Submission};
//! # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows");
//! let (plan, _) = onewindow_core::plan::compile_file(&dir.join("complaint.yaml")).unwrap();
//! let mut engine = Engine::default();
//! let version = engine.deploy(plan);
//! let at = |s: &str| s.parse::<chrono::NaiveDateTime>().unwrap();
//! let form = [
//!     ("complainant", onewindow_core::form::Value::String("张三".into())),
//!     ("subject", onewindow_core::form::Value::String("fees".into())),
//!     ("department_named", onewindow_core::form::Value::String("某局".into())),
//! ];
//! let submission = Submission {
//!     applicant: "张三".into(),
//!     agent: None,
//!     form: form.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
//!     materials: vec![MaterialRef::named("complaint_letter"), MaterialRef::named("evidence")],
//!     site: None,
//! };
//! let submit = Command::Submit { version, submission };
//! let out = engine.execute("C-1", &Actor::Window, submit, at("2025-09-26T09:00:00")).unwrap();
//! // Registration is ready at once, due one working day later (Sunday 09-28 is a make-up day).
//! assert!(out.events.iter().any(|e| e.event.summary() == "task-ready C01 due 2025-09-28"));
//! let approve = Command::Approve { item: "C01".into(), numbers: Default::default() };
//! let supervision = Actor::Department("supervision".into());
//! engine.execute("C-1", &supervision, approve, at("2025-09-26T15:00:00")).unwrap();
//! // C03 applies only to approval delays: the reply waits for the investigation alone.
//! assert_eq!(engine.project("C-1").unwrap().task_state("C02"), Some(onewindow_engine::TaskState::Ready));
//! ```
//!
//! # Layout
//! - [`command`]: what callers ask ([`Command`], [`Actor`], [`Submission`], [`MaterialRef`]).
//! - [`event`]: what happened ([`Event`], [`Envelope`]) and what the edge must do ([`Effect`]).
//! - [`refusal`]: why a command was refused ([`Refusal`]).
//! - [`state`]: a project's state ([`Project`], [`Task`], [`TaskState`]).
//! - [`apply`]: the only code that changes a state — one event at a time.
//! - [`decide`]: checking a command and emitting its events ([`Project::submit`],
//!   [`Project::handle`]).
//! - [`cascade`]: what follows within the same command (readiness, stages, completion,
//!   supervision's flags).
//! - [`clock`]: due dates and day counts in an item's unit.
//! - [`notice`]: pre-review and the one-time notice; [`supervision`]: the warning policy,
//!   the queries and the assessment.
//! - [`memory`]: [`Engine`], many projects in memory.
//! - [`execute`] (here): the one way into the engine, for every host.

#![deny(missing_docs)]

pub mod apply;
pub mod cascade;
pub mod chain_hash;
pub mod clock;
pub mod command;
pub mod decide;
pub mod event;
pub mod memory;
pub mod migrate;
pub mod notice;
pub mod office;
pub mod refusal;
pub mod state;
pub mod supervision;

use std::ops::Deref;

use chrono::NaiveDateTime;

pub use chain_hash::ChainHash;
pub use command::{Actor, Command, IssuedDocument, MaterialRef, Submission, DEPARTMENT_SIGNER};
pub use event::{Effect, Envelope, Event, Outcome, EVENT_VERSION};
pub use memory::Engine;
pub use notice::Notice;
use onewindow_core::plan::Plan;
pub use refusal::Refusal;
pub use state::{
    AddedSigner, Card, Desk, Project, ProjectView, Signature, Status, Suspension, Task, TaskState,
};
pub use supervision::Policy;

/// Runs one command on a project's state, whatever hosts it: the in-memory [`Engine`],
/// the durable service and the simulator all come through here, so "submit or handle"
/// is decided in one place.
///
/// `state` is the project's slot: `None` before the project exists. A `Submit` fills
/// it; any other command needs it filled. `plan_of` resolves a workflow version (the
/// submission's, or the one the project pinned) to its plan; the plan used is returned
/// with the outcome, so the host can index the new state without looking it up again.
///
/// Time only moves forward on a project's record: a command at a time before its last
/// event, or outside the years the platform computes with, is refused before anything
/// else is looked at.
///
/// # Errors
/// A [`Refusal`]; `state` is then exactly as it was.
pub fn execute<P: Deref<Target = Plan>>(
    state: &mut Option<Project>,
    id: &str,
    plan_of: impl Fn(&str) -> Option<P>,
    policy: &Policy,
    actor: &Actor,
    command: Command,
    now: NaiveDateTime,
) -> Result<(Outcome, P), Refusal> {
    execute_with(true, state, id, plan_of, policy, actor, command, now)
}

/// [`execute`] for a host that runs no effects — the simulator, which has no department
/// to notify: the same events and the same state, and [`Outcome::effects`] left empty
/// instead of built and thrown away.
///
/// # Errors
/// As [`execute`].
pub fn execute_without_effects<P: Deref<Target = Plan>>(
    state: &mut Option<Project>,
    id: &str,
    plan_of: impl Fn(&str) -> Option<P>,
    policy: &Policy,
    actor: &Actor,
    command: Command,
    now: NaiveDateTime,
) -> Result<(Outcome, P), Refusal> {
    execute_with(false, state, id, plan_of, policy, actor, command, now)
}

/// [`execute`]'s body; `effects`: whether the host runs the command's effects.
#[allow(clippy::too_many_arguments)] // execute's seven, and which of the two it is
fn execute_with<P: Deref<Target = Plan>>(
    effects: bool,
    state: &mut Option<Project>,
    id: &str,
    plan_of: impl Fn(&str) -> Option<P>,
    policy: &Policy,
    actor: &Actor,
    command: Command,
    now: NaiveDateTime,
) -> Result<(Outcome, P), Refusal> {
    if !onewindow_core::calendar::in_range(now.date()) {
        return Err(Refusal::TimeOutOfRange(now));
    }
    if let Some(p) = state.as_ref().filter(|p| now < p.last_at) {
        return Err(Refusal::BeforeRecord {
            at: now,
            last: p.last_at,
        });
    }
    match (command, state) {
        (
            Command::Submit {
                version,
                submission,
            },
            slot @ None,
        ) => {
            let plan = plan_of(&version).ok_or(Refusal::UnknownVersion(version))?;
            let (project, out) = Project::submit(&plan, id, actor, submission, now, effects)?;
            *slot = Some(project);
            Ok((out, plan))
        }
        (Command::Submit { .. }, Some(_)) => Err(Refusal::ProjectExists(id.to_string())),
        (_, None) => Err(Refusal::UnknownProject(id.to_string())),
        // The one command that needs two plans: the project's and the one it moves to.
        // The new one is returned: the state is laid out on it now.
        (Command::Migrate { version }, Some(project)) => {
            let old = plan_of(&project.version)
                .ok_or_else(|| Refusal::UnknownVersion(project.version.clone()))?;
            let new = plan_of(&version).ok_or(Refusal::UnknownVersion(version))?;
            let out = project.migrate(&old, &new, actor, now, effects)?;
            Ok((out, new))
        }
        (command, Some(project)) => {
            let plan = plan_of(&project.version)
                .ok_or_else(|| Refusal::UnknownVersion(project.version.clone()))?;
            let out = project.handle(&plan, policy, actor, command, now, effects)?;
            Ok((out, plan))
        }
    }
}

/// Folds a project's events into its state, from nothing, following it from version to
/// version when it was migrated (`None`: a version `plan_of` does not know).
///
/// # Panics
/// If the log is empty or does not start with `Submitted`.
pub fn fold_versions<P: Deref<Target = Plan>>(
    plan_of: impl Fn(&str) -> Option<P>,
    events: &[Envelope],
) -> Option<Project> {
    let Event::Submitted { version, .. } = &events[0].event else {
        panic!("a project's log starts with Submitted");
    };
    let mut plan = plan_of(version)?;
    let mut p = Project::from_submitted(&plan, &events[0]);
    for e in &events[1..] {
        p.apply(&plan, e);
        if let Event::Migrated { to, .. } = &e.event {
            plan = plan_of(to)?;
        }
    }
    Some(p)
}

/// Folds a project's events into its state, from nothing (a log on one version).
///
/// # Panics
/// If the log is empty or does not start with `Submitted`.
pub fn fold(plan: &Plan, events: &[Envelope]) -> Project {
    let mut p = Project::from_submitted(plan, &events[0]);
    for e in &events[1..] {
        p.apply(plan, e);
    }
    p
}

/// The tasks a run of events handed to departments, as the engine's
/// [`Effect::Dispatch`] effects would have said: a review item becoming ready with a due
/// date, or resubmitted. For events this process did not decide (another node committed
/// them), so that their department's stream hears of them too.
pub fn dispatched(plan: &Plan, events: &[Envelope]) -> Vec<Effect> {
    let mut out = Vec::new();
    for e in events {
        let (item, due) = match &e.event {
            Event::TaskReady {
                item, due: Some(d), ..
            }
            | Event::Resubmitted { item, due: d, .. } => (item, *d),
            _ => continue,
        };
        let Some(i) = plan.item_index(item) else {
            continue;
        };
        let it = &plan.items[i];
        if let (Some(d), onewindow_core::spec::ItemKind::Review) = (it.department, it.kind) {
            out.push(Effect::Dispatch {
                department: plan.departments[d].id.clone(),
                project: e.project.to_string(),
                item: item.clone(),
                due,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Event, TaskState};

    #[test]
    fn a_task_state_id_is_its_serde_name() {
        for s in TaskState::ALL {
            assert_eq!(
                serde_json::to_value(s).expect("serializes"),
                serde_json::Value::from(s.as_str())
            );
        }
    }

    #[test]
    fn the_event_kinds_are_every_serialized_type() {
        // serde names every variant it knows when it meets one it does not.
        let err = serde_json::from_str::<Event>(r#"{"type":"no_such_event"}"#)
            .expect_err("an unknown type is refused")
            .to_string();
        let listed: Vec<&str> = err
            .split("expected one of ")
            .nth(1)
            .and_then(|rest| rest.split(" at line").next())
            .expect("serde lists the variants")
            .split(", ")
            .map(|v| v.trim_matches('`'))
            .collect();
        assert_eq!(listed, Event::KINDS);
        assert_eq!(Event::Completed.kind(), "completed");
    }
}
#[cfg(test)]
mod size {
    /// Tasks and events are moved on every command: what only some need (a step's
    /// signatures, a migration's summary) is boxed so that they stay this small (64-bit).
    #[test]
    fn tasks_and_events_stay_small() {
        assert!(std::mem::size_of::<super::Task>() <= 168);
        assert!(std::mem::size_of::<super::Event>() <= 152);
    }
}
