//! The engine: a deterministic state machine for projects going through joint approval.
//!
//! No IO, no clock, no randomness: a command, the project's state, its compiled [`Plan`]
//! and `now` go in; events (and effects to run once the events are stored) come out; the
//! state is the fold of the events ([`Project::apply`]). A refused command changes
//! nothing and returns a typed [`Refusal`].
//!
//! 1. [`notice::pre_review`] checks a form and the materials handed in against every item
//!    that applies, and says everything missing at once (一次性告知).
//! 2. [`Project::submit`] creates a project on a pinned workflow version (一窗受理); an
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
//! use onewindow::engine::{Actor, Command, Engine, MaterialRef, Submission};
//! # let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
//! let (plan, _) = onewindow::plan::compile_file(&dir.join("complaint.yaml")).unwrap();
//! let mut engine = Engine::default();
//! let version = engine.deploy(plan);
//! let at = |s: &str| s.parse::<chrono::NaiveDateTime>().unwrap();
//! let form = [
//!     ("complainant", onewindow::form::Value::String("张三".into())),
//!     ("subject", onewindow::form::Value::String("fees".into())),
//!     ("department_named", onewindow::form::Value::String("某局".into())),
//! ];
//! let submission = Submission {
//!     applicant: "张三".into(),
//!     agent: None,
//!     form: form.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
//!     materials: vec![MaterialRef::named("complaint_letter"), MaterialRef::named("evidence")],
//! };
//! let submit = Command::Submit { version, submission };
//! let out = engine.execute("C-1", &Actor::Window, submit, at("2025-09-26T09:00:00")).unwrap();
//! // Registration is ready at once, due one working day later (Sunday 09-28 is a make-up day).
//! assert!(out.events.iter().any(|e| e.event.summary() == "task-ready C01 due 2025-09-28"));
//! let approve = Command::Approve { item: "C01".into(), numbers: Default::default() };
//! let supervision = Actor::Department("supervision".into());
//! engine.execute("C-1", &supervision, approve, at("2025-09-26T15:00:00")).unwrap();
//! // C03 applies only to approval delays: the reply waits for the investigation alone.
//! assert_eq!(engine.project("C-1").unwrap().task_state("C02"), Some(onewindow::engine::TaskState::Ready));
//! ```

pub mod notice;
pub mod supervision;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::form::{Form, Value};
use crate::plan::{Plan, Stage};
use crate::spec::{ItemKind, Unit};
pub use notice::Notice;
pub use supervision::Policy;

/// The version of the event envelope written by this code. Readers accept every version
/// up to this one (see `store` for the compatibility rules once events are on disk).
pub const EVENT_VERSION: u16 = 1;

/// Who sends a command.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "role", content = "id")]
pub enum Actor {
    /// The single window (front desk), acting for the applicant.
    Window,
    /// A department, by id.
    Department(String),
    /// A supervisor (reads all; runs supervision).
    Supervisor,
    /// The platform itself (the supervision ticker).
    System,
}

/// A reference to a file the window stored; the engine never holds the bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialRef {
    /// The workflow's material id this file is.
    pub material: String,
    /// The file name as handed in.
    #[serde(default)]
    pub name: String,
    /// Content hash (hex SHA-256).
    #[serde(default)]
    pub sha256: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: u64,
    /// Where the window stored it.
    #[serde(default)]
    pub location: String,
}

impl MaterialRef {
    /// A reference with only the material id (tests, simulations).
    pub fn named(material: &str) -> MaterialRef {
        MaterialRef {
            material: material.to_string(),
            name: String::new(),
            sha256: String::new(),
            size: 0,
            location: String::new(),
        }
    }
}

/// A document issued by an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedDocument {
    /// Document id in the workflow.
    pub document: String,
    /// Its number (文号/证号).
    pub number: String,
}

/// What the window hands in to create a project: the one form and the one set of
/// materials.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The applicant.
    pub applicant: String,
    /// An assigned agent (代办员), if any.
    pub agent: Option<String>,
    /// Form values by field id.
    pub form: BTreeMap<String, Value>,
    /// Materials handed in.
    pub materials: Vec<MaterialRef>,
}

/// What a caller asks the engine to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// One submission at the window: creates the project (window only).
    Submit {
        /// The pinned workflow version ([`Plan::version`]).
        version: String,
        /// The form, the materials, the applicant and the agent.
        submission: Submission,
    },
    /// A department takes a ready task (签收).
    Claim {
        /// Item id.
        item: String,
    },
    /// A department approves, issuing the item's documents.
    Approve {
        /// Item id.
        item: String,
        /// Document id → number; a document without one is numbered `{project}/{document}`.
        numbers: BTreeMap<String, String>,
    },
    /// A department rejects with a reason (驳回).
    Reject {
        /// Item id.
        item: String,
        /// Why.
        reason: String,
    },
    /// A department asks the applicant for a supplement (补正); the clock stops.
    RequestSupplement {
        /// Item id.
        item: String,
        /// Material ids needed.
        needed: Vec<String>,
        /// Explanation for the applicant.
        note: String,
    },
    /// The window hands in the supplement; the clock runs again.
    ProvideSupplement {
        /// Item id.
        item: String,
        /// Materials added or replaced.
        materials: Vec<MaterialRef>,
    },
    /// A department starts a special procedure (art. 45: expert review, hearing,
    /// testing…); the clock stops.
    StartSpecial {
        /// Item id.
        item: String,
        /// Kind of procedure.
        kind: String,
    },
    /// The special procedure ends; the clock runs again.
    EndSpecial {
        /// Item id.
        item: String,
    },
    /// A department extends the limit once by the item's `extension` (art. 42).
    Extend {
        /// Item id.
        item: String,
        /// Why (required).
        reason: String,
    },
    /// The window resubmits corrected materials for a rejected item: a new review round
    /// with a fresh limit.
    Resubmit {
        /// Item id.
        item: String,
        /// Corrected materials.
        materials: Vec<MaterialRef>,
    },
    /// The window records a milestone (land grant signed, construction finished).
    ReportMilestone {
        /// Item id.
        item: String,
        /// Document id → number for what the milestone produces.
        numbers: BTreeMap<String, String>,
    },
    /// The window hands in materials for later stages (or replaces earlier ones); tasks
    /// that waited for them become ready.
    ProvideMaterials {
        /// The materials.
        materials: Vec<MaterialRef>,
    },
    /// The applicant withdraws the project.
    Withdraw {
        /// Why.
        reason: String,
    },
    /// Supervision: warn about tasks nearing their due date, flag those past it.
    Tick,
}

