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
mod merge;
mod raw;

pub use raw::*;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use locate::{Locator, Seg};

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
        None => crate::textfile::read(path)
            .map_err(|e| single(shown.clone(), 1, 1, "io", e.reason()))?,
    };
    crate::textfile::check_yaml(&text)
        .map_err(|p| single(shown.clone(), p.line, p.column, p.code, p.message))?;
    let raw: RawWorkflow = if text.trim().is_empty() {
        RawWorkflow::default()
    } else {
        serde_yaml::from_str(&text).map_err(|e| {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            single(
                shown.clone(),
                line,
                col,
                "yaml",
                crate::textfile::yaml_message(&e),
            )
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
        if !base_path.is_file() {
            return at(
                "extends-not-found",
                format!("the base workflow `{base}` is not a file"),
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
    merge::merge(loaded, raw, file);
    Ok(())
}
