//! The workflow language as written: YAML files, `extends` chains, and where each
//! definition came from.
//!
//! This is the first of the compiler's two stages (the second is [`crate::plan`]).
//! Everything here is *raw*: fields are optional so that a missing `department` becomes a
//! diagnostic with a position rather than serde's first-and-only error, and ids are still
//! strings. [`load`] reads a file and the files it extends, merges them entity by entity
//! (keyed by id), and remembers for every entity the files and paths that defined it, so
//! the compiler can point a diagnostic at the line that is actually wrong.
//!
//! The format is a public contract, documented in `docs/workflow-language.md`.

pub mod locate;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use locate::{Locator, Seg};

/// Which of an item's two limits a plan runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
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
    /// Whether every application must fill it in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
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

/// One file read during loading.
#[derive(Debug)]
pub struct Source {
    /// The path as reached (given on the command line or joined from `extends`).
    pub path: PathBuf,
    /// The text.
    pub text: String,
}

/// Index of a [`Source`] in [`Loaded::sources`].
pub type FileId = usize;

/// Where an entity (or a top-level key) was defined: a file and the path to it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub file: FileId,
    /// Path of the entity in that file, e.g. `items[3]`.
    pub path: Vec<Seg>,
}

/// Definitions of one entity list, base first; parallel to the list it describes.
pub type Origins = Vec<Vec<Origin>>;

/// A workflow with its `extends` chain merged, and where everything came from.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every file read, base first; the last is the one asked for.
    pub sources: Vec<Source>,
    /// The merged workflow (`extends` and `remove` are resolved away). Shared, because
    /// every plan compiled from it keeps it for tools that rewrite the workflow.
    pub raw: std::sync::Arc<RawWorkflow>,
    /// For each item, the definitions that made it.
    pub items: Origins,
    /// For each department.
    pub departments: Origins,
    /// For each form field.
    pub fields: Origins,
    /// For each material.
    pub materials: Origins,
    /// For each document.
    pub documents: Origins,
    /// For top-level keys (`calendar`, `limits`, `stages`, …): the files that set them.
    pub top: HashMap<&'static str, Vec<Origin>>,
    locators: std::cell::RefCell<HashMap<FileId, std::rc::Rc<Locator>>>,
}

/// Where a diagnostic points before positions are resolved.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// Candidate definitions, tried last first.
    pub origins: Vec<Origin>,
    /// Path below the entity (`department`, `requires.documents[2]`).
    pub sub: Vec<Seg>,
    /// Byte offset into the scalar found there (a condition's column).
    pub offset: usize,
}

impl Anchor {
    /// An anchor at `sub` below the given definitions.
    pub fn at(origins: &[Origin], sub: Vec<Seg>) -> Anchor {
        Anchor {
            origins: origins.to_vec(),
            sub,
            offset: 0,
        }
    }
}

/// A diagnostic waiting for its position.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Error or warning.
    pub severity: Severity,
    /// Stable code.
    pub code: &'static str,
    /// The offending id.
    pub id: Option<String>,
    /// Message.
    pub message: String,
    /// Where.
    pub anchor: Anchor,
}

impl Loaded {
    fn locator(&self, file: FileId) -> std::rc::Rc<Locator> {
        self.locators
            .borrow_mut()
            .entry(file)
            .or_insert_with(|| std::rc::Rc::new(Locator::new(&self.sources[file].text)))
            .clone()
    }

    /// Resolves pending diagnostics to file, line and column. Each is looked up in the
    /// latest definition that has the path, so an override points into the variant file
    /// and an inherited value into the base.
    pub fn resolve(&self, pending: Vec<Pending>) -> Diagnostics {
        let mut out: Vec<Diagnostic> = pending.into_iter().map(|p| self.resolve_one(p)).collect();
        out.sort_by(|a, b| {
            (a.severity, &a.file, a.line, a.column).cmp(&(b.severity, &b.file, b.line, b.column))
        });
        out.dedup();
        Diagnostics(out)
    }

    fn resolve_one(&self, p: Pending) -> Diagnostic {
        let (file, line, column) = self.position(&p.anchor);
        Diagnostic {
            severity: p.severity,
            code: p.code,
            file,
            line,
            column,
            id: p.id,
            message: p.message,
        }
    }

    fn position(&self, anchor: &Anchor) -> (String, usize, usize) {
        let fallback_file = anchor
            .origins
            .last()
            .map_or(self.sources.len().saturating_sub(1), |o| o.file);
        // Full path in the latest definition that has it, then shorter paths.
        for keep in (0..=anchor.sub.len()).rev() {
            for o in anchor.origins.iter().rev() {
                let loc = self.locator(o.file);
                let mut path = o.path.clone();
                path.extend_from_slice(&anchor.sub[..keep]);
                if path.is_empty() {
                    // The document as a whole: its first line.
                    continue;
                }
                if let Some(pos) = loc.get(&path) {
                    let exact = keep == anchor.sub.len();
                    let col = if exact && anchor.offset > 0 {
                        pos.col + anchor.offset + usize::from(pos.quoted)
                    } else {
                        pos.col
                    };
                    return (self.display(o.file), pos.line, col);
                }
            }
        }
        (self.display(fallback_file), 1, 1)
    }

