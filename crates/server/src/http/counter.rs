//! The integrated window (综合窗口): the clerk picks a workflow, fills in the one form
//! generated from the workflow's fields, ticks the materials handed in, pre-reviews (the
//! printable one-time notice, 一次性告知书), submits (the printable acceptance receipt,
//! 受理回执, with the project code), and later hands in supplements and later-stage
//! materials, reports milestones or withdraws.
//!
//! The form is checked in the page (HTML types, required marks, enum lists) and on the
//! server by the same handlers as `Window.PreReview` and `Window.Submit`: a value the page
//! let through is refused with the gRPC API's own message.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use maud::{html, Markup};

use super::page::{self, command_fields, department_name, short_version, urlencode, Page};
use super::session::{Refused, Session};
use super::{request, Http};
use crate::auth::Role;
use crate::pb;
use crate::pb::window_server::Window;
use onewindow_core::form::FieldType;
use onewindow_core::plan::Plan;

pub(super) fn router() -> Router<Http> {
    Router::new()
        .route("/console/window", get(home))
        .route("/console/window/apply/{version}", get(blank).post(apply))
        .merge(super::case::router())
}

/// The window's session, or why not.
pub(super) fn window(s: &Session) -> Result<(), Refused> {
    match s.caller.role {
        Role::Window => Ok(()),
        _ => Err(Refused::Forbidden(
            "只有综合窗口可以受理 Only the window's clerks use the counter.".into(),
        )),
    }
}

#[derive(serde::Deserialize)]
struct Lookup {
    #[serde(default)]
    code: String,
}

async fn home(
    State(http): State<Http>,
    session: Session,
    Query(lookup): Query<Lookup>,
) -> Result<Response, Refused> {
    window(&session)?;
    if !lookup.code.trim().is_empty() {
        let code = lookup.code.trim();
        return Ok(
            Redirect::to(&format!("/console/window/projects/{}", urlencode(code))).into_response(),
        );
    }
    let api = &http.api;
    let workflows = api.svc.versions();
    let mut plans: Vec<std::sync::Arc<Plan>> =
        workflows.iter().filter_map(|v| api.svc.plan(v)).collect();
    plans.sort_by(|a, b| a.id.cmp(&b.id));
    let recent = api
        .list_projects(request(
            &session.caller,
            pb::ListProjectsRequest {
                page_size: 20,
                ..Default::default()
            },
        ))
        .await
        .map(|r| r.into_inner().projects);
    let body = html! {
        h1 { "综合窗口 Integrated window" }
        form.card.filters method="get" action="/console/window" {
            label { "项目代码 Project code " input type="text" name="code" required maxlength="128"; }
            button type="submit" { "查询 Open" }
        }
        h2 { "受理申请 New application" }
        table {
            thead { tr { th { "事项流程 Workflow" } th { "版本 Version" } th { "事项数 Items" } th {} } }
            tbody {
                @for p in &plans {
                    tr {
                        td { (p.name) }
                        td { code { (short_version(&p.version)) } }
                        td { (p.items.len()) }
                        td { a.button href={ "/console/window/apply/" (p.version) } { "填写一张表单 Fill in the form" } }
                    }
                }
            }
        }
        h2 { "最近的项目 Recent projects" }
        @match &recent {
            Ok(projects) => { (projects_table(&http, projects)) }
            Err(s) => { (page::refusal(s, None, session.lang)) }
        }
    };
    Ok(Page::new("综合窗口", Some(&session))
        .render(body)
        .into_response())
}

/// Projects with their workflow, stage and status by name.
fn projects_table(http: &Http, projects: &[pb::Project]) -> Markup {
    html! {
        table #projects {
            thead { tr { th { "项目代码 Code" } th { "申请人 Applicant" } th { "事项流程 Workflow" } th { "阶段 Stage" } th { "状态 Status" } } }
            tbody {
                @for p in projects {
                    @let plan = http.api.svc.plan(&p.version);
                    tr data-project=(p.id) {
                        td { a href={ "/console/window/projects/" (urlencode(&p.id)) } { (p.id) } }
                        td { (p.applicant) }
                        td { (plan.as_ref().map_or(p.workflow.as_str(), |pl| pl.name.as_str())) }
                        td.stage { (plan.as_ref().map_or_else(|| "—".to_string(), |pl| page::stage_name(pl, &p.stage))) }
                        td { (page::project_status_name(&p.status)) }
                    }
                }
            }
        }
    }
}

