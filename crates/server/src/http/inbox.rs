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

use super::actions::{self, Done};
use super::history;
use super::page::{
    self, department_name, item_name, plan_of, row_class, state_name, urlencode, Page,
};
use super::session::{Refused, Session};
use super::{request, Http};
use crate::pb;
use crate::pb::department_server::Department;
use crate::verbs::{self, Family, Scene};
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
    /// What was just done, to say so (see [`actions::done_query`]).
    #[serde(default)]
    done: String,
    #[serde(default)]
    project: String,
    #[serde(default)]
    item: String,
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
    let done_plan = plan_of(&http, &filter.project);
    let body = html! {
        @if let Some(plan) = &done_plan {
            (actions::done_banner(Family::Department, &filter.done, &filter.item, plan))
        }
        h1 { "待办 Inbox — " (page::department_anywhere(&http, &dept)) " " small.tag { (dept) } }
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
            Err(s) => { (page::refusal(s, None, session.lang)) }
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
    Query(done): Query<Done>,
) -> Result<Response, Refused> {
    let dept = department(&session)?;
    let above = match plan_of(&http, &project) {
        Some(plan) => actions::done_banner(Family::Department, &done.done, &item, &plan),
        None => html! {},
    };
    Ok(task_page(
        &http,
        &session,
        &dept,
        &project,
        &item,
        above,
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
    let events = http.api.svc.store().events(project, 0).unwrap_or_default();
    let history = history::of_item(&plan, &events, item);
    // The site findings that concern this department (the record of day 0).
    let findings: Vec<onewindow_core::site::Finding> = events
        .iter()
        .filter_map(|e| match &e.event {
            onewindow_engine::Event::SiteChecked { findings, .. } => Some(findings.clone()),
            _ => None,
        })
        .flatten()
        .filter(|f| f.department == dept)
        .collect();
    let handed: std::collections::HashMap<&str, &onewindow_engine::MaterialRef> = state
        .materials()
        .iter()
        .map(|m| (m.material.as_str(), m))
        .collect();
    let supplement_asked = match &t.suspension {
        Some((onewindow_engine::Suspension::Supplement { needed }, _)) => Some(needed),
        _ => None,
    };
    let body = html! {
        (above)
        h1 { (it.name) " " small.tag { (it.id) } }
        table.meta {
            tr { td { "项目 Project" } td { (project) } }
            tr { td { "申请人 Applicant" } td { (state.applicant()) } }
            tr { td { "部门 Department" } td { (department_name(&plan, dept)) } }
            tr { td { "状态 State" } td #task-state data-state=(pbt.state) { (state_name(&pbt.state)) } }
            @if !pbt.assignee.is_empty() { tr { td { "承办人 Held by" } td { (pbt.assignee) } } }
            @if let Some(step) = plan.items[i].steps.get(usize::from(t.step)).filter(|_| t.is_open()) {
                tr { td { "当前环节 Step" } td { (step.name) } }
            }
            tr class=(row_class(&pbt)) { td { "办结时限 Due" } td.due { (pbt.due) @if t.provisional { " (暂定 provisional)" } } }
            tr { td { "办理轮次 Round" } td { "第 " (t.round.max(1)) " 轮" } }
            @if t.extended { tr { td { "延期 Extended" } td { "已延期一次 once" } } }
        }
        @if let Some(needed) = supplement_asked {
            div.ok-banner role="status" { "已一次性告知补正，等待申请人补交：" (super::counter::names(&plan, needed, true)) "（暂停计时）" }
        }
        h2 { "本事项材料 This item's materials" }
        table #item-materials {
            thead { tr { th { "材料 Material" } th { "收件情况 Handed in" } } }
            tbody {
                @if it.requires.materials.is_empty() { tr { td colspan="2" { "本事项不需要申请材料 none" } } }
                @for &m in &it.requires.materials {
                    @let material = &plan.materials[m];
                    tr {
                        td { (material.name) " " small.tag { (material.id) } }
                        td { @match handed.get(material.id.as_str()) {
                            Some(r) => { "已收 received" @if !r.name.is_empty() { " — " (r.name) } @if !r.location.is_empty() { " · " (r.location) } }
                            None => { span.days-late { "未收 missing" } }
                        } }
                    }
                }
            }
        }
        @if !it.produces.is_empty() {
            h2 { "出具文书 Documents issued" }
            ul { @for &d in &it.produces {
                li { (plan.documents[d].name) " " small.tag { (plan.documents[d].id) }
                    @if let Some(n) = &next_number { " — 文号按本部门规则，如 " (n) } }
            } }
        }
        @if !findings.is_empty() {
            h2 { "用地审查意见 Site findings for this department" }
            table #site-findings {
                thead { tr { th { "图层 Layer" } th { "规划 Plan" } th { "重叠 Overlap" } th { "规则 Rule" } } }
                tbody { @for f in &findings {
                    tr { td { (f.kind.name()) " " small.tag { (f.layer) } } td { (f.plan) } td { (format!("{:.0} m²（{:.0}%）", f.overlap_m2, f.share * 100.0)) } td { (f.message) } }
                } }
            }
        }
        h2 { "表单 Form" }
        table {
            @for f in &plan.fields {
                @if let Some(v) = state.form().values.get(&f.id) { tr { td { (f.name) } td { (page::form_value(f, v)) } } }
            }
        }
        h2 { "办理经过 History" }
        @if history.is_empty() { p.hint { "暂无记录 Nothing recorded yet" } }
        (history::table(&history))
        h2 { "办理 Actions" }
        div.actions {
            @for verb in verbs::all().filter(|v| v.family == Family::Department) {
                @if (verb.when)(&scene) {
                    (actions::form(verb, &format!("{base}/{}", verb.name), session, &scene, next_number.as_deref(), None))
                }
            }
        }
        p { a href="/console/inbox" { "返回待办 Back to the inbox" } }
    };
    (status, Page::new(&it.name, Some(session)).render(body)).into_response()
}

/// Runs a verb of the table from its form, as the reviewer: the gRPC handler itself.
async fn act(
    State(http): State<Http>,
    session: Session,
    Path((project, item, name)): Path<(String, String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, Refused> {
    let dept = department(&session)?;
    if !session.form_csrf_ok(&pairs) {
        return Ok(page::bad_csrf());
    }
    let Some(verb) = verbs::find(Family::Department, &name) else {
        return Ok(page::not_found("No such action."));
    };
    let done = actions::run(&http, &session, verb, &project, &item, &pairs).await;
    let task = format!(
        "/console/inbox/{}/{}?done={}",
        urlencode(&project),
        urlencode(&item),
        urlencode(verb.name)
    );
    let inbox = format!(
        "/console/inbox?{}&project={}",
        actions::done_query(verb, &item),
        urlencode(&project)
    );
    Ok(match done {
        // Back to the task while it is still the department's to decide; to the inbox
        // once it has left the department's hands. Either says what was done.
        Ok(_) if still_here(&http, &project, &item) => Redirect::to(&task).into_response(),
        Ok(_) => Redirect::to(&inbox).into_response(),
        Err(s) => task_page(
            &http,
            &session,
            &dept,
            &project,
            &item,
            page::refusal(&s, plan_of(&http, &project).as_deref(), session.lang),
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
                    let scene = Scene {
                        plan: &plan,
                        project: p,
                        item: i,
                    };
                    verbs::when::deciding(&scene) || verbs::when::in_special(&scene)
                })
        })
    }) == Some(true)
}