/// Every change to a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Event {
    /// The project was created by a complete submission.
    Submitted {
        /// Workflow id.
        workflow: String,
        /// Pinned workflow version.
        version: String,
        /// Applicant.
        applicant: String,
        /// Assigned agent.
        agent: Option<String>,
        /// Form values.
        form: BTreeMap<String, Value>,
        /// Materials handed in.
        materials: Vec<MaterialRef>,
    },
    /// A stage opened.
    StageOpened {
        /// The stage.
        stage: Stage,
    },
    /// Every applicable item of the stage is approved.
    StageCompleted {
        /// The stage.
        stage: Stage,
    },
    /// A task exists but waits for documents.
    TaskOpened {
        /// Item id.
        item: String,
    },
    /// A task's documents are all there: its clock starts today.
    TaskReady {
        /// Item id.
        item: String,
        /// Limit of this round, in the item's unit.
        limit: u32,
        /// Due date (none for milestones).
        due: Option<NaiveDate>,
        /// The due date counted through a year with no published schedule.
        provisional: bool,
    },
    /// The department took the task.
    TaskClaimed {
        /// Item id.
        item: String,
    },
    /// The department approved; documents issued.
    TaskApproved {
        /// Item id.
        item: String,
        /// Issued documents.
        documents: Vec<IssuedDocument>,
        /// Days of the limit used (suspensions not counted).
        used: u32,
    },
    /// The department rejected.
    TaskRejected {
        /// Item id.
        item: String,
        /// Why.
        reason: String,
        /// Days of the limit used.
        used: u32,
    },
    /// The clock stopped for a supplement.
    SupplementRequested {
        /// Item id.
        item: String,
        /// Material ids needed.
        needed: Vec<String>,
        /// Explanation.
        note: String,
        /// Days of the limit used so far.
        used: u32,
    },
    /// The supplement arrived; the clock runs again.
    SupplementProvided {
        /// Item id.
        item: String,
        /// Materials added or replaced.
        materials: Vec<MaterialRef>,
        /// Days the clock stood still.
        suspended: u32,
        /// New due date.
        due: NaiveDate,
        /// Provisional.
        provisional: bool,
    },
    /// A special procedure started; the clock stopped.
    SpecialStarted {
        /// Item id.
        item: String,
        /// Kind.
        kind: String,
        /// Days of the limit used so far.
        used: u32,
    },
    /// The special procedure ended; the clock runs again.
    SpecialEnded {
        /// Item id.
        item: String,
        /// Days the clock stood still.
        suspended: u32,
        /// New due date.
        due: NaiveDate,
        /// Provisional.
        provisional: bool,
    },
    /// The limit was extended (once).
    Extended {
        /// Item id.
        item: String,
        /// Days added.
        days: u32,
        /// Why.
        reason: String,
        /// New due date (none while the clock is stopped).
        due: Option<NaiveDate>,
        /// Provisional.
        provisional: bool,
    },
    /// A rejected item was resubmitted: new round, fresh limit.
    Resubmitted {
        /// Item id.
        item: String,
        /// Corrected materials.
        materials: Vec<MaterialRef>,
        /// Limit of the new round.
        limit: u32,
        /// Due date.
        due: NaiveDate,
        /// Provisional.
        provisional: bool,
    },
    /// The task nears its due date (once per round).
    Warned {
        /// Item id.
        item: String,
        /// Due date.
        due: NaiveDate,
        /// Working days left.
        remaining: u32,
    },
    /// The task passed its due date (once per round).
    Overdue {
        /// Item id.
        item: String,
        /// Due date.
        due: NaiveDate,
    },
    /// Materials were handed in (added or replaced), for every department to use.
    MaterialsProvided {
        /// The materials.
        materials: Vec<MaterialRef>,
    },
    /// The project was withdrawn; open tasks are closed.
    Withdrawn {
        /// Why.
        reason: String,
    },
    /// Acceptance is done: the project is complete.
    Completed,
}

impl Event {
    /// Every event type as serialized, in declaration order: what a watcher may filter on.
    pub const KINDS: [&'static str; 19] = [
        "submitted",
        "stage_opened",
        "stage_completed",
        "task_opened",
        "task_ready",
        "task_claimed",
        "task_approved",
        "task_rejected",
        "supplement_requested",
        "supplement_provided",
        "special_started",
        "special_ended",
        "extended",
        "resubmitted",
        "warned",
        "overdue",
        "materials_provided",
        "withdrawn",
        "completed",
    ];

    /// The item the event is about, if any.
    pub fn item(&self) -> Option<&str> {
        use Event::*;
        match self {
            TaskOpened { item }
            | TaskReady { item, .. }
            | TaskClaimed { item }
            | TaskApproved { item, .. }
            | TaskRejected { item, .. }
            | SupplementRequested { item, .. }
            | SupplementProvided { item, .. }
            | SpecialStarted { item, .. }
            | SpecialEnded { item, .. }
            | Extended { item, .. }
            | Resubmitted { item, .. }
            | Warned { item, .. }
            | Overdue { item, .. } => Some(item),
            _ => None,
        }
    }