/// What the clerk typed, kept to draw the form again.
#[derive(Default)]
struct Filled {
    values: BTreeMap<String, String>,
    materials: BTreeSet<String>,
    references: BTreeMap<String, String>,
}

impl Filled {
    fn from_pairs(pairs: &[(String, String)]) -> Filled {
        let mut f = Filled::default();
        for (k, v) in pairs {
            if k == "material" {
                f.materials.insert(v.clone());
            } else if let Some(m) = k.strip_prefix("ref.") {
                f.references.insert(m.to_string(), v.clone());
            } else {
                f.values.insert(k.clone(), v.clone());
            }
        }
        f
    }

    fn get(&self, k: &str) -> &str {
        self.values.get(k).map_or("", String::as_str)
    }

    /// The form values as the API takes them: by the field's type; what does not parse
    /// goes as text, so that the server's check reports it in the API's words.
    fn form(&self, plan: &Plan) -> std::collections::HashMap<String, pb::FieldValue> {
        use pb::field_value::Value;
        let mut out = std::collections::HashMap::new();
        for f in &plan.fields {
            let raw = self.get(&format!("f.{}", f.id)).trim();
            if raw.is_empty() {
                continue;
            }
            let value = match &f.ty {
                FieldType::Number => raw
                    .parse::<f64>()
                    .map_or_else(|_| Value::Text(raw.into()), Value::Number),
                FieldType::Bool => match raw {
                    "true" => Value::Flag(true),
                    "false" => Value::Flag(false),
                    other => Value::Text(other.into()),
                },
                FieldType::Date => Value::Date(raw.into()),
                FieldType::String | FieldType::Enum(_) => Value::Text(raw.into()),
            };
            out.insert(f.id.clone(), pb::FieldValue { value: Some(value) });
        }
        out
    }

    /// The materials ticked, each with its reference (file name or archive number).
    fn materials(&self) -> Vec<pb::MaterialRef> {
        self.materials
            .iter()
            .map(|m| pb::MaterialRef {
                material: m.clone(),
                name: self.references.get(m).cloned().unwrap_or_default(),
                ..Default::default()
            })
            .collect()
    }
}

async fn blank(
    State(http): State<Http>,
    session: Session,
    Path(version): Path<String>,
) -> Result<Response, Refused> {
    window(&session)?;
    let Ok(plan) = http.api.plan(&version) else {
        return Ok(page::not_found("No such workflow version."));
    };
    let mut filled = Filled::default();
    let today = http.api.now().format("%Y%m%d");
    filled.values.insert(
        "project".into(),
        format!("{today}-{}", &super::session::random_hex()[..6]),
    );
    Ok(application(
        &session,
        &plan,
        &filled,
        html! {},
        StatusCode::OK,
    ))
}

