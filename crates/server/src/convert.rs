//! Protobuf at the edge: domain values to messages and back. The only code besides the
//! generated [`super::pb`] that knows the wire types' shapes.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use tonic::{Request, Status};

use super::status::*;
use super::*;
use auth::Caller;
use onewindow_core::form::{FieldType, Value};
use onewindow_core::plan::Plan;
use onewindow_engine::{self, MaterialRef};

pub(super) fn notice_pb(n: engine::notice::Notice) -> pb::Notice {
    pb::Notice {
        complete: n.complete,
        form: n
            .form
            .into_iter()
            .map(|f| pb::FieldProblem {
                field: f.field,
                problem: f.problem,
            })
            .collect(),
        items: n
            .items
            .into_iter()
            .map(|i| pb::ItemNotice {
                item: i.item,
                name: i.name,
                department: i.department,
                missing_materials: i.missing_materials,
                missing_fields: i.missing_fields,
            })
            .collect(),
        unknown_materials: n.unknown_materials,
        conditional: n
            .conditional
            .into_iter()
            .map(|c| pb::ConditionalItem {
                item: c.item,
                name: c.name,
                department: c.department,
                condition: c.condition,
                undecided_fields: c.undecided_fields,
                missing_materials: c.missing_materials,
                missing_fields: c.missing_fields,
            })
            .collect(),
        site: n.site.into_iter().map(site_conflict_pb).collect(),
    }
}

pub(super) fn site_conflict_pb(c: engine::notice::SiteConflict) -> pb::SiteConflict {
    pb::SiteConflict {
        rule: c.rule,
        layer: c.layer,
        plan: c.plan,
        department: c.department,
        features: c.features,
        overlap_m2: c.overlap_m2,
        share_percent: c.share_percent,
        blocking: c.blocking,
        message: c.message,
    }
}

pub(super) fn event_pb(e: &engine::Envelope) -> pb::Event {
    pb::Event {
        seq: e.seq,
        at: e.at.to_string(),
        actor: e.actor.id(),
        r#type: e.event.kind().to_string(),
        item: e.event.item().unwrap_or_default().to_string(),
        summary: e.event.summary(),
        json: serde_json::to_string(e).unwrap_or_default(),
        project: e.project.to_string(),
    }
}

/// The materials of a request (`field`), each reference checked: the material id is an
/// id, named once (one entry per material: a second would leave it unclear which file
/// the record holds), the name, hash and location are bounded text.
pub(super) fn materials(
    field: &str,
    refs: Vec<pb::MaterialRef>,
) -> Result<Vec<MaterialRef>, Status> {
    input::list(field, &refs)?;
    let mut seen = std::collections::HashMap::new();
    refs.into_iter()
        .enumerate()
        .map(|(i, m)| {
            input::id(&format!("{field}[{i}].material"), &m.material)?;
            if let Some(first) = seen.insert(m.material.clone(), i) {
                return Err(invalid_argument(format!(
                    "{field}[{i}].material: {} is named twice (also {field}[{first}]); hand in one file per material",
                    input::quoted(&m.material)
                )));
            }
            input::text(&format!("{field}[{i}].name"), &m.name)?;
            input::optional_id(&format!("{field}[{i}].sha256"), &m.sha256)?;
            input::text(&format!("{field}[{i}].location"), &m.location)?;
            Ok(MaterialRef {
                material: m.material,
                name: m.name,
                sha256: m.sha256,
                size: m.size,
                location: m.location,
            })
        })
        .collect()
}

/// An item id of a request.
pub(super) fn item_id(item: String) -> Result<String, Status> {
    input::id("item", &item)?;
    Ok(item)
}

/// Free text of a request (`field`), bounded.
pub(super) fn checked_text(field: &str, text: String) -> Result<String, Status> {
    input::text(field, &text)?;
    Ok(text)
}

/// Document numbers of an approval: document id → number (文号, printable text up to
/// `plan::numbering::MAX_NUMBER_CHARS` characters, kept trimmed; not an id).
pub(super) fn numbers(
    numbers: std::collections::HashMap<String, String>,
) -> Result<BTreeMap<String, String>, Status> {
    if numbers.len() > input::MAX_LIST {
        return Err(invalid_argument(format!(
            "numbers: {} entries; at most {}",
            numbers.len(),
            input::MAX_LIST
        )));
    }
    let mut out = BTreeMap::new();
    for (d, n) in numbers {
        input::id("numbers", &d)?;
        let n = onewindow_core::plan::numbering::check_number(&n)
            .map_err(|e| invalid_argument(format!("numbers.{}: {e}", truncate(&d, ECHO))))?
            .to_string();
        out.insert(d, n);
    }
    Ok(out)
}

/// Material ids (`needed`), each an id.
pub(super) fn material_ids(field: &str, ids: Vec<String>) -> Result<Vec<String>, Status> {
    input::list(field, &ids)?;
    for (i, m) in ids.iter().enumerate() {
        input::id(&format!("{field}[{i}]"), m)?;
    }
    Ok(ids)
}