    /// The event's type as serialized (`task_ready`, …).
    pub fn kind(&self) -> &'static str {
        use Event::*;
        match self {
            Submitted { .. } => "submitted",
            StageOpened { .. } => "stage_opened",
            StageCompleted { .. } => "stage_completed",
            TaskOpened { .. } => "task_opened",
            TaskReady { .. } => "task_ready",
            TaskClaimed { .. } => "task_claimed",
            TaskApproved { .. } => "task_approved",
            TaskRejected { .. } => "task_rejected",
            SupplementRequested { .. } => "supplement_requested",
            SupplementProvided { .. } => "supplement_provided",
            SpecialStarted { .. } => "special_started",
            SpecialEnded { .. } => "special_ended",
            Extended { .. } => "extended",
            Resubmitted { .. } => "resubmitted",
            Warned { .. } => "warned",
            Overdue { .. } => "overdue",
            MaterialsProvided { .. } => "materials_provided",
            Withdrawn { .. } => "withdrawn",
            Completed => "completed",
        }
    }

    /// Whether the event moves a task from one state to another (what throughput counts).
    pub fn is_task_transition(&self) -> bool {
        use Event::*;
        matches!(
            self,
            TaskOpened { .. }
                | TaskReady { .. }
                | TaskClaimed { .. }
                | TaskApproved { .. }
                | TaskRejected { .. }
                | SupplementRequested { .. }
                | SupplementProvided { .. }
                | SpecialStarted { .. }
                | SpecialEnded { .. }
                | Resubmitted { .. }
        )
    }

    /// One line for people and for scenario files, e.g. `task-ready I02 due 2025-01-27`.
    pub fn summary(&self) -> String {
        use Event::*;
        let due = |d: &Option<NaiveDate>, p: bool| match d {
            Some(d) => format!(" due {d}{}", if p { "?" } else { "" }),
            None => String::new(),
        };
        match self {
            Submitted { workflow, .. } => format!("submitted ({workflow})"),
            StageOpened { stage } => format!("stage-opened {}", stage.id()),
            StageCompleted { stage } => format!("stage-completed {}", stage.id()),
            TaskOpened { item } => format!("task-opened {item}"),
            TaskReady {
                item,
                due: d,
                provisional,
                ..
            } => format!("task-ready {item}{}", due(d, *provisional)),
            TaskClaimed { item } => format!("claimed {item}"),
            TaskApproved {
                item, documents, ..
            } => format!(
                "approved {item} [{}]",
                documents
                    .iter()
                    .map(|d| d.document.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TaskRejected { item, reason, .. } => format!("rejected {item}: {reason}"),
            SupplementRequested { item, needed, .. } => {
                format!("supplement-requested {item} [{}]", needed.join(", "))
            }
            SupplementProvided {
                item,
                suspended,
                due: d,
                provisional,
                ..
            } => {
                format!(
                    "supplement-provided {item} +{suspended}{}",
                    due(&Some(*d), *provisional)
                )
            }
            SpecialStarted { item, kind, .. } => format!("special-started {item} {kind}"),
            SpecialEnded {
                item,
                suspended,
                due: d,
                provisional,
            } => {
                format!(
                    "special-ended {item} +{suspended}{}",
                    due(&Some(*d), *provisional)
                )
            }
            Extended {
                item,
                days,
                due: d,
                provisional,
                ..
            } => format!("extended {item} +{days}{}", due(d, *provisional)),
            Resubmitted {
                item,
                due: d,
                provisional,
                ..
            } => format!("resubmitted {item}{}", due(&Some(*d), *provisional)),
            Warned {
                item,
                due: d,
                remaining,
            } => format!("warned {item} due {d} ({remaining} left)"),
            Overdue { item, due: d } => format!("overdue {item} due {d}"),
            MaterialsProvided { materials } => format!(
                "materials-provided [{}]",
                materials
                    .iter()
                    .map(|m| m.material.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Withdrawn { reason } => format!("withdrawn: {reason}"),
            Completed => "completed".to_string(),
        }
    }
}

/// The durable form of an event: versioned from day one, since events live for years.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Encoding version ([`EVENT_VERSION`]).
    pub v: u16,
    /// Project id.
    pub project: String,
    /// Position in the project's log, from 1.
    pub seq: u64,
    /// When (the command's `now`).
    pub at: NaiveDateTime,
    /// Who caused it.
    pub actor: Actor,
    /// What happened.
    pub event: Event,
}

/// Work to do after the events are stored (acknowledged means durable: never before).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Push a newly ready task to its department's queue.
    Dispatch {
        /// Department id.
        department: String,
        /// Project id.
        project: String,
        /// Item id.
        item: String,
    },
    /// Tell the window (and the applicant) something needs them: a supplement, a
    /// rejection, a milestone to report, the project's completion.
    NotifyWindow {
        /// Project id.
        project: String,
        /// What happened, as an event summary.
        message: String,
    },
}

/// What a successful command produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The events, in order; already applied to the state.
    pub events: Vec<Envelope>,
    /// Effects to run once the events are durable.
    pub effects: Vec<Effect>,
}

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
    /// The project is completed or withdrawn.
    #[error("project is {0}")]
    Closed(String),
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
            Refusal::Closed(_) => "closed",
        }
    }
}

/// Where a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Its stage has not opened.
    Pending,
    /// The item's condition is false for this project.
    NotApplicable,
    /// Open, waiting for documents (a rejected prerequisite keeps it here).
    Waiting,
    /// Documents there, clock running, not yet claimed.
    Ready,
    /// Claimed by its department, clock running.
    Claimed,
    /// Clock stopped: supplement or special procedure.
    Suspended,
    /// Approved; documents issued.
    Approved,
    /// Rejected; blocks what depends on it until resubmitted.
    Rejected,
    /// Closed by withdrawal.
    Closed,
}

impl TaskState {
    /// Every state.
    pub const ALL: [TaskState; 9] = [
        TaskState::Pending,
        TaskState::NotApplicable,
        TaskState::Waiting,
        TaskState::Ready,
        TaskState::Claimed,
        TaskState::Suspended,
        TaskState::Approved,
        TaskState::Rejected,
        TaskState::Closed,
    ];

    /// The state's id as stored and sent over the API (`not_applicable`), without going
    /// through serde on a hot path.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::NotApplicable => "not_applicable",
            TaskState::Waiting => "waiting",
            TaskState::Ready => "ready",
            TaskState::Claimed => "claimed",
            TaskState::Suspended => "suspended",
            TaskState::Approved => "approved",
            TaskState::Rejected => "rejected",
            TaskState::Closed => "closed",
        }
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // For people: the id, with a space instead of the underscore.
        match self {
            TaskState::NotApplicable => f.write_str("not applicable"),
            s => f.write_str(s.as_str()),
        }
    }
}

/// Why a task's clock is stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Suspension {
    /// Waiting for the applicant's supplement.
    Supplement {
        /// Materials needed.
        needed: Vec<String>,
    },
    /// A special procedure (art. 45).
    Special {
        /// Its kind.
        kind: String,
    },
}

/// One item for one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// State.
    pub state: TaskState,
    /// Review rounds started (1 after the first ready; +1 per resubmission).
    pub round: u32,
    /// Limit of this round, extension included.
    pub limit: u32,
    /// The one extension was granted this round.
    pub extended: bool,
    /// Claimed (kept across suspensions, so the task resumes as claimed).
    pub claimed: bool,
    /// The clock counts from the end of this date while running.
    pub clock_from: Option<NaiveDate>,
    /// Days used before `clock_from`.
    pub used: u32,
    /// Due date while the clock runs.
    pub due: Option<NaiveDate>,
    /// The due date is provisional.
    pub provisional: bool,
    /// Why the clock is stopped, and since when.
    pub suspension: Option<(Suspension, NaiveDate)>,
    /// Days not counted this round (supplements and special procedures).
    pub suspended_days: u32,
    /// Warned this round.
    pub warned: bool,
    /// Flagged overdue this round.
    pub overdue: bool,
    /// When the first round became ready.
    pub ready_on: Option<NaiveDate>,
    /// When it was approved or rejected.
    pub decided_on: Option<NaiveDate>,
    /// The last rejection's reason.
    pub rejection: Option<String>,
}

