//! Supervision's dashboard (电子监察): projects by stage, yellow cards (warnings) and red
//! cards (overdue) — live, over server-sent events from the same feed as `Window.Watch`
//! — a project's timeline as a Gantt chart of planned against actual with the critical
//! path, and the per-department assessment (考核) of a period with a chart; filters by
//! department, stage, workflow and date.
//!
//! The lists come from `Supervision.Overdue` and `Supervision.Warnings` (the store's
//! open-task index), the assessment from `Supervision.Assess`: the dashboard shows what
//! the API answers.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Datelike;
use maud::{html, Markup};
use tokio_stream::StreamExt;

use super::page::{self, department_name, row_class, urlencode, Page};
use super::session::{Refused, Session};
use super::{request, Http};
use crate::auth::Role;
use crate::pb;
use crate::pb::supervision_server::Supervision;
use onewindow_core::plan::Stage;

pub(super) fn router() -> Router<Http> {
    Router::new()
        .route("/console/supervision", get(dashboard))
        .route("/console/supervision/live", get(live))
        .route("/console/supervision/assessment", get(assessment_page))
        .merge(super::oversight::router())
}

/// Supervisors and administrators.
pub(super) fn supervisor(s: &Session) -> Result<(), Refused> {
    match s.caller.role {
        Role::Supervisor | Role::Admin => Ok(()),
        _ => Err(Refused::Forbidden(
            "只有电子监察可以查看 Only supervision sees the dashboard.".into(),
        )),
    }
}

/// The dashboard's filters (empty: everything).
#[derive(serde::Deserialize, Default, Clone)]
struct Filter {
    #[serde(default)]
    department: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    workflow: String,
    /// Cards due on or after this date (`YYYY-MM-DD`).
    #[serde(default)]
    due_from: String,
    /// Cards due on or before this date.
    #[serde(default)]
    due_to: String,
}

impl Filter {
    /// Whether a task due on `due` of a project in `stage` of `workflow` passes (dates
    /// are `YYYY-MM-DD`, so they compare as text).
    fn keeps(&self, t: &pb::Task, stage: &str, workflow: &str) -> bool {
        (self.department.is_empty() || self.department == t.department)
            && (self.stage.is_empty() || self.stage == stage)
            && (self.workflow.is_empty() || self.workflow == workflow)
            && (self.due_from.is_empty() || t.due.as_str() >= self.due_from.as_str())
            && (self.due_to.is_empty() || t.due.as_str() <= self.due_to.as_str())
    }
}

