//! Public progress (信息公开): anyone with a project code sees its stage, which approvals
//! are done (and when) and which are under way with their due dates — and nothing else:
//! no applicant, no form, no materials, no reasons for rejection, no document numbers.
//! The page is drawn from an explicit list of what may be shown ([`Progress`]), never
//! from the project as stored, so a field added to the record does not leak here.
//!
//! No login, so it is rate-limited per client address (governor's keyed GCRA limiter;
//! the address behind a proxy only when the operator names the proxy, [`super::client`]):
//! [`PER_MINUTE`] requests a minute with a burst of [`BURST`], then 429 with a retry hint.
//! Staff logins have limits of their own ([`super::session`]), so the public cannot lock
//! the clerks out.

use std::net::IpAddr;
use std::num::NonZeroU32;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use governor::{DefaultKeyedRateLimiter, Quota};
use maud::html;

use super::client::Client;
use super::page::{self, department_name, item_name, urlencode, Page};
use super::Http;
use crate::input;

/// Requests a minute per client address.
pub(crate) const PER_MINUTE: u32 = 60;
/// Requests at once before the rate applies.
pub(crate) const BURST: u32 = 20;

/// The per-address limiter of the pages without login.
pub(crate) type Limiter = DefaultKeyedRateLimiter<IpAddr>;

pub(crate) fn limiter() -> Limiter {
    let quota = Quota::per_minute(NonZeroU32::new(PER_MINUTE).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(BURST).unwrap_or(NonZeroU32::MIN));
    governor::RateLimiter::keyed(quota)
}

pub(super) fn router() -> Router<Http> {
    Router::new()
        .route("/public", get(search))
        .route("/public/projects/{project}", get(progress))
}

#[derive(serde::Deserialize)]
struct Lookup {
    #[serde(default)]
    code: String,
}

async fn search(State(http): State<Http>, client: Client, Query(q): Query<Lookup>) -> Response {
    if http.limiter.check_key(&client.addr).is_err() {
        return page::too_many();
    }
    let code = input::normal_id(&q.code);
    if !code.is_empty() {
        return Redirect::to(&format!("/public/projects/{}", urlencode(&code))).into_response();
    }
    let body = html! {
        h1 { "项目审批进度查询 Approval progress" }
        form.card method="get" action="/public" {
            label { "项目代码 Project code" input type="text" name="code" required maxlength="128"; }
            button type="submit" { "查询 Search" }
        }
    };
    Page::new("信息公开", None).render(body).into_response()
}

/// What the public may see of a project.
struct Progress {
    code: String,
    workflow: String,
    stage: String,
    status: String,
    /// Item, department, decided on.
    done: Vec<(String, String, String)>,
    /// Item, department, due (with "provisional"), suspended.
    open: Vec<(String, String, String, bool)>,
    /// Item, department, decided on: not approved (the reason is never shown).
    rejected: Vec<(String, String, String)>,
}

async fn progress(State(http): State<Http>, client: Client, Path(code): Path<String>) -> Response {
    if http.limiter.check_key(&client.addr).is_err() {
        return page::too_many();
    }
    let not_found = || page::not_found("没有这个项目代码。 No project has this code.");
    if input::id("project", &code).is_err() {
        return not_found();
    }
    let svc = &http.api.svc;
    let Some(progress) = svc
        .with_project(&code, |p| {
            let plan = svc.plan(p.version())?;
            let mut done = Vec::new();
            let mut open = Vec::new();
            let mut rejected = Vec::new();
            for (i, t) in p.tasks().iter().enumerate() {
                let item = item_name(&plan, &plan.items[i].id);
                let dept = department_name(&plan, plan.department_of(i));
                match t.state {
                    onewindow_engine::TaskState::Rejected => rejected.push((
                        item,
                        dept,
                        t.decided_on.map(|d| d.to_string()).unwrap_or_default(),
                    )),
                    onewindow_engine::TaskState::Approved => done.push((
                        item,
                        dept,
                        t.decided_on.map(|d| d.to_string()).unwrap_or_default(),
                    )),
                    s if s.is_open() => open.push((
                        item,
                        dept,
                        match (t.due, t.provisional) {
                            (Some(d), true) => format!("{d}（暂定 provisional）"),
                            (Some(d), false) => d.to_string(),
                            (None, _) => "暂停计时 clock stopped".to_string(),
                        },
                        t.state == onewindow_engine::TaskState::Suspended,
                    )),
                    _ => {}
                }
            }
            Some(Progress {
                code: p.id().to_string(),
                workflow: plan.name.clone(),
                stage: p
                    .stage()
                    .map_or_else(|| "—".to_string(), |s| plan.stage_names[s.index()].clone()),
                // A project with nothing under way and an item not approved waits on the
                // applicant: it is not "in progress".
                status: match p.status() {
                    onewindow_engine::Status::Active if open.is_empty() && !rejected.is_empty() => {
                        "不予许可 not approved（可重新申请 the applicant may resubmit）"
                    }
                    onewindow_engine::Status::Active => "办理中 in progress",
                    onewindow_engine::Status::Completed => "已办结 completed",
                    onewindow_engine::Status::Withdrawn => "已撤回 withdrawn",
                }
                .to_string(),
                done,
                open,
                rejected,
            })
        })
        .flatten()
    else {
        return not_found();
    };
    let body = html! {
        h1 { "审批进度 Approval progress" }
        table.meta #public {
            tr { td { "项目代码 Project code" } td { (progress.code) } }
            tr { td { "事项流程 Workflow" } td { (progress.workflow) } }
            tr { td { "当前阶段 Stage" } td #stage { (progress.stage) } }
            tr { td { "状态 Status" } td #status { (progress.status) } }
        }
        h2 { "办理中 Under way" }
        table #open {
            thead { tr { th { "事项 Approval" } th { "部门 Department" } th { "办结时限 Due" } } }
            tbody {
                @if progress.open.is_empty() { tr { td colspan="3" { "无 none" } } }
                @for (item, dept, due, suspended) in &progress.open {
                    tr { td { (item) } td { (dept) } td { (due) @if *suspended { " · 暂停计时 paused" } } }
                }
            }
        }
        @if !progress.rejected.is_empty() {
            h2 { "不予许可 Not approved" }
            table #rejected {
                thead { tr { th { "事项 Approval" } th { "部门 Department" } th { "决定日期 Decided on" } } }
                tbody { @for (item, dept, on) in &progress.rejected { tr { td { (item) } td { (dept) } td { (on) } } } }
            }
        }
        h2 { "已办结 Done" }
        table #done {
            thead { tr { th { "事项 Approval" } th { "部门 Department" } th { "办结日期 Decided on" } } }
            tbody {
                @if progress.done.is_empty() { tr { td colspan="3" { "无 none" } } }
                @for (item, dept, on) in &progress.done { tr { td { (item) } td { (dept) } td { (on) } } }
            }
        }
    };
    Page::new("信息公开", None).render(body).into_response()
}
