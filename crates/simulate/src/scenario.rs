//! The scenario file: the workflow variants to compare and the world they run in.
//!
//! A scenario is YAML (format in `docs/simulate.md`). Paths in it are relative to the
//! scenario file. Loading compiles every variant's workflow and parses every project
//! type's form against it, and checks every item and department the world names exists
//! in at least one variant, so a typo is an error with its place, not a silent default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use super::Error;

mod world;
use onewindow_core::form::{Form, Value};
use onewindow_core::plan::Plan;
pub use world::*;

/// The scenario as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Name, for reports.
    pub scenario: String,
    /// What question it answers.
    #[serde(default)]
    pub description: Option<String>,
    /// The seed: the same seed gives the same result, bit for bit.
    pub seed: u64,
    /// Independent runs of the whole scenario per variant; their projects are pooled.
    #[serde(default = "one")]
    pub replications: u32,
    /// The first day of the simulated period (the first working day on or after it).
    pub start: NaiveDate,
    /// How projects arrive.
    pub arrivals: Arrivals,
    /// The kinds of project that arrive, by weight.
    pub projects: Vec<RawProjectType>,
    /// The world every variant runs in.
    #[serde(default)]
    pub world: World,
    /// The variants compared, the first being the baseline deltas are taken against.
    pub variants: Vec<RawVariant>,
    /// Sites drawn for arriving projects from the city's blueprint (一张蓝图).
    #[serde(default)]
    pub sites: Option<RawSites>,
}

/// Each arriving project's site: a rectangle of random sides placed uniformly within the
/// extent of one layer of a blueprint. A variant whose workflow names a blueprint checks
/// it at the counter (a blocking conflict stops the project on day 0); one that does not
/// lets it through, and the department responsible for the conflicting plan rejects it
/// at its review — the difference the blueprint makes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSites {
    /// The blueprint directory, relative to the scenario.
    pub blueprint: PathBuf,
    /// The layer whose extent sites are drawn in.
    pub within: String,
    /// The shortest and longest side, metres.
    pub size_m: [f64; 2],
}

/// Sites, loaded: the blueprint and where and how large sites are drawn.
#[derive(Debug)]
pub struct Sites {
    /// The blueprint (the plans as they are: the truth every variant's projects meet).
    pub blueprint: onewindow_blueprint::Blueprint,
    /// The extent sites are drawn in, metres on the blueprint's zone.
    pub extent: geo::Rect<f64>,
    /// The shortest and longest side, metres.
    pub size_m: [f64; 2],
}

fn one() -> u32 {
    1
}

/// How projects arrive: `count` alone (all on the first day), `count` with
/// `per_working_day` (a Poisson stream until that many arrived), or `per_working_day`
/// with `working_days` (a Poisson stream over a period).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrivals {
    /// How many projects.
    #[serde(default)]
    pub count: Option<u64>,
    /// Mean arrivals per working day.
    #[serde(default)]
    pub per_working_day: Option<f64>,
    /// The period arrivals come in, in working days.
    #[serde(default)]
    pub working_days: Option<f64>,
}

/// A kind of project: a form (so conditions decide which items apply) and its weight in
/// the mix.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProjectType {
    /// Name, for reports.
    pub name: String,
    /// Relative frequency.
    #[serde(default = "one_f")]
    pub weight: f64,
    /// The form file; or
    #[serde(default)]
    pub form: Option<PathBuf>,
    /// the form's values written here (field id → value), as a calibrated scenario
    /// writes each kind of project the record holds.
    #[serde(default)]
    pub values: Option<BTreeMap<String, serde_yaml::Value>>,
}

fn one_f() -> f64 {
    1.0
}

/// A variant: a workflow and what differs in its world.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    /// Name, for reports.
    pub name: String,
    /// The workflow file.
    pub workflow: PathBuf,
    /// Changes to the scenario's world for this variant only (merged over it).
    #[serde(default)]
    pub world: World,
    /// Whether the counter checks each project's site against the blueprint (with
    /// `sites`): by default when the workflow names a blueprint. `false` models the old
    /// practice, where nobody looked before the departments did.
    #[serde(default)]
    pub site_check: Option<bool>,
}

