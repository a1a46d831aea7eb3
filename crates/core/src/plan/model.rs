//! What a compiled workflow is: the [`Plan`] and its parts ([`Stage`], [`Department`],
//! [`Material`], [`Document`], [`Item`] with its [`Limit`] and [`Requires`], the DAG's
//! [`Edge`]), with the lookups the engine and the reports use. Immutable once built.

use std::sync::Arc;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::calendar::Calendar;
use crate::condition::Expr;
use crate::form::Field;
use crate::spec::{ItemKind, LimitKind, RawWorkflow, SignMode, StepKind, Unit};

use super::*;

/// The most days a limit, an extension or a special procedure may have: about four years
/// of working days, far above any statutory limit, and low enough that every date
/// computed from one stays within the calendar's range.
pub const MAX_DAYS: u32 = 1000;

/// The five stages every project goes through, in order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// 招商 investment attraction.
    Attraction,
    /// 储备 reserve (land reserve and supply, regional assessments).
    Reserve,
    /// 审批 approval (project approval, land-use and construction permits).
    Approval,
    /// 建设 construction.
    Construction,
    /// 验收 acceptance.
    Acceptance,
}

impl Stage {
    /// All stages in order.
    pub const ALL: [Stage; 5] = [
        Stage::Attraction,
        Stage::Reserve,
        Stage::Approval,
        Stage::Construction,
        Stage::Acceptance,
    ];

    /// The id used in YAML.
    pub fn id(self) -> &'static str {
        match self {
            Stage::Attraction => "attraction",
            Stage::Reserve => "reserve",
            Stage::Approval => "approval",
            Stage::Construction => "construction",
            Stage::Acceptance => "acceptance",
        }
    }

    /// Parses a stage id.
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.id() == s)
    }

    /// Position in [`Stage::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The stage's name when a workflow gives none: Chinese, English beside it.
    pub fn default_name(self) -> &'static str {
        match self {
            Stage::Attraction => "招商 investment attraction",
            Stage::Reserve => "储备 reserve",
            Stage::Approval => "审批 approval",
            Stage::Construction => "建设 construction",
            Stage::Acceptance => "验收 acceptance",
        }
    }
}

/// A department.
#[derive(Debug, Clone, Serialize)]
pub struct Department {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// How it numbers the documents it issues, when declared: an approval without a
    /// number then draws the next one of the department's year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numbering: Option<super::numbering::Pattern>,
}

/// A material the applicant hands in.
#[derive(Debug, Clone, Serialize)]
pub struct Material {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Documents (indexes) it stands in for.
    pub supplies: Vec<usize>,
}

/// A document an item issues.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Free-text kind.
    pub kind: Option<String>,
}

/// An item's time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limit {
    /// The legal maximum.
    pub statutory: u32,
    /// The city's promise (≤ statutory).
    pub committed: u32,
    /// What the numbers count.
    pub unit: Unit,
}

impl Limit {
    /// The limit of the given kind.
    pub fn days(&self, kind: LimitKind) -> u32 {
        match kind {
            LimitKind::Statutory => self.statutory,
            LimitKind::Committed => self.committed,
        }
    }

    /// The limit in working days when no date is known: a calendar-day limit counts five
    /// working days a week, rounded up. The plan's analysis without a start date and the
    /// simulator both count this way, so their durations agree.
    pub fn working_days_undated(&self, kind: LimitKind) -> u32 {
        let days = self.days(kind);
        match self.unit {
            Unit::WorkingDays => days,
            Unit::CalendarDays => (days * 5).div_ceil(7),
        }
    }
}

/// A special procedure (art. 45) whose time is not counted.
#[derive(Debug, Clone, Serialize)]
pub struct SpecialProcedure {
    /// expert_review, hearing, testing, …
    pub kind: String,
    /// Longest duration in working days, when declared.
    pub days: Option<u32>,
}

/// What an item needs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Requires {
    /// Material indexes.
    pub materials: Vec<usize>,
    /// Field indexes.
    pub fields: Vec<usize>,
    /// Document indexes.
    pub documents: Vec<usize>,
}

/// An approval item.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    /// Stable id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Review or milestone.
    pub kind: ItemKind,
    /// Department index (reviews; optional for milestones).
    pub department: Option<usize>,
    /// Stage.
    pub stage: Stage,
    /// Limit (zero for milestones).
    pub limit: Limit,
    /// Extension allowed once, in working days.
    pub extension: u32,
    /// Special procedures.
    pub special_procedures: Vec<SpecialProcedure>,
    /// Inputs.
    pub requires: Requires,
    /// Documents issued on approval (indexes).
    pub produces: Vec<usize>,
    /// Explicit waits (item indexes).
    pub after: Vec<usize>,
    /// Applicability condition, and its source text (boxed: few items have one).
    #[serde(skip)]
    pub when: Option<Box<(Expr, String)>>,
    /// The steps inside the department, in order, the decision last; empty: the item is
    /// one decision (the default, and what most items are).
    pub steps: Vec<Step>,
}

