//! What a caller asks of the engine ([`Command`]), who asks ([`Actor`]), and the
//! references commands carry: files the window stored ([`MaterialRef`]), documents an
//! approval issues ([`IssuedDocument`]) and the one submission ([`Submission`]).
//!
//! Commands are requests, not facts: the engine may refuse any of them. What happened is
//! an [`Event`](super::Event).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use onewindow_core::form::Value;

/// Who sends a command.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "role", content = "id")]
pub enum Actor {
    /// The single window (front desk), acting for the applicant.
    Window,
    /// A department, by id, acting as a whole (its own system, or a clerk with the
    /// department's token).
    Department(String),
    /// One reviewer of a department: signs steps, holds tasks, is transferred to.
    Reviewer {
        /// The department's id.
        department: String,
        /// The reviewer's id within it.
        reviewer: String,
    },
    /// An agent (代办员) following the projects assigned to them for the applicant.
    Agent(String),
    /// A supervisor (reads all; runs supervision).
    Supervisor,
    /// An analyst: reads plans and runs the simulator; acts on no project.
    Analyst,
    /// An administrator: deploys workflows and calendars, migrates projects.
    Admin,
    /// The platform itself (the supervision ticker).
    System,
}

impl Actor {
    /// The actor as one word: `window`, `department:<id>`, `supervisor`, `system` — how
    /// the API shows who did something, and the scope a caller's request ids live in.
    pub fn id(&self) -> String {
        match self {
            Actor::Window => "window".into(),
            Actor::Department(d) => format!("department:{d}"),
            Actor::Reviewer {
                department,
                reviewer,
            } => format!("department:{department}/{reviewer}"),
            Actor::Agent(a) => format!("agent:{a}"),
            Actor::Supervisor => "supervisor".into(),
            Actor::Analyst => "analyst".into(),
            Actor::Admin => "admin".into(),
            Actor::System => "system".into(),
        }
    }

    /// Parses a role as an identity file or a client certificate's mapping names it:
    /// `window`, `department:<id>`, `department:<id>/<reviewer>`, `agent:<id>`,
    /// `supervisor`, `analyst`, `admin` (never `system`: no caller is the platform).
    pub fn parse(s: &str) -> Option<Actor> {
        let named = |x: &str| !x.is_empty() && !x.contains('/');
        match s {
            "window" => Some(Actor::Window),
            "supervisor" => Some(Actor::Supervisor),
            "analyst" => Some(Actor::Analyst),
            "admin" => Some(Actor::Admin),
            _ => {
                if let Some(a) = s.strip_prefix("agent:") {
                    return named(a).then(|| Actor::Agent(a.to_string()));
                }
                let d = s.strip_prefix("department:")?;
                match d.split_once('/') {
                    Some((d, r)) if named(d) && named(r) => Some(Actor::Reviewer {
                        department: d.to_string(),
                        reviewer: r.to_string(),
                    }),
                    Some(_) => None,
                    None => named(d).then(|| Actor::Department(d.to_string())),
                }
            }
        }
    }

    /// Who the record names when this caller acts on a project: analysts and
    /// administrators act with a supervisor's powers and are recorded as the supervisor
    /// (the engine's rules know the actors of a project, not the platform's other roles).
    pub fn acting(&self) -> Actor {
        match self {
            Actor::Analyst | Actor::Admin => Actor::Supervisor,
            other => other.clone(),
        }
    }
}

impl Actor {
    /// The department the actor belongs to, if any.
    #[inline]
    pub fn department(&self) -> Option<&str> {
        match self {
            Actor::Department(d) => Some(d),
            Actor::Reviewer { department, .. } => Some(department),
            _ => None,
        }
    }

    /// Who signs for this actor: the reviewer's id, or `department` for the department
    /// as a whole.
    pub fn signer(&self) -> Option<&str> {
        match self {
            Actor::Department(_) => Some(DEPARTMENT_SIGNER),
            Actor::Reviewer { reviewer, .. } => Some(reviewer),
            _ => None,
        }
    }
}

/// The signer name of a department acting as a whole.
pub const DEPARTMENT_SIGNER: &str = "department";

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
    /// When it was issued: set in the project's state from the approval's event (the
    /// event itself does not repeat its own time), for the document's seal. Which
    /// department issued it follows from the plan (the item that produces it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<NaiveDateTime>,
}

