//! Pre-review (预审) and the one-time notice (一次性告知, 行政许可法 art. 32): everything an
//! application lacks, across every item that applies to it, said once.

use serde::{Deserialize, Serialize};

use onewindow_core::form::{Field, Form, Value};
use onewindow_core::plan::{Plan, Stage};
use onewindow_core::spec::ItemKind;

use super::MaterialRef;

/// What is wrong with one form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldProblem {
    /// The field id (or the unknown key the applicant wrote).
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

/// What one item still needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemNotice {
    /// Item id.
    pub item: String,
    /// Item name.
    pub name: String,
    /// The reviewing department (the window for milestones).
    pub department: String,
    /// The item's stage.
    pub stage: Stage,
    /// Materials the item requires that were not handed in.
    pub missing_materials: Vec<String>,
    /// Form fields the item requires that are empty.
    pub missing_fields: Vec<String>,
}

/// An item whose condition reads a required field the form does not (validly) have: it
/// may or may not apply, so the notice says what decides it and what the item will need
/// if it applies — the notice stays one-time however the field is filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionalNotice {
    /// Item id.
    pub item: String,
    /// Item name.
    pub name: String,
    /// The reviewing department (the window for milestones).
    pub department: String,
    /// The item's stage.
    pub stage: Stage,
    /// The condition, as written.
    pub condition: String,
    /// The fields it reads that are missing or invalid.
    pub undecided_fields: Vec<String>,
    /// Materials it will need, if it applies, that were not handed in.
    pub missing_materials: Vec<String>,
    /// Form fields it will need, if it applies, that are empty.
    pub missing_fields: Vec<String>,
}

/// The one-time notice: complete, or everything that is missing, grouped by item (each
/// naming its department).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Nothing is missing.
    pub complete: bool,
    /// Problems with the form itself (unknown fields, wrong types, missing required).
    pub form: Vec<FieldProblem>,
    /// Per applicable item with something missing, in workflow order.
    pub items: Vec<ItemNotice>,
    /// Items whose applicability waits for a required field the form lacks, with what
    /// each will need if it applies (empty when the form is complete).
    #[serde(default)]
    pub conditional: Vec<ConditionalNotice>,
    /// Material ids handed in that the workflow does not know (not an error: noted so the
    /// window can check them).
    pub unknown_materials: Vec<String>,
    /// The site's conflicts with the blueprint (一张蓝图) that block the application, and
    /// those that do not (said up front, so that each department can state its
    /// conditions).
    #[serde(default)]
    pub site: Vec<SiteConflict>,
}

/// A finding of the site check, as the one-time notice states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteConflict {
    /// The rule's stable code (`ecological-red-line`, `zoning-use`, …).
    pub rule: String,
    /// The layer.
    pub layer: String,
    /// The plan.
    pub plan: String,
    /// The department responsible.
    pub department: String,
    /// The features overlapped.
    pub features: Vec<String>,
    /// Overlap, whole m².
    pub overlap_m2: u64,
    /// Share of the site, whole percent.
    pub share_percent: u32,
    /// Whether it refuses the application.
    pub blocking: bool,
    /// The rule in words.
    pub message: String,
}

impl From<&onewindow_core::site::Finding> for SiteConflict {
    fn from(f: &onewindow_core::site::Finding) -> SiteConflict {
        SiteConflict {
            rule: f.rule.clone(),
            layer: f.layer.clone(),
            plan: f.plan.clone(),
            department: f.department.clone(),
            features: f.features.clone(),
            overlap_m2: f.overlap_m2.round() as u64,
            share_percent: (f.share * 100.0).round() as u32,
            blocking: f.blocking,
            message: f.message.clone(),
        }
    }
}

impl Notice {
    /// Adds a site check's findings; a blocking one makes the notice incomplete.
    pub fn add_site(&mut self, site: &onewindow_core::site::SiteCheck) {
        self.site
            .extend(site.findings.iter().map(SiteConflict::from));
        if site.blocking {
            self.complete = false;
        }
    }
}

impl Notice {
    /// The departments concerned, in order of first appearance.
    pub fn departments(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for i in &self.items {
            if !out.contains(&i.department.as_str()) {
                out.push(&i.department);
            }
        }
        out
    }
}