/// The key path a message starts with (`variants[2].world.review` in
/// `variants[2].world.review: …`), as segments.
fn key_path(message: &str) -> Vec<onewindow_core::spec::locate::Seg> {
    use onewindow_core::spec::locate::Seg;
    let head = message.split(": ").next().unwrap_or("");
    let head = head.split(' ').next().unwrap_or("");
    let mut segs = Vec::new();
    for part in head.split('.').filter(|p| !p.is_empty()) {
        let mut pieces = part.split('[');
        if let Some(key) = pieces.next().filter(|k| !k.is_empty()) {
            segs.push(Seg::from(key));
        }
        for index in pieces {
            if let Ok(i) = index.trim_end_matches(']').parse::<usize>() {
                segs.push(Seg::Index(i));
            }
        }
    }
    segs
}

/// A project type, ready to submit under one variant.
#[derive(Debug, Clone)]
pub struct ProjectType {
    /// Name.
    pub name: String,
    /// Relative frequency.
    pub weight: f64,
    /// The form's values (checked against the variant's fields).
    pub form: BTreeMap<String, Value>,
}

/// A variant, compiled.
#[derive(Debug, Clone)]
pub struct Variant {
    /// Name.
    pub name: String,
    /// The workflow file, as given.
    pub workflow: PathBuf,
    /// The compiled plan.
    pub plan: Plan,
    /// The project types, with forms parsed for this plan.
    pub types: Vec<ProjectType>,
    /// The world of this variant (scenario's world with the variant's laid over it).
    pub world: World,
    /// The scenario's sites, shared by every variant.
    pub sites: Option<std::sync::Arc<Sites>>,
    /// Whether the counter checks sites (see [`RawVariant::site_check`]).
    pub site_check: bool,
}

/// A loaded scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// As written.
    pub raw: RawScenario,
    /// The file it came from.
    pub path: PathBuf,
    /// The variants, compiled.
    pub variants: Vec<Variant>,
}

/// The most replications a scenario may ask for.
pub const MAX_REPLICATIONS: u32 = 1000;
/// The most projects one replication of one variant may simulate.
pub const MAX_PROJECTS: u64 = 1_000_000;
/// The most projects one run may simulate (all variants and replications).
pub const MAX_PROJECTS_PER_RUN: u64 = 10_000_000;
/// The most reviewers a department may have.
pub const MAX_STAFF: u32 = 10_000;

/// Reads and checks a scenario file.
///
/// # Errors
/// [`Error`] with the file and, for YAML problems, the line and column.
pub fn load(path: &Path) -> Result<Scenario, Error> {
    let text = onewindow_core::textfile::read(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        message: e.reason(),
    })?;
    load_str(path, &text)
}

