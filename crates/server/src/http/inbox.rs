//! A department's inbox (待办): its reviewers see only their department's open tasks
//! (ready, claimed, suspended), each with its due date and the working days left,
//! coloured by the warning policy; a task's page offers each of the department's verbs
//! of [`crate::verbs`] that the task's state allows — claim, approve, reject, ask for a
//! supplement, extend, special procedures, sign a step, transfer, delegate, add a signer,
//! recall, return — as a form built from the verb's fields.
//!
//! Every verb runs the gRPC handler with the reviewer's department as the actor, so the
//! engine's own check keeps a department to its own tasks; the task page also refuses to
//! show another department's task, whatever the URL says. When two reviewers race on one
//! task, the second sees the engine's refusal (the task is no longer ready) on the page.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup};

use super::page::{
    self, command_fields, department_name, item_name, row_class, state_name, urlencode, Page,
};
use super::session::{Refused, Session};
use super::{request, Http};
use crate::pb;
use crate::pb::department_server::Department;
use crate::verbs::{self, Family, Field, Kind, Scene};
use onewindow_engine::TaskState;

pub(super) fn router() -> Router<Http> {
    Router::new()
        .route("/console/inbox", get(inbox))
        .route("/console/inbox/{project}/{item}", get(task))
        .route("/console/inbox/{project}/{item}/{verb}", post(act))
}

/// The reviewer's department, or why not.
fn department(s: &Session) -> Result<String, Refused> {
    s.department().map(str::to_string).ok_or_else(|| {
        Refused::Forbidden(
            "只有部门审查员使用待办 Only a department's reviewers have an inbox.".into(),
        )
    })
}

#[derive(serde::Deserialize)]
struct Filter {
    #[serde(default)]
    state: String,
}