impl Task {
    fn new(applies: bool) -> Task {
        Task {
            state: if applies {
                TaskState::Pending
            } else {
                TaskState::NotApplicable
            },
            round: 0,
            limit: 0,
            extended: false,
            claimed: false,
            clock_from: None,
            used: 0,
            due: None,
            provisional: false,
            suspension: None,
            suspended_days: 0,
            warned: false,
            overdue: false,
            ready_on: None,
            decided_on: None,
            rejection: None,
        }
    }

    /// Whether the clock is running.
    pub fn running(&self) -> bool {
        matches!(self.state, TaskState::Ready | TaskState::Claimed)
    }
}

/// A project's lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// In progress.
    Active,
    /// Acceptance done.
    Completed,
    /// Withdrawn by the applicant.
    Withdrawn,
}

/// A project's state: the fold of its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Project id.
    pub id: String,
    /// Workflow id.
    pub workflow: String,
    /// Pinned workflow version.
    pub version: String,
    /// Applicant.
    pub applicant: String,
    /// Assigned agent.
    pub agent: Option<String>,
    /// The form.
    pub form: Form,
    /// Materials on file (latest per material id), one set for every department.
    pub materials: Vec<MaterialRef>,
    /// Lifecycle status.
    pub status: Status,
    /// The open stage (none before the first opens and after completion).
    pub stage: Option<Stage>,
    /// One task per workflow item, by item index.
    pub tasks: Vec<Task>,
    /// Issued documents by document index.
    pub documents: Vec<Option<IssuedDocument>>,
    /// Whether each document is available to the items that require it: issued,
    /// supplied by a material handed in, or waived (only an inapplicable item issues it).
    pub available: Vec<bool>,
    /// Events applied.
    pub seq: u64,
    /// Submission time.
    pub submitted: NaiveDateTime,
}

/// How a task's days are counted, and its dates computed, in the item's unit.
struct Clock<'a> {
    cal: &'a Calendar,
    unit: Unit,
}

impl Clock<'_> {
    fn due(&self, from: NaiveDate, days: u32) -> (NaiveDate, bool) {
        let d = match self.unit {
            Unit::WorkingDays => self.cal.add_working_days(from, days),
            Unit::CalendarDays => self.cal.add_calendar_days(from, days),
        };
        (d.date, d.provisional)
    }

    fn between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        match self.unit {
            Unit::WorkingDays => self.cal.count_working_days(from, to),
            Unit::CalendarDays => u32::try_from((to - from).num_days().max(0)).unwrap_or(u32::MAX),
        }
    }
}

fn clock(plan: &Plan, item: usize) -> Clock<'_> {
    Clock {
        cal: &plan.calendar,
        unit: plan.items[item].limit.unit,
    }
}

/// Collects events, applying each to the project as it is emitted, so that the state the
/// engine reports is by construction the fold of its events.
struct Emitter<'a> {
    plan: &'a Plan,
    at: NaiveDateTime,
    actor: &'a Actor,
    out: Outcome,
}

impl Emitter<'_> {
    fn emit(&mut self, project: &mut Project, event: Event) {
        let env = Envelope {
            v: EVENT_VERSION,
            project: project.id.clone(),
            seq: project.seq + 1,
            at: self.at,
            actor: self.actor.clone(),
            event,
        };
        project.apply(self.plan, &env);
        self.out.events.push(env);
    }
}

impl Project {
    /// One submission at the window: pre-review, then the project with its first events.
    ///
    /// # Errors
    /// [`Refusal::Incomplete`] with the one-time notice, or [`Refusal::NotAllowed`] for
    /// anyone but the window.
    pub fn submit(
        plan: &Plan,
        id: &str,
        actor: &Actor,
        submission: Submission,
        now: NaiveDateTime,
    ) -> Result<(Project, Outcome), Refusal> {
        let Submission {
            applicant,
            agent,
            form,
            materials,
        } = submission;
        if *actor != Actor::Window {
            return Err(not_allowed(actor, "submit a project"));
        }
        let notice = notice::pre_review(plan, &form, &materials, notice::SUBMISSION_STAGES);
        if !notice.complete {
            return Err(Refusal::Incomplete(Box::new(notice)));
        }
        let env = Envelope {
            v: EVENT_VERSION,
            project: id.to_string(),
            seq: 1,
            at: now,
            actor: actor.clone(),
            event: Event::Submitted {
                workflow: plan.id.clone(),
                version: plan.version.clone(),
                applicant,
                agent,
                form,
                materials,
            },
        };
        let mut project = Project::from_submitted(plan, &env);
        let mut em = Emitter {
            plan,
            at: now,
            actor,
            out: Outcome {
                events: vec![env],
                effects: Vec::new(),
            },
        };
        em.emit(
            &mut project,
            Event::StageOpened {
                stage: Stage::Attraction,
            },
        );
        project.open_stage(&mut em, Stage::Attraction);
        project.advance(&mut em);
        Ok((project, em.out))
    }

    /// The state right after a `Submitted` event (the first event of every project).
    ///
    /// # Panics
    /// If `env` is not a `Submitted` event: a log that does not start with one is not a
    /// project's log.
    pub fn from_submitted(plan: &Plan, env: &Envelope) -> Project {
        let Event::Submitted {
            workflow,
            version,
            applicant,
            agent,
            form,
            materials,
        } = &env.event
        else {
            panic!(
                "a project's log starts with Submitted, found {}",
                env.event.summary()
            );
        };
        let (form, _) = notice::check_form(&plan.fields, form);
        let applies = notice::applicable(plan, &form);
        let mut project = Project {
            id: env.project.clone(),
            workflow: workflow.clone(),
            version: version.clone(),
            applicant: applicant.clone(),
            agent: agent.clone(),
            form,
            materials: Vec::new(),
            status: Status::Active,
            stage: None,
            tasks: applies.iter().map(|&a| Task::new(a)).collect(),
            documents: vec![None; plan.documents.len()],
            available: vec![false; plan.documents.len()],
            seq: env.seq,
            submitted: env.at,
        };
        for d in 0..plan.documents.len() {
            // A document only an inapplicable item would issue is not waited for.
            project.available[d] = plan.producer[d].is_some_and(|p| !applies[p]);
        }
        project.add_materials(plan, materials);
        project
    }

    fn has_material(&self, id: &str) -> bool {
        self.materials.iter().any(|m| m.material == id)
    }

    /// Files materials (latest per material id) and makes the documents they stand in
    /// for available.
    fn add_materials(&mut self, plan: &Plan, materials: &[MaterialRef]) {
        for m in materials {
            match self.materials.iter_mut().find(|x| x.material == m.material) {
                Some(x) => *x = m.clone(),
                None => self.materials.push(m.clone()),
            }
            if let Some(mi) = plan.material_index(&m.material) {
                for &d in &plan.materials[mi].supplies {
                    self.available[d] = true;
                }
            }
        }
    }

