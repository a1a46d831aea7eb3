//! Protobuf at the edge: domain values to messages and back. The only code besides the
//! generated [`super::pb`] that knows the wire types' shapes.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use tonic::{Request, Status};

use super::status::*;
use super::*;
use crate::engine::{self, Actor, MaterialRef};
use crate::form::{FieldType, Value};
use crate::plan::Plan;
use auth::Caller;

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
    }
}

pub(super) fn actor_text(a: &Actor) -> String {
    match a {
        Actor::Window => "window".into(),
        Actor::Department(d) => format!("department:{d}"),
        Actor::Supervisor => "supervisor".into(),
        Actor::System => "system".into(),
    }
}

pub(super) fn event_pb(e: &engine::Envelope) -> pb::Event {
    pb::Event {
        seq: e.seq,
        at: e.at.to_string(),
        actor: actor_text(&e.actor),
        r#type: e.event.kind().to_string(),
        item: e.event.item().unwrap_or_default().to_string(),
        summary: e.event.summary(),
        json: serde_json::to_string(e).unwrap_or_default(),
        project: e.project.clone(),
    }
}

pub(super) fn materials(refs: Vec<pb::MaterialRef>) -> Vec<MaterialRef> {
    refs.into_iter()
        .map(|m| MaterialRef {
            material: m.material,
            name: m.name,
            sha256: m.sha256,
            size: m.size,
            location: m.location,
        })
        .collect()
}

pub(super) fn form_values(
    plan: &Plan,
    form: BTreeMap<String, pb::FieldValue>,
) -> Result<BTreeMap<String, Value>, Status> {
    let mut out = BTreeMap::new();
    for (k, v) in form {
        let bad = |m: &str| invalid_argument(format!("form.{k}: {m}"));
        let value = match v.value {
            None => return Err(bad("no value")),
            Some(pb::field_value::Value::Text(s)) => Value::String(s),
            Some(pb::field_value::Value::Number(n)) => Value::Number(n),
            Some(pb::field_value::Value::Flag(b)) => Value::Bool(b),
            Some(pb::field_value::Value::Date(d)) => Value::Date(
                d.parse::<NaiveDate>()
                    .map_err(|_| bad("not a date (YYYY-MM-DD)"))?,
            ),
        };
        // A date field may also be sent as text.
        let value = match (plan.fields.iter().find(|f| f.id == k).map(|f| &f.ty), value) {
            (Some(FieldType::Date), Value::String(s)) => Value::Date(
                s.parse::<NaiveDate>()
                    .map_err(|_| bad("not a date (YYYY-MM-DD)"))?,
            ),
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
    }
}

pub(super) fn limits_arg(s: &str) -> Result<Option<crate::spec::LimitKind>, Status> {
    match s {
        "" => Ok(None),
        "statutory" => Ok(Some(crate::spec::LimitKind::Statutory)),
        "committed" => Ok(Some(crate::spec::LimitKind::Committed)),
        other => Err(invalid_argument(format!(
            "limits: `{other}` (statutory or committed)"
        ))),
    }
}

pub(super) fn date_arg(field: &str, s: &str) -> Result<Option<NaiveDate>, Status> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<NaiveDate>()
        .map(Some)
        .map_err(|_| invalid_argument(format!("{field}: not YYYY-MM-DD")))
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
        let plan = self.plan(&p.version)?;
        Ok(pb::Project {
            id: p.id.clone(),
            workflow: p.workflow.clone(),
            version: p.version.clone(),
            applicant: p.applicant.clone(),
            agent: p.agent.clone().unwrap_or_default(),
            status: format!("{:?}", p.status).to_lowercase(),
            stage: p.stage.map(|s| s.id().to_string()).unwrap_or_default(),
            tasks: p
                .tasks
                .iter()
                .enumerate()
                .map(|(i, t)| task_pb(&p.id, &plan, i, t))
                .collect(),
            seq: p.seq,
        })
    }
}
