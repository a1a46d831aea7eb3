//! The analyst's pages (分析): every deployed workflow version with its whole approval
//! time on statutory and committed limits; one version's schedule — the items in order
//! with their earliest start and finish, slack and the critical path (关键路径) named; and
//! a comparison of two or more versions with the totals and the difference from the
//! first (the baseline), which is how an analyst shows a cut like 283 → 40 working days.
//!
//! The schedule is the plan's own (`Plan::schedule`, as `Workflows.Plan` and
//! `Workflows.Compare` compute it); a comparison goes through `Workflows.Compare` first,
//! so its bounds and refusals are the API's.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};

use super::page::{self, department_name, short_version, urlencode, Page};
use super::session::{Refused, Session};
use super::{request, Http};
use crate::auth::Role;
use crate::pb;
use crate::pb::workflows_server::Workflows;
use onewindow_core::plan::{Options, Plan, Schedule};
use onewindow_core::spec::LimitKind;

pub(super) fn router() -> Router<Http> {
    Router::new()
        .route("/console/analysis", get(home))
        .route("/console/analysis/compare", get(compare))
        .route("/console/analysis/versions/{version}", get(plan_page))
}

/// Analysts, and supervisors and administrators (who may do what analysts do).
fn analyst(s: &Session) -> Result<(), Refused> {
    match s.caller.role {
        Role::Analyst | Role::Supervisor | Role::Admin => Ok(()),
        _ => Err(Refused::Forbidden(
            "只有分析人员、监察和管理员可以查看 Only analysts, supervisors and administrators."
                .into(),
        )),
    }
}

fn schedule(plan: &Plan, limits: LimitKind) -> Schedule {
    plan.schedule(&Options {
        limits,
        form: None,
        start: None,
    })
}

/// The limits' name for people.
fn limits_name(l: LimitKind) -> &'static str {
    match l {
        LimitKind::Statutory => "法定时限 statutory",
        LimitKind::Committed => "承诺时限 committed",
    }
}

async fn home(State(http): State<Http>, session: Session) -> Result<Response, Refused> {
    analyst(&session)?;
    let mut plans: Vec<std::sync::Arc<Plan>> = http
        .api
        .svc
        .versions()
        .iter()
        .filter_map(|v| http.api.svc.plan(v))
        .collect();
    plans.sort_by(|a, b| a.id.cmp(&b.id).then(a.version.cmp(&b.version)));
    let body = html! {
        h1 { "流程分析 Workflow analysis" }
        p.hint { "每个已部署版本的全流程审批时间（关键路径，工作日）。勾选两个或以上版本进行比较。 The whole approval time of every deployed version (its critical path, in working days); tick two or more to compare." }
        form method="get" action="/console/analysis/compare" {
            table #versions {
                thead { tr { th { "比较 Compare" } th { "事项流程 Workflow" } th { "版本 Version" } th { "事项数 Items" } th { "法定时限 Statutory" } th { "承诺时限 Committed" } } }
                tbody {
                    @for p in &plans {
                        tr data-workflow=(p.id) {
                            td { input type="checkbox" name="v" value=(p.version) aria-label={ "比较 " (p.name) }; }
                            td { a href={ "/console/analysis/versions/" (urlencode(&p.version)) } { (p.name) } " " small.tag { (p.id) } }
                            td { small.tag { (short_version(&p.version)) } }
                            td { (p.items.len()) }
                            td { (schedule(p, LimitKind::Statutory).total) " 个工作日" }
                            td { (schedule(p, LimitKind::Committed).total) " 个工作日" }
                        }
                    }
                }
            }
            label { "时限 Limits "
                select name="limits" {
                    option value="statutory" { (limits_name(LimitKind::Statutory)) }
                    option value="committed" { (limits_name(LimitKind::Committed)) }
                }
            }
            button type="submit" { "比较 Compare" }
        }
    };
    Ok(Page::new("流程分析", Some(&session))
        .render(body)
        .into_response())
}

/// `limits=statutory|committed` of a query, the plan's default otherwise.
fn limits_of(query: &[(String, String)], plan: &Plan) -> LimitKind {
    match query
        .iter()
        .find(|(k, _)| k == "limits")
        .map(|(_, v)| v.as_str())
    {
        Some("statutory") => LimitKind::Statutory,
        Some("committed") => LimitKind::Committed,
        _ => plan.default_limits,
    }
}