/// What the dashboard shows, taken at once and kept for [`REFRESH`]: the first paint of
/// a city's dashboard must not read every project of the city (10,000 projects, 100,000
/// open tasks), so a page is drawn from the last board and the board is taken again in
/// the background when it is older than that; new cards reach open pages live meanwhile.
pub(crate) struct Board {
    taken: std::time::Instant,
    /// Active projects by (workflow, stage).
    by_stage: BTreeMap<(String, &'static str), usize>,
    /// Open tasks past their due date, and near it, each with its project's stage and
    /// workflow (for the filters).
    red: Vec<(pb::Task, &'static str, String)>,
    yellow: Vec<(pb::Task, &'static str, String)>,
    workflows: BTreeMap<String, String>,
    departments: BTreeMap<String, String>,
    /// Item names by (workflow, item).
    items: BTreeMap<(String, String), String>,
}

/// How old a board may be before a page asks for a new one.
const REFRESH: std::time::Duration = std::time::Duration::from_secs(3);
/// The most cards a table shows (the counts are of all).
const SHOWN: usize = 200;

/// The last board, and whether a new one is being taken.
#[derive(Default)]
pub(crate) struct Boards {
    last: tokio::sync::Mutex<Option<Arc<Board>>>,
    taking: std::sync::atomic::AtomicBool,
}

impl Boards {
    /// The board to draw: the last one (a new one is taken in the background when it is
    /// old), or, the first time, one taken now.
    async fn get(&self, http: &Http) -> Arc<Board> {
        use std::sync::atomic::Ordering;
        let mut last = self.last.lock().await;
        match &*last {
            Some(b) if b.taken.elapsed() < REFRESH => b.clone(),
            Some(b) => {
                if !self.taking.swap(true, Ordering::AcqRel) {
                    let http = http.clone();
                    tokio::spawn(async move {
                        let board = take(&http).await;
                        *http.boards.last.lock().await = Some(board);
                        http.boards.taking.store(false, Ordering::Release);
                    });
                }
                b.clone()
            }
            None => {
                let board = take(http).await;
                *last = Some(board.clone());
                board
            }
        }
    }
}

/// Takes a board: one pass over the projects for the stages, one over the projects
/// with an open task (the store's index) for the cards.
async fn take(http: &Http) -> Arc<Board> {
    let api = http.api.clone();
    tokio::task::spawn_blocking(move || {
        let svc = &api.svc;
        let mut workflows = BTreeMap::new();
        let mut departments = BTreeMap::new();
        let mut items = BTreeMap::new();
        for v in svc.versions() {
            if let Some(plan) = svc.plan(&v) {
                workflows.insert(plan.id.clone(), plan.name.clone());
                for i in &plan.items {
                    items.insert((plan.id.clone(), i.id.clone()), i.name.clone());
                }
                for d in &plan.departments {
                    departments.insert(d.id.clone(), d.name.clone());
                }
            }
        }
        let mut by_stage: BTreeMap<(String, &'static str), usize> = BTreeMap::new();
        let mut of_project: std::collections::HashMap<String, (&'static str, String)> =
            std::collections::HashMap::new();
        for id in svc.project_ids() {
            svc.with_project(&id, |p| {
                let stage = p.stage().map_or("", |s| s.id());
                if p.status() == onewindow_engine::Status::Active {
                    *by_stage
                        .entry((p.workflow().to_string(), stage))
                        .or_default() += 1;
                }
                of_project.insert(id.clone(), (stage, p.workflow().to_string()));
            });
        }
        let (mut red, mut yellow) = (Vec::new(), Vec::new());
        let cards = api
            .open_tasks(None, |_, t| t.is_overdue() || t.is_warned())
            .unwrap_or_default();
        for t in cards {
            let (stage, workflow) = of_project.get(&t.project).cloned().unwrap_or_default();
            if t.overdue {
                red.push((t, stage, workflow));
            } else {
                yellow.push((t, stage, workflow));
            }
        }
        Arc::new(Board {
            taken: std::time::Instant::now(),
            by_stage,
            red,
            yellow,
            workflows,
            departments,
            items,
        })
    })
    .await
    .unwrap_or_else(|e| {
        // The count failed (a bug): say so, and show an empty board rather than none.
        tracing::error!("supervision board: {e}");
        Arc::new(Board {
            taken: std::time::Instant::now(),
            by_stage: BTreeMap::new(),
            red: Vec::new(),
            yellow: Vec::new(),
            workflows: BTreeMap::new(),
            departments: BTreeMap::new(),
            items: BTreeMap::new(),
        })
    })
}

async fn dashboard(
    State(http): State<Http>,
    session: Session,
    Query(filter): Query<Filter>,
) -> Result<Response, Refused> {
    supervisor(&session)?;
    let board = http.boards.get(&http).await;
    let keep = |cards: &[(pb::Task, &'static str, String)]| -> (usize, Vec<(pb::Task, String)>) {
        let mut kept = cards
            .iter()
            .filter(|(t, stage, workflow)| filter.keeps(t, stage, workflow));
        let shown: Vec<(pb::Task, String)> = kept
            .by_ref()
            .take(SHOWN)
            .map(|(t, _, w)| (t.clone(), w.clone()))
            .collect();
        (shown.len() + kept.count(), shown)
    };
    let forecast = forecast_section(&http, &board).await;
    let (red_total, red) = keep(&board.red);
    let (yellow_total, yellow) = keep(&board.yellow);
    let stage_count = |stage: &str| -> usize {
        board
            .by_stage
            .iter()
            .filter(|((w, s), _)| {
                *s == stage && (filter.workflow.is_empty() || filter.workflow == *w)
            })
            .map(|(_, n)| n)
            .sum()
    };
    let today = http.api.now().date();
    let from = today
        .with_day(1)
        .unwrap_or(today)
        .format("%Y-%m-%d")
        .to_string();
    let to = today.format("%Y-%m-%d").to_string();
    let live = format!(
        "/console/supervision/live?department={}",
        urlencode(&filter.department)
    );
    let body = html! {
        h1 { "电子监察 Supervision" }
        form.card.filters method="get" action="/console/supervision" {
            label { "部门 Department "
                select name="department" {
                    option value="" { "全部 all" }
                    @for (id, name) in &board.departments { option value=(id) selected[filter.department == *id] { (name) } }
                }
            }
            label { "阶段 Stage "
                select name="stage" {
                    option value="" { "全部 all" }
                    @for s in Stage::ALL { option value=(s.id()) selected[filter.stage == s.id()] { (s.default_name()) } }
                }
            }
            label { "事项流程 Workflow "
                select name="workflow" {
                    option value="" { "全部 all" }
                    @for (id, name) in &board.workflows { option value=(id) selected[filter.workflow == *id] { (name) } }
                }
            }
            label { "到期 Due from " input type="date" name="due_from" value=(filter.due_from); }
            label { "至 to " input type="date" name="due_to" value=(filter.due_to); }
            button type="submit" { "筛选 Filter" }
        }
        h2 { "各阶段项目 Active projects by stage" }
        div.cards #stages {
            @for s in Stage::ALL {
                div.stat data-stage=(s.id()) { span { (s.default_name()) } b { (stage_count(s.id())) } }
            }
        }
        div #live data-live=(live) {}
        div.cards {
            div.stat.yellow { span { "预警 Warnings (near the limit)" } b #yellow-count { (yellow_total) } }
            div.stat.red { span { "超期 Overdue (督办/整改 cards)" } b #red-count { (red_total) } }
        }
        (forecast)
        h2 { "超期 Overdue — carded yellow (督办), red (整改) past the yellow card's deadline" }
        (cards_table("red-cards", &red, &board))
        @if red_total > red.len() { p.hint { "显示前 " (red.len()) " 条，共 " (red_total) " 条；请用筛选缩小范围。 Showing the first " (red.len()) " of " (red_total) "." } }
        h2 { "预警 Warnings — near the limit" }
        (cards_table("yellow-cards", &yellow, &board))
        @if yellow_total > yellow.len() { p.hint { "显示前 " (yellow.len()) " 条，共 " (yellow_total) " 条。 Showing the first " (yellow.len()) " of " (yellow_total) "." } }
        h2 { "部门考核 Assessment" }
        form.card.filters method="get" action="/console/supervision/assessment" {
            label { "考核期 From " input type="date" name="from" value=(from) required; }
            label { "至 To " input type="date" name="to" value=(to) required; }
            button type="submit" { "考核 Assess" }
        }
        p.hint { "看板每 " (REFRESH.as_secs()) " 秒内更新一次，新的超期实时到达。 The board is at most a few seconds old; what goes overdue arrives live." }
        script src="/console/static/live.js" {}
    };
    Ok(Page::new("电子监察", Some(&session))
        .render(body)
        .into_response())
}

#[derive(serde::Deserialize, Default)]
struct Period {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The per-department assessment of a period (every event of the period is read: its
/// own page, asked for, not part of the dashboard's first paint).
async fn assessment_page(
    State(http): State<Http>,
    session: Session,
    Query(period): Query<Period>,
) -> Result<Response, Refused> {
    supervisor(&session)?;
    let assessed = http
        .api
        .assess(request(
            &session.caller,
            pb::AssessRequest {
                from: period.from.clone(),
                to: period.to.clone(),
            },
        ))
        .await;
    let board = http.boards.get(&http).await;
    let body = html! {
        h1 { "部门考核 Assessment " (period.from) " – " (period.to) }
        form.card.filters method="get" action="/console/supervision/assessment" {
            label { "考核期 From " input type="date" name="from" value=(period.from) required; }
            label { "至 To " input type="date" name="to" value=(period.to) required; }
            button type="submit" { "考核 Assess" }
        }
        @match &assessed {
            Ok(a) => { (assessment(&a.get_ref().departments, &board.departments)) }
            Err(s) => { (page::refusal(s, None, session.lang)) }
        }
        p { a href="/console/supervision" { "返回 Back to the dashboard" } }
    };
    let status = assessed
        .as_ref()
        .err()
        .map_or(StatusCode::OK, page::refusal_code);
    Ok((status, Page::new("部门考核", Some(&session)).render(body)).into_response())
}

/// The most forecast tasks the dashboard lists.
const FORECAST_SHOWN: usize = 10;

/// The forecast's headline: what the analyst's last `simulate forecast --publish` said,
/// with when it ran — or, without one, how to get one (no blank where it would be).
async fn forecast_section(http: &Http, board: &Board) -> Markup {
    let Some(path) = http.forecast.clone() else {
        return html! {
            h2 { "风险预测 Forecast" }
            p.hint #forecast-none {
                "尚未接入预测。分析人员运行 " code { "onewindow simulate forecast --data 数据目录 --publish 文件" }
                "（建议每晚一次），节点以 " code { "serve --forecast 文件" } " 启动后，这里显示未来若干工作日可能被亮牌的项目。 "
                "No forecast is published to this node: run the forecast with --publish and start the node with --forecast."
            }
        };
    };
    let read = tokio::task::spawn_blocking(move || onewindow_core::forecast::read(&path)).await;
    let h = match read {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            return html! {
                h2 { "风险预测 Forecast" }
                p.hint #forecast-unreadable { "预测文件无法读取，请重新运行预测。 The forecast file cannot be read: " (e) }
            }
        }
        Err(e) => {
            tracing::error!("forecast headline: {e}");
            return html! { h2 { "风险预测 Forecast" } p.hint { "预测暂不可用。 The forecast is not available." } };
        }
    };
    let pct = |x: f64| format!("{:.0}%", 100.0 * x);
    html! {
        h2 { "风险预测 Forecast — 未来 " (h.horizon) " 个工作日 the next " (h.horizon) " working days" }
        div.cards #forecast {
            div.stat.red { span { "可能被亮牌的项目（概率 ≥ 50%）Projects at risk" } b #forecast-at-risk { (h.projects_at_risk) } }
            div.stat.yellow { span { "预计黄牌 督办 Yellow cards expected" } b { (format!("{:.1}", h.yellow_expected)) } }
            div.stat { span { "预计红牌 整改 Red cards expected" } b { (format!("{:.1}", h.red_expected)) } }
        }
        p.hint {
            "预测于 " (h.made.format("%Y-%m-%d %H:%M")) "，自 " (h.at.format("%Y-%m-%d %H:%M")) " 起，"
            (h.open) " 个在办项目（" (board.workflows.get(&h.workflow).map_or(h.workflow.as_str(), String::as_str)) "），"
            (h.replications) " 次模拟。 Forecast made " (h.made.format("%Y-%m-%d %H:%M")) " from the record as of " (h.at.format("%Y-%m-%d %H:%M")) "."
        }
        table #forecast-tasks {
            thead { tr { th { "项目 Project" } th { "事项 Item" } th { "部门 Department" } th { "黄牌概率 Yellow" } th { "红牌概率 Red" } th { "约第几个工作日 Day" } } }
            tbody {
                @if h.tasks.is_empty() { tr.empty { td colspan="6" { "预测期内无事项可能超期 none expected to pass its limit" } } }
                @for t in h.tasks.iter().take(FORECAST_SHOWN) {
                    tr data-project=(t.project) data-item=(t.item) {
                        td { a href={ "/console/supervision/projects/" (urlencode(&t.project)) } { (t.project) } }
                        td { (t.name) }
                        td { (board.departments.get(&t.department).map_or(t.department.as_str(), String::as_str)) }
                        td { (pct(t.yellow)) }
                        td { (pct(t.red)) }
                        td { (t.day.map_or("—".to_string(), |d| format!("第 {d} 天"))) }
                    }
                }
            }
        }
    }
}

fn cards_table(id: &str, tasks: &[(pb::Task, String)], board: &Board) -> Markup {
    html! {
        table id=(id) {
            thead { tr { th { "项目 Project" } th { "事项 Item" } th { "部门 Department" } th { "办结时限 Due" } th { "监察 Card" } } }
            tbody {
                @if tasks.is_empty() { tr.empty { td colspan="5" { "无 none" } } }
                @for (t, workflow) in tasks {
                    tr class=(row_class(t)) data-project=(t.project) data-item=(t.item) {
                        td { a href={ "/console/supervision/projects/" (urlencode(&t.project)) } { (t.project) } }
                        td { (board.items.get(&(workflow.clone(), t.item.clone())).map_or(t.item.as_str(), String::as_str)) }
                        td { (board.departments.get(&t.department).map_or(t.department.as_str(), String::as_str)) }
                        td.due { (t.due) }
                        td { (card_name(t.overdue, &t.card)) }
                    }
                }
            }
        }
    }
}

/// A supervision card as people call it.
fn card_name(overdue: bool, card: &str) -> &'static str {
    match (card, overdue) {
        ("red", _) => "整改（红牌）red card",
        ("yellow", _) => "督办（黄牌）yellow card",
        (_, true) => "超期 overdue",
        (_, false) => "预警 warning",
    }
}

/// The assessment table and its chart: the share decided on time per department (bars)
/// with the mean days used.
fn assessment(rows: &[pb::DepartmentAssessment], names: &BTreeMap<String, String>) -> Markup {
    let bar_h = 22.0;
    let width = 640.0;
    let label_w = 220.0;
    let height = bar_h * rows.len() as f64 + 30.0;
    html! {
        table #assessment {
            thead { tr { th { "部门 Department" } th { "办结 Done" } th { "平均用时 Mean days" } th { "P90" } th { "按时率 On time" } th { "当前超期 Overdue now" } th { "黄牌 督办 Yellow cards" } th { "红牌 整改 Red cards" } } }
            tbody {
                @for r in rows {
                    tr data-department=(r.department) {
                        td { (names.get(&r.department).map_or(r.department.as_str(), String::as_str)) }
                        td { (r.done) }
                        td { (format!("{:.1}", r.mean_days)) }
                        td { (r.p90_days) }
                        td { (format!("{:.0} %", r.on_time_rate * 100.0)) }
                        td { (r.overdue_now) }
                        td { (r.yellow_cards) }
                        td { (r.red_cards) }
                    }
                }
            }
        }
        @if !rows.is_empty() {
            svg.chart role="img" aria-label="on-time rate by department" width=(width) height=(height) viewBox={ "0 0 " (width) " " (height) } xmlns="http://www.w3.org/2000/svg" {
                @for (k, r) in rows.iter().enumerate() {
                    @let y = 10.0 + bar_h * k as f64;
                    @let w = (width - label_w - 60.0) * r.on_time_rate.clamp(0.0, 1.0);
                    text x="0" y=(y + 15.0) font-size="12" { (names.get(&r.department).map_or(r.department.as_str(), String::as_str)) }
                    rect x=(label_w) y=(y + 3.0) width=(w) height=(bar_h - 6.0) fill=(if r.on_time_rate >= 0.9 { "#1f7a3a" } else if r.on_time_rate >= 0.7 { "#b7791f" } else { "#c0262d" }) {}
                    text x=(label_w + w + 6.0) y=(y + 15.0) font-size="12" { (format!("{:.0} %", r.on_time_rate * 100.0)) }
                }
            }
        }
    }
}

#[derive(serde::Deserialize, Default)]
struct LiveFilter {
    #[serde(default)]
    department: String,
}

/// A card as the dashboard's script draws it.
#[derive(serde::Serialize)]
struct Card {
    kind: &'static str,
    project: String,
    item: String,
    department: String,
    due: String,
    at: String,
    /// The item's and the department's names, and the card, as the tables show them.
    item_name: String,
    department_name: String,
    card: &'static str,
}

/// New yellow and red cards as server-sent events (`event: card`), from the feed every
/// durable event goes through. The stream counts against the supervisor's streams (as a
/// gRPC watch does) and lasts as long as its session: logout, the session's expiry or
/// its token's revocation ends it within [`crate::lease::RECHECK`], as does the
/// server's shutdown.
async fn live(
    State(http): State<Http>,
    session: Session,
    Query(filter): Query<LiveFilter>,
) -> Result<Response, Refused> {
    supervisor(&session)?;
    let slot = match http.api.limits.open_stream(&session.caller.role) {
        Ok(slot) => slot,
        Err(status) => {
            return Ok(page::message(
                StatusCode::TOO_MANY_REQUESTS,
                "实时推送过多 Too many live streams",
                &format!(
                    "同一身份打开的实时推送已达上限，请关闭其他页面后重试。 {}",
                    status.message()
                ),
            ))
        }
    };
    let (sessions, id) = (http.sessions.clone(), session.id.clone());
    let lease = crate::lease::Lease::new(slot, move || sessions.holds(&id));
    let mut stop = http.api.shutdown.clone();
    let ended = async move {
        tokio::select! {
            () = lease.ended() => {}
            _ = stop.wait_for(|stop| *stop) => {}
        }
    };
    let events = tokio_stream::wrappers::BroadcastStream::new(http.api.events.subscribe());
    let opened = http.api.metrics.stream_opened();
    let cards = events.filter_map(move |e| {
        let _open = &opened;
        let e = e.ok()?;
        let kind = match e.r#type.as_str() {
            "warned" => "warned",
            "overdue" => "overdue",
            _ => return None,
        };
        let (department, due, item_name, department_name) = http
            .api
            .svc
            .with_project(&e.project, |p| {
                let plan = http.api.svc.plan(p.version())?;
                let i = plan.items.iter().position(|x| x.id == e.item)?;
                Some((
                    plan.department_of(i).to_string(),
                    p.tasks()[i].due.map(|d| d.to_string()).unwrap_or_default(),
                    plan.items[i].name.clone(),
                    department_name(&plan, plan.department_of(i)),
                ))
            })
            .flatten()
            .unwrap_or_default();
        if !filter.department.is_empty() && filter.department != department {
            return None;
        }
        let card = Card {
            kind,
            project: e.project,
            item: e.item,
            department,
            due,
            at: e.at,
            item_name,
            department_name,
            card: card_name(kind == "overdue", ""),
        };
        Some(Ok::<_, Infallible>(
            SseEvent::default()
                .event("card")
                .json_data(&card)
                .unwrap_or_default(),
        ))
    });
    let cards = futures_util::StreamExt::take_until(cards, ended);
    Ok(Sse::new(cards)
        .keep_alive(KeepAlive::default())
        .into_response())
}