/// The one form of a workflow, with what was filled in and anything to say above it.
fn application(
    session: &Session,
    plan: &Plan,
    filled: &Filled,
    above: Markup,
    status: StatusCode,
) -> Response {
    let body = html! {
        (above)
        h1.noprint { (plan.name) }
        form.card.noprint method="post" action={ "/console/window/apply/" (plan.version) } {
            (command_fields(session))
            h2 { "申请信息 Application" }
            label { "项目代码 Project code " span.req { "*" }
                input type="text" name="project" required maxlength="128" pattern="[^\\s]+" value=(filled.get("project")); }
            label { "申请人 Applicant " span.req { "*" }
                input type="text" name="applicant" required maxlength="2000" value=(filled.get("applicant")); }
            label { "代办员 Agent (optional)"
                input type="text" name="agent" maxlength="2000" value=(filled.get("agent")); }
            h2 { "一张表单 The form" }
            @for f in &plan.fields {
                @let name = format!("f.{}", f.id);
                @let value = filled.get(&name);
                label {
                    (f.name) " " code.hint { (f.id) }
                    @if f.required { " " span.req title="必填 required" { "*" } }
                    @match &f.ty {
                        FieldType::String => {
                            input type="text" name=(name) maxlength="2000" required[f.required] value=(value);
                        }
                        FieldType::Number => {
                            input type="number" step="any" name=(name) required[f.required] min=[f.min] max=[f.max] value=(value);
                        }
                        FieldType::Date => {
                            input type="date" name=(name) min="2000-01-01" max="2199-12-31" required[f.required] value=(value);
                        }
                        FieldType::Bool => {
                            select name=(name) required[f.required] {
                                option value="" { "—" }
                                option value="true" selected[value == "true"] { "是 yes" }
                                option value="false" selected[value == "false"] { "否 no" }
                            }
                        }
                        FieldType::Enum(values) => {
                            select name=(name) required[f.required] {
                                option value="" { "—" }
                                @for v in values { option value=(v) selected[value == v] { (f.label(v)) } }
                            }
                        }
                    }
                }
            }
            @if plan.blueprint_dir.is_some() {
                h2 { "用地红线 Site" }
                label { "用地红线坐标（GeoJSON，经度在前） Site as GeoJSON, longitude first — checked against the city's blueprint (一张蓝图)"
                    textarea name="site" rows="4" maxlength="1048576" { (filled.get("site")) } }
            }
            h2 { "材料清单 Materials (handed in once)" }
            table {
                thead { tr { th { "收取 Received" } th { "材料 Material" } th { "所需事项 Needed by" } th { "文件名或档案号 Reference" } } }
                tbody {
                    @for (m, material) in plan.materials.iter().enumerate() {
                        tr {
                            td { input type="checkbox" name="material" value=(material.id) id={ "m-" (material.id) } checked[filled.materials.contains(&material.id)]; }
                            td { label for={ "m-" (material.id) } { (material.name) } small.tag { (material.id) } }
                            td.hint { (needed_by(plan, m)) }
                            td { input type="text" name={ "ref." (material.id) } maxlength="2000" aria-label={ (material.name) " 文件名或档案号 reference" } value=(filled.references.get(&material.id).map_or("", String::as_str)); }
                        }
                    }
                }
            }
            p {
                button.secondary type="submit" name="action" value="notice" formnovalidate { "预审 Pre-review (一次性告知)" }
                " "
                button type="submit" name="action" value="submit" { "受理 Accept and submit" }
            }
        }
    };
    (status, Page::new(&plan.name, Some(session)).render(body)).into_response()
}

/// The items that require material `m`, by name.
fn needed_by(plan: &Plan, m: usize) -> String {
    plan.items
        .iter()
        .filter(|i| i.requires.materials.contains(&m))
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join("、")
}

