//! A project's state: its tasks (one per workflow item), the documents available, the
//! materials on file. The state is the fold of the events ([`Project::apply`]); nothing
//! else changes it. [`ProjectView`] pairs a state with its plan for queries by item id.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use onewindow_core::form::Form;
use onewindow_core::plan::{Plan, Stage};

use super::*;

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
    /// Open: the department holds the task — ready, claimed, or suspended while the
    /// applicant supplements or a special procedure runs. The one definition behind a
    /// department's queue, the open-task index and supervision's lists.
    #[inline]
    pub fn is_open(self) -> bool {
        matches!(
            self,
            TaskState::Ready | TaskState::Claimed | TaskState::Suspended
        )
    }

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
    /// The current step, an index into the item's steps (0 when it declares none).
    #[serde(default)]
    pub step: u16,
    /// When the current step is due: its own limit, or acceptance's five working days.
    #[serde(default)]
    pub step_due: Option<NaiveDate>,
    /// The current step overran its own limit.
    #[serde(default)]
    pub step_overdue: bool,
    /// The current step's signatures, added signers and delegation, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desk: Option<Box<Desk>>,
    /// The reviewer who holds the task (claimed it, or had it transferred to them).
    #[serde(default)]
    pub assignee: Option<String>,
    /// The yellow card's deadline (督办): given when the task went overdue.
    #[serde(default)]
    pub yellow: Option<NaiveDate>,
    /// A red card (整改) was given: still open past the yellow card's deadline.
    #[serde(default)]
    pub red: bool,
    /// The day the task was last urged (催办), which limits how often.
    #[serde(default)]
    pub urged_on: Option<NaiveDate>,
}

/// What lies on a task's desk in its current step: signatures and votes, signers added
/// (加签), a delegation under way (委派). Apart from the task and boxed: most tasks never
/// have any, and a task is copied on every new round (this keeps a task under half the
/// size it would be).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Desk {
    /// Signatures and votes on the current step.
    #[serde(default)]
    pub signed: Vec<Signature>,
    /// Signers added to the current step.
    #[serde(default)]
    pub added: Vec<AddedSigner>,
    /// A delegation under way: (delegator, delegate).
    #[serde(default)]
    pub delegated: Option<(String, String)>,
}

/// One signature on a step: who, for whom, pass or not (the opinion is in the event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The reviewer (or `department` for the department acting as a whole).
    pub reviewer: String,
    /// Passed the step; false: voted to reject.
    pub pass: bool,
    /// Signed as a delegate of this reviewer: an opinion that returns the task to them.
    pub on_behalf: Option<String>,
}

/// A signer added to a step (加签).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedSigner {
    /// The added reviewer.
    pub reviewer: String,
    /// Who added them.
    pub by: String,
    /// Before the adder (前加签: the adder signs after them) or after (后加签).
    pub before: bool,
}

/// The cards of electronic supervision (电子监察).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Card {
    /// Over the limit: a supervision notice (督办) with a deadline to finish.
    Yellow,
    /// Still open past that deadline: a rectification notice (整改).
    Red,
}

impl Card {
    /// The card's id (`yellow`, `red`).
    pub fn as_str(self) -> &'static str {
        match self {
            Card::Yellow => "yellow",
            Card::Red => "red",
        }
    }
}