/// Checks raw form values against the workflow's fields, keeping what is valid: the
/// engine still evaluates conditions on the valid part to tell which items apply.
pub fn check_form(
    fields: &[Field],
    values: &std::collections::BTreeMap<String, Value>,
) -> (Form, Vec<FieldProblem>) {
    let mut form = Form::default();
    let mut problems = Vec::new();
    for (k, v) in values {
        match fields.iter().find(|f| &f.id == k) {
            None => problems.push(FieldProblem {
                field: k.clone(),
                problem: "not a field of this form".into(),
            }),
            Some(f) => match f.check(v) {
                Ok(()) => {
                    form.values.insert(k.clone(), v.clone());
                }
                Err(p) => problems.push(FieldProblem {
                    field: k.clone(),
                    problem: p,
                }),
            },
        }
    }
    for f in fields {
        if f.required && !values.contains_key(&f.id) {
            problems.push(FieldProblem {
                field: f.id.clone(),
                problem: "required, not filled in".into(),
            });
        }
    }
    (form, problems)
}

/// Which items apply to a form (conditions evaluated; an item without one always applies).
pub fn applicable(plan: &Plan, form: &Form) -> Vec<bool> {
    plan.items
        .iter()
        .map(|it| it.when.as_ref().is_none_or(|w| w.0.eval(form)))
        .collect()
}

/// The last stage whose materials belong to the submission package: everything up to the
/// construction permit. Construction- and acceptance-stage materials (as-built drawings,
/// test reports) cannot exist at submission; the window hands them in when those stages
/// open, and their tasks wait until then.
pub const SUBMISSION_STAGES: Stage = Stage::Approval;

/// Pre-reviews an application: the form and the materials handed in, against every item
/// that applies in the stages up to `upto`. Pure; the same notice refuses an incomplete
/// submission.
pub fn pre_review(
    plan: &Plan,
    values: &std::collections::BTreeMap<String, Value>,
    materials: &[MaterialRef],
    upto: Stage,
) -> Notice {
    let (form, form_problems) = check_form(&plan.fields, values);
    let applies = applicable(plan, &form);
    let handed: Vec<bool> = plan
        .materials
        .iter()
        .map(|m| materials.iter().any(|r| r.material == m.id))
        .collect();
    // A condition that reads a required field the form lacks cannot be decided yet.
    let lacking: Vec<&str> = plan
        .fields
        .iter()
        .filter(|f| f.required && !form.values.contains_key(&f.id))
        .map(|f| f.id.as_str())
        .collect();
    let mut items = Vec::new();
    let mut conditional = Vec::new();
    for (i, item) in plan.items.iter().enumerate() {
        if item.stage > upto {
            continue;
        }
        let undecided: Vec<String> = match &item.when {
            Some(w) if !lacking.is_empty() => {
                let mut f: Vec<String> =
                    w.0.fields()
                        .into_iter()
                        .filter(|f| lacking.contains(f))
                        .map(str::to_string)
                        .collect();
                f.dedup();
                f
            }
            _ => Vec::new(),
        };
        if !applies[i] && undecided.is_empty() {
            continue;
        }
        // Its own materials, and the material that stands in for a document it requires
        // when no applicable item issues that document.
        let mut missing_materials: Vec<String> = item
            .requires
            .materials
            .iter()
            .filter(|&&m| !handed[m])
            .map(|&m| plan.materials[m].id.clone())
            .collect();
        for &d in &item.requires.documents {
            if let (Some(m), false) = (
                plan.supplier[d],
                plan.producer[d].is_some_and(|p| applies[p]),
            ) {
                if !handed[m] && !missing_materials.contains(&plan.materials[m].id) {
                    missing_materials.push(plan.materials[m].id.clone());
                }
            }
        }
        let missing_fields: Vec<String> = item
            .requires
            .fields
            .iter()
            .filter(|&&f| !form.values.contains_key(&plan.fields[f].id))
            .map(|&f| plan.fields[f].id.clone())
            .collect();
        let department = match (item.kind, item.department) {
            (_, Some(d)) => plan.departments[d].id.clone(),
            (ItemKind::Milestone, None) | (ItemKind::Review, None) => "window".into(),
        };
        if !undecided.is_empty() {
            conditional.push(ConditionalNotice {
                item: item.id.clone(),
                name: item.name.clone(),
                department,
                stage: item.stage,
                condition: item.when.as_ref().map(|w| w.1.clone()).unwrap_or_default(),
                undecided_fields: undecided,
                missing_materials,
                missing_fields,
            });
        } else if !missing_materials.is_empty() || !missing_fields.is_empty() {
            items.push(ItemNotice {
                item: item.id.clone(),
                name: item.name.clone(),
                department,
                stage: item.stage,
                missing_materials,
                missing_fields,
            });
        }
    }
    let unknown_materials = materials
        .iter()
        .filter(|r| plan.material_index(&r.material).is_none())
        .map(|r| r.material.clone())
        .collect();
    Notice {
        complete: form_problems.is_empty() && items.is_empty() && conditional.is_empty(),
        site: Vec::new(),
        form: form_problems,
        items,
        conditional,
        unknown_materials,
    }
}
