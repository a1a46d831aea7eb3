//! Why the engine refused a command ([`Refusal`]). A refused command changes nothing; the
//! refusal's stable code is what scenario files and API status details name.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use super::*;

/// Why a command was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum Refusal {
    /// No such project.
    #[error("unknown project `{0}`")]
    UnknownProject(String),
    /// The project id is taken.
    #[error("project `{0}` exists already")]
    ProjectExists(String),
    /// No such workflow version deployed.
    #[error("unknown workflow version `{0}`")]
    UnknownVersion(String),
    /// The submission is incomplete: the one-time notice says what is missing.
    #[error("the submission is incomplete: {} item(s) lack something, {} form problem(s)", .0.items.len(), .0.form.len())]
    Incomplete(Box<Notice>),
    /// The workflow has no such item.
    #[error("unknown item `{0}`")]
    UnknownItem(String),
    /// The item's condition is false for this project.
    #[error("item `{0}` does not apply to this project")]
    NotApplicable(String),
    /// The actor may not send this command.
    #[error("{actor} may not {action}")]
    NotAllowed {
        /// Who tried.
        actor: String,
        /// What.
        action: String,
    },
    /// A department acting on another department's task.
    #[error("item `{item}` belongs to department `{owner}`, not `{actor}`")]
    NotYourTask {
        /// Item id.
        item: String,
        /// The item's department.
        owner: String,
        /// The department that tried.
        actor: String,
    },
    /// The task is not in a state that allows the command.
    #[error("item `{item}` is {state}; cannot {action}")]
    IllegalTransition {
        /// Item id.
        item: String,
        /// Its state.
        state: TaskState,
        /// What was tried.
        action: String,
    },
    /// The limit was extended already (art. 42 allows once).
    #[error("item `{0}` was extended already")]
    AlreadyExtended(String),
    /// The item allows no extension.
    #[error("item `{0}` allows no extension")]
    NoExtension(String),
    /// A reason is required.
    #[error("a reason is required")]
    ReasonRequired,
    /// The command names a material or document the workflow does not know.
    #[error("unknown {kind} `{id}`")]
    UnknownReference {
        /// material or document.
        kind: String,
        /// The id.
        id: String,
    },
    /// An approval names no number for a document it issues, and the issuing
    /// department declares no numbering pattern to draw one from.
    #[error("document `{document}` ({name}) needs its number (文号): give it, or declare the department's `numbering`")]
    NumberRequired {
        /// The document's id.
        document: String,
        /// Its name in the workflow.
        name: String,
    },
    /// A document number that cannot be one (`plan::numbering::check_number`).
    #[error("the number of document `{document}`: {why}")]
    BadNumber {
        /// The document's id.
        document: String,
        /// What is wrong.
        why: String,
    },
    /// The project is completed or withdrawn.
    #[error("project is {0}")]
    Closed(String),
    /// The time of the command is before the project's last event: the record never
    /// goes back (the server's clock stepped back).
    #[error("the time {at} is before the project's last event at {last}")]
    BeforeRecord {
        /// The command's time.
        at: NaiveDateTime,
        /// The last event's time.
        last: NaiveDateTime,
    },
    /// The request id was used before by the same caller for another command: a retry
    /// must repeat its command exactly, and a new command needs a new id.
    #[error("request id `{0}` was used for another command")]
    RequestReused(String),
    /// The command's time is outside the years the platform computes with
    /// ([`onewindow_core::calendar::FIRST_YEAR`]..=[`onewindow_core::calendar::LAST_YEAR`]).
    #[error("the time {0} is outside the years the platform computes with")]
    TimeOutOfRange(NaiveDateTime),
    /// A reviewer acting on a task another reviewer of the department holds.
    #[error("item `{item}` is held by `{assignee}`")]
    NotAssignee {
        /// Item id.
        item: String,
        /// Who holds it.
        assignee: String,
    },
    /// A reviewer who is not (or no longer) a signer of the current step.
    #[error("`{signer}` cannot sign step `{step}` of item `{item}` now: {why}")]
    NotSigner {
        /// Item id.
        item: String,
        /// Step id.
        step: String,
        /// Who tried.
        signer: String,
        /// Why not (not named, signed already, waits for another).
        why: String,
    },
    /// The task waits for a delegate's opinion (委派).
    #[error("item `{item}` waits for the opinion of `{to}`, to whom it was delegated")]
    Delegated {
        /// Item id.
        item: String,
        /// The delegate.
        to: String,
    },
    /// A decision cannot be recalled once something depending on it started.
    #[error("item `{item}`'s decision cannot be recalled: {dependent}")]
    DependentStarted {
        /// Item id.
        item: String,
        /// What started (an item, or a stage moved on).
        dependent: String,
    },
    /// A return must go to an approved item this one depends on.
    #[error("item `{item}` cannot return to `{to}`: {why}")]
    NotUpstream {
        /// The returning item.
        item: String,
        /// Where to.
        to: String,
        /// Why not.
        why: String,
    },
    /// The task was urged already today: urging is limited to once a day per task.
    #[error("item `{0}` was urged already today")]
    UrgedRecently(String),
}