impl Task {
    pub(super) fn new(applies: bool) -> Task {
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
            step: 0,
            step_due: None,
            step_overdue: false,
            desk: None,
            assignee: None,
            yellow: None,
            red: false,
            urged_on: None,
        }
    }

    /// Signatures and votes on the current step.
    #[inline]
    pub fn signed(&self) -> &[Signature] {
        self.desk.as_ref().map_or(&[], |d| &d.signed)
    }

    /// Signers added to the current step.
    #[inline]
    pub fn added(&self) -> &[AddedSigner] {
        self.desk.as_ref().map_or(&[], |d| &d.added)
    }

    /// A delegation under way: (delegator, delegate).
    #[inline]
    pub fn delegated(&self) -> Option<&(String, String)> {
        self.desk.as_ref().and_then(|d| d.delegated.as_ref())
    }

    /// The desk, made when first needed.
    pub(super) fn desk_mut(&mut self) -> &mut Desk {
        self.desk.get_or_insert_with(Box::default)
    }

    /// The date supervision must look at the task by, while its clock runs: its due date,
    /// or its step's if earlier (a step's own limit, art. 32's acceptance). What the
    /// deadline index keeps.
    #[inline]
    pub fn deadline(&self) -> Option<NaiveDate> {
        match (self.due, self.step_due) {
            (Some(d), Some(s)) => Some(d.min(s)),
            (d, s) => d.or(s),
        }
    }

    /// Whether the clock is running.
    #[inline]
    pub fn running(&self) -> bool {
        matches!(self.state, TaskState::Ready | TaskState::Claimed)
    }

    /// Whether the task is open: see [`TaskState::is_open`].
    pub fn is_open(&self) -> bool {
        self.state.is_open()
    }

    /// Whether supervision lists the task as overdue: open and flagged overdue this
    /// round. A suspended task stays on the list: the days it used before the clock
    /// stopped were past its limit, and asking for a supplement must not hide that.
    pub fn is_overdue(&self) -> bool {
        self.is_open() && self.overdue
    }

    /// Whether supervision lists the task as warned: open, warned this round, and not
    /// (yet) overdue.
    pub fn is_warned(&self) -> bool {
        self.is_open() && self.warned && !self.overdue
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
    pub(crate) id: std::sync::Arc<str>,
    /// Workflow id.
    pub(crate) workflow: String,
    /// Pinned workflow version.
    pub(crate) version: String,
    /// Applicant.
    pub(crate) applicant: String,
    /// Assigned agent.
    pub(crate) agent: Option<String>,
    /// The form. Shared, like the materials: set once at submission (materials change
    /// only when the applicant files more), while the simulator copies a restored city's
    /// projects two hundred times a forecast — the form and the forty-odd materials were
    /// most of each copy.
    pub(crate) form: std::sync::Arc<Form>,
    /// Materials on file (latest per material id), one set for every department.
    pub(crate) materials: std::sync::Arc<Vec<MaterialRef>>,
    /// Lifecycle status.
    pub(crate) status: Status,
    /// The open stage (none before the first opens and after completion).
    pub(crate) stage: Option<Stage>,
    /// One task per workflow item, by item index.
    pub(crate) tasks: Vec<Task>,
    /// Issued documents by document index.
    pub(crate) documents: Vec<Option<IssuedDocument>>,
    /// Whether each document is available to the items that require it: issued,
    /// supplied by a material handed in, or waived (only an inapplicable item issues it).
    pub(crate) available: Vec<bool>,
    /// Events applied.
    pub(crate) seq: u64,
    /// Submission time.
    pub(crate) submitted: NaiveDateTime,
    /// The time of the last event: the record never goes back before it. (Snapshots
    /// written before this field existed read as the epoch; the next event sets it.)
    #[serde(default)]
    pub(crate) last_at: NaiveDateTime,
    /// The audit chain after the last event (`store::chain`): kept by the durable store,
    /// which seals each event with it, and carried in snapshots so that a project is
    /// restored without hashing its whole log. The engine never reads it; `None` in
    /// memory and in snapshots taken before the chain began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) chain: Option<ChainHash>,
}

/// What a project is, read-only: the fields are the engine's, changed only by
/// [`Project::apply`] (and [`Project::from_submitted`]), so that the state stays the
/// fold of the events; the chain value is the durable store's ([`Project::seal`]).
impl Project {
    /// Project id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// Workflow id.
    pub fn workflow(&self) -> &str {
        &self.workflow
    }
    /// Pinned workflow version.
    pub fn version(&self) -> &str {
        &self.version
    }
    /// Applicant.
    pub fn applicant(&self) -> &str {
        &self.applicant
    }
    /// Assigned agent.
    pub fn agent(&self) -> Option<&str> {
        self.agent.as_deref()
    }
    /// The form.
    pub fn form(&self) -> &Form {
        &self.form
    }
    /// Materials on file (latest per material id).
    pub fn materials(&self) -> &[MaterialRef] {
        &self.materials
    }
    /// Lifecycle status.
    pub fn status(&self) -> Status {
        self.status
    }
    /// The open stage.
    pub fn stage(&self) -> Option<Stage> {
        self.stage
    }
    /// One task per workflow item, by item index.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }
    /// Issued documents by document index.
    pub fn documents(&self) -> &[Option<IssuedDocument>] {
        &self.documents
    }
    /// Whether each document is available to the items that require it.
    pub fn available(&self) -> &[bool] {
        &self.available
    }
    /// Events applied.
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// Submission time.
    pub fn submitted(&self) -> NaiveDateTime {
        self.submitted
    }
    /// The time of the last event.
    pub fn last_at(&self) -> NaiveDateTime {
        self.last_at
    }
    /// The audit chain after the last event, when the durable store keeps one.
    pub fn chain(&self) -> Option<ChainHash> {
        self.chain
    }

    /// Records the audit chain's value after the last event applied: the durable
    /// store's, which hashes each event as it seals it (the engine does no hashing), so
    /// that a snapshot carries it and the next event is sealed on it. The only write to a
    /// project outside [`Project::apply`], and it touches nothing the engine reads.
    pub fn seal(&mut self, chain: ChainHash) {
        self.chain = Some(chain);
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
