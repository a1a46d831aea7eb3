//! A project as the applicant's side sees it — the window's clerk, or the project's
//! agent (代办员) — at `/console/window/projects/{project}`: where it stands with every
//! name from the workflow, what a rejection or a supplement asks of the applicant (the
//! department, the reason, the note), the window's verbs of the table that the project
//! allows now, and the printable receipt. An agent sees only the projects assigned to
//! them: the same reads as the API's, which answer "not found" for any other.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};
use tonic::Status;

use super::actions::{self, Done};
use super::counter::names;
use super::page::{
    self, department_name, plan_of, project_status_name, stage_name, tasks_table, urlencode, Page,
};
use super::session::{Refused, Session};
use super::{request, Http};
use crate::auth::Role;
use crate::pb;
use crate::pb::window_server::Window;
use crate::verbs::{self, Family, Scene};
use onewindow_core::plan::Plan;
use onewindow_engine::{Suspension, TaskState};

pub(super) fn router() -> Router<Http> {
    Router::new()
        .route("/console/window/projects/{project}", get(project))
        .route("/console/window/projects/{project}/receipt", get(receipt))
        .route("/console/window/projects/{project}/{verb}", post(act))
        .route(
            "/console/window/projects/{project}/items/{item}/{verb}",
            post(act_on_item),
        )
}

/// The applicant's side: the window's clerks, and agents (for their own projects).
pub(super) fn applicant_side(s: &Session) -> Result<(), Refused> {
    match s.caller.role {
        Role::Window | Role::Agent(_) => Ok(()),
        _ => Err(Refused::Forbidden(
            "只有综合窗口和代办员可以办理 Only the window and agents act for applicants.".into(),
        )),
    }
}

/// A project's state and plan as the window sees it.
pub(super) async fn load(
    http: &Http,
    session: &Session,
    id: &str,
) -> Result<(pb::Project, std::sync::Arc<Plan>), Status> {
    let p = http
        .api
        .get_project(request(
            &session.caller,
            pb::GetProjectRequest { project: id.into() },
        ))
        .await?
        .into_inner();
    let plan = http.api.plan(&p.version)?;
    Ok((p, plan))
}

async fn receipt(
    State(http): State<Http>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, Refused> {
    applicant_side(&session)?;
    let (p, plan) = match load(&http, &session, &id).await {
        Ok(x) => x,
        Err(s) => return Ok(status_page(&session, &s)),
    };
    let state = http.api.svc.project(&id);
    let submitted = state.as_ref().map(|s| s.submitted());
    let materials = state
        .as_ref()
        .map(|s| s.materials().to_vec())
        .unwrap_or_default();
    let body = html! {
        section.doc #receipt {
            h1 { "受理回执" }
            p.hint { "Acceptance receipt" }
            table.meta {
                tr { td { "项目代码 Project code" } td #project-code { strong { (p.id) } } }
                tr { td { "事项流程 Workflow" } td { (plan.name) } }
                tr { td { "申请人 Applicant" } td { (p.applicant) } }
                @if !p.agent.is_empty() { tr { td { "代办员 Agent" } td { (p.agent) } } }
                tr { td { "受理时间 Accepted at" } td { (submitted.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()) } }
            }
            h2 { "已收材料 Materials received" }
            ul { @for m in plan.materials.iter().filter_map(|x| materials.iter().find(|m| m.material == x.id)) {
                li { (names(&plan, std::slice::from_ref(&m.material), true)) @if !m.name.is_empty() { " — " (m.name) } }
            } }
            h2 { "并联审批事项 Items under review" }
            (receipt_items(&plan, &p.tasks))
            p { "凭项目代码在信息公开页面查询进度： Follow progress with the project code at " code { "/public/projects/" (p.id) } }
            p.noprint {
                button type="button" data-print { "打印 Print" }
                " " a href={ "/console/window/projects/" (urlencode(&p.id)) } { "项目详情 Project" }
            }
        }
    };
    Ok(Page::new("受理回执", Some(&session))
        .render(body)
        .into_response())
}

/// The receipt's items: each with its department, its limit as the workflow promises it,
/// and its due date — or, while its prerequisites are under way, when the clock starts.
fn receipt_items(plan: &Plan, tasks: &[pb::Task]) -> Markup {
    use onewindow_core::spec::Unit;
    html! {
        table.tasks #receipt-items {
            thead { tr { th { "事项 Item" } th { "部门 Department" } th { "承诺时限 Limit" } th { "办结时限 Due" } } }
            tbody {
                @for t in tasks.iter().filter(|t| t.state != "not_applicable") {
                    @let item = plan.items.iter().find(|i| i.id == t.item);
                    tr data-item=(t.item) {
                        td { (page::item_name(plan, &t.item)) }
                        td { (department_name(plan, &t.department)) }
                        td { @match item.filter(|i| i.kind == onewindow_core::spec::ItemKind::Review) {
                            Some(i) => { (i.limit.committed) @match i.limit.unit {
                                Unit::WorkingDays => " 个工作日 working days",
                                Unit::CalendarDays => " 日 days",
                            } }
                            None => { "—" }
                        } }
                        td.due { @if t.due.is_empty() { "前置办结后起算 after its prerequisites" } @else { (t.due) } }
                    }
                }
            }
        }
    }
}