async fn plan_page(
    State(http): State<Http>,
    session: Session,
    Path(version): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Refused> {
    analyst(&session)?;
    let Some(plan) = http.api.svc.plan(&version) else {
        return Ok(page::not_found(
            "没有这一版本的事项流程。 No such workflow version.",
        ));
    };
    let limits = limits_of(&query, &plan);
    let s = schedule(&plan, limits);
    let base = format!("/console/analysis/versions/{}", urlencode(&version));
    let body = html! {
        h1 { (plan.name) " " small.tag { (plan.id) " · " (short_version(&plan.version)) } }
        p {
            "按" (limits_name(limits)) "，全流程审批时间 " strong #total { (s.total) } " 个工作日。 "
            @for l in [LimitKind::Statutory, LimitKind::Committed] {
                @if l != limits { a href={ (base) "?limits=" (l.name()) } { "改按" (limits_name(l)) } }
            }
        }
        h2 { "关键路径 Critical path" }
        ol #critical-path { @for &i in &s.critical_path { li { (plan.items[i].name) } } }
        h2 { "各阶段 Stages" }
        table #stages {
            thead { tr { th { "阶段 Stage" } th { "事项 Items" } th { "工作日 Working days" } } }
            tbody { @for st in s.stages.iter().filter(|st| st.items > 0) {
                tr { td { (plan.stage_names[st.stage.index()]) } td { (st.items) } td { (st.span) } }
            } }
        }
        h2 { "事项 Items" }
        (items_table(&plan, &s))
    };
    Ok(Page::new(&plan.name, Some(&session))
        .render(body)
        .into_response())
}

fn items_table(plan: &Plan, s: &Schedule) -> Markup {
    html! {
        table #schedule {
            thead { tr { th { "事项 Item" } th { "部门 Department" } th { "时限 Days" } th { "最早开始 Earliest start" } th { "最早办结 Earliest finish" } th { "机动 Slack" } th { "关键 Critical" } } }
            tbody { @for it in &s.items {
                @let item = &plan.items[it.item];
                tr class=[it.critical.then_some("critical")] data-item=(item.id) {
                    td { (item.name) }
                    td { (department_name(plan, plan.department_of(it.item))) }
                    td { (it.duration) }
                    td { "第 " (it.earliest_start) " 日" }
                    td { "第 " (it.earliest_finish) " 日" }
                    td { (it.slack) }
                    td { @if it.critical { "关键路径 critical" } }
                }
            } }
        }
    }
}

async fn compare(
    State(http): State<Http>,
    session: Session,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response, Refused> {
    analyst(&session)?;
    let versions: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "v")
        .map(|(_, v)| v.clone())
        .collect();
    let limits = query
        .iter()
        .find(|(k, _)| k == "limits")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    // The API's checks first (at least two, at most a bound, each known, none twice).
    let checked = http
        .api
        .compare(request(
            &session.caller,
            pb::CompareRequest {
                versions: versions.clone(),
                limits,
                start_date: String::new(),
            },
        ))
        .await;
    if let Err(s) = checked {
        let body = html! {
            h1 { "版本比较 Comparison" }
            (page::refusal(&s, None, session.lang))
            p { a href="/console/analysis" { "返回 Back" } }
        };
        return Ok((
            page::refusal_code(&s),
            Page::new("版本比较", Some(&session)).render(body),
        )
            .into_response());
    }
    let rows: Vec<(std::sync::Arc<Plan>, Schedule)> = versions
        .iter()
        .filter_map(|v| http.api.svc.plan(v))
        .map(|p| {
            let l = limits_of(&query, &p);
            let s = schedule(&p, l);
            (p, s)
        })
        .collect();
    let baseline = rows.first().map_or(0, |(_, s)| i64::from(s.total));
    let body = html! {
        h1 { "版本比较 Comparison" }
        p.hint { "以第一个版本为基准。 The first version is the baseline." }
        table #comparison {
            thead { tr { th { "事项流程 Workflow" } th { "版本 Version" } th { "事项数 Items" } th { "全流程工作日 Working days" } th { "较基准 Against the baseline" } th { "关键路径 Critical path" } } }
            tbody { @for (p, s) in &rows {
                @let delta = i64::from(s.total) - baseline;
                tr data-version=(p.version) {
                    td { a href={ "/console/analysis/versions/" (urlencode(&p.version)) } { (p.name) } }
                    td { small.tag { (short_version(&p.version)) } }
                    td { (s.items.len()) }
                    td.total { (s.total) }
                    td.delta { @if delta == 0 { "—" } @else if delta < 0 {
                        (delta) "（缩短 " (format!("{:.0}", -delta as f64 * 100.0 / baseline.max(1) as f64)) "%）"
                    } @else { "+" (delta) } }
                    td { (s.critical_path.iter().map(|&i| p.items[i].name.as_str()).collect::<Vec<_>>().join(" → ")) }
                }
            } }
        }
        p { a href="/console/analysis" { "返回 Back" } }
    };
    Ok((
        StatusCode::OK,
        Page::new("版本比较", Some(&session)).render(body),
    )
        .into_response())
}