/// The form of a request: field ids are ids, text is bounded, dates are in range (a date
/// field may also come as text).
pub(super) fn form_values(
    plan: &Plan,
    form: BTreeMap<String, pb::FieldValue>,
) -> Result<BTreeMap<String, Value>, Status> {
    if form.len() > input::MAX_LIST {
        return Err(invalid_argument(format!(
            "form: {} fields; at most {}",
            form.len(),
            input::MAX_LIST
        )));
    }
    let mut out = BTreeMap::new();
    for (k, v) in form {
        input::id("form", &k)?;
        let field = format!("form.{k}");
        let value = match v.value {
            None => return Err(invalid_argument(format!("{field}: no value"))),
            Some(pb::field_value::Value::Text(s)) => {
                input::text(&field, &s)?;
                Value::String(s)
            }
            Some(pb::field_value::Value::Number(n)) if n.is_finite() => Value::Number(n),
            Some(pb::field_value::Value::Number(n)) => {
                return Err(invalid_argument(format!(
                    "{field}: {n} is not a finite number"
                )))
            }
            Some(pb::field_value::Value::Flag(b)) => Value::Bool(b),
            Some(pb::field_value::Value::Date(d)) => Value::Date(input::date(&field, &d)?),
        };
        // A date field may also be sent as text.
        let value = match (plan.fields.iter().find(|f| f.id == k).map(|f| &f.ty), value) {
            (Some(FieldType::Date), Value::String(s)) => Value::Date(input::date(&field, &s)?),
            (_, v) => v,
        };
        out.insert(k, value);
    }
    Ok(out)
}

pub(super) fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no credentials"))
}

pub(super) fn task_pb(project: &str, plan: &Plan, i: usize, t: &engine::Task) -> pb::Task {
    pb::Task {
        project: project.to_string(),
        item: plan.items[i].id.clone(),
        department: plan.department_of(i).to_string(),
        state: t.state.as_str().to_string(),
        due: t.due.map(|d| d.to_string()).unwrap_or_default(),
        warned: t.warned,
        overdue: t.overdue,
        step: plan.items[i]
            .steps
            .get(usize::from(t.step))
            .map(|s| s.id.clone())
            .unwrap_or_default(),
        assignee: t.assignee.clone().unwrap_or_default(),
        card: if t.red {
            "red"
        } else if t.yellow.is_some() && t.is_open() {
            "yellow"
        } else {
            ""
        }
        .to_string(),
        notice: String::new(),
    }
}

pub(super) fn limits_arg(s: &str) -> Result<Option<onewindow_core::spec::LimitKind>, Status> {
    match s {
        "" => Ok(None),
        "statutory" => Ok(Some(onewindow_core::spec::LimitKind::Statutory)),
        "committed" => Ok(Some(onewindow_core::spec::LimitKind::Committed)),
        other => Err(invalid_argument(format!(
            "limits: {} (statutory or committed)",
            input::quoted(other)
        ))),
    }
}

pub(super) fn date_arg(field: &str, s: &str) -> Result<Option<NaiveDate>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    input::date(field, s).map(Some)
}

pub(super) fn workflow_pb(p: &Plan) -> pb::Workflow {
    pb::Workflow {
        version: p.version.clone(),
        id: p.id.clone(),
        name: p.name.clone(),
        items: p.items.len() as u32,
        limits: p.default_limits.name().to_string(),
        yaml: String::new(),
    }
}

impl Api {
    pub(super) fn project_pb(&self, p: &engine::Project) -> Result<pb::Project, Status> {
        let plan = self.plan(p.version())?;
        Ok(pb::Project {
            id: p.id().to_string(),
            workflow: p.workflow().to_string(),
            version: p.version().to_string(),
            applicant: p.applicant().to_string(),
            agent: p.agent().map(str::to_string).unwrap_or_default(),
            status: format!("{:?}", p.status()).to_lowercase(),
            stage: p.stage().map(|s| s.id().to_string()).unwrap_or_default(),
            tasks: p
                .tasks()
                .iter()
                .enumerate()
                .map(|(i, t)| task_pb(p.id(), &plan, i, t))
                .collect(),
            seq: p.seq(),
            documents: p
                .documents()
                .iter()
                .enumerate()
                .filter_map(|(di, d)| Some((di, d.as_ref()?)))
                .map(|(di, d)| self.document_pb(&plan, p, di, d))
                .collect(),
        })
    }

    /// An issued document, sealed with its department's key when the server signs
    /// documents (a key that cannot be read leaves the seal empty, and is logged). The
    /// department is that of the approved item producing it.
    fn document_pb(
        &self,
        plan: &Plan,
        p: &engine::Project,
        di: usize,
        d: &engine::IssuedDocument,
    ) -> pb::IssuedDocument {
        let project = p.id();
        let department = plan
            .items
            .iter()
            .enumerate()
            .find(|(i, item)| {
                item.produces.contains(&di) && p.tasks()[*i].state == engine::TaskState::Approved
            })
            .map(|(i, _)| plan.department_of(i).to_string())
            .unwrap_or_default();
        let seal = match (&self.document_keys, d.issued_at) {
            (Some(keys), Some(issued_at)) if !department.is_empty() => {
                match keys.key(&department) {
                    Ok(key) => onewindow_audit::document::Sealed {
                        project: project.to_string(),
                        document: d.document.clone(),
                        number: d.number.clone(),
                        issued_at,
                        department: department.clone(),
                    }
                    .seal(&key),
                    Err(e) => {
                        tracing::error!(department, "cannot seal a document: {e}");
                        String::new()
                    }
                }
            }
            _ => String::new(),
        };
        pb::IssuedDocument {
            document: d.document.clone(),
            number: d.number.clone(),
            department,
            issued_at: d
                .issued_at
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
                .unwrap_or_default(),
            seal,
        }
    }
}
