//! What happened to a project ([`Event`]), in its durable [`Envelope`], and what the edge
//! must do once the events are stored ([`Effect`]).
//!
//! Events are forever: each carries the figures of its moment (due dates, days used), so
//! applying one never needs the calendar, and the envelope is versioned from day one.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use onewindow_core::form::Value;
use onewindow_core::plan::Stage;

use super::*;

mod describe;

/// The version of the event envelope written by this code. Readers accept every version
/// up to this one (see `store` for the compatibility rules once events are on disk).
pub const EVENT_VERSION: u16 = 1;

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
        /// The first step's due date (its own limit, or acceptance's five days).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step_due: Option<NaiveDate>,
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
        /// The step's new due date.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step_due: Option<NaiveDate>,
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
        /// The step's new due date.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step_due: Option<NaiveDate>,
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
        /// The first step's due date (its own limit, or acceptance's five days).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step_due: Option<NaiveDate>,
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
    /// The site handed in at submission was checked against the blueprint (一张蓝图):
    /// the findings that did not block, with their figures, as the record of day 0.
    SiteChecked {
        /// The blueprint's id.
        blueprint: String,
        /// The site's area, m².
        site_m2: f64,
        /// The findings (none blocking: a blocking one refuses the submission).
        findings: Vec<onewindow_core::site::Finding>,
    },
    /// A reviewer signed the current step (or voted to reject it).
    StepSigned {
        /// Item id.
        item: String,
        /// Step id.
        step: String,
        /// The reviewer (`department` for the department as a whole).
        reviewer: String,
        /// The opinion.
        opinion: String,
        /// Passed; false: voted to reject.
        pass: bool,
        /// Signed as the delegate of this reviewer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_behalf: Option<String>,
    },
    /// The current step is complete; the next one begins.
    StepCompleted {
        /// Item id.
        item: String,
        /// The step completed.
        step: String,
        /// Deemed accepted (art. 32): the department said nothing within five working
        /// days, so the application counts as accepted from the day it arrived.
        deemed: bool,
        /// The next step's due date, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_due: Option<NaiveDate>,
    },
    /// A step overran its own limit while the item did not (环节超时).
    StepOverdue {
        /// Item id.
        item: String,
        /// Step id.
        step: String,
        /// The step's due date.
        due: NaiveDate,
    },
    /// The task was handed to another reviewer (转办).
    Transferred {
        /// Item id.
        item: String,
        /// The previous holder, if any.
        from: Option<String>,
        /// The new holder.
        to: String,
    },
    /// A reviewer asked another for an opinion; the task comes back to them (委派).
    Delegated {
        /// Item id.
        item: String,
        /// The delegator.
        from: String,
        /// The delegate.
        to: String,
    },
    /// A signer was added to the current step (加签).
    SignerAdded {
        /// Item id.
        item: String,
        /// Step id.
        step: String,
        /// The added reviewer.
        reviewer: String,
        /// Who added them.
        by: String,
        /// Before the adder, else after.
        before: bool,
    },
    /// The department withdrew its decision (撤回): the task is open again with its clock
    /// running from the days it had used; its documents are void.
    Recalled {
        /// Item id.
        item: String,
        /// New due date.
        due: NaiveDate,
        /// Provisional.
        provisional: bool,
    },
    /// The project was returned to this earlier item (退回): a fresh round, its
    /// documents void until it decides again.
    Returned {
        /// The item returned to.
        item: String,
        /// The item whose department returned it.
        by: String,
        /// Why.
        reason: String,
        /// Limit of the new round.
        limit: u32,
        /// Due date.
        due: NaiveDate,
        /// Provisional.
        provisional: bool,
        /// The first step's due date.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step_due: Option<NaiveDate>,
    },
    /// A task that depended on a returned or recalled item waits again; its decision
    /// and documents are void.
    Reopened {
        /// Item id.
        item: String,
        /// The item whose return or recall caused it.
        because: String,
    },
    /// Someone urged the department on the task (催办).
    Urged {
        /// Item id.
        item: String,
        /// What the urging says.
        note: String,
    },
    /// A step's outcome was copied to departments, read-only (抄送).
    Copied {
        /// Item id.
        item: String,
        /// Step id.
        step: String,
        /// The departments.
        departments: Vec<String>,
    },
    /// An agent (代办员) was assigned to the project.
    AgentAssigned {
        /// The agent's id.
        agent: String,
    },
    /// A new working-day calendar changed a running task's due date.
    DueRederived {
        /// Item id.
        item: String,
        /// The due date before.
        old: NaiveDate,
        /// Whether it was provisional.
        old_provisional: bool,
        /// The due date now.
        new: NaiveDate,
        /// Whether it still is provisional.
        provisional: bool,
        /// Why (the calendar deployed).
        reason: String,
    },
    /// The project moved to another version of its workflow; the new layout of its
    /// tasks and documents is carried here, so applying it needs no plan (what follows is
    /// applied with the new version's).
    Migrated {
        /// The version before.
        from: String,
        /// The version now.
        to: String,
        /// The new version's items, in its order, each carried or fresh.
        items: Vec<super::migrate::MigratedItem>,
        /// The documents on record, in the new version's order.
        documents: Vec<Option<IssuedDocument>>,
        /// Which documents are available, in the new version's order.
        available: Vec<bool>,
        /// What changed, for people (boxed: the event stays small for every other kind).
        summary: Box<super::migrate::MigrationSummary>,
    },
    /// A supervision card (电子监察): yellow with a notice and a deadline (督办), red with
    /// a rectification notice (整改).
    Carded {
        /// Item id.
        item: String,
        /// Yellow or red.
        card: Card,
        /// For a yellow card: the deadline to finish.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<NaiveDate>,
    },
}

/// The durable form of an event: versioned from day one, since events live for years.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Encoding version ([`EVENT_VERSION`]).
    pub v: u16,
    /// Project id.
    pub project: std::sync::Arc<str>,
    /// Position in the project's log, from 1.
    pub seq: u64,
    /// When (the command's `now`): civil time in the zone of the project's calendar,
    /// which is what days are counted by.
    pub at: NaiveDateTime,
    /// `at`'s offset from UTC in seconds, written by the service from the server's clock,
    /// which makes the instant absolute (`at` − offset is UTC). `None` in events written
    /// before offsets were recorded — read as the city's zone (ARCHITECTURE.md) — and in
    /// events the engine makes on a given civil time (simulations, tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i32>,
    /// Who caused it.
    pub actor: Actor,
    /// What happened.
    pub event: Event,
    /// The audit chain's hash of the project's log before this event
    /// (`store::chain`): set by the durable store when the event is written, so that
    /// changing, removing or reordering an earlier event shows. `None` in memory (the
    /// engine never hashes) and in events written before the chain began. Boxed: the
    /// engine makes millions of envelopes that never carry one, and 8 bytes move faster
    /// than 33.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Box<ChainHash>>,
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
        /// When it is due (the task is fresh: neither warned nor overdue).
        due: NaiveDate,
    },
    /// Tell a department (and its head) something about one of its tasks: a warning, a
    /// card, an urging, a copy of another step's outcome.
    NotifyDepartment {
        /// Department id.
        department: String,
        /// Project id.
        project: String,
        /// Item id.
        item: String,
        /// What happened, as an event summary.
        message: String,
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