/// Checks a scenario given as text (`path` names it and anchors relative paths).
///
/// # Errors
/// As [`load`].
pub fn load_str(path: &Path, text: &str) -> Result<Scenario, Error> {
    onewindow_core::textfile::check_yaml(text).map_err(|p| Error::Yaml {
        path: path.to_path_buf(),
        line: p.line,
        column: p.column,
        message: p.message,
    })?;
    let raw: RawScenario = serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        Error::Yaml {
            path: path.to_path_buf(),
            line,
            column,
            message: onewindow_core::textfile::yaml_message(&e),
        }
    })?;
    let locator = std::cell::OnceCell::new();
    let invalid = |what: String| {
        // The message starts with the key path it is about (`world.supplement.rework: …`):
        // the position of that key, or of the nearest key above it that the text has.
        let locator = locator.get_or_init(|| onewindow_core::spec::locate::Locator::new(text));
        let mut segs = key_path(&what);
        let mut at = None;
        while at.is_none() && !segs.is_empty() {
            at = locator.get(&segs);
            segs.pop();
        }
        Error::Invalid {
            path: path.to_path_buf(),
            line: at.map_or(0, |p| p.line),
            column: at.map_or(0, |p| p.col),
            message: what,
        }
    };
    if raw.variants.is_empty() {
        return Err(invalid("variants: at least one is needed".into()));
    }
    if raw.projects.is_empty() {
        return Err(invalid(
            "projects: at least one project type is needed".into(),
        ));
    }
    if raw.replications == 0 || raw.replications > MAX_REPLICATIONS {
        return Err(invalid(format!(
            "replications: {} is out of range: 1 to {MAX_REPLICATIONS}",
            raw.replications
        )));
    }
    if !onewindow_core::calendar::in_range(raw.start) {
        return Err(invalid(format!(
            "start: {} is outside the years {}..={}",
            raw.start,
            onewindow_core::calendar::FIRST_YEAR,
            onewindow_core::calendar::LAST_YEAR
        )));
    }
    match (
        raw.arrivals.count,
        raw.arrivals.per_working_day,
        raw.arrivals.working_days,
    ) {
        (Some(0), _, _) => return Err(invalid("arrivals.count: at least 1".into())),
        (Some(_), None, None) | (None, Some(_), Some(_)) | (Some(_), Some(_), None) => {}
        _ => {
            return Err(invalid(
                "arrivals: give `count`, `count` and `per_working_day`, or `per_working_day` and `working_days`".into(),
            ))
        }
    }
    if let Some(r) = raw.arrivals.per_working_day {
        if !(r > 0.0 && r <= MAX_PROJECTS as f64) {
            return Err(invalid(format!(
                "arrivals.per_working_day: {r} is out of range: a rate above 0, at most {MAX_PROJECTS}"
            )));
        }
    }
    if let Some(d) = raw.arrivals.working_days {
        if !(d > 0.0 && d <= f64::from(onewindow_core::plan::MAX_DAYS) * 10.0) {
            return Err(invalid(format!(
                "arrivals.working_days: {d} is out of range: above 0, at most {}",
                onewindow_core::plan::MAX_DAYS * 10
            )));
        }
    }
    // The projects one run simulates, bounded so that a typo cannot exhaust memory.
    let per_replication = match (
        raw.arrivals.count,
        raw.arrivals.per_working_day,
        raw.arrivals.working_days,
    ) {
        (Some(n), _, _) => n as f64,
        (None, Some(r), Some(d)) => r * d,
        _ => 0.0,
    };
    let total = per_replication * f64::from(raw.replications) * raw.variants.len() as f64;
    if per_replication > MAX_PROJECTS as f64 || total > MAX_PROJECTS_PER_RUN as f64 {
        return Err(invalid(format!(
            "arrivals: {per_replication:.0} projects × {} replication(s) × {} variant(s) is too many: at most {MAX_PROJECTS} projects per replication and {MAX_PROJECTS_PER_RUN} per run",
            raw.replications,
            raw.variants.len()
        )));
    }
    for (i, t) in raw.projects.iter().enumerate() {
        if !(t.weight > 0.0 && t.weight <= 1e6) {
            return Err(invalid(format!(
                "projects[{i}] `{}`: weight {} is out of range: above 0, at most 1000000",
                t.name, t.weight
            )));
        }
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let sites = match &raw.sites {
        None => None,
        Some(rs) => {
            let [lo, hi] = rs.size_m;
            if !(lo.is_finite()
                && hi.is_finite()
                && (1.0..=100_000.0).contains(&lo)
                && lo <= hi
                && hi <= 100_000.0)
            {
                return Err(invalid(
                    "sites.size_m: two sides in metres, 1 ≤ shortest ≤ longest ≤ 100000".into(),
                ));
            }
            let blueprint = onewindow_blueprint::Blueprint::load(&base.join(&rs.blueprint))
                .map_err(|problems| {
                    invalid(format!(
                        "sites.blueprint: {}",
                        problems
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    ))
                })?;
            let extent = blueprint
                .layers
                .iter()
                .find(|l| l.id == rs.within)
                .and_then(|l| {
                    use geo::BoundingRect;
                    let all: geo::MultiPolygon<f64> = l
                        .features
                        .iter()
                        .flat_map(|f| f.shape.0.iter().cloned())
                        .collect();
                    all.bounding_rect()
                })
                .ok_or_else(|| {
                    invalid(format!(
                        "sites.within: no layer `{}` with features in the blueprint",
                        rs.within
                    ))
                })?;
            Some(std::sync::Arc::new(Sites {
                blueprint,
                extent,
                size_m: rs.size_m,
            }))
        }
    };
    let mut variants = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (vi, v) in raw.variants.iter().enumerate() {
        if !names.insert(v.name.clone()) {
            return Err(invalid(format!(
                "variants[{vi}]: the name `{}` is used twice",
                v.name
            )));
        }
        let file = base.join(&v.workflow);
        let (plan, _) = onewindow_core::plan::compile_file(&file).map_err(|d| Error::Workflow {
            variant: v.name.clone(),
            message: d.to_string(),
        })?;
        let plan_names_blueprint = plan.blueprint_dir.is_some();
        let mut types = Vec::new();
        for t in &raw.projects {
            let (form_file, text) = match (&t.form, &t.values) {
                (Some(form), None) => {
                    let form_file = base.join(form);
                    // Named with its variant and project type: the scenario is the context.
                    let text =
                        onewindow_core::textfile::read(&form_file).map_err(|e| Error::Form {
                            path: form_file.clone(),
                            variant: v.name.clone(),
                            message: format!("project type `{}`: {}", t.name, e.reason()),
                        })?;
                    (form_file, text)
                }
                (None, Some(values)) => (
                    path.to_path_buf(),
                    serde_yaml::to_string(values).map_err(|e| Error::Form {
                        path: path.to_path_buf(),
                        variant: v.name.clone(),
                        message: format!("project type `{}`: {e}", t.name),
                    })?,
                ),
                _ => {
                    return Err(invalid(format!(
                        "projects: project type `{}` needs either `form` (a file) or `values`, not both",
                        t.name
                    )))
                }
            };
            let form = Form::parse(&text, &plan.fields).map_err(|problems| Error::Form {
                path: form_file.clone(),
                variant: v.name.clone(),
                message: problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            })?;
            types.push(ProjectType {
                name: t.name.clone(),
                weight: t.weight,
                form: form.values,
            });
        }
        variants.push(Variant {
            name: v.name.clone(),
            workflow: v.workflow.clone(),
            plan,
            types,
            world: raw.world.merged(&v.world),
            sites: sites.clone(),
            site_check: v.site_check.unwrap_or(plan_names_blueprint),
        });
    }
    // Every item and department the world names must exist in some variant.
    let check = |world: &World, at: &str| -> Result<(), Error> {
        for id in world.items.keys() {
            if !variants.iter().any(|v| v.plan.item_index(id).is_some()) {
                return Err(invalid(format!("{at}items.{id}: no variant has this item")));
            }
        }
        for id in world.departments.keys() {
            if !variants
                .iter()
                .any(|v| v.plan.departments.iter().any(|d| d.id == *id))
            {
                return Err(invalid(format!(
                    "{at}departments.{id}: no variant has this department"
                )));
            }
        }
        Ok(())
    };
    check(&raw.world, "world.")?;
    for (vi, v) in raw.variants.iter().enumerate() {
        check(&v.world, &format!("variants[{vi}].world."))?;
    }
    // Each world where it is written (the scenario's, then each variant's own), then
    // what a variant's merge makes of them.
    raw.world
        .check()
        .map_err(|m| invalid(format!("world.{m}")))?;
    for (vi, v) in raw.variants.iter().enumerate() {
        v.world
            .check()
            .map_err(|m| invalid(format!("variants[{vi}].world.{m}")))?;
    }
    for (vi, v) in variants.iter().enumerate() {
        v.world
            .check()
            .map_err(|m| invalid(format!("variants[{vi}].world.{m} (variant `{}`)", v.name)))?;
    }
    Ok(Scenario {
        raw,
        path: path.to_path_buf(),
        variants,
    })
}