    /// Applies one event: the only way a project's state changes.
    pub fn apply(&mut self, plan: &Plan, env: &Envelope) {
        self.seq = env.seq;
        let today = env.at.date();
        let ix = |item: &str| plan.item_index(item);
        match &env.event {
            Event::Submitted { .. } => {}
            Event::StageOpened { stage } => {
                self.stage = Some(*stage);
            }
            Event::StageCompleted { .. } => {}
            Event::TaskOpened { item } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].state = TaskState::Waiting;
                }
            }
            Event::TaskReady {
                item,
                limit,
                due,
                provisional,
            } => {
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    *t = Task {
                        state: TaskState::Ready,
                        round: t.round + 1,
                        ..Task::new(true)
                    };
                    t.limit = *limit;
                    t.clock_from = Some(today);
                    t.due = *due;
                    t.provisional = *provisional;
                    t.ready_on = Some(today);
                }
            }
            Event::TaskClaimed { item } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].state = TaskState::Claimed;
                    self.tasks[i].claimed = true;
                }
            }
            Event::TaskApproved {
                item,
                documents,
                used,
            } => {
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    t.state = TaskState::Approved;
                    t.used = *used;
                    t.decided_on = Some(today);
                    t.clock_from = None;
                    for d in documents {
                        if let Some(di) = plan.document_index(&d.document) {
                            self.documents[di] = Some(d.clone());
                            self.available[di] = true;
                        }
                    }
                }
            }
            Event::TaskRejected { item, reason, used } => {
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    t.state = TaskState::Rejected;
                    t.used = *used;
                    t.decided_on = Some(today);
                    t.clock_from = None;
                    t.rejection = Some(reason.clone());
                }
            }
            Event::SupplementRequested {
                item, needed, used, ..
            } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].suspend(
                        Suspension::Supplement {
                            needed: needed.clone(),
                        },
                        today,
                        *used,
                    );
                }
            }
            Event::SpecialStarted { item, kind, used } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].suspend(Suspension::Special { kind: kind.clone() }, today, *used);
                }
            }
            Event::SupplementProvided {
                item,
                materials,
                suspended,
                due,
                provisional,
            } => {
                self.add_materials(plan, materials);
                if let Some(i) = ix(item) {
                    self.tasks[i].resume(today, *suspended, *due, *provisional);
                }
            }
            Event::SpecialEnded {
                item,
                suspended,
                due,
                provisional,
            } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].resume(today, *suspended, *due, *provisional);
                }
            }
            Event::Extended {
                item,
                days,
                due,
                provisional,
                ..
            } => {
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    t.limit += days;
                    t.extended = true;
                    if t.running() {
                        t.due = *due;
                        t.provisional = *provisional;
                    }
                }
            }
            Event::Resubmitted {
                item,
                materials,
                limit,
                due,
                provisional,
            } => {
                self.add_materials(plan, materials);
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    *t = Task {
                        state: TaskState::Ready,
                        round: t.round + 1,
                        ready_on: t.ready_on,
                        ..Task::new(true)
                    };
                    t.limit = *limit;
                    t.clock_from = Some(today);
                    t.due = Some(*due);
                    t.provisional = *provisional;
                }
            }
            Event::Warned { item, .. } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].warned = true;
                }
            }
            Event::Overdue { item, .. } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].overdue = true;
                    self.tasks[i].warned = true;
                }
            }
            Event::MaterialsProvided { materials } => self.add_materials(plan, materials),
            Event::Withdrawn { .. } => {
                self.status = Status::Withdrawn;
                for t in &mut self.tasks {
                    if matches!(
                        t.state,
                        TaskState::Waiting
                            | TaskState::Ready
                            | TaskState::Claimed
                            | TaskState::Suspended
                            | TaskState::Rejected
                    ) {
                        t.state = TaskState::Closed;
                        t.clock_from = None;
                        t.due = None;
                    }
                }
            }
            Event::Completed => {
                self.status = Status::Completed;
                self.stage = None;
            }
        }
    }

    /// Handles a command for this project.
    ///
    /// # Errors
    /// A [`Refusal`] when the command is not allowed now; the project is then unchanged.
    pub fn handle(
        &mut self,
        plan: &Plan,
        policy: &Policy,
        actor: &Actor,
        command: Command,
        now: NaiveDateTime,
    ) -> Result<Outcome, Refusal> {
        match self.status {
            Status::Active => {}
            Status::Completed => return Err(Refusal::Closed("completed".into())),
            Status::Withdrawn => return Err(Refusal::Closed("withdrawn".into())),
        }
        let today = now.date();
        let mut em = Emitter {
            plan,
            at: now,
            actor,
            out: Outcome::default(),
        };
        match command {
            Command::Submit { .. } => return Err(Refusal::ProjectExists(self.id.clone())),
            Command::Claim { item } => {
                let i = self.review_task(plan, actor, &item)?;
                self.expect(i, &item, &[TaskState::Ready], "claim")?;
                em.emit(self, Event::TaskClaimed { item });
            }
            Command::Approve { item, numbers } => {
                let i = self.review_task(plan, actor, &item)?;
                self.expect(i, &item, &[TaskState::Ready, TaskState::Claimed], "approve")?;
                let documents = self.issue(plan, i, numbers)?;
                let used = self.used_now(plan, i, today);
                em.emit(
                    self,
                    Event::TaskApproved {
                        item,
                        documents,
                        used,
                    },
                );
                self.advance(&mut em);
            }
            Command::ReportMilestone { item, numbers } => {
                if *actor != Actor::Window {
                    return Err(not_allowed(actor, "report a milestone"));
                }
                let i = self.item(plan, &item)?;
                if plan.items[i].kind != ItemKind::Milestone {
                    return Err(not_allowed(
                        actor,
                        &format!("report review item `{item}` as a milestone"),
                    ));
                }
                self.expect(i, &item, &[TaskState::Ready], "report")?;
                let documents = self.issue(plan, i, numbers)?;
                em.emit(
                    self,
                    Event::TaskApproved {
                        item,
                        documents,
                        used: 0,
                    },
                );
                self.advance(&mut em);
            }
            Command::Reject { item, reason } => {
                let i = self.review_task(plan, actor, &item)?;
                if reason.trim().is_empty() {
                    return Err(Refusal::ReasonRequired);
                }
                self.expect(i, &item, &[TaskState::Ready, TaskState::Claimed], "reject")?;
                let used = self.used_now(plan, i, today);
                em.emit(
                    self,
                    Event::TaskRejected {
                        item: item.clone(),
                        reason: reason.clone(),
                        used,
                    },
                );
                em.out.effects.push(Effect::NotifyWindow {
                    project: self.id.clone(),
                    message: format!("rejected {item}: {reason}"),
                });
            }
            Command::RequestSupplement { item, needed, note } => {
                let i = self.review_task(plan, actor, &item)?;
                self.expect(
                    i,
                    &item,
                    &[TaskState::Ready, TaskState::Claimed],
                    "ask for a supplement",
                )?;
                if let Some(m) = needed.iter().find(|m| plan.material_index(m).is_none()) {
                    return Err(Refusal::UnknownReference {
                        kind: "material".to_string(),
                        id: m.clone(),
                    });
                }
                let used = self.used_now(plan, i, today);
                let message = format!("supplement-requested {item} [{}]", needed.join(", "));
                em.emit(
                    self,
                    Event::SupplementRequested {
                        item,
                        needed,
                        note,
                        used,
                    },
                );
                em.out.effects.push(Effect::NotifyWindow {
                    project: self.id.clone(),
                    message,
                });
            }
            Command::ProvideSupplement { item, materials } => {
                if *actor != Actor::Window {
                    return Err(not_allowed(actor, "provide a supplement"));
                }
                let i = self.item(plan, &item)?;
                self.expect_suspended(i, &item, true)?;
                check_materials(plan, &materials)?;
                let (suspended, due, provisional) = self.resume_figures(plan, i, today);
                em.emit(
                    self,
                    Event::SupplementProvided {
                        item,
                        materials,
                        suspended,
                        due,
                        provisional,
                    },
                );
            }
            Command::StartSpecial { item, kind } => {
                let i = self.review_task(plan, actor, &item)?;
                self.expect(
                    i,
                    &item,
                    &[TaskState::Ready, TaskState::Claimed],
                    "start a special procedure",
                )?;
                if kind.trim().is_empty() {
                    return Err(Refusal::ReasonRequired);
                }
                let used = self.used_now(plan, i, today);
                em.emit(self, Event::SpecialStarted { item, kind, used });
            }
            Command::EndSpecial { item } => {
                let i = self.review_task(plan, actor, &item)?;
                self.expect_suspended(i, &item, false)?;
                let (suspended, due, provisional) = self.resume_figures(plan, i, today);
                em.emit(
                    self,
                    Event::SpecialEnded {
                        item,
                        suspended,
                        due,
                        provisional,
                    },
                );
            }
            Command::Extend { item, reason } => {
                let i = self.review_task(plan, actor, &item)?;
                if reason.trim().is_empty() {
                    return Err(Refusal::ReasonRequired);
                }
                self.expect(
                    i,
                    &item,
                    &[TaskState::Ready, TaskState::Claimed, TaskState::Suspended],
                    "extend",
                )?;
                let days = plan.items[i].extension;
                if days == 0 {
                    return Err(Refusal::NoExtension(item));
                }
                if self.tasks[i].extended {
                    return Err(Refusal::AlreadyExtended(item));
                }
                let t = &self.tasks[i];
                let (due, provisional) = match t.clock_from {
                    Some(from) if t.running() => {
                        let (d, p) =
                            clock(plan, i).due(from, (t.limit + days).saturating_sub(t.used));
                        (Some(d), p)
                    }
                    _ => (None, false),
                };
                em.emit(
                    self,
                    Event::Extended {
                        item,
                        days,
                        reason,
                        due,
                        provisional,
                    },
                );
            }
            Command::Resubmit { item, materials } => {
                if *actor != Actor::Window {
                    return Err(not_allowed(actor, "resubmit"));
                }
                let i = self.item(plan, &item)?;
                self.expect(i, &item, &[TaskState::Rejected], "resubmit")?;
                check_materials(plan, &materials)?;
                let limit = plan.items[i].limit.days(plan.default_limits);
                let (due, provisional) = clock(plan, i).due(today, limit);
                em.emit(
                    self,
                    Event::Resubmitted {
                        item,
                        materials,
                        limit,
                        due,
                        provisional,
                    },
                );
            }
            Command::ProvideMaterials { materials } => {
                if *actor != Actor::Window {
                    return Err(not_allowed(actor, "hand in materials"));
                }
                check_materials(plan, &materials)?;
                em.emit(self, Event::MaterialsProvided { materials });
                self.advance(&mut em);
            }
            Command::Withdraw { reason } => {
                if *actor != Actor::Window {
                    return Err(not_allowed(actor, "withdraw a project"));
                }
                em.emit(self, Event::Withdrawn { reason });
            }
            Command::Tick => {
                if !matches!(actor, Actor::System | Actor::Supervisor) {
                    return Err(not_allowed(actor, "run supervision"));
                }
                self.supervise(plan, policy, today, &mut em);
            }
        }
        Ok(em.out)
    }

    fn item(&self, plan: &Plan, item: &str) -> Result<usize, Refusal> {
        let i = plan
            .item_index(item)
            .ok_or_else(|| Refusal::UnknownItem(item.to_string()))?;
        if self.tasks[i].state == TaskState::NotApplicable {
            return Err(Refusal::NotApplicable(item.to_string()));
        }
        Ok(i)
    }

    /// The task of a review item the actor's department owns.
    fn review_task(&self, plan: &Plan, actor: &Actor, item: &str) -> Result<usize, Refusal> {
        let Actor::Department(dept) = actor else {
            return Err(not_allowed(actor, "act on a department's task"));
        };
        let i = self.item(plan, item)?;
        let it = &plan.items[i];
        if it.kind == ItemKind::Milestone {
            return Err(not_allowed(
                actor,
                &format!("act on milestone `{item}` (the window reports it)"),
            ));
        }
        let owner = it
            .department
            .map_or("", |d| plan.departments[d].id.as_str());
        if owner != dept {
            return Err(Refusal::NotYourTask {
                item: item.to_string(),
                owner: owner.to_string(),
                actor: dept.clone(),
            });
        }
        Ok(i)
    }

    fn expect(
        &self,
        i: usize,
        item: &str,
        allowed: &[TaskState],
        action: &'static str,
    ) -> Result<(), Refusal> {
        let state = self.tasks[i].state;
        if allowed.contains(&state) {
            Ok(())
        } else {
            Err(Refusal::IllegalTransition {
                item: item.to_string(),
                state,
                action: action.to_string(),
            })
        }
    }

    fn expect_suspended(&self, i: usize, item: &str, supplement: bool) -> Result<(), Refusal> {
        let t = &self.tasks[i];
        let ok = match &t.suspension {
            Some((Suspension::Supplement { .. }, _)) => supplement,
            Some((Suspension::Special { .. }, _)) => !supplement,
            None => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Refusal::IllegalTransition {
                item: item.to_string(),
                state: t.state,
                action: if supplement {
                    "take a supplement (none was asked for)"
                } else {
                    "end a special procedure (none is running)"
                }
                .to_string(),
            })
        }
    }

    /// Days of the limit used by the end of `today`.
    fn used_now(&self, plan: &Plan, i: usize, today: NaiveDate) -> u32 {
        let t = &self.tasks[i];
        t.used
            + t.clock_from
                .map_or(0, |from| clock(plan, i).between(from, today))
    }

    /// When a suspended task resumes today: how many days stood still and the new due.
    fn resume_figures(&self, plan: &Plan, i: usize, today: NaiveDate) -> (u32, NaiveDate, bool) {
        let t = &self.tasks[i];
        let since = t.suspension.as_ref().map_or(today, |(_, d)| *d);
        let c = clock(plan, i);
        let suspended = c.between(since, today);
        let (due, provisional) = c.due(today, t.limit.saturating_sub(t.used));
        (suspended, due, provisional)
    }

    fn issue(
        &self,
        plan: &Plan,
        i: usize,
        mut numbers: BTreeMap<String, String>,
    ) -> Result<Vec<IssuedDocument>, Refusal> {
        if let Some(d) = numbers.keys().find(|d| {
            !plan.items[i]
                .produces
                .iter()
                .any(|&p| plan.documents[p].id == **d)
        }) {
            return Err(Refusal::UnknownReference {
                kind: "document".to_string(),
                id: d.clone(),
            });
        }
        Ok(plan.items[i]
            .produces
            .iter()
            .map(|&d| {
                let id = &plan.documents[d].id;
                IssuedDocument {
                    document: id.clone(),
                    number: numbers
                        .remove(id)
                        .unwrap_or_else(|| format!("{}/{id}", self.id)),
                }
            })
            .collect())
    }

    /// Opens what can open: ready tasks whose documents are all there, the next stage when
    /// the current one is done, completion after acceptance.
    fn advance(&mut self, em: &mut Emitter<'_>) {
        let plan = em.plan;
        let today = em.at.date();
        loop {
            let Some(stage) = self.stage else { return };
            // Waiting tasks of the stage whose documents have all arrived become ready.
            for i in 0..self.tasks.len() {
                if self.tasks[i].state == TaskState::Waiting
                    && plan.items[i].stage == stage
                    && self.inputs_ready(plan, i)
                {
                    self.make_ready(em, i, today);
                }
            }
            let done = plan
                .items
                .iter()
                .enumerate()
                .filter(|(_, it)| it.stage == stage)
                .all(|(i, _)| {
                    matches!(
                        self.tasks[i].state,
                        TaskState::Approved | TaskState::NotApplicable
                    )
                });
            if !done {
                return;
            }
            em.emit(self, Event::StageCompleted { stage });
            match Stage::ALL.get(stage.index() + 1) {
                Some(&next) => {
                    em.emit(self, Event::StageOpened { stage: next });
                    self.open_stage(em, next);
                }
                None => {
                    em.emit(self, Event::Completed);
                    em.out.effects.push(Effect::NotifyWindow {
                        project: self.id.clone(),
                        message: "completed".into(),
                    });
                    return;
                }
            }
        }
    }

    fn open_stage(&mut self, em: &mut Emitter<'_>, stage: Stage) {
        let plan = em.plan;
        let today = em.at.date();
        for i in 0..self.tasks.len() {
            if plan.items[i].stage != stage || self.tasks[i].state != TaskState::Pending {
                continue;
            }
            if self.inputs_ready(plan, i) {
                self.make_ready(em, i, today);
            } else {
                em.emit(
                    self,
                    Event::TaskOpened {
                        item: plan.items[i].id.clone(),
                    },
                );
            }
        }
    }

    /// Everything the item requires is there: its documents (issued, supplied or waived)
    /// and its materials (on file), and every item it waits for with `after` is done.
    fn inputs_ready(&self, plan: &Plan, i: usize) -> bool {
        let it = &plan.items[i];
        it.after.iter().all(|&j| self.waited_for_done(plan, j, 0))
            && it.requires.documents.iter().all(|&d| self.available[d])
            && it
                .requires
                .materials
                .iter()
                .all(|&m| self.has_material(&plan.materials[m].id))
    }

    /// An item waited for with `after` is done when approved; one that does not apply to
    /// this project is done when what *it* waited for is (as the plan's analysis counts
    /// it: a serial chain stays a chain when a link of it does not apply). `depth` stops
    /// a runaway on a plan the compiler would have refused (`after` cycles).
    fn waited_for_done(&self, plan: &Plan, j: usize, depth: usize) -> bool {
        match self.tasks[j].state {
            TaskState::Approved => true,
            TaskState::NotApplicable if depth < plan.items.len() => plan.items[j]
                .after
                .iter()
                .all(|&k| self.waited_for_done(plan, k, depth + 1)),
            _ => false,
        }
    }

    fn make_ready(&mut self, em: &mut Emitter<'_>, i: usize, today: NaiveDate) {
        let plan = em.plan;
        let it = &plan.items[i];
        let (limit, due, provisional) = match it.kind {
            ItemKind::Milestone => (0, None, false),
            ItemKind::Review => {
                let limit = it.limit.days(plan.default_limits);
                let (d, p) = clock(plan, i).due(today, limit);
                (limit, Some(d), p)
            }
        };
        em.emit(
            self,
            Event::TaskReady {
                item: it.id.clone(),
                limit,
                due,
                provisional,
            },
        );
        em.out.effects.push(match it.department {
            Some(d) if it.kind == ItemKind::Review => Effect::Dispatch {
                department: plan.departments[d].id.clone(),
                project: self.id.clone(),
                item: it.id.clone(),
            },
            _ => Effect::NotifyWindow {
                project: self.id.clone(),
                message: format!("milestone {} to report", it.id),
            },
        });
    }

    fn supervise(&mut self, plan: &Plan, policy: &Policy, today: NaiveDate, em: &mut Emitter<'_>) {
        for i in 0..self.tasks.len() {
            let t = &self.tasks[i];
            let (Some(due), true) = (t.due, t.running()) else {
                continue;
            };
            if t.overdue {
                continue;
            }
            let item = plan.items[i].id.clone();
            if today > due {
                em.emit(self, Event::Overdue { item, due });
            } else if !t.warned {
                let remaining = clock(plan, i).between(today, due);
                if policy.warns(remaining, t.limit) {
                    em.emit(
                        self,
                        Event::Warned {
                            item,
                            due,
                            remaining,
                        },
                    );
                }
            }
        }
    }
}

