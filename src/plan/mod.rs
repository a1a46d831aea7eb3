//! The compiled workflow: an immutable [`Plan`] holding the item DAG.
//!
//! [`compile`] is the compiler's second stage: it takes what [`crate::spec::load`] read,
//! checks every reference, limit, condition and dependency, and reports *every* problem
//! at once with its position. Only a workflow with no errors becomes a `Plan`; the
//! engine and the simulator never see YAML.
//!
//! The DAG is derived, not declared: an edge runs from the item that produces a document
//! to every item that requires it, plus the explicit `after` waits that serial practice
//! writes down. The five stages add an implicit barrier (an item of a stage starts only
//! once every applicable item of the earlier stages is done), because that is how the
//! engine opens stages; [`schedule`] models it so that plan and engine agree.

mod schedule;

pub use schedule::{ItemSchedule, Options, Schedule, StageSpan};

use std::collections::HashMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use std::path::Path;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::Serialize;

use crate::calendar::Calendar;
use crate::condition::{self, Expr};
use crate::diagnostic::{Diagnostics, Severity};
use crate::form::{Field, FieldType};
use crate::spec::locate::Seg;
use crate::spec::{self, Anchor, ItemKind, LimitKind, Loaded, Origin, Pending, RawWorkflow, Unit};

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

    fn default_name(self) -> &'static str {
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
    index: std::sync::OnceLock<FxHashMap<String, usize>>,
}

impl Plan {
    /// The id of the department that reviews an item, or `window` for what the window
    /// does itself (milestones).
    pub fn department_of(&self, item: usize) -> &str {
        self.items[item]
            .department
            .map_or("window", |d| self.departments[d].id.as_str())
    }

    /// The index of the item with this id.
    pub fn item_index(&self, id: &str) -> Option<usize> {
        self.index
            .get_or_init(|| {
                self.items
                    .iter()
                    .enumerate()
                    .map(|(i, it)| (it.id.clone(), i))
                    .collect()
            })
            .get(id)
            .copied()
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

/// Loads and compiles a workflow file.
///
/// # Errors
/// Every problem found, each with file, line, column and the offending id.
pub fn compile_file(path: &Path) -> Result<(Plan, Diagnostics), Diagnostics> {
    let loaded = spec::load(path)?;
    compile(&loaded)
}

/// Compiles a loaded workflow. On success returns the plan and any warnings.
///
/// # Errors
/// Every error found (and the warnings), each with its position.
pub fn compile(loaded: &Loaded) -> Result<(Plan, Diagnostics), Diagnostics> {
    compile_with(loaded, None)
}

/// Compiles with a given calendar instead of the directory the workflow names: how a
/// deployed workflow, which carries its calendar with it, is compiled again after a
/// restart.
///
/// # Errors
/// As [`compile`].
pub fn compile_with(
    loaded: &Loaded,
    calendar: Option<Calendar>,
) -> Result<(Plan, Diagnostics), Diagnostics> {
    let mut c = Compiler {
        loaded,
        pending: Vec::new(),
        stageless: Vec::new(),
        calendar,
    };
    let plan = c.run();
    let diags = loaded.resolve(c.pending);
    match plan {
        Some(plan) if !diags.has_errors() => Ok((plan, diags)),
        _ => Err(diags),
    }
}

/// Ids of one entity list → index, borrowing the ids from the raw workflow.
type Ids<'a> = FxHashMap<&'a str, usize>;

struct Compiler<'a> {
    loaded: &'a Loaded,
    pending: Vec<Pending>,
    /// Items whose stage is missing or unknown: their stage-order checks would only
    /// repeat that error.
    stageless: Vec<usize>,
    /// A calendar given by the caller, used instead of loading `calendar:`.
    calendar: Option<Calendar>,
}

fn sub(path: &[&str]) -> Vec<Seg> {
    path.iter().map(|s| Seg::from(*s)).collect()
}

fn nonneg(v: i64) -> Option<u32> {
    u32::try_from(v).ok()
}

/// Ids of one entity list, with duplicates and missing ids reported.
fn index_ids<'r>(
    c: &mut Compiler<'_>,
    kind: &str,
    ids: impl Iterator<Item = Option<&'r str>>,
    origins: &[Vec<Origin>],
) -> Ids<'r> {
    let mut map = Ids::default();
    map.reserve(origins.len());
    for (i, id) in ids.enumerate() {
        match id {
            None | Some("") => c.error(
                "missing-id",
                None,
                format!("{kind} #{} has no `id`", i + 1),
                Anchor::at(&origins[i], vec![]),
            ),
            Some(id) => {
                if let std::collections::hash_map::Entry::Vacant(e) = map.entry(id) {
                    e.insert(i);
                } else {
                    c.error(
                        "duplicate-id",
                        Some(id),
                        format!("{kind} `{id}` is defined twice"),
                        Anchor::at(&origins[i], sub(&["id"])),
                    );
                }
            }
        }
    }
    map
}

