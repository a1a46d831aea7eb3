//! The compiler's driver: [`compile_file`], [`compile`] and [`compile_with`] run the
//! [`Compiler`] over a loaded workflow: stages, departments, form fields, documents and
//! materials, then every item ([`super::item`]), then the DAG ([`super::graph`]). It
//! collects every problem as a pending diagnostic and resolves positions at the end.

use std::path::Path;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::calendar::Calendar;
use crate::condition::{self};
use crate::diagnostic::{Diagnostics, Severity};
use crate::form::{Field, FieldType};
use crate::spec::locate::Seg;
use crate::spec::{self, Anchor, LimitKind, Loaded, Origin, Pending};

use super::numbering::Pattern;
use super::*;

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
pub(super) type Ids<'a> = FxHashMap<&'a str, usize>;

pub(super) struct Compiler<'a> {
    pub(super) loaded: &'a Loaded,
    pub(super) pending: Vec<Pending>,
    /// Items whose stage is missing or unknown: their stage-order checks would only
    /// repeat that error.
    pub(super) stageless: Vec<usize>,
    /// A calendar given by the caller, used instead of loading `calendar:`.
    pub(super) calendar: Option<Calendar>,
}

pub(super) fn sub(path: &[&str]) -> Vec<Seg> {
    path.iter().map(|s| Seg::from(*s)).collect()
}

/// Ids of one entity list, with duplicates and missing ids reported.
/// The most characters an id in a workflow may have (the API's limit too): reports, tables
/// and keys stay bounded.
pub const MAX_ID_CHARS: usize = 128;

pub(super) fn index_ids<'r>(
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
            Some(id) if id.chars().count() > MAX_ID_CHARS => {
                let short: String = id.chars().take(40).collect();
                c.error(
                    "id-too-long",
                    Some(&short),
                    format!(
                        "{kind} id `{short}…` has {} characters; an id has at most {MAX_ID_CHARS}",
                        id.chars().count()
                    ),
                    Anchor::at(&origins[i], sub(&["id"])),
                )
            }
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
    pub(super) fn push(
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

    pub(super) fn error(
        &mut self,
        code: &'static str,
        id: Option<&str>,
        message: String,
        anchor: Anchor,
    ) {
        self.push(Severity::Error, code, id, message, anchor);
    }

    pub(super) fn top(&self, key: &'static str) -> Vec<Origin> {
        self.loaded.top.get(key).cloned().unwrap_or_else(|| {
            vec![Origin {
                file: self.loaded.sources.len().saturating_sub(1),
                path: vec![],
            }]
        })
    }

    pub(super) fn run(&mut self) -> Option<Plan> {
        let l = self.loaded;
        let raw = &l.raw;
        if let Some(id) = raw
            .workflow
            .as_deref()
            .filter(|id| id.chars().count() > MAX_ID_CHARS)
        {
            let short: String = id.chars().take(40).collect();
            self.error(
                "id-too-long",
                Some(&short),
                format!(
                    "workflow id `{short}…` has {} characters; an id has at most {MAX_ID_CHARS}",
                    id.chars().count()
                ),
                Anchor::at(&self.top("workflow"), vec![]),
            );
        }
        if raw.items.is_empty() {
            // An empty file, `{}` or `~`: nothing to plan, most likely the wrong file.
            self.error(
                "no-items",
                None,
                "the workflow has no items: an approval workflow lists at least one item \
                 under `items:`"
                    .into(),
                Anchor::at(&self.top("items"), vec![]),
            );
        }

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
        let mut departments = Vec::with_capacity(raw.departments.len());
        for (i, d) in raw.departments.iter().enumerate() {
            let numbering = match d.numbering.as_deref().map(Pattern::parse) {
                None => None,
                Some(Ok(p)) => Some(p),
                Some(Err(why)) => {
                    self.error(
                        "numbering",
                        d.id.as_deref(),
                        format!(
                            "department `{}`: numbering {why}",
                            d.id.as_deref().unwrap_or_default()
                        ),
                        Anchor::at(&l.departments[i], sub(&["numbering"])),
                    );
                    None
                }
            };
            departments.push(Department {
                id: d.id.clone().unwrap_or_default(),
                name: d.name.clone().or_else(|| d.id.clone()).unwrap_or_default(),
                numbering,
            });
        }

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
            for (key, bound) in [("min", f.min), ("max", f.max)] {
                let Some(b) = bound else { continue };
                if ty != FieldType::Number {
                    self.error(
                        "field-range",
                        Some(&id),
                        format!("form field `{id}` has `{key}` but is not a number"),
                        Anchor::at(&l.fields[i], sub(&[key])),
                    );
                } else if !b.is_finite() {
                    self.error(
                        "field-range",
                        Some(&id),
                        format!("form field `{id}`: `{key}` must be a finite number"),
                        Anchor::at(&l.fields[i], sub(&[key])),
                    );
                }
            }
            if let (Some(min), Some(max)) = (f.min, f.max) {
                if min > max {
                    self.error(
                        "field-range",
                        Some(&id),
                        format!("form field `{id}`: `min` {min} is above `max` {max}"),
                        Anchor::at(&l.fields[i], sub(&["min"])),
                    );
                }
            }
            if let (Some(labels), FieldType::Enum(values)) = (&f.labels, &ty) {
                for value in labels.keys().filter(|v| !values.contains(v)) {
                    self.error(
                        "enum-values",
                        Some(&id),
                        format!("form field `{id}`: label for `{value}`, which is not one of its `values`"),
                        Anchor::at(&l.fields[i], sub(&["labels"])),
                    );
                }
            } else if f.labels.is_some() {
                self.error(
                    "enum-values",
                    Some(&id),
                    format!("form field `{id}` has `labels` but is not an enum"),
                    Anchor::at(&l.fields[i], sub(&["labels"])),
                );
            }
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
                min: f.min,
                max: f.max,
                labels: f.labels.clone().unwrap_or_default(),
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
        let blueprint_dir = self.blueprint_dir();

        let (graph, topo) = self.graph(&items, &producer, &documents);
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
            blueprint_dir,
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

    /// The blueprint directory the workflow names (its layers are loaded and checked
    /// when a site is first checked, not at every compile). One without a
    /// `blueprint.yaml` is a warning, not an error: a deployed version compiled again on
    /// a node without the directory still serves everything but site checks, which then
    /// say the blueprint cannot be loaded.
    pub(super) fn blueprint_dir(&mut self) -> Option<std::path::PathBuf> {
        let l = self.loaded;
        let b = l.raw.blueprint.as_ref()?;
        let dir = l.dir_of("blueprint").join(b);
        if !dir.join("blueprint.yaml").is_file() {
            self.push(
                Severity::Warning,
                "blueprint",
                Some(b),
                format!("blueprint `{b}` has no blueprint.yaml: sites cannot be checked"),
                Anchor::at(&self.top("blueprint"), vec![]),
            );
        }
        Some(dir)
    }

    pub(super) fn calendar(&mut self) -> Option<Calendar> {
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

    pub(super) fn condition_error(
        &mut self,
        origins: &[Origin],
        id: &str,
        text: &str,
        e: condition::Error,
    ) {
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
pub(super) fn version_of(l: &Loaded) -> String {
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
