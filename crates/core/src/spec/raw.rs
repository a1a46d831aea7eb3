//! The workflow format as serde reads it: every field optional (so that a missing one is a
//! diagnostic with a position, not serde's first-and-only error), ids still strings.

use serde::{Deserialize, Serialize};

/// Which of an item's two limits a plan runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// The legal maximum (法定时限).
    Statutory,
    /// What the city promises (承诺时限), never more than the statutory limit.
    Committed,
}

impl LimitKind {
    /// The name as written in YAML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LimitKind::Statutory => "statutory",
            LimitKind::Committed => "committed",
        }
    }
}

/// What a limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Working days on the workflow's calendar (行政许可法 art. 82); the default.
    #[default]
    WorkingDays,
    /// Calendar days, where a law says "日" and means it; a period ending on a
    /// non-working day moves to the next working day.
    CalendarDays,
}

/// Whether a department reviews an item or the window records that something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A department reviews and decides within a limit.
    #[default]
    Review,
    /// The window records a fact (land grant signed, construction finished): no
    /// department, no limit, no government time.
    Milestone,
}

/// A workflow file as written. Every entity list merges by id under `extends`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorkflow {
    /// Stable id of the workflow; defaults to the file name without `.yaml`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free text for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A base workflow file, relative to this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// A calendar directory, relative to this file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
    /// A blueprint directory (一张蓝图: the city's plan layers), relative to this file:
    /// sites handed in with an application are checked against it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blueprint: Option<String>,
    /// The limits this workflow runs on unless told otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<LimitKind>,
    /// Display names of the five stages (ids fixed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<RawStage>>,
    /// Departments that review items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<RawDepartment>,
    /// The one form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<RawForm>,
    /// Materials the applicant hands in once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub materials: Vec<RawMaterial>,
    /// Documents items issue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<RawDocument>,
    /// Approval items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<RawItem>,
    /// In a variant: ids of the base's entities to drop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove: Option<RawRemove>,
}

/// A stage's id and display name.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawStage {
    /// One of attraction, reserve, approval, construction, acceptance.
    pub id: Option<String>,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A department.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDepartment {
    /// Stable id.
    pub id: Option<String>,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its numbering pattern (`发改能审〔{year}〕{seq}号`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numbering: Option<String>,
}

/// The form section.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawForm {
    /// Display name of the form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its fields.
    #[serde(default)]
    pub fields: Vec<RawField>,
}

/// A form field.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawField {
    /// Stable id.
    pub id: Option<String>,
    /// Label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// string, number, bool, enum or date.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// For enum fields: the allowed values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// For enum fields: what people call each value (`industrial: 工业`), where it is not
    /// the value itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    /// Whether every application must fill it in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// For number fields: the smallest value an application may give.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// For number fields: the largest value an application may give.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// A material the applicant hands in.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaterial {
    /// Stable id.
    pub id: Option<String>,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Documents this material stands in for (an existing permit, a regional assessment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplies: Option<Vec<String>>,
}

/// A document an item issues.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawDocument {
    /// Stable id.
    pub id: Option<String>,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// permit, opinion, certificate, record, … (free text, for people).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// A limit: one number (statutory and committed alike) or the detailed form.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RawLimit {
    /// `limit: 20`
    Days(i64),
    /// `limit: {statutory: 20, committed: 5, unit: working_days}`
    Detail(RawLimitDetail),
    /// Anything else (`limit: 5 days`, `limit: 2.5`, `unit: calendar`): kept as written, so
    /// that the compiler can say at the limit's own position what forms a limit takes,
    /// rather than serde's "did not match any variant" at the item's start.
    Other(serde_yaml::Value),
}

/// The detailed form of a limit.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimitDetail {
    /// The legal maximum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statutory: Option<i64>,
    /// The city's promise; defaults to the statutory limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub committed: Option<i64>,
    /// working_days (default) or calendar_days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
}

/// A special procedure (行政许可法 art. 45) that does not run the item's clock.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpecial {
    /// expert_review, hearing, testing, … .
    pub kind: Option<String>,
    /// The longest it may take, in working days (told to the applicant in writing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<i64>,
}

/// What an item needs before it can start.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRequires {
    /// Material ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub materials: Option<Vec<String>>,
    /// Form field ids that must be filled in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// Document ids other items issue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<String>>,
}

/// An approval item.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawItem {
    /// Stable id.
    pub id: Option<String>,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// review (default) or milestone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ItemKind>,
    /// The reviewing department (reviews only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The stage the item belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The time limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<RawLimit>,
    /// Working days the limit may be extended by, once (art. 42).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<i64>,
    /// Procedures whose time is not counted (art. 45).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub special_procedures: Option<Vec<RawSpecial>>,
    /// Inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires: Option<RawRequires>,
    /// Documents issued on approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub produces: Option<Vec<String>>,
    /// Explicit waits on other items, as serial practice writes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<String>>,
    /// A condition on the form; the item applies only when it holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Legal basis or other notes, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// The steps inside the department (受理 → 审查 → 决定); none: one decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<RawStep>>,
}

/// One step of a department's review as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    /// Stable id within the item.
    pub id: Option<String>,
    /// Display name (受理, 初审, 复审, 决定…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// accept, examine (default) or decide.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<StepKind>,
    /// The step's own limit in the item's unit (环节时限).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// How the step's signers complete it: all (会签), any (或签) or ratio (票签).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sign: Option<SignMode>,
    /// For `sign: ratio`: the share of signers that completes the step, in percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<i64>,
    /// Reviewer ids of the department who sign the step; none: any one reviewer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signers: Option<Vec<String>>,
    /// Departments the step's outcome is copied to, read-only (抄送).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy: Option<Vec<String>>,
}

/// What a step is, by the Administrative Licensing Law's sequence (art. 32–44).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// 受理: the department accepts the application, or says what is missing; left
    /// alone five working days, it is deemed accepted (art. 32).
    Accept,
    /// 审查: one level of examination, each signer signing an opinion.
    #[default]
    Examine,
    /// 决定: the decision, by approve or reject; the last step.
    Decide,
}

/// How a step with several signers completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignMode {
    /// 会签: every signer; one rejection rejects.
    All,
    /// 或签: the first signer decides.
    #[default]
    Any,
    /// 票签: a share of the signers; rejected once that share cannot be reached.
    Ratio,
}

/// Ids a variant drops from its base.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawRemove {
    /// Items (and every `after` that names them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// Documents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<String>,
    /// Materials.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub materials: Vec<String>,
    /// Departments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<String>,
    /// Form fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}