impl Task {
    fn suspend(&mut self, why: Suspension, today: NaiveDate, used: u32) {
        self.state = TaskState::Suspended;
        self.suspension = Some((why, today));
        self.used = used;
        self.clock_from = None;
        self.due = None;
    }

    fn resume(&mut self, today: NaiveDate, suspended: u32, due: NaiveDate, provisional: bool) {
        self.state = if self.claimed {
            TaskState::Claimed
        } else {
            TaskState::Ready
        };
        self.suspension = None;
        self.suspended_days += suspended;
        self.clock_from = Some(today);
        self.due = Some(due);
        self.provisional = provisional;
    }
}

fn not_allowed(actor: &Actor, action: &str) -> Refusal {
    let who = match actor {
        Actor::Window => "the window".to_string(),
        Actor::Department(d) => format!("department `{d}`"),
        Actor::Supervisor => "a supervisor".to_string(),
        Actor::System => "the system".to_string(),
    };
    Refusal::NotAllowed {
        actor: who,
        action: action.to_string(),
    }
}

fn check_materials(plan: &Plan, materials: &[MaterialRef]) -> Result<(), Refusal> {
    match materials
        .iter()
        .find(|m| plan.material_index(&m.material).is_none())
    {
        Some(m) => Err(Refusal::UnknownReference {
            kind: "material".to_string(),
            id: m.material.clone(),
        }),
        None => Ok(()),
    }
}