/// What the window hands in to create a project: the one form and the one set of
/// materials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Submission {
    /// The applicant.
    pub applicant: String,
    /// An assigned agent (代办员), if any.
    pub agent: Option<String>,
    /// Form values by field id.
    pub form: BTreeMap<String, Value>,
    /// Materials handed in.
    pub materials: Vec<MaterialRef>,
    /// The site checked against the workflow's blueprint (一张蓝图) at the window, when
    /// one was handed in: checked at the edge, where the blueprint is loaded; a blocking
    /// finding refuses the submission, and the result becomes part of the record.
    pub site: Option<onewindow_core::site::SiteCheck>,
}

/// What a caller asks the engine to do.
/// Serialized only to fingerprint a request (`store::service::fingerprint`): what a
/// request asked, so that its id cannot be reused for another command.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "command")]
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
    /// Supervision: warn about tasks nearing their due date, flag those past it, give
    /// yellow and red cards, record art. 32's deemed acceptance.
    Tick,
    /// A reviewer signs the current step with an opinion (passes it); a delegate signs the
    /// opinion the delegator asked for.
    Sign {
        /// Item id.
        item: String,
        /// The opinion (审查意见).
        opinion: String,
    },
    /// The holder hands the task to another reviewer of the department: it is theirs (转办).
    Transfer {
        /// Item id.
        item: String,
        /// The reviewer taking it.
        to: String,
    },
    /// The holder (or a signer) asks another reviewer for an opinion; the task comes back
    /// to them to decide (委派).
    Delegate {
        /// Item id.
        item: String,
        /// The delegate.
        to: String,
    },
    /// A signer adds another before or after themselves on the current step (加签).
    AddSigner {
        /// Item id.
        item: String,
        /// The added reviewer.
        reviewer: String,
        /// Before the adder (the adder then signs after them), else after.
        before: bool,
    },
    /// A department withdraws its own decision before anything that depends on it
    /// started (撤回).
    Recall {
        /// Item id.
        item: String,
    },
    /// A department returns the project to an earlier item whose document must change
    /// (退回): that item re-opens with a fresh round, and every item depending on it
    /// re-opens in turn.
    ReturnTo {
        /// The department's own open item.
        item: String,
        /// The earlier, approved item to return to.
        to: String,
        /// Why (required).
        reason: String,
    },
    /// The window, the agent or supervision urges a department on an open task (催办).
    Urge {
        /// Item id.
        item: String,
        /// What the urging says.
        note: String,
    },
    /// The window assigns an agent (代办员) to the project.
    AssignAgent {
        /// The agent's id.
        agent: String,
    },
    /// An administrator moves the project to another version of its workflow.
    Migrate {
        /// The version to move to.
        version: String,
    },
    /// The working-day calendar changed (a new year's schedule): every running task's
    /// due date is derived again.
    Rederive {
        /// Why, for the record (e.g. the notice that published the schedule).
        reason: String,
    },
}

impl Command {
    /// The command's kind as the fingerprint spells it (`submit`, `approve`, …): a label
    /// for metrics and logs that never carries a payload.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Submit { .. } => "submit",
            Command::Claim { .. } => "claim",
            Command::Approve { .. } => "approve",
            Command::Reject { .. } => "reject",
            Command::RequestSupplement { .. } => "request_supplement",
            Command::ProvideSupplement { .. } => "provide_supplement",
            Command::StartSpecial { .. } => "start_special",
            Command::EndSpecial { .. } => "end_special",
            Command::Extend { .. } => "extend",
            Command::Resubmit { .. } => "resubmit",
            Command::ReportMilestone { .. } => "report_milestone",
            Command::ProvideMaterials { .. } => "provide_materials",
            Command::Withdraw { .. } => "withdraw",
            Command::Tick => "tick",
            Command::Sign { .. } => "sign",
            Command::Transfer { .. } => "transfer",
            Command::Delegate { .. } => "delegate",
            Command::AddSigner { .. } => "add_signer",
            Command::Recall { .. } => "recall",
            Command::ReturnTo { .. } => "return_to",
            Command::Urge { .. } => "urge",
            Command::AssignAgent { .. } => "assign_agent",
            Command::Rederive { .. } => "rederive",
            Command::Migrate { .. } => "migrate",
        }
    }
}