impl Compiler<'_> {
    fn push(
        &mut self,
        severity: Severity,
        code: &'static str,
        id: Option<&str>,
        message: String,
        anchor: Anchor,
    ) {
        self.pending.push(Pending {
            severity,
            code,
            id: id.map(str::to_string),
            message,
            anchor,
        });
    }

    fn error(&mut self, code: &'static str, id: Option<&str>, message: String, anchor: Anchor) {
        self.push(Severity::Error, code, id, message, anchor);
    }

    fn top(&self, key: &'static str) -> Vec<Origin> {
        self.loaded.top.get(key).cloned().unwrap_or_else(|| {
            vec![Origin {
                file: self.loaded.sources.len().saturating_sub(1),
                path: vec![],
            }]
        })
    }

    fn run(&mut self) -> Option<Plan> {
        let l = self.loaded;
        let raw = &l.raw;

        // Stages: ids are fixed; a workflow may rename them for display.
        let mut stage_names: [String; 5] = Stage::ALL.map(|s| s.default_name().to_string());
        if let Some(stages) = &raw.stages {
            let origins = self.top("stages");
            let ids: Vec<Option<&str>> = stages.iter().map(|s| s.id.as_deref()).collect();
            let expected: Vec<Option<&str>> = Stage::ALL.iter().map(|s| Some(s.id())).collect();
            if ids != expected {
                self.error(
                    "stages",
                    None,
                    format!(
                        "`stages` must list the five stages in order: {}",
                        Stage::ALL.map(Stage::id).join(", ")
                    ),
                    Anchor::at(&origins, vec![]),
                );
            } else {
                for (i, s) in stages.iter().enumerate() {
                    if let Some(n) = &s.name {
                        stage_names[i] = n.clone();
                    }
                }
            }
        }

        let dept_ix = index_ids(
            self,
            "department",
            raw.departments.iter().map(|d| d.id.as_deref()),
            &l.departments,
        );
        let departments: Vec<Department> = raw
            .departments
            .iter()
            .map(|d| Department {
                id: d.id.clone().unwrap_or_default(),
                name: d.name.clone().or_else(|| d.id.clone()).unwrap_or_default(),
            })
            .collect();

        // Form fields.
        let raw_fields: &[spec::RawField] = raw.form.as_ref().map_or(&[], |f| &f.fields);
        let field_ix = index_ids(
            self,
            "form field",
            raw_fields.iter().map(|f| f.id.as_deref()),
            &l.fields,
        );
        let mut fields = Vec::new();
        for (i, f) in raw_fields.iter().enumerate() {
            let id = f.id.clone().unwrap_or_default();
            let ty = match f.ty.as_deref() {
                Some("string") => FieldType::String,
                Some("number") => FieldType::Number,
                Some("bool") => FieldType::Bool,
                Some("date") => FieldType::Date,
                Some("enum") => {
                    let values = f.values.clone().unwrap_or_default();
                    if values.is_empty() {
                        self.error(
                            "enum-values",
                            Some(&id),
                            format!("enum field `{id}` lists no `values`"),
                            Anchor::at(&l.fields[i], sub(&["type"])),
                        );
                    }
                    FieldType::Enum(values)
                }
                other => {
                    self.error(
                        "field-type",
                        Some(&id),
                        match other {
                            None => format!("form field `{id}` has no `type`"),
                            Some(t) => format!("form field `{id}`: unknown type `{t}` (string, number, bool, enum or date)"),
                        },
                        Anchor::at(&l.fields[i], sub(&["type"])),
                    );
                    FieldType::String
                }
            };
            if f.values.is_some() && !matches!(ty, FieldType::Enum(_)) {
                self.error(
                    "enum-values",
                    Some(&id),
                    format!("form field `{id}` has `values` but is not an enum"),
                    Anchor::at(&l.fields[i], sub(&["values"])),
                );
            }
            fields.push(Field {
                name: f.name.clone().unwrap_or_else(|| id.clone()),
                id,
                ty,
                required: f.required.unwrap_or(false),
            });
        }

        let doc_ix = index_ids(
            self,
            "document",
            raw.documents.iter().map(|d| d.id.as_deref()),
            &l.documents,
        );
        let documents: Vec<Document> = raw
            .documents
            .iter()
            .map(|d| Document {
                id: d.id.clone().unwrap_or_default(),
                name: d.name.clone().or_else(|| d.id.clone()).unwrap_or_default(),
                kind: d.kind.clone(),
            })
            .collect();

        let mat_ix = index_ids(
            self,
            "material",
            raw.materials.iter().map(|m| m.id.as_deref()),
            &l.materials,
        );
        let mut supplier: Vec<Option<usize>> = vec![None; documents.len()];
        let mut materials = Vec::new();
        for (i, m) in raw.materials.iter().enumerate() {
            let id = m.id.clone().unwrap_or_default();
            let mut supplies = Vec::new();
            for (k, d) in m.supplies.iter().flatten().enumerate() {
                let anchor =
                    Anchor::at(&l.materials[i], vec![Seg::from("supplies"), Seg::Index(k)]);
                match doc_ix.get(d.as_str()) {
                    Some(&di) => {
                        if let Some(other) = supplier[di] {
                            self.error(
                                "document-supplied-twice",
                                Some(d),
                                format!(
                                    "document `{d}` is supplied by materials `{}` and `{id}`",
                                    raw.materials[other].id.as_deref().unwrap_or("")
                                ),
                                anchor,
                            );
                        } else {
                            supplier[di] = Some(i);
                        }
                        supplies.push(di);
                    }
                    None => self.error(
                        "unknown-document",
                        Some(d),
                        format!("material `{id}` supplies unknown document `{d}`"),
                        anchor,
                    ),
                }
            }
            materials.push(Material {
                name: m.name.clone().unwrap_or_else(|| id.clone()),
                id,
                supplies,
            });
        }

        let item_ix = index_ids(
            self,
            "item",
            raw.items.iter().map(|it| it.id.as_deref()),
            &l.items,
        );
        let mut producer: Vec<Option<usize>> = vec![None; documents.len()];
        // Items are built even when they have errors (references that do not resolve are
        // left out), so that the graph checks below still run and every problem is
        // reported at once.
        let mut items: Vec<Item> = Vec::with_capacity(raw.items.len());
        for (i, it) in raw.items.iter().enumerate() {
            items.push(self.item(
                i,
                it,
                &dept_ix,
                &field_ix,
                &fields,
                &mat_ix,
                &doc_ix,
                &item_ix,
                &mut producer,
                &supplier,
            ));
        }

        // Every required document must come from somewhere.
        for (i, item) in items.iter().enumerate() {
            for (k, &d) in item.requires.documents.iter().enumerate() {
                if producer[d].is_none() && supplier[d].is_none() {
                    let id = &documents[d].id;
                    self.error(
                        "unsupplied-document",
                        Some(id),
                        format!("item `{}` requires document `{id}`, which no item produces and no material supplies", item.id),
                        Anchor::at(&l.items[i], vec![Seg::from("requires"), Seg::from("documents"), Seg::Index(k)]),
                    );
                }
            }
        }

        let calendar = self.calendar();

        // The DAG.
        let mut graph: DiGraph<usize, Edge> = DiGraph::with_capacity(items.len(), items.len() * 3);
        for i in 0..items.len() {
            graph.add_node(i);
        }
        // One edge per (predecessor, item) pair, holding every document and/or the
        // `after`; built item by item so no global map is needed.
        let mut edge_list: Vec<(usize, usize, Edge)> = Vec::with_capacity(items.len() * 3);
        let mut preds: Vec<(usize, Option<usize>)> = Vec::new();
        for (b, item) in items.iter().enumerate() {
            preds.clear();
            preds.extend(
                item.requires
                    .documents
                    .iter()
                    .filter_map(|&d| producer[d].map(|a| (a, Some(d)))),
            );
            preds.extend(item.after.iter().map(|&a| (a, None)));
            preds.sort_unstable();
            for &(a, d) in &preds {
                match edge_list.last_mut() {
                    Some((la, lb, e)) if *la == a && *lb == b => match d {
                        Some(_) => e.documents += 1,
                        None => e.after = true,
                    },
                    _ => edge_list.push((
                        a,
                        b,
                        Edge {
                            documents: u32::from(d.is_some()),
                            after: d.is_none(),
                        },
                    )),
                }
            }
        }
        for (a, b, e) in edge_list {
            if items[a].stage > items[b].stage
                && !self.stageless.contains(&a)
                && !self.stageless.contains(&b)
            {
                let why = match first_document(&items[b], &producer, a) {
                    None => "waits for".to_string(),
                    Some(d) => format!("requires `{}` from", documents[d].id),
                };
                self.error(
                    "stage-order",
                    Some(&items[b].id),
                    format!(
                        "item `{}` ({}) {why} `{}`, which is in a later stage ({})",
                        items[b].id,
                        items[b].stage.id(),
                        items[a].id,
                        items[a].stage.id()
                    ),
                    Anchor::at(&l.items[b], sub(&["stage"])),
                );
            }
            graph.add_edge(NodeIndex::new(a), NodeIndex::new(b), e);
        }

        // Topological order, stage-major, otherwise in file order where the graph allows
        // (Kahn's algorithm with the smallest (stage, index) first), so reports read in
        // the order the workflow was written.
        let mut indegree = vec![0usize; items.len()];
        for e in graph.edge_references() {
            indegree[e.target().index()] += 1;
        }
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<(Stage, usize)>> = (0..items
            .len())
            .filter(|&i| indegree[i] == 0)
            .map(|i| std::cmp::Reverse((items[i].stage, i)))
            .collect();
        let mut topo = Vec::with_capacity(items.len());
        while let Some(std::cmp::Reverse((_, i))) = ready.pop() {
            topo.push(i);
            for e in graph.edges(NodeIndex::new(i)) {
                let j = e.target().index();
                indegree[j] -= 1;
                if indegree[j] == 0 {
                    ready.push(std::cmp::Reverse((items[j].stage, j)));
                }
            }
        }

        // Only a graph that Kahn's algorithm could not finish has a cycle; then report each
        // strongly connected component once, as a whole path.
        let sccs = if topo.len() < items.len() {
            petgraph::algo::tarjan_scc(&graph)
        } else {
            Vec::new()
        };
        for scc in sccs {
            let is_cycle = scc.len() > 1 || graph.contains_edge(scc[0], scc[0]);
            if !is_cycle {
                continue;
            }
            let cycle = find_cycle(&graph, &scc);
            let start = cycle[0];
            let mut text = items[start].id.clone();
            // `A -(d1)-> B -(after)-> A`: each step names the document or the `after`.
            for w in cycle
                .windows(2)
                .chain(std::iter::once(&[cycle[cycle.len() - 1], start][..]))
            {
                let via = match first_document(&items[w[1]], &producer, w[0]) {
                    Some(d) => documents[d].id.as_str(),
                    None => "after",
                };
                text.push_str(&format!(" -({via})-> {}", items[w[1]].id));
            }
            self.error(
                "cycle",
                Some(&items[start].id),
                format!("dependency cycle: {text}"),
                Anchor::at(&l.items[start], sub(&["id"])),
            );
        }
        if self.pending.iter().any(|p| p.severity == Severity::Error) {
            return None;
        }

        // Materials nobody asks for are probably a typo elsewhere.
        let mut used = vec![false; materials.len()];
        for item in &items {
            for &m in &item.requires.materials {
                used[m] = true;
            }
        }
        for (m, material) in materials.iter().enumerate() {
            if !used[m] && material.supplies.is_empty() {
                self.push(
                    Severity::Warning,
                    "unused-material",
                    Some(&material.id),
                    format!("material `{}` is not required by any item", material.id),
                    Anchor::at(&l.materials[m], sub(&["id"])),
                );
            }
        }

        let id = raw.workflow.clone().unwrap_or_else(|| {
            l.sources
                .last()
                .and_then(|s| s.path.file_stem())
                .map_or_else(
                    || "workflow".to_string(),
                    |s| s.to_string_lossy().into_owned(),
                )
        });
        Some(Plan {
            version: version_of(l),
            name: raw.name.clone().unwrap_or_else(|| id.clone()),
            id,
            description: raw.description.clone(),
            default_limits: raw.limits.unwrap_or(LimitKind::Committed),
            calendar: calendar?,
            calendar_dir: raw.calendar.as_ref().map(|c| l.dir_of("calendar").join(c)),
            stage_names,
            departments,
            fields,
            materials,
            documents,
            items,
            graph,
            topo,
            producer,
            supplier,
            raw: Arc::clone(&l.raw),
            index: std::sync::OnceLock::new(),
        })
    }

    fn calendar(&mut self) -> Option<Calendar> {
        if let Some(cal) = self.calendar.take() {
            return Some(cal);
        }
        let l = self.loaded;
        match &l.raw.calendar {
            None => {
                self.push(
                    Severity::Warning,
                    "no-calendar",
                    None,
                    "no `calendar`: dates count Monday to Friday and are all provisional".into(),
                    Anchor::at(&self.top("workflow"), vec![]),
                );
                Some(Calendar::weekdays_only("weekdays"))
            }
            Some(c) => {
                let dir = l.dir_of("calendar").join(c);
                match Calendar::load_dir(&dir) {
                    Ok(cal) => Some(cal),
                    Err(e) => {
                        self.error(
                            "calendar",
                            Some(c),
                            format!("calendar `{c}` cannot be loaded: {e}"),
                            Anchor::at(&self.top("calendar"), vec![]),
                        );
                        None
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn item(
        &mut self,
        i: usize,
        it: &spec::RawItem,
        dept_ix: &Ids<'_>,
        field_ix: &Ids<'_>,
        fields: &[Field],
        mat_ix: &Ids<'_>,
        doc_ix: &Ids<'_>,
        item_ix: &Ids<'_>,
        producer: &mut [Option<usize>],
        supplier: &[Option<usize>],
    ) -> Item {
        let origins = &self.loaded.items[i];
        let id = it.id.clone().unwrap_or_default();
        let at = |path: Vec<Seg>| Anchor::at(origins, path);
        let kind = it.kind.unwrap_or_default();

        let department = match (&it.department, kind) {
            (None, ItemKind::Review) => {
                self.error(
                    "missing-department",
                    Some(&id),
                    format!("item `{id}` has no `department`"),
                    at(vec![]),
                );
                None
            }
            (None, ItemKind::Milestone) => None,
            (Some(d), _) => match dept_ix.get(d.as_str()) {
                Some(&di) => Some(di),
                None => {
                    self.error(
                        "unknown-department",
                        Some(d),
                        format!("item `{id}`: unknown department `{d}`"),
                        at(sub(&["department"])),
                    );
                    None
                }
            },
        };

        let stage = match it.stage.as_deref() {
            None => {
                self.error(
                    "missing-stage",
                    Some(&id),
                    format!("item `{id}` has no `stage`"),
                    at(vec![]),
                );
                self.stageless.push(i);
                Stage::Approval
            }
            Some(s) => Stage::parse(s).unwrap_or_else(|| {
                self.error(
                    "unknown-stage",
                    Some(s),
                    format!(
                        "item `{id}`: unknown stage `{s}` ({})",
                        Stage::ALL.map(Stage::id).join(", ")
                    ),
                    at(sub(&["stage"])),
                );
                self.stageless.push(i);
                Stage::Approval
            }),
        };

        if kind == ItemKind::Milestone && it.limit.is_some() {
            self.push(
                Severity::Warning,
                "milestone-limit",
                Some(&id),
                format!("milestone `{id}` has a `limit`, which is ignored: milestones take no government time"),
                at(sub(&["limit"])),
            );
        }
        let limit = match (&it.limit, kind) {
            (None, ItemKind::Milestone) => Limit {
                statutory: 0,
                committed: 0,
                unit: Unit::WorkingDays,
            },
            (None, ItemKind::Review) => {
                self.error(
                    "missing-limit",
                    Some(&id),
                    format!("item `{id}` has no `limit`"),
                    at(vec![]),
                );
                Limit {
                    statutory: 0,
                    committed: 0,
                    unit: Unit::WorkingDays,
                }
            }
            (Some(spec::RawLimit::Days(n)), _) => match nonneg(*n) {
                Some(n) => Limit {
                    statutory: n,
                    committed: n,
                    unit: Unit::WorkingDays,
                },
                None => {
                    self.error(
                        "negative-limit",
                        Some(&id),
                        format!("item `{id}`: limit {n} is negative"),
                        at(sub(&["limit"])),
                    );
                    Limit {
                        statutory: 0,
                        committed: 0,
                        unit: Unit::WorkingDays,
                    }
                }
            },
            (Some(spec::RawLimit::Detail(d)), _) => {
                let mut get = |name: &str, v: Option<i64>| -> Option<u32> {
                    let v = v?;
                    let r = nonneg(v);
                    if r.is_none() {
                        self.error(
                            "negative-limit",
                            Some(&id),
                            format!("item `{id}`: {name} limit {v} is negative"),
                            at(sub(&["limit", name])),
                        );
                    }
                    r
                };
                let statutory = get("statutory", d.statutory);
                let committed = get("committed", d.committed);
                match (statutory, committed) {
                    (None, _) if d.statutory.is_none() => {
                        self.error(
                            "missing-limit",
                            Some(&id),
                            format!("item `{id}`: `limit` has no `statutory` value"),
                            at(sub(&["limit"])),
                        );
                    }
                    (Some(s), Some(c)) if c > s => {
                        self.error(
                            "committed-exceeds-statutory",
                            Some(&id),
                            format!(
                                "item `{id}`: committed limit {c} exceeds the statutory limit {s}"
                            ),
                            at(sub(&["limit", "committed"])),
                        );
                    }
                    _ => {}
                }
                let s = statutory.unwrap_or(0);
                Limit {
                    statutory: s,
                    committed: committed.unwrap_or(s),
                    unit: d.unit.unwrap_or_default(),
                }
            }
        };

        let extension = match it.extension {
            None => 0,
            Some(v) => nonneg(v).unwrap_or_else(|| {
                self.error(
                    "negative-limit",
                    Some(&id),
                    format!("item `{id}`: extension {v} is negative"),
                    at(sub(&["extension"])),
                );
                0
            }),
        };

        let mut special_procedures = Vec::new();
        for (k, sp) in it.special_procedures.iter().flatten().enumerate() {
            let kind = sp.kind.clone().unwrap_or_default();
            if kind.is_empty() {
                self.error(
                    "missing-id",
                    Some(&id),
                    format!("item `{id}`: special procedure #{} has no `kind`", k + 1),
                    at(vec![Seg::from("special_procedures"), Seg::Index(k)]),
                );
            }
            let days = match sp.days {
                None => None,
                Some(v) => {
                    let r = nonneg(v);
                    if r.is_none() {
                        self.error(
                            "negative-limit",
                            Some(&id),
                            format!(
                                "item `{id}`: special procedure `{kind}` has negative days {v}"
                            ),
                            at(vec![
                                Seg::from("special_procedures"),
                                Seg::Index(k),
                                Seg::from("days"),
                            ]),
                        );
                    }
                    r
                }
            };
            special_procedures.push(SpecialProcedure { kind, days });
        }

        let mut lookup = |what: &str,
                          code: &'static str,
                          list: &[String],
                          map: &Ids<'_>,
                          path: &[&str]|
         -> Vec<usize> {
            let mut out = Vec::with_capacity(list.len());
            for (k, r) in list.iter().enumerate() {
                match map.get(r.as_str()) {
                    Some(&x) => out.push(x),
                    None => {
                        let mut p = sub(path);
                        p.push(Seg::Index(k));
                        self.error(
                            code,
                            Some(r),
                            format!("item `{id}`: unknown {what} `{r}`"),
                            at(p),
                        );
                    }
                }
            }
            out
        };
        let empty = Vec::new();
        let no_requires = spec::RawRequires::default();
        let req = it.requires.as_ref().unwrap_or(&no_requires);
        let requires = Requires {
            materials: lookup(
                "material",
                "unknown-material",
                req.materials.as_ref().unwrap_or(&empty),
                mat_ix,
                &["requires", "materials"],
            ),
            fields: lookup(
                "form field",
                "unknown-field",
                req.fields.as_ref().unwrap_or(&empty),
                field_ix,
                &["requires", "fields"],
            ),
            documents: lookup(
                "document",
                "unknown-document",
                req.documents.as_ref().unwrap_or(&empty),
                doc_ix,
                &["requires", "documents"],
            ),
        };
        let produces = lookup(
            "document",
            "unknown-document",
            it.produces.as_ref().unwrap_or(&empty),
            doc_ix,
            &["produces"],
        );
        let after = lookup(
            "item",
            "unknown-item",
            it.after.as_ref().unwrap_or(&empty),
            item_ix,
            &["after"],
        );

        for (k, &d) in produces.iter().enumerate() {
            let doc_id = self.loaded.raw.documents[d]
                .id
                .as_deref()
                .unwrap_or_default();
            let anchor = || at(vec![Seg::from("produces"), Seg::Index(k)]);
            if let Some(first) = producer[d] {
                if first != i {
                    let first_id = self.loaded.raw.items[first].id.clone().unwrap_or_default();
                    self.error(
                        "document-produced-twice",
                        Some(doc_id),
                        format!("document `{doc_id}` is produced by items `{first_id}` and `{id}`"),
                        anchor(),
                    );
                }
            } else if let Some(m) = supplier[d] {
                let m_id = self.loaded.raw.materials[m].id.clone().unwrap_or_default();
                self.error(
                    "document-supplied-twice",
                    Some(doc_id),
                    format!("document `{doc_id}` is produced by item `{id}` and also supplied by material `{m_id}`"),
                    anchor(),
                );
            } else {
                producer[d] = Some(i);
            }
        }

        let when = match &it.when {
            None => None,
            Some(text) => match condition::parse(text) {
                Err(e) => {
                    self.condition_error(origins, &id, text, e);
                    None
                }
                Ok(expr) => {
                    let errs = expr.check(fields);
                    let bad = !errs.is_empty();
                    for e in errs {
                        self.condition_error(origins, &id, text, e);
                    }
                    (!bad).then(|| Box::new((expr, text.clone())))
                }
            },
        };

        Item {
            name: it.name.clone().unwrap_or_else(|| id.clone()),
            id,
            kind,
            department,
            stage,
            limit,
            extension,
            special_procedures,
            requires,
            produces,
            after,
            when,
        }
    }

    fn condition_error(&mut self, origins: &[Origin], id: &str, text: &str, e: condition::Error) {
        let code = match e.kind {
            condition::ErrorKind::Syntax => "condition-syntax",
            condition::ErrorKind::UnknownField => "condition-unknown-field",
            condition::ErrorKind::Type => "condition-type",
        };
        let col = text[..e.offset.min(text.len())].chars().count() + 1;
        let mut anchor = Anchor::at(origins, sub(&["when"]));
        anchor.offset = col - 1;
        self.error(
            code,
            Some(id),
            format!(
                "item `{id}`: condition at column {col} of `{text}`: {}",
                e.message
            ),
            anchor,
        );
    }
}

/// The content hash of every source of a loaded workflow (file names and texts, base
/// first), as 16 hex digits of SHA-256: short enough to show, long enough never to clash
/// between the versions of one city's workflows.
fn version_of(l: &Loaded) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for s in &l.sources {
        let name = s
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        h.update(name.as_bytes());
        h.update([0]);
        h.update(s.text.as_bytes());
        h.update([0]);
    }
    h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The first document `item` requires from item `a`.
fn first_document(item: &Item, producer: &[Option<usize>], a: usize) -> Option<usize> {
    item.requires
        .documents
        .iter()
        .copied()
        .find(|&d| producer[d] == Some(a))
}

/// A cycle through the strongly connected component `scc`, as item indexes, starting at
/// its lowest index (so the report is stable).
fn find_cycle(graph: &DiGraph<usize, Edge>, scc: &[NodeIndex]) -> Vec<usize> {
    let start = *scc.iter().min().expect("non-empty component");
    let inside: std::collections::HashSet<NodeIndex> = scc.iter().copied().collect();
    // Breadth-first search from start back to start, inside the component: the shortest
    // cycle through it.
    let mut prev: HashMap<NodeIndex, NodeIndex> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(x) = queue.pop_front() {
        let mut next: Vec<NodeIndex> = graph.neighbors(x).filter(|y| inside.contains(y)).collect();
        next.sort();
        for y in next {
            if y == start {
                let mut path = vec![x.index()];
                let mut cur = x;
                while cur != start {
                    cur = prev[&cur];
                    path.push(cur.index());
                }
                path.reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = prev.entry(y) {
                e.insert(x);
                queue.push_back(y);
            }
        }
    }
    vec![start.index()]
}