/// Many projects and the workflow versions they run on, in memory: the reference
/// implementation of the engine's edge, used by tests, the simulator and (behind the
/// store) the server.
#[derive(Debug)]
pub struct Engine {
    plans: BTreeMap<String, Arc<Plan>>,
    projects: BTreeMap<String, Project>,
    log: BTreeMap<String, Vec<Envelope>>,
    /// Supervision thresholds.
    pub policy: Policy,
    /// Keep every project's events in memory (timelines, assessment). The throughput
    /// benchmark turns it off.
    pub keep_log: bool,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(Policy::default())
    }
}

impl Engine {
    /// An engine that keeps its events (what everything but benchmarks wants).
    pub fn new(policy: Policy) -> Engine {
        Engine {
            plans: BTreeMap::new(),
            projects: BTreeMap::new(),
            log: BTreeMap::new(),
            policy,
            keep_log: true,
        }
    }

    /// Makes a compiled workflow available; returns its version. Deploying the same text
    /// twice is harmless.
    pub fn deploy(&mut self, plan: Plan) -> String {
        let version = plan.version.clone();
        self.plans
            .entry(version.clone())
            .or_insert_with(|| Arc::new(plan));
        version
    }

    /// A deployed plan by version.
    pub fn plan(&self, version: &str) -> Option<&Arc<Plan>> {
        self.plans.get(version)
    }