impl Refusal {
    /// A stable kebab-case code for scenario files and API status details.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownProject(_) => "unknown-project",
            Refusal::ProjectExists(_) => "project-exists",
            Refusal::UnknownVersion(_) => "unknown-version",
            Refusal::Incomplete(_) => "incomplete",
            Refusal::UnknownItem(_) => "unknown-item",
            Refusal::NotApplicable(_) => "not-applicable",
            Refusal::NotAllowed { .. } => "not-allowed",
            Refusal::NotYourTask { .. } => "not-your-task",
            Refusal::IllegalTransition { .. } => "illegal-transition",
            Refusal::AlreadyExtended(_) => "already-extended",
            Refusal::NoExtension(_) => "no-extension",
            Refusal::ReasonRequired => "reason-required",
            Refusal::UnknownReference { .. } => "unknown-reference",
            Refusal::NumberRequired { .. } => "number-required",
            Refusal::BadNumber { .. } => "bad-number",
            Refusal::Closed(_) => "closed",
            Refusal::BeforeRecord { .. } => "before-record",
            Refusal::RequestReused(_) => "request-reused",
            Refusal::TimeOutOfRange(_) => "time-out-of-range",
            Refusal::NotAssignee { .. } => "not-assignee",
            Refusal::NotSigner { .. } => "not-signer",
            Refusal::Delegated { .. } => "delegated",
            Refusal::DependentStarted { .. } => "dependent-started",
            Refusal::NotUpstream { .. } => "not-upstream",
            Refusal::UrgedRecently(_) => "urged-recently",
        }
    }

    /// What the refusal is about, by name: the values a message about it quotes (an
    /// item, the reviewer it was handed to, a document, a state…). The API sends them
    /// with the code (`google.rpc.ErrorInfo`'s metadata), so that a reader can say the
    /// refusal in its own words and with the workflow's names, not parse the English.
    pub fn subjects(&self) -> Vec<(&'static str, String)> {
        let one = |k: &'static str, v: &String| vec![(k, v.clone())];
        match self {
            Refusal::UnknownProject(p) | Refusal::ProjectExists(p) => one("project", p),
            Refusal::UnknownVersion(v) => one("version", v),
            Refusal::Incomplete(_) | Refusal::ReasonRequired => Vec::new(),
            Refusal::UnknownItem(i)
            | Refusal::NotApplicable(i)
            | Refusal::AlreadyExtended(i)
            | Refusal::NoExtension(i)
            | Refusal::UrgedRecently(i) => one("item", i),
            Refusal::NotAllowed { actor, action } => {
                vec![("actor", actor.clone()), ("action", action.clone())]
            }
            Refusal::NotYourTask { item, owner, actor } => vec![
                ("item", item.clone()),
                ("owner", owner.clone()),
                ("actor", actor.clone()),
            ],
            Refusal::IllegalTransition {
                item,
                state,
                action,
            } => vec![
                ("item", item.clone()),
                ("state", state.as_str().to_string()),
                ("action", action.clone()),
            ],
            Refusal::UnknownReference { kind, id } => {
                vec![("kind", kind.clone()), ("id", id.clone())]
            }
            Refusal::NumberRequired { document, .. } => one("document", document),
            Refusal::BadNumber { document, why } => {
                vec![("document", document.clone()), ("why", why.clone())]
            }
            Refusal::Closed(status) => one("status", status),
            Refusal::BeforeRecord { at, last } => {
                vec![("at", at.to_string()), ("last", last.to_string())]
            }
            Refusal::RequestReused(id) => one("request_id", id),
            Refusal::TimeOutOfRange(at) => vec![("at", at.to_string())],
            Refusal::NotAssignee { item, assignee } => {
                vec![("item", item.clone()), ("assignee", assignee.clone())]
            }
            Refusal::NotSigner {
                item,
                step,
                signer,
                why,
            } => vec![
                ("item", item.clone()),
                ("step", step.clone()),
                ("signer", signer.clone()),
                ("why", why.clone()),
            ],
            Refusal::Delegated { item, to } => vec![("item", item.clone()), ("to", to.clone())],
            Refusal::DependentStarted { item, dependent } => {
                vec![("item", item.clone()), ("dependent", dependent.clone())]
            }
            Refusal::NotUpstream { item, to, why } => vec![
                ("item", item.clone()),
                ("to", to.clone()),
                ("why", why.clone()),
            ],
        }
    }

    /// Whether the refusal is about the time of record rather than the command: the
    /// server's clock stepped back or is far off. Such a refusal is not the caller's
    /// doing, says nothing about the command, and is not recorded as its answer: a retry
    /// once the clock is right is decided afresh.
    pub fn is_about_the_clock(&self) -> bool {
        matches!(
            self,
            Refusal::BeforeRecord { .. } | Refusal::TimeOutOfRange(_)
        )
    }
}
