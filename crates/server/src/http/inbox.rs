//! A department's inbox (待办): its reviewers see only their department's open tasks
//! (ready, claimed, suspended), each with its due date and the working days left,
//! coloured by the warning policy; a task's page has the department's verbs — claim,
//! approve, reject with a reason, ask for a supplement naming what is missing, extend
//! once, start and end a special procedure.
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
    let produces: Vec<&onewindow_core::plan::Document> =
        it.produces.iter().map(|d| &plan.documents[*d]).collect();
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
            @if pbt.state == "ready" {
                form.card method="post" action={ (base) "/claim" } {
                    (command_fields(session))
                    button type="submit" #claim { "签收 Claim" }
                }
            }
            @if pbt.state == "ready" || pbt.state == "claimed" {
                form.card method="post" action={ (base) "/approve" } {
                    (command_fields(session))
                    @for d in &produces {
                        @if let Some(next) = &next_number {
                            label { (d.name) " 文号 number"
                                input type="text" name={ "number." (d.id) } maxlength=(onewindow_core::plan::numbering::MAX_NUMBER_CHARS) placeholder="留空则自动取号 Blank: numbered for you"; }
                            p.hint { "留空则按本部门编号规则取下一个号，如 " (next) " — leave blank for the department's next number" }
                        } @else {
                            label { (d.name) " 文号 number（必填 required）"
                                input type="text" name={ "number." (d.id) } required maxlength=(onewindow_core::plan::numbering::MAX_NUMBER_CHARS) placeholder="如 发改能审〔2026〕5号"; }
                        }
                    }
                    button type="submit" #approve { "准予许可 Approve" }
                }
                form.card method="post" action={ (base) "/reject" } {
                    (command_fields(session))
                    label { "不予许可理由 Reason" textarea name="reason" required maxlength="2000" {} }
                    button type="submit" #reject { "不予许可 Reject" }
                }
                form.card method="post" action={ (base) "/supplement" } {
                    (command_fields(session))
                    p { strong { "补正 Ask for a supplement" } }
                    select name="needed" multiple size="5" required {
                        @for m in &plan.materials { option value=(m.id) { (m.name) } }
                    }
                    label { "说明 Note" textarea name="note" maxlength="2000" {} }
                    button type="submit" { "一次性告知补正 Ask" }
                }
                @if !t.extended && it.extension > 0 {
                    form.card method="post" action={ (base) "/extend" } {
                        (command_fields(session))
                        label { "延期理由 Reason (" (it.extension) " 工作日 days)" textarea name="reason" required maxlength="2000" {} }
                        button type="submit" { "延期 Extend once" }
                    }
                }
                @if !it.special_procedures.is_empty() {
                    form.card method="post" action={ (base) "/special-start" } {
                        (command_fields(session))
                        label { "特别程序 Special procedure"
                            select name="reason" required {
                                @for sp in &it.special_procedures { option value=(sp.kind) { (sp.kind) } }
                            }
                        }
                        button type="submit" { "启动 Start" }
                    }
                }
            }
            @if matches!(&t.suspension, Some((onewindow_engine::Suspension::Special { .. }, _))) {
                form.card method="post" action={ (base) "/special-end" } {
                    (command_fields(session))
                    button type="submit" { "结束特别程序 End special procedure" }
                }
            }
        }
        p { a href="/console/inbox" { "返回待办 Back to the inbox" } }
    };
    (status, Page::new(&it.name, Some(session)).render(body)).into_response()
}

async fn act(
    State(http): State<Http>,
    session: Session,
    Path((project, item, verb)): Path<(String, String, String)>,
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
    let api = &http.api;
    let caller = &session.caller;
    let request_id = get("request_id");
    let item_command = || pb::ItemCommand {
        request_id: request_id.clone(),
        project: project.clone(),
        item: item.clone(),
        at: String::new(),
    };
    let reason = || pb::ReasonForItem {
        request_id: request_id.clone(),
        project: project.clone(),
        item: item.clone(),
        reason: get("reason"),
        at: String::new(),
    };
    let done = match verb.as_str() {
        "claim" => api.claim(request(caller, item_command())).await,
        "approve" => {
            let numbers = pairs
                .iter()
                .filter_map(|(k, v)| {
                    Some((k.strip_prefix("number.")?.to_string(), v.trim().to_string()))
                })
                .filter(|(_, v)| !v.is_empty())
                .collect();
            api.approve(request(
                caller,
                pb::ApproveRequest {
                    request_id: request_id.clone(),
                    project: project.clone(),
                    item: item.clone(),
                    numbers,
                    at: String::new(),
                },
            ))
            .await
        }
        "reject" => api.reject(request(caller, reason())).await,
        "extend" => api.extend(request(caller, reason())).await,
        "special-start" => api.start_special(request(caller, reason())).await,
        "special-end" => api.end_special(request(caller, item_command())).await,
        "supplement" => {
            let needed = pairs
                .iter()
                .filter(|(k, _)| k == "needed")
                .map(|(_, v)| v.clone())
                .collect();
            api.request_supplement(request(
                caller,
                pb::SupplementRequest {
                    request_id: request_id.clone(),
                    project: project.clone(),
                    item: item.clone(),
                    needed,
                    note: get("note"),
                    at: String::new(),
                },
            ))
            .await
        }
        _ => return Ok(page::not_found("No such action.")),
    };
    Ok(match done {
        // Back to the task after a claim; to the inbox after a decision.
        Ok(_) if verb == "claim" || verb.starts_with("special") || verb == "extend" => {
            Redirect::to(&format!(
                "/console/inbox/{}/{}",
                urlencode(&project),
                urlencode(&item)
            ))
            .into_response()
        }
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