    /// The path of a file as it should appear in a diagnostic.
    pub fn display(&self, file: FileId) -> String {
        self.sources
            .get(file)
            .map_or_else(String::new, |s| s.path.display().to_string())
    }

    /// The directory the named top-level key's value is relative to (the file that set
    /// it last), or the requested file's directory.
    pub fn dir_of(&self, key: &'static str) -> PathBuf {
        let file = self
            .top
            .get(key)
            .and_then(|o| o.last())
            .map_or(self.sources.len().saturating_sub(1), |o| o.file);
        self.sources
            .get(file)
            .and_then(|s| s.path.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

/// Reads a workflow file and the files it extends, and merges them.
///
/// # Errors
/// Unreadable files, YAML or schema errors (with serde_yaml's location), a missing base
/// file and an `extends` cycle: each as a diagnostic. Problems of *content* (unknown ids
/// and the like) are left to [`crate::plan::compile`].
pub fn load(path: &Path) -> Result<Loaded, Diagnostics> {
    let mut loaded = Loaded::default();
    let mut stack = Vec::new();
    load_into(&mut loaded, path, &mut stack, None)?;
    Ok(loaded)
}

/// Loads a workflow from text, as if read from `path` (used for deployed workflows and
/// tests). `extends` is resolved relative to `path`'s directory.
///
/// # Errors
/// As [`load`].
pub fn load_str(path: &Path, text: &str) -> Result<Loaded, Diagnostics> {
    let mut loaded = Loaded::default();
    let mut stack = Vec::new();
    load_into(&mut loaded, path, &mut stack, Some(text.to_string()))?;
    Ok(loaded)
}

fn single(
    file: String,
    line: usize,
    column: usize,
    code: &'static str,
    message: String,
) -> Diagnostics {
    Diagnostics(vec![Diagnostic {
        severity: Severity::Error,
        code,
        file,
        line,
        column,
        id: None,
        message,
    }])
}

fn load_into(
    loaded: &mut Loaded,
    path: &Path,
    stack: &mut Vec<(PathBuf, String)>,
    text: Option<String>,
) -> Result<(), Diagnostics> {
    let shown = path.display().to_string();
    let text = match text {
        Some(t) => t,
        None => std::fs::read_to_string(path)
            .map_err(|e| single(shown.clone(), 1, 1, "io", format!("cannot read: {e}")))?,
    };
    let raw: RawWorkflow = if text.trim().is_empty() {
        RawWorkflow::default()
    } else {
        serde_yaml::from_str(&text).map_err(|e| {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            single(shown.clone(), line, col, "yaml", e.to_string())
        })?
    };
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    stack.push((canonical, shown.clone()));
    if let Some(base) = &raw.extends {
        let base_path = path.parent().unwrap_or(Path::new("")).join(base);
        let at = |code, message| {
            let pos = Locator::new(&text).get(&["extends".into()]);
            Err(single(
                shown.clone(),
                pos.map_or(1, |p| p.line),
                pos.map_or(1, |p| p.col),
                code,
                message,
            ))
        };
        if !base_path.exists() {
            return at(
                "extends-not-found",
                format!("the base workflow `{base}` does not exist"),
            );
        }
        let base_canonical = base_path
            .canonicalize()
            .unwrap_or_else(|_| base_path.clone());
        if let Some(i) = stack.iter().position(|(p, _)| *p == base_canonical) {
            let cycle: Vec<String> = stack[i..]
                .iter()
                .map(|(_, s)| s.clone())
                .chain(std::iter::once(base_path.display().to_string()))
                .collect();
            return at(
                "extends-cycle",
                format!("`extends` goes round in a circle: {}", cycle.join(" → ")),
            );
        }
        load_into(loaded, &base_path, stack, None)?;
    }
    stack.pop();
    let file = loaded.sources.len();
    loaded.sources.push(Source {
        path: path.to_path_buf(),
        text,
    });
    merge(loaded, raw, file);
    Ok(())
}

/// An entity that merges by id.
trait Entity: Clone {
    fn id(&self) -> Option<&str>;
    fn patch(&mut self, other: Self);
}

fn take<T>(mine: &mut Option<T>, theirs: Option<T>) {
    if theirs.is_some() {
        *mine = theirs;
    }
}

impl Entity for RawDepartment {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn patch(&mut self, o: Self) {
        take(&mut self.name, o.name);
    }
}

impl Entity for RawField {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn patch(&mut self, o: Self) {
        take(&mut self.name, o.name);
        take(&mut self.ty, o.ty);
        take(&mut self.values, o.values);
        take(&mut self.required, o.required);
    }
}

impl Entity for RawMaterial {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn patch(&mut self, o: Self) {
        take(&mut self.name, o.name);
        take(&mut self.supplies, o.supplies);
    }
}

impl Entity for RawDocument {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn patch(&mut self, o: Self) {
        take(&mut self.name, o.name);
        take(&mut self.kind, o.kind);
    }
}

impl Entity for RawItem {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn patch(&mut self, o: Self) {
        take(&mut self.name, o.name);
        take(&mut self.kind, o.kind);
        take(&mut self.department, o.department);
        take(&mut self.stage, o.stage);
        self.limit = match (self.limit.take(), o.limit) {
            (Some(RawLimit::Detail(mut a)), Some(RawLimit::Detail(b))) => {
                take(&mut a.statutory, b.statutory);
                take(&mut a.committed, b.committed);
                take(&mut a.unit, b.unit);
                Some(RawLimit::Detail(a))
            }
            (a, b) => b.or(a),
        };
        take(&mut self.extension, o.extension);
        take(&mut self.special_procedures, o.special_procedures);
        self.requires = match (self.requires.take(), o.requires) {
            (Some(mut a), Some(b)) => {
                take(&mut a.materials, b.materials);
                take(&mut a.fields, b.fields);
                take(&mut a.documents, b.documents);
                Some(a)
            }
            (a, b) => b.or(a),
        };
        take(&mut self.produces, o.produces);
        take(&mut self.after, o.after);
        take(&mut self.when, o.when);
        take(&mut self.basis, o.basis);
    }
}

fn merge_list<T: Entity>(
    list: &mut Vec<T>,
    origins: &mut Origins,
    patch: Vec<T>,
    removed: &[String],
    file: FileId,
    path: &[&str],
) {
    // Drop what the variant removes (base entities only: a variant that adds and removes
    // the same id keeps its own).
    let mut i = 0;
    while i < list.len() {
        if list[i]
            .id()
            .is_some_and(|id| removed.iter().any(|r| r == id))
        {
            list.remove(i);
            origins.remove(i);
        } else {
            i += 1;
        }
    }
    let index: HashMap<String, usize> = list
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.id().map(|id| (id.to_string(), i)))
        .collect();
    for (k, entity) in patch.into_iter().enumerate() {
        let mut p: Vec<Seg> = path.iter().map(|s| Seg::from(*s)).collect();
        p.push(Seg::Index(k));
        let origin = Origin { file, path: p };
        match entity.id().and_then(|id| index.get(id)) {
            Some(&at) => {
                list[at].patch(entity);
                origins[at].push(origin);
            }
            None => {
                list.push(entity);
                origins.push(vec![origin]);
            }
        }
    }
}

fn merge(loaded: &mut Loaded, raw: RawWorkflow, file: FileId) {
    let remove = raw.remove.unwrap_or_default();
    let own_id = raw.workflow.is_some();
    let base = std::sync::Arc::make_mut(&mut loaded.raw);
    macro_rules! top {
        ($field:ident) => {
            if raw.$field.is_some() {
                base.$field = raw.$field;
                loaded
                    .top
                    .entry(stringify!($field))
                    .or_default()
                    .push(Origin {
                        file,
                        path: vec![Seg::from(stringify!($field))],
                    });
            }
        };
    }
    top!(workflow);
    top!(name);
    top!(description);
    top!(calendar);
    top!(limits);
    top!(stages);
    if file > 0 && !own_id {
        // A variant without its own id is named after its file, not its base.
        base.workflow = None;
    }
    if !remove.items.is_empty() {
        for item in &mut base.items {
            if let Some(after) = &mut item.after {
                after.retain(|a| !remove.items.contains(a));
            }
        }
    }
    merge_list(
        &mut base.departments,
        &mut loaded.departments,
        raw.departments,
        &remove.departments,
        file,
        &["departments"],
    );
    let form = raw.form.unwrap_or_default();
    let base_form = base.form.get_or_insert_with(RawForm::default);
    if form.name.is_some() {
        base_form.name = form.name;
    }
    merge_list(
        &mut base_form.fields,
        &mut loaded.fields,
        form.fields,
        &remove.fields,
        file,
        &["form", "fields"],
    );
    merge_list(
        &mut base.materials,
        &mut loaded.materials,
        raw.materials,
        &remove.materials,
        file,
        &["materials"],
    );
    merge_list(
        &mut base.documents,
        &mut loaded.documents,
        raw.documents,
        &remove.documents,
        file,
        &["documents"],
    );
    merge_list(
        &mut base.items,
        &mut loaded.items,
        raw.items,
        &remove.items,
        file,
        &["items"],
    );
}
