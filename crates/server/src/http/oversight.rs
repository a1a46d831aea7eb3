//! Supervision of one project (监察): its Gantt chart of planned against actual with the
//! critical path, its items with their due dates and cards (督办 with its deadline, 整改),
//! urging (催办) a department on an open task from the page, and its whole record said in
//! Chinese.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::NaiveDate;
use maud::{html, Markup};

use super::actions::{self, Done};
use super::dashboard::supervisor;
use super::history;
use super::page::{self, department_name, item_name, row_class, state_name, urlencode, Page};
use super::session::{Refused, Session};
use super::Http;
use crate::pb;
use crate::verbs::{self, Family, Scene};
use onewindow_core::plan::Plan;

pub(super) fn router() -> Router<Http> {
    Router::new()
        .route("/console/supervision/projects/{project}", get(project))
        .route(
            "/console/supervision/projects/{project}/items/{item}/urge",
            post(urge),
        )
}

/// A project's supervision: the Gantt chart of planned against actual, its items with
/// their cards and urging, then every event.
async fn project(
    State(http): State<Http>,
    session: Session,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, Refused> {
    supervisor(&session)?;
    Ok(project_page(&http, &session, &id, &done, html! {}))
}

/// The supervisor urges a department on an open task (催办): the window's `urge` row,
/// which supervisors may call.
async fn urge(
    State(http): State<Http>,
    session: Session,
    Path((id, item)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, Refused> {
    supervisor(&session)?;
    if !session.form_csrf_ok(&pairs) {
        return Ok(page::bad_csrf());
    }
    let Some(verb) = verbs::find(Family::Window, "urge") else {
        return Ok(page::not_found("No such action."));
    };
    Ok(
        match actions::run(&http, &session, verb, &id, &item, &pairs).await {
            Ok(_) => Redirect::to(&format!(
                "/console/supervision/projects/{}?{}",
                urlencode(&id),
                actions::done_query(verb, &item)
            ))
            .into_response(),
            Err(s) => {
                let above = page::refusal(&s, page::plan_of(&http, &id).as_deref(), session.lang);
                let mut r = project_page(&http, &session, &id, &Done::default(), above);
                *r.status_mut() = page::refusal_code(&s);
                r
            }
        },
    )
}

fn project_page(http: &Http, session: &Session, id: &str, done: &Done, above: Markup) -> Response {
    let id = id.to_string();
    let Some(state) = http.api.svc.project(&id) else {
        return page::not_found("No such project.");
    };
    let Some(plan) = http.api.svc.plan(state.version()) else {
        return page::not_found("No such workflow version.");
    };
    let urge = verbs::find(Family::Window, "urge");
    let base = format!("/console/supervision/projects/{}", urlencode(&id));
    // The record, read as the timeline RPC reads it, each event said in Chinese.
    let timeline = http.api.svc.store().events(&id, 0);
    let today = http.api.now().date();
    let tasks: Vec<pb::Task> = state
        .tasks()
        .iter()
        .enumerate()
        .map(|(i, t)| crate::convert::task_pb(&id, &plan, i, t))
        .collect();
    let body = html! {
        (above)
        (actions::done_banner(Family::Window, &done.done, &done.item, &plan))
        h1 { "项目 " (id) }
        p { (plan.name) " · " (state.stage().map_or_else(|| "—".to_string(), |s| plan.stage_names[s.index()].clone())) " · " (page::project_status_name(&format!("{:?}", state.status()).to_lowercase())) }
        h2 { "计划与实际 Planned against actual" }
        (gantt(&plan, &state, today))
        h2 { "事项 Items" }
        table #items {
            thead { tr { th { "事项 Item" } th { "部门 Department" } th { "状态 State" } th { "办结时限 Due" } th { "监察 Card" } th { "催办 Urge" } } }
            tbody {
                @for (i, t) in tasks.iter().enumerate().filter(|(_, t)| t.state != "not_applicable") {
                    @let task = &state.tasks()[i];
                    @let scene = Scene { plan: &plan, project: &state, item: i };
                    tr class=(row_class(t)) data-item=(t.item) {
                        td { (item_name(&plan, &t.item)) }
                        td { (department_name(&plan, &t.department)) }
                        td { (state_name(&t.state)) }
                        td.due { (t.due) }
                        td.card {
                            @if task.red && task.is_open() { "整改（红牌）red card" }
                            @else if let Some(d) = task.yellow.filter(|_| task.is_open()) { "督办（黄牌），限 " (d) " 前办结 yellow card, due " (d) }
                            @else if t.overdue { "超期 overdue" }
                            @else if t.warned { "预警 warning" }
                        }
                        td {
                            @if let Some(verb) = urge.filter(|v| (v.when)(&scene)) {
                                (actions::form(verb, &format!("{base}/items/{}/urge", urlencode(&t.item)), session, &scene, None, None))
                            }
                        }
                    }
                }
            }
        }
        h2 { "事件 Events" }
        @match &timeline {
            Ok(events) => {
                table #events {
                    thead { tr { th { "#" } th { "时间 At" } th { "操作者 Actor" } th { "事件 Event" } } }
                    tbody { @for e in events {
                        @if let Some(what) = history::line(&plan, &e.event) {
                            tr data-type=(e.event.kind()) { td { (e.seq) } td { (e.at.format("%Y-%m-%d %H:%M")) } td { (actor_name(&plan, &e.actor)) } td { (what) } }
                        }
                    } }
                }
            }
            Err(e) => { (page::refusal(&crate::status::store_status(e), Some(&plan), session.lang)) }
        }
    };
    Page::new(&id, Some(session)).render(body).into_response()
}

/// The Gantt chart as SVG: per applicable item a thin bar for the plan (earliest start
/// to due, on the project's own form, limits and submission date; the critical path in
/// red) and a thick bar for what happened (ready to decided, or to today while open).
fn gantt(plan: &Plan, p: &onewindow_engine::Project, today: NaiveDate) -> Markup {
    let start = p.submitted().date();
    let schedule = plan.schedule(&onewindow_core::plan::Options {
        limits: plan.default_limits,
        form: Some(p.form()),
        start: Some(start),
    });
    let mut last = today.max(start);
    for s in &schedule.items {
        if let Some(d) = s.due_date {
            last = last.max(d);
        }
    }
    let days = (last - start).num_days().max(1) as f64 + 1.0;
    let (label_w, chart_w, row_h) = (400.0, 700.0, 26.0);
    let x = |d: NaiveDate| label_w + chart_w * ((d - start).num_days() as f64 / days);
    let height = row_h * schedule.items.len() as f64 + 40.0;
    let today_x = x(today);
    html! {
        p.hint { "细条：计划（最早开始至时限，深红★为关键路径）；粗条：实际（就绪至办结：绿为按时，黄为在办，红为超期）。 Thin: planned (★ dark red: the critical path); thick: actual (green done, amber open, red overdue)." }
        svg #gantt width=(label_w + chart_w + 20.0) height=(height) xmlns="http://www.w3.org/2000/svg" {
            text x=(label_w) y="12" font-size="11" { (start) }
            text x=(label_w + chart_w - 70.0) y="12" font-size="11" { (last) }
            line x1=(today_x) x2=(today_x) y1="16" y2=(height) stroke="#5b6875" stroke-dasharray="4 3" {}
            text x=(today_x + 3.0) y=(height - 2.0) font-size="11" { "今日 today" }
            @for (k, s) in schedule.items.iter().enumerate() {
                @let y = 22.0 + row_h * k as f64;
                @let t = &p.tasks()[s.item];
                @let critical = s.critical;
                text x="0" y=(y + 14.0) font-size="12" {
                    title { (plan.items[s.item].name) }
                    @if critical { "★ " }
                    (clipped(&plan.items[s.item].name, 34))
                }
                @if let (Some(a), Some(b)) = (s.start_date, s.due_date) {
                    rect.planned data-item=(plan.items[s.item].id) x=(x(a)) y=(y + 2.0) width=((x(b) - x(a)).max(2.0)) height="5"
                        fill=(if critical { "#7a1016" } else { "#8a96a3" }) {}
                }
                @if let Some(r) = t.ready_on {
                    @let end = t.decided_on.unwrap_or(today);
                    rect.actual data-item=(plan.items[s.item].id) x=(x(r)) y=(y + 9.0) width=((x(end) - x(r)).max(3.0)) height="11"
                        fill=(if t.overdue { "#c0262d" } else if t.decided_on.is_some() { "#1f7a3a" } else { "#e8b530" }) {}
                }
            }
        }
        p.hint { "关键路径 Critical path: " (schedule.critical_path.iter().map(|i| plan.items[*i].name.as_str()).collect::<Vec<_>>().join(" → ")) " · " (schedule.total) " 工作日 working days" }
    }
}

/// At most `n` characters of `text`, with `…` when cut.
fn clipped(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(n).collect::<String>())
    }
}

/// Who acted, as people call them.
fn actor_name(plan: &Plan, actor: &onewindow_engine::Actor) -> String {
    use onewindow_engine::Actor;
    match actor {
        Actor::Window => "综合窗口".into(),
        Actor::Department(d) => department_name(plan, d),
        Actor::Reviewer {
            department,
            reviewer,
        } => format!("{} · {reviewer}", department_name(plan, department)),
        Actor::Agent(a) => format!("代办员 {a}"),
        Actor::Supervisor => "电子监察".into(),
        Actor::Analyst => "分析人员".into(),
        Actor::Admin => "管理员".into(),
        Actor::System => "系统".into(),
    }
}