/// One step of a department's review (受理, 审查, 决定): who signs it, how it completes,
/// its own limit, and who is copied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Id within the item.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Accept, examine or decide.
    pub kind: StepKind,
    /// The step's own limit in the item's unit (环节时限), if any.
    pub limit: Option<u32>,
    /// How its signers complete it.
    pub sign: SignMode,
    /// For [`SignMode::Ratio`]: percent of the signers needed (1–100).
    pub ratio: u32,
    /// Named reviewers of the department; empty: any one reviewer (or the department).
    pub signers: Vec<String>,
    /// Departments copied on the step's outcome (indexes).
    pub copy: Vec<usize>,
}

impl Step {
    /// How many of `of` signers complete the step.
    pub fn needed(&self, of: usize) -> usize {
        match self.sign {
            SignMode::All => of,
            SignMode::Any => of.min(1),
            SignMode::Ratio => (of * self.ratio as usize).div_ceil(100).max(1),
        }
    }
}

/// Why one item waits for another.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// How many documents the successor requires from the predecessor (which ones:
    /// [`Plan::edge_documents`]; not stored, to keep the graph small).
    pub documents: u32,
    /// The successor lists the predecessor in `after`.
    pub after: bool,
}

/// A compiled workflow: immutable, validated, ready for the engine and for analysis.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Workflow id.
    pub id: String,
    /// Content hash of the workflow's source files (each path's file name and text, base
    /// first): the version a project pins. Two plans with the same version were compiled
    /// from the same text.
    pub version: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The limits the workflow runs on by default.
    pub default_limits: LimitKind,
    /// The working-day calendar.
    pub calendar: Calendar,
    /// The calendar directory as resolved, when the workflow names one (tools that write
    /// the workflow elsewhere must point back to it).
    pub calendar_dir: Option<std::path::PathBuf>,
    /// The blueprint directory as resolved, when the workflow names one: sites are
    /// checked against it (`onewindow_blueprint`; loaded by whoever checks, once).
    pub blueprint_dir: Option<std::path::PathBuf>,
    /// Stage display names, indexed by [`Stage::index`].
    pub stage_names: [String; 5],
    /// Departments.
    pub departments: Vec<Department>,
    /// Form fields.
    pub fields: Vec<Field>,
    /// Materials.
    pub materials: Vec<Material>,
    /// Documents.
    pub documents: Vec<Document>,
    /// Items, in file order; an item's index is its node index in `graph`.
    pub items: Vec<Item>,
    /// The dependency DAG over item indexes.
    pub graph: DiGraph<usize, Edge>,
    /// Item indexes in a topological order that is also stage-major.
    pub topo: Vec<usize>,
    /// For each document, the item that produces it.
    pub producer: Vec<Option<usize>>,
    /// For each document, the material that supplies it.
    pub supplier: Vec<Option<usize>>,
    /// The merged source, for tools that rewrite the workflow (`parallelize`); shared
    /// with the [`Loaded`] it was compiled from rather than copied.
    pub raw: Arc<RawWorkflow>,
    /// Item id → index, built on first use (compiling for analysis never needs it).
    pub(super) index: std::sync::OnceLock<ItemIndex>,
}

/// Item id → index. Every event the engine applies names its item, so this is looked up
/// millions of times in a simulation: ids of up to seven bytes (every shipped workflow's:
/// `I01`, `K02`) are packed with their length into one integer and found without
/// hashing or comparing strings; longer ones go through a string map.
#[derive(Debug, Clone, Default)]
pub(super) struct ItemIndex {
    short: FxHashMap<u64, usize>,
    long: FxHashMap<String, usize>,
}

impl ItemIndex {
    fn new<'a>(ids: impl Iterator<Item = &'a str>) -> ItemIndex {
        let mut index = ItemIndex::default();
        for (i, id) in ids.enumerate() {
            match packed(id) {
                Some(k) => index.short.insert(k, i),
                None => index.long.insert(id.to_string(), i),
            };
        }
        index
    }

    #[inline]
    fn get(&self, id: &str) -> Option<usize> {
        match packed(id) {
            Some(k) => self.short.get(&k).copied(),
            None => self.long.get(id).copied(),
        }
    }
}