async fn inbox(
    State(http): State<Http>,
    session: Session,
    Query(filter): Query<Filter>,
) -> Result<Response, Refused> {
    let dept = department(&session)?;
    let listed = http
        .api
        .list_tasks(request(
            &session.caller,
            pb::ListTasksRequest {
                state: filter.state.clone(),
                page_size: 1000,
                page_token: String::new(),
            },
        ))
        .await;
    let today = http.api.now().date();
    let body = html! {
        h1 { "待办 Inbox — " (dept) }
        form.filters method="get" action="/console/inbox" {
            label { "状态 State "
                select name="state" {
                    option value="" { "全部在办 every open task" }
                    @for s in TaskState::ALL.iter().filter(|s| s.is_open()) {
                        option value=(s.as_str()) selected[filter.state == s.as_str()] { (state_name(s.as_str())) }
                    }
                }
            }
            button type="submit" { "筛选 Filter" }
        }
        @match &listed {
            Err(s) => { (page::refusal(s)) }
            Ok(r) => {
                @let tasks = &r.get_ref().tasks;
                table #inbox {
                    thead { tr { th { "项目 Project" } th { "事项 Item" } th { "状态 State" } th { "办结时限 Due" } th { "剩余工作日 Days left" } } }
                    tbody {
                        @if tasks.is_empty() { tr.empty { td colspan="5" { "暂无待办 Nothing to do" } } }
                        @for t in tasks {
                            @let plan = http.api.svc.project(&t.project).and_then(|p| http.api.svc.plan(p.version()));
                            tr class=(row_class(t)) data-project=(t.project) data-item=(t.item) {
                                td { (t.project) }
                                td { a href={ "/console/inbox/" (urlencode(&t.project)) "/" (urlencode(&t.item)) } {
                                    (plan.as_ref().map_or_else(|| t.item.clone(), |p| item_name(p, &t.item))) } }
                                td { (state_name(&t.state)) }
                                td.due { (t.due) }
                                td { (days_left(plan.as_deref(), t, today)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(Page::new("待办", Some(&session))
        .render(body)
        .into_response())
}

/// Working days left to the due date, coloured: red past it, amber when warned.
fn days_left(
    plan: Option<&onewindow_core::plan::Plan>,
    t: &pb::Task,
    today: chrono::NaiveDate,
) -> Markup {
    let Ok(due) = chrono::NaiveDate::parse_from_str(&t.due, "%Y-%m-%d") else {
        return html! { "—" };
    };
    let class = if t.overdue {
        "days-late"
    } else if t.warned {
        "days-warn"
    } else {
        "days-ok"
    };
    let text = match plan {
        Some(p) if due >= today => format!("{}", p.calendar.count_working_days(today, due)),
        Some(p) => format!("超期 {} late", p.calendar.count_working_days(due, today)),
        None => String::new(),
    };
    html! { span class=(class) { (text) } }
}

/// One task of the department, with its verbs.
async fn task(
    State(http): State<Http>,
    session: Session,
    Path((project, item)): Path<(String, String)>,
) -> Result<Response, Refused> {
    let dept = department(&session)?;
    Ok(task_page(
        &http,
        &session,
        &dept,
        &project,
        &item,
        html! {},
        StatusCode::OK,
    ))
}

fn task_page(
    http: &Http,
    session: &Session,
    dept: &str,
    project: &str,
    item: &str,
    above: Markup,
    status: StatusCode,
) -> Response {
    let Some(state) = http.api.svc.project(project) else {
        return page::not_found("No such project.");
    };
    let Some(plan) = http.api.svc.plan(state.version()) else {
        return page::not_found("No such workflow version.");
    };
    let Some(i) = plan.items.iter().position(|x| x.id == item) else {
        return page::not_found("No such item.");
    };
    // Another department's task is not shown, whatever the URL says.
    if plan.department_of(i) != dept {
        return page::message(
            StatusCode::FORBIDDEN,
            "无权访问 Forbidden",
            "这不是本部门的事项。 This task belongs to another department.",
        );
    }
    let t = &state.tasks()[i];
    let pbt = crate::convert::task_pb(project, &plan, i, t);
    let it = &plan.items[i];
    // The department's numbering pattern: a blank number then draws the next one, shown
    // as the number it would be now (the pattern's placeholders mean nothing to a clerk).
    let next_number = it.department.and_then(|d| {
        let department = &plan.departments[d];
        let pattern = department.numbering.as_ref()?;
        let year = chrono::Datelike::year(&http.api.now());
        let register = onewindow_core::plan::numbering::register(&department.id, year);
        let at = http.api.svc.store().register(&register).unwrap_or(0);
        Some(pattern.format(year, at + 1))
    });
    let base = format!("/console/inbox/{}/{}", urlencode(project), urlencode(item));
    let scene = Scene {
        plan: &plan,
        project: &state,
        item: i,
    };
    let body = html! {
        (above)
        h1 { (it.name) }
        table.meta {
            tr { td { "项目 Project" } td { (project) } }
            tr { td { "申请人 Applicant" } td { (state.applicant()) } }
            tr { td { "部门 Department" } td { (department_name(&plan, dept)) } }
            tr { td { "状态 State" } td #task-state data-state=(pbt.state) { (state_name(&pbt.state)) } }
            tr class=(row_class(&pbt)) { td { "办结时限 Due" } td.due { (pbt.due) @if t.provisional { " (暂定 provisional)" } } }
            @if t.extended { tr { td { "延期 Extended" } td { "已延期一次 once" } } }
        }
        h2 { "表单 Form" }
        table {
            @for f in &plan.fields {
                @if let Some(v) = state.form().values.get(&f.id) { tr { td { (f.name) } td { (v) } } }
            }
        }
        h2 { "材料 Materials" }
        ul { @for m in state.materials() {
            li { (plan.materials.iter().find(|x| x.id == m.material).map_or(m.material.as_str(), |x| x.name.as_str())) @if !m.name.is_empty() { " — " (m.name) } }
        } }
        h2 { "办理 Actions" }
        div.actions {
            @for verb in verbs::all().filter(|v| v.family == Family::Department) {
                @if (verb.when)(&scene) {
                    form.card method="post" action={ (base) "/" (verb.name) } {
                        (command_fields(session))
                        @if !verb.fields.is_empty() { p { strong { (verb.zh) " " (verb.en) } } }
                        @for f in verb.fields { (field_input(f, &scene, next_number.as_deref())) }
                        button type="submit" id=(verb.name) { (verb.zh) " " (verb.en) }
                    }
                }
            }
        }
        p { a href="/console/inbox" { "返回待办 Back to the inbox" } }
    };
    (status, Page::new(&it.name, Some(session)).render(body)).into_response()
}

/// What a reviewer fills in for one field of a verb, by its kind.
fn field_input(f: &Field, scene: &Scene<'_>, next_number: Option<&str>) -> Markup {
    let plan = scene.plan;
    let it = &plan.items[scene.item];
    let label = html! { (f.zh) " " (f.en) };
    match f.kind {
        Kind::Text => html! {
            label { (label) textarea name=(f.name) required[f.required] maxlength="2000" {} }
        },
        Kind::Person => html! {
            label { (label) input type="text" name=(f.name) required[f.required] maxlength="64" pattern="[A-Za-z0-9_.:-]+"; }
        },
        Kind::Flag => html! {
            label { input type="checkbox" name=(f.name) value="true"; " " (label) }
        },
        Kind::EarlierItem => html! {
            label { (label)
                select name=(f.name) required[f.required] {
                    @for j in verbs::returnable_items(plan, scene.project, scene.item) {
                        option value=(plan.items[j].id) { (plan.items[j].name) }
                    }
                }
            }
        },
        Kind::SpecialProcedure => html! {
            label { (label)
                select name=(f.name) required[f.required] {
                    @for sp in &it.special_procedures { option value=(sp.kind) { (sp.kind) } }
                }
            }
        },
        Kind::MaterialIds | Kind::Materials => html! {
            label { (label)
                select name=(f.name) multiple size="5" required[f.required] {
                    @for m in &plan.materials { option value=(m.id) { (m.name) } }
                }
            }
        },
        // One number per document the item issues; blank draws the department's next
        // number, shown as the number it would be now (the pattern's placeholders mean
        // nothing to a clerk).
        Kind::Numbers => html! {
            @for d in it.produces.iter().map(|d| &plan.documents[*d]) {
                @if let Some(next) = next_number {
                    label { (d.name) " 文号 number"
                        input type="text" name={ "number." (d.id) } maxlength=(onewindow_core::plan::numbering::MAX_NUMBER_CHARS) placeholder="留空则自动取号 Blank: numbered for you"; }
                    p.hint { "留空则按本部门编号规则取下一个号，如 " (next) " — leave blank for the department's next number" }
                } @else {
                    label { (d.name) " 文号 number（必填 required）"
                        input type="text" name={ "number." (d.id) } required maxlength=(onewindow_core::plan::numbering::MAX_NUMBER_CHARS) placeholder="如 发改能审〔2026〕5号"; }
                }
            }
        },
    }
}

/// Runs a verb of the table from its form, as the reviewer: the gRPC handler itself.
async fn act(
    State(http): State<Http>,
    session: Session,
    Path((project, item, name)): Path<(String, String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, Refused> {
    let dept = department(&session)?;
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map_or(String::new(), |(_, v)| v.clone())
    };
    if !session.csrf_ok(Some(&get("csrf"))) {
        return Ok(page::bad_csrf());
    }
    let Some(verb) = verbs::find(Family::Department, &name) else {
        return Ok(page::not_found("No such action."));
    };
    let message = verb.message(&get("request_id"), &project, &item, |f| match f.kind {
        Kind::Numbers => pairs
            .iter()
            .filter_map(|(k, v)| Some(format!("{}={v}", k.strip_prefix("number.")?)))
            .collect(),
        _ => pairs
            .iter()
            .filter(|(k, _)| k == f.name)
            .map(|(_, v)| v.clone())
            .collect(),
    });
    let done = verbs::run(&http.api, &session.caller, verb.rpc, message)
        .await
        .unwrap_or_else(|| Err(tonic::Status::unimplemented(verb.rpc)));
    let task = format!(
        "/console/inbox/{}/{}",
        urlencode(&project),
        urlencode(&item)
    );
    Ok(match done {
        // Back to the task while it is still the department's to decide; to the inbox
        // once it has left the department's hands.
        Ok(_) if still_here(&http, &project, &item) => Redirect::to(&task).into_response(),
        Ok(_) => Redirect::to("/console/inbox").into_response(),
        Err(s) => task_page(
            &http,
            &session,
            &dept,
            &project,
            &item,
            page::refusal(&s),
            page::refusal_code(&s),
        ),
    })
}

/// The task is still open and not waiting on the applicant: the reviewer has more to do.
fn still_here(http: &Http, project: &str, item: &str) -> bool {
    http.api.svc.with_project(project, |p| {
        http.api.svc.plan(p.version()).is_some_and(|plan| {
            plan.items
                .iter()
                .position(|x| x.id == item)
                .is_some_and(|i| {
                    let t = &p.tasks()[i];
                    matches!(t.state, TaskState::Ready | TaskState::Claimed)
                        || matches!(
                            t.suspension,
                            Some((onewindow_engine::Suspension::Special { .. }, _))
                        )
                })
        })
    }) == Some(true)
}