    /// A project's state.
    pub fn project(&self, id: &str) -> Option<ProjectView<'_>> {
        let p = self.projects.get(id)?;
        Some(ProjectView {
            project: p,
            plan: self.plans.get(&p.version)?,
        })
    }

    /// All projects, by id.
    pub fn projects(&self) -> impl Iterator<Item = ProjectView<'_>> {
        self.projects.values().filter_map(|p| {
            Some(ProjectView {
                project: p,
                plan: self.plans.get(&p.version)?,
            })
        })
    }

    /// A project's events (empty unless `keep_log`).
    pub fn events(&self, id: &str) -> &[Envelope] {
        self.log.get(id).map_or(&[], Vec::as_slice)
    }

    /// Every project's events, project by project.
    pub fn all_events(&self) -> impl Iterator<Item = &Envelope> {
        self.log.values().flatten()
    }

    /// Runs a command for a project. `Submit` creates it; `Tick` with project `"*"`
    /// supervises every active project.
    ///
    /// # Errors
    /// A [`Refusal`]; nothing changes.
    pub fn execute(
        &mut self,
        project: &str,
        actor: &Actor,
        command: Command,
        now: NaiveDateTime,
    ) -> Result<Outcome, Refusal> {
        let out = match command {
            Command::Submit {
                version,
                submission,
            } => {
                if self.projects.contains_key(project) {
                    return Err(Refusal::ProjectExists(project.to_string()));
                }
                let plan = self
                    .plans
                    .get(&version)
                    .ok_or_else(|| Refusal::UnknownVersion(version.clone()))?;
                let (p, out) = Project::submit(plan, project, actor, submission, now)?;
                self.projects.insert(project.to_string(), p);
                out
            }
            Command::Tick if project == "*" => {
                let mut all = Outcome::default();
                let ids: Vec<String> = self
                    .projects
                    .iter()
                    .filter(|(_, p)| p.status == Status::Active)
                    .map(|(id, _)| id.clone())
                    .collect();
                for id in ids {
                    let out = self.execute(&id, actor, Command::Tick, now)?;
                    all.events.extend(out.events);
                    all.effects.extend(out.effects);
                }
                return Ok(all);
            }
            command => {
                let p = self
                    .projects
                    .get_mut(project)
                    .ok_or_else(|| Refusal::UnknownProject(project.to_string()))?;
                let plan = self
                    .plans
                    .get(&p.version)
                    .ok_or_else(|| Refusal::UnknownVersion(p.version.clone()))?;
                p.handle(plan, &self.policy, actor, command, now)?
            }
        };
        if self.keep_log {
            self.log
                .entry(project.to_string())
                .or_default()
                .extend(out.events.iter().cloned());
        }
        Ok(out)
    }

    /// Pre-reviews an application against a deployed version.
    ///
    /// # Errors
    /// [`Refusal::UnknownVersion`].
    pub fn pre_review(
        &self,
        version: &str,
        form: &BTreeMap<String, Value>,
        materials: &[MaterialRef],
    ) -> Result<Notice, Refusal> {
        let plan = self
            .plans
            .get(version)
            .ok_or_else(|| Refusal::UnknownVersion(version.to_string()))?;
        Ok(notice::pre_review(
            plan,
            form,
            materials,
            notice::SUBMISSION_STAGES,
        ))
    }
}

/// A project together with its plan, for queries by item id.
#[derive(Debug, Clone, Copy)]
pub struct ProjectView<'a> {
    /// The state.
    pub project: &'a Project,
    /// Its pinned plan.
    pub plan: &'a Plan,
}

impl ProjectView<'_> {
    /// A task by item id.
    pub fn task(&self, item: &str) -> Option<&Task> {
        self.plan.item_index(item).map(|i| &self.project.tasks[i])
    }

    /// A task's state by item id.
    pub fn task_state(&self, item: &str) -> Option<TaskState> {
        self.task(item).map(|t| t.state)
    }
}

/// Folds a project's events into its state, from nothing.
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