async fn apply(
    State(http): State<Http>,
    session: Session,
    Path(version): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, Refused> {
    window(&session)?;
    let filled = Filled::from_pairs(&pairs);
    if !session.csrf_ok(filled.values.get("csrf").map(String::as_str)) {
        return Ok(page::bad_csrf());
    }
    let Ok(plan) = http.api.plan(&version) else {
        return Ok(page::not_found("No such workflow version."));
    };
    let api = &http.api;
    if filled.get("action") == "notice" {
        let notice = api
            .pre_review(request(
                &session.caller,
                pb::PreReviewRequest {
                    version: version.clone(),
                    form: filled.form(&plan),
                    materials: filled.materials(),
                    site: filled.get("site").to_string(),
                },
            ))
            .await;
        let above = match notice {
            Ok(n) => notice_doc(&plan, &filled, &n.into_inner(), api.now()),
            Err(s) => page::refusal(&s, Some(&plan), session.lang),
        };
        return Ok(application(&session, &plan, &filled, above, StatusCode::OK));
    }
    // A clerk's input method may type full-width letters and digits: the code as the
    // API takes it (NFKC), so `ＰＲＪ－１` is `PRJ-1`, not a refusal.
    let project = crate::input::normal_id(filled.get("project"));
    let submitted = api
        .submit(request(
            &session.caller,
            pb::SubmitRequest {
                request_id: filled.get("request_id").to_string(),
                project: project.clone(),
                version: version.clone(),
                applicant: filled.get("applicant").trim().to_string(),
                agent: filled.get("agent").trim().to_string(),
                form: filled.form(&plan),
                materials: filled.materials(),
                at: String::new(),
                site: filled.get("site").to_string(),
            },
        ))
        .await;
    Ok(match submitted {
        Ok(_) => Redirect::to(&format!(
            "/console/window/projects/{}/receipt",
            urlencode(&project)
        ))
        .into_response(),
        Err(s) => {
            // An incomplete submission carries its one-time notice: shown as pre-review
            // would, above the form as it was.
            let notice = super::error::explain(&s).notice;
            let above = html! {
                (page::refusal(&s, Some(&plan), session.lang))
                @if let Some(n) = &notice { (notice_doc(&plan, &filled, n, api.now())) }
            };
            application(&session, &plan, &filled, above, page::refusal_code(&s))
        }
    })
}

/// The one-time notice (一次性告知书) as a printable document.
fn notice_doc(plan: &Plan, filled: &Filled, n: &pb::Notice, now: chrono::NaiveDateTime) -> Markup {
    html! {
        section.doc #notice {
            h1 { "一次性告知书" }
            p.hint { "One-time notice of everything missing" }
            table.meta {
                tr { td { "事项流程 Workflow" } td { (plan.name) } }
                tr { td { "申请人 Applicant" } td { (filled.get("applicant")) } }
                tr { td { "告知时间 Date" } td { (now.format("%Y-%m-%d %H:%M")) } }
            }
            @if n.complete {
                p.ok-banner #notice-complete { "材料齐全，可以受理。 Complete: the application can be accepted." }
            } @else {
                @if !n.form.is_empty() {
                    h2 { "表单 Form" }
                    ul { @for p in &n.form { li { code { (p.field) } " " (p.problem) } } }
                }
                @if !n.items.is_empty() {
                    h2 { "需补齐 To hand in" }
                    table {
                        thead { tr { th { "事项 Item" } th { "部门 Department" } th { "缺少材料 Missing materials" } th { "缺少表单项 Missing fields" } } }
                        tbody {
                            @for i in &n.items {
                                tr {
                                    td { (i.name) }
                                    td { (department_name(plan, &i.department)) }
                                    td { (names(plan, &i.missing_materials, true)) }
                                    td { (names(plan, &i.missing_fields, false)) }
                                }
                            }
                        }
                    }
                }
                @if !n.conditional.is_empty() {
                    h2 { "待定事项 Items that depend on the form" }
                    ul { @for c in &n.conditional {
                        li { (c.name) " — " code { (c.condition) } " (" (c.undecided_fields.join("、")) ")" }
                    } }
                }
            }
            @if !n.site.is_empty() {
                h2 { "一张蓝图 Site against the plans" }
                table #site-findings {
                    thead { tr { th { "规则 Rule" } th { "规划 Plan" } th { "部门 Department" } th { "面积 Overlap" } th { "说明 Finding" } } }
                    tbody {
                        @for c in &n.site {
                            tr class=(if c.blocking { "overdue" } else { "" }) data-rule=(c.rule) {
                                td { @if c.blocking { strong { "不可受理 blocks " } } code { (c.rule) } }
                                td { (c.plan) }
                                td { (c.department) }
                                td { (c.overlap_m2) " m² (" (c.share_percent) " %)" }
                                td { (c.message) }
                            }
                        }
                    }
                }
            }
            @if !n.unknown_materials.is_empty() {
                p.hint { "未列入清单的材料 Not in the workflow: " (n.unknown_materials.join(", ")) }
            }
            p.noprint { button type="button" data-print { "打印 Print" } }
        }
    }
}

/// Material or field ids by their names in the workflow.
pub(super) fn names(plan: &Plan, ids: &[String], materials: bool) -> String {
    ids.iter()
        .map(|id| {
            let name = if materials {
                plan.materials
                    .iter()
                    .find(|m| &m.id == id)
                    .map(|m| m.name.as_str())
            } else {
                plan.fields
                    .iter()
                    .find(|f| &f.id == id)
                    .map(|f| f.name.as_str())
            };
            name.unwrap_or(id).to_string()
        })
        .collect::<Vec<_>>()
        .join("、")
}