/// A page for a status the window's reads or commands got.
pub(super) fn status_page(session: &Session, s: &Status) -> Response {
    (
        page::refusal_code(s),
        Page::new("未办理", Some(session)).render(page::refusal(s, None, session.lang)),
    )
        .into_response()
}

async fn project(
    State(http): State<Http>,
    session: Session,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, Refused> {
    applicant_side(&session)?;
    Ok(project_page(&http, &session, &id, &done, html! {}, StatusCode::OK).await)
}

/// What a department last asked of the applicant on each item: the supplement's note.
fn supplement_notes(http: &Http, project: &str) -> BTreeMap<String, String> {
    let mut notes = BTreeMap::new();
    for e in http.api.svc.store().events(project, 0).unwrap_or_default() {
        if let onewindow_engine::Event::SupplementRequested { item, note, .. } = e.event {
            notes.insert(item, note);
        }
    }
    notes
}

async fn project_page(
    http: &Http,
    session: &Session,
    id: &str,
    done: &Done,
    above: Markup,
    status: StatusCode,
) -> Response {
    let (p, plan) = match load(http, session, id).await {
        Ok(x) => x,
        Err(s) => return status_page(session, &s),
    };
    let Some(state) = http.api.svc.project(id) else {
        return page::not_found("No such project.");
    };
    let notes = supplement_notes(http, id);
    let base = format!("/console/window/projects/{}", urlencode(&p.id));
    let scene = |item: usize| Scene {
        plan: &plan,
        project: &state,
        item,
    };
    let window_verbs = || verbs::all().filter(|v| v.family == Family::Window);
    let rejected: Vec<usize> = (0..plan.items.len())
        .filter(|&i| state.tasks()[i].state == TaskState::Rejected)
        .collect();
    let supplements: Vec<(usize, &Vec<String>)> = state
        .tasks()
        .iter()
        .enumerate()
        .filter_map(|(i, t)| match &t.suspension {
            Some((Suspension::Supplement { needed }, _)) => Some((i, needed)),
            _ => None,
        })
        .collect();
    let active = state.status() == onewindow_engine::Status::Active;
    let body = html! {
        (above)
        (actions::done_banner(Family::Window, &done.done, &done.item, &plan))
        h1 { "项目 " (p.id) }
        table.meta {
            tr { td { "事项流程 Workflow" } td { (plan.name) } }
            tr { td { "申请人 Applicant" } td { (p.applicant) } }
            @if !p.agent.is_empty() { tr { td { "代办员 Agent" } td { (p.agent) } } }
            tr { td { "阶段 Stage" } td #stage data-stage=(p.stage) { (stage_name(&plan, &p.stage)) } }
            tr { td { "状态 Status" } td #status data-status=(p.status) { (project_status_name(&p.status)) } }
        }
        p { a href={ (base) "/receipt" } { "受理回执 Receipt" } " · " a href={ "/public/projects/" (urlencode(&p.id)) } { "公开进度 Public page" } }
        @for &i in &rejected {
            div.error.rejected role="status" data-item=(plan.items[i].id) {
                h2 { "不予许可 Not approved：" (plan.items[i].name) " " small.tag { (plan.items[i].id) } }
                p { "办理部门 Department：" (department_name(&plan, plan.department_of(i))) }
                p { "理由 Reason：" span.reason { (state.tasks()[i].rejection.as_deref().unwrap_or("—")) } }
                p { "申请人可以：补充或更换材料后重新申请（见下方「重新申请」），或撤回申请。 The applicant may resubmit with new materials (below) or withdraw." }
            }
        }
        @for (i, needed) in &supplements {
            div.ok-banner.supplement role="status" data-item=(plan.items[*i].id) {
                h2 { "需补正 Supplement needed：" (plan.items[*i].name) " " small.tag { (plan.items[*i].id) } }
                p { "办理部门 Department：" (department_name(&plan, plan.department_of(*i))) }
                p { "所需材料 Materials：" (names(&plan, needed, true)) }
                @if let Some(note) = notes.get(&plan.items[*i].id).filter(|n| !n.is_empty()) {
                    p { "说明 Note：" span.note { (note) } }
                }
                p.hint { "补正期间办理时限暂停计时；材料交齐后继续计时。 The clock is stopped until the supplement is handed in." }
            }
        }
        h2 { "事项 Items" }
        (tasks_table(&plan, &p.tasks, false))
        (super::permit::issued_list(&p, &plan))
        @if active {
            h2 { "办理 Actions" }
            div.actions {
                @for i in 0..plan.items.len() {
                    @for verb in window_verbs().filter(|v| v.on_item) {
                        @if (verb.when)(&scene(i)) {
                            (actions::form(verb, &format!("{base}/items/{}/{}", urlencode(&plan.items[i].id), verb.name), session, &scene(i), None, Some(&plan.items[i].name)))
                        }
                    }
                }
                @for verb in window_verbs().filter(|v| !v.on_item) {
                    @if (verb.when)(&scene(0)) {
                        (actions::form(verb, &format!("{base}/{}", verb.name), session, &scene(0), None, None))
                    }
                }
            }
        } @else {
            p.hint { "项目已" (project_status_name(&p.status)) "，无需再办理。 Nothing more to do." }
        }
    };
    (status, Page::new(&p.id, Some(session)).render(body)).into_response()
}

async fn act(
    State(http): State<Http>,
    session: Session,
    Path((id, verb)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, Refused> {
    act_on(http, session, id, String::new(), verb, pairs).await
}

async fn act_on_item(
    State(http): State<Http>,
    session: Session,
    Path((id, item, verb)): Path<(String, String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, Refused> {
    act_on(http, session, id, item, verb, pairs).await
}

/// Runs a window verb of the table from its form; back to the project page saying what
/// was done, or the page again with the refusal above it.
async fn act_on(
    http: Http,
    session: Session,
    id: String,
    item: String,
    name: String,
    pairs: Vec<(String, String)>,
) -> Result<Response, Refused> {
    applicant_side(&session)?;
    if !session.form_csrf_ok(&pairs) {
        return Ok(page::bad_csrf());
    }
    let Some(verb) = verbs::find(Family::Window, &name).filter(|v| v.on_item != item.is_empty())
    else {
        return Ok(page::not_found("No such action."));
    };
    Ok(
        match actions::run(&http, &session, verb, &id, &item, &pairs).await {
            Ok(_) => Redirect::to(&format!(
                "/console/window/projects/{}?{}",
                urlencode(&id),
                actions::done_query(verb, &item)
            ))
            .into_response(),
            Err(s) => {
                project_page(
                    &http,
                    &session,
                    &id,
                    &Done::default(),
                    page::refusal(&s, plan_of(&http, &id).as_deref(), session.lang),
                    page::refusal_code(&s),
                )
                .await
            }
        },
    )
}