/// An id of at most seven bytes as one integer: its bytes, then its length in the last
/// byte (so that ids differing only in trailing zero bytes stay apart).
#[inline]
fn packed(id: &str) -> Option<u64> {
    let b = id.as_bytes();
    if b.len() > 7 {
        return None;
    }
    let mut k = [0u8; 8];
    k[..b.len()].copy_from_slice(b);
    k[7] = b.len() as u8;
    Some(u64::from_le_bytes(k))
}

impl Plan {
    /// The id of the department that reviews an item, or `window` for what the window
    /// does itself (milestones).
    pub fn department_of(&self, item: usize) -> &str {
        self.items[item]
            .department
            .map_or("window", |d| self.departments[d].id.as_str())
    }

    /// Every item that depends on `item`, directly or through others (its documents or an
    /// `after` wait lead there), in the plan's topological order: what a return to `item`
    /// re-opens.
    pub fn dependents(&self, item: usize) -> Vec<usize> {
        let mut seen = vec![false; self.items.len()];
        let mut stack = vec![item];
        while let Some(x) = stack.pop() {
            for n in self.graph.neighbors(NodeIndex::new(x)) {
                let j = n.index();
                if !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        self.topo.iter().copied().filter(|&j| seen[j]).collect()
    }

    /// The index of the item with this id.
    pub fn item_index(&self, id: &str) -> Option<usize> {
        self.index
            .get_or_init(|| ItemIndex::new(self.items.iter().map(|it| it.id.as_str())))
            .get(id)
    }

    /// The index of the document with this id.
    pub fn document_index(&self, id: &str) -> Option<usize> {
        self.documents.iter().position(|d| d.id == id)
    }

    /// The index of the material with this id.
    pub fn material_index(&self, id: &str) -> Option<usize> {
        self.materials.iter().position(|m| m.id == id)
    }

    /// The index of the department with this id.
    pub fn department_index(&self, id: &str) -> Option<usize> {
        self.departments.iter().position(|d| d.id == id)
    }

    /// Explicit `after` waits that no document justifies: `(waited for, waiting)` pairs
    /// where the waiting item does not depend on the other through documents, directly
    /// or through other items. These are what serial practice adds and parallel
    /// approval removes.
    pub fn unjustified_after(&self) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let n = self.items.len();
        // Only items between `a` and `b` in topological order can lie on a path from one
        // to the other, so the search never leaves that window.
        let mut rank = vec![0usize; n];
        for (r, &i) in self.topo.iter().enumerate() {
            rank[i] = r;
        }
        let mut seen = vec![usize::MAX; n];
        let mut stack = Vec::new();
        let mut stamp = 0;
        for (b, item) in self.items.iter().enumerate() {
            for &a in &item.after {
                // Depth-first search from `a` along document edges, looking for `b`.
                stamp += 1;
                stack.clear();
                stack.push(a);
                seen[a] = stamp;
                let mut found = false;
                'search: while let Some(x) = stack.pop() {
                    for e in self.graph.edges(NodeIndex::new(x)) {
                        if e.weight().documents == 0 {
                            continue;
                        }
                        let y = e.target().index();
                        if y == b {
                            found = true;
                            break 'search;
                        }
                        if rank[y] < rank[b] && seen[y] != stamp {
                            seen[y] = stamp;
                            stack.push(y);
                        }
                    }
                }
                if !found {
                    out.push((a, b));
                }
            }
        }
        out
    }

    /// The documents item `b` requires that item `a` produces (the label of the edge
    /// `a → b`).
    pub fn edge_documents(&self, a: usize, b: usize) -> Vec<usize> {
        self.items[b]
            .requires
            .documents
            .iter()
            .copied()
            .filter(|&d| self.producer[d] == Some(a))
            .collect()
    }

    /// Computes the earliest schedule, slack and critical path; see [`Schedule`].
    pub fn schedule(&self, opts: &Options<'_>) -> Schedule {
        schedule::compute(self, opts)
    }
}

#[cfg(test)]
mod tests {
    use super::ItemIndex;

    /// Short ids (packed), long ones (hashed), ids that differ only by a trailing zero
    /// byte or by length, non-ASCII ids: each found at its own index, nothing else found.
    #[test]
    fn item_index_finds_every_id_and_nothing_else() {
        let ids = [
            "I01",
            "I0",
            "I01\0",
            "",
            "K02",
            "1234567",
            "12345678",
            "a-much-longer-item-id",
            "施工许可",
            "审批",
        ];
        let index = ItemIndex::new(ids.iter().copied());
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(index.get(id), Some(i), "{id:?}");
        }
        for absent in ["I02", "I01\0\0", "123456", "123456789", "施工", "i01"] {
            assert_eq!(index.get(absent), None, "{absent:?}");
        }
    }
}
