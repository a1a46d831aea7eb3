//! The console's layout and the pieces every page shares: the frame with its navigation,
//! message pages, a refusal shown as the API would report it, the hidden fields every
//! form carries, names for people (items, departments, task states) and a task table,
//! and the static files (one stylesheet, one small script), compiled in.
//!
//! Pages are maud templates: every value interpolated is HTML-escaped, so a workflow's
//! name, a form value or a reason containing `<script>` is shown as text.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use super::error::explain;
use super::messages::{self, Lang};
use super::session::{home_of, random_hex, Session};
use super::Http;
use crate::auth::Role;
use crate::pb;
use onewindow_core::plan::Plan;

/// The stylesheet (print styles included: the notice and the receipt are printed).
const CSS: &str = include_str!("static/console.css");
/// The dashboard's live updates (EventSource) and nothing else.
const JS: &str = include_str!("static/live.js");
/// Every page's script: the print buttons (no inline script: the pages forbid it).
const CONSOLE_JS: &str = include_str!("static/console.js");

/// A page in the console's frame.
pub(crate) struct Page<'a> {
    title: &'a str,
    session: Option<&'a Session>,
}

impl<'a> Page<'a> {
    pub(crate) fn new(title: &'a str, session: Option<&'a Session>) -> Page<'a> {
        Page { title, session }
    }

    /// The whole document around `body`.
    pub(crate) fn render(&self, body: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang=(self.session.map(|s| s.lang).unwrap_or_default().tag()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title) " · onewindow 一窗受理" }
                    link rel="stylesheet" href="/console/static/console.css";
                    script src="/console/static/console.js" defer {}
                }
                body {
                    header.top.noprint {
                        a.brand href="/console" { "onewindow 工程建设项目审批 · 一窗受理" }
                        nav {
                            @if let Some(s) = self.session {
                                @match &s.caller.role {
                                    Role::Window => {
                                        a href="/console/window" { "综合窗口 Window" }
                                    }
                                    Role::Department(d) | Role::Reviewer { department: d, .. } => {
                                        a href="/console/inbox" data-department=(d) { "待办 Inbox" }
                                    }
                                    Role::Agent(_) => {
                                        a href="/console/agent" { "我的项目 My projects" }
                                    }
                                    Role::Analyst => {
                                        a href="/console/analysis" { "流程分析 Analysis" }
                                    }
                                    _ => {
                                        a href="/console/supervision" { "电子监察 Supervision" }
                                        a href="/console/analysis" { "流程分析 Analysis" }
                                    }
                                }
                                a href="/public" { "信息公开 Public" }
                                @match s.lang {
                                    Lang::Zh => a href="/console/lang/en?back=/console" lang="en" { "English" },
                                    Lang::En => a href="/console/lang/zh?back=/console" lang="zh-CN" { "中文" },
                                }
                                form.inline method="post" action="/console/logout" {
                                    (csrf(s))
                                    button.link type="submit" { "退出 Log out" }
                                }
                            } @else {
                                a href="/public" { "信息公开 Public" }
                                a href="/console/login" { "登录 Log in" }
                            }
                        }
                    }
                    main { (body) }
                }
            }
        }
    }
}

/// The hidden CSRF field of a session's form.
pub(crate) fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// The hidden fields of a form that runs a command: the CSRF token and a fresh request
/// id, made when the page is drawn, so that sending the form twice (a double click, a
/// reload) is one command: the second gets the first answer.
pub(crate) fn command_fields(s: &Session) -> Markup {
    html! {
        (csrf(s))
        input type="hidden" name="request_id" value={ "console-" (random_hex()) };
    }
}

/// A page that only says something.
pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let body = html! {
        h1 { (title) }
        p { (text) }
        p { a href="/console" { "返回 Back" } }
    };
    (status, Page::new(title, None).render(body)).into_response()
}

/// 404 saying what was not found.
pub(crate) fn not_found(what: &str) -> Response {
    message(StatusCode::NOT_FOUND, "未找到 Not found", what)
}

/// 429 with a retry hint.
pub(crate) fn too_many() -> Response {
    let mut r = message(
        StatusCode::TOO_MANY_REQUESTS,
        "请求过于频繁 Too many requests",
        "Please wait a minute and try again.",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
    r
}

/// A form without this session's CSRF token.
pub(crate) fn bad_csrf() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "表单已失效 Form expired",
        "The form did not carry this session's token (CSRF). Open the page again and resend.",
    )
}

/// A refused or failed command, said in the reader's language with the workflow's names
/// ([`super::messages`]); the API's typed reason beneath as a small tag, for whoever
/// must report it.
pub(crate) fn refusal(status: &tonic::Status, plan: Option<&Plan>, lang: Lang) -> Markup {
    let e = explain(status);
    html! {
        div.error role="alert" {
            p { strong { (messages::not_done(lang)) "：" } (messages::refusal(status, plan, lang)) }
            p.hint { small.tag { (e.reason) } }
        }
    }
}

/// The plan of a project's version, when both exist.
pub(crate) fn plan_of(http: &Http, project: &str) -> Option<std::sync::Arc<Plan>> {
    http.api
        .svc
        .with_project(project, |p| p.version().to_string())
        .and_then(|v| http.api.svc.plan(&v))
}

/// The HTTP status a refusal page is sent with.
pub(crate) fn refusal_code(status: &tonic::Status) -> StatusCode {
    super::error::http_status(status.code())
}

pub(super) fn router() -> Router<Http> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(home))
        .route("/console/lang/{lang}", get(choose_language))
        .route(
            "/console/static/console.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS) }),
        )
        .route(
            "/console/static/live.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    JS,
                )
            }),
        )
        .route(
            "/console/static/console.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    CONSOLE_JS,
                )
            }),
        )
}

#[derive(serde::Deserialize)]
struct Back {
    #[serde(default)]
    back: String,
}

/// Sets the reader's language (a cookie for a year) and goes back to the page they were
/// on: only a path of this site, never another host.
async fn choose_language(
    axum::extract::Path(lang): axum::extract::Path<String>,
    axum::extract::Query(back): axum::extract::Query<Back>,
) -> Response {
    let value = if lang == "en" { "en" } else { "zh" };
    let back = if back.back.starts_with('/') && !back.back.starts_with("//") {
        back.back
    } else {
        "/console".into()
    };
    let cookie = format!(
        "{}={value}; Path=/; Max-Age=31536000; SameSite=Strict",
        messages::LANG_COOKIE
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(&back)).into_response()
}

async fn home(session: Option<Session>) -> Redirect {
    match session {
        Some(s) => Redirect::to(home_of(&s.caller.role)),
        None => Redirect::to("/console/login"),
    }
}

/// A department's name in a plan (its id when the plan has no such department).
pub(crate) fn department_name(plan: &Plan, id: &str) -> String {
    if id == "window" {
        return "综合窗口 Window".to_string();
    }
    plan.departments
        .iter()
        .find(|d| d.id == id)
        .map_or_else(|| id.to_string(), |d| d.name.clone())
}

/// A department's name from whichever deployed workflow declares it (its id when none
/// does): pages about a department rather than a project.
pub(crate) fn department_anywhere(http: &Http, id: &str) -> String {
    http.api
        .svc
        .versions()
        .iter()
        .filter_map(|v| http.api.svc.plan(v))
        .find_map(|p| {
            p.departments
                .iter()
                .find(|d| d.id == id)
                .map(|d| d.name.clone())
        })
        .unwrap_or_else(|| id.to_string())
}

/// The tasks that matter to a reader: every item that applies, with its department,
/// state and due date.
pub(crate) fn tasks_table(plan: &Plan, tasks: &[pb::Task], all: bool) -> Markup {
    html! {
        table.tasks {
            thead { tr { th { "事项 Item" } th { "部门 Department" } th { "状态 State" } th { "办结时限 Due" } } }
            tbody {
                @for t in tasks {
                    @if all || !matches!(t.state.as_str(), "not_applicable") {
                        tr class=(row_class(t)) data-item=(t.item) data-state=(t.state) {
                            td { (item_name(plan, &t.item)) }
                            td { (department_name(plan, &t.department)) }
                            td { (state_name(&t.state)) }
                            td.due { @if matches!(t.state.as_str(), "ready" | "claimed" | "suspended") {
                                (t.due) @if t.overdue { " 超期 overdue" } @else if t.warned { " 预警 warning" }
                            } }
                        }
                    }
                }
            }
        }
    }
}

/// A task row's class: its warning colour.
pub(crate) fn row_class(t: &pb::Task) -> &'static str {
    if t.overdue {
        "overdue"
    } else if t.warned {
        "warned"
    } else {
        ""
    }
}

/// A stage's name in a plan (the workflow may name its stages), the id when unknown.
pub(crate) fn stage_name(plan: &Plan, id: &str) -> String {
    onewindow_core::plan::Stage::parse(id)
        .map_or_else(|| "—".to_string(), |s| plan.stage_names[s.index()].clone())
}

/// A project's status in Chinese and English.
pub(crate) fn project_status_name(status: &str) -> &'static str {
    match status {
        "active" => "办理中 in progress",
        "completed" => "已办结 completed",
        "withdrawn" => "已撤回 withdrawn",
        _ => "—",
    }
}

/// A form value as people write it: text as typed, an enum value by its label, numbers
/// without a needless `.0`, 是/否, dates as dates.
pub(crate) fn form_value(
    f: &onewindow_core::form::Field,
    v: &onewindow_core::form::Value,
) -> String {
    use onewindow_core::form::Value;
    match v {
        Value::String(s) => f.label(s).to_string(),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", *n as i64),
        Value::Number(n) => n.to_string(),
        Value::Bool(true) => "是 yes".into(),
        Value::Bool(false) => "否 no".into(),
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
    }
}

/// An item's name in a plan.
pub(crate) fn item_name(plan: &Plan, id: &str) -> String {
    plan.items
        .iter()
        .find(|i| i.id == id)
        .map_or_else(|| id.to_string(), |i| i.name.clone())
}

/// A task state in Chinese and English.
pub(crate) fn state_name(state: &str) -> &'static str {
    match state {
        "pending" => "未开始 pending",
        "not_applicable" => "不适用 not applicable",
        "waiting" => "等待前置 waiting",
        "ready" => "待签收 ready",
        "claimed" => "办理中 claimed",
        "suspended" => "暂停（补正/特别程序） suspended",
        "approved" => "已办结 approved",
        "rejected" => "不予许可 rejected",
        "closed" => "已关闭 closed",
        _ => "—",
    }
}

/// The first characters of a content hash, for people.
pub(crate) fn short_version(v: &str) -> &str {
    v.get(..12).unwrap_or(v)
}

/// What a path segment keeps unencoded: letters, digits and `-_.~` (RFC 3986's
/// unreserved characters).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A path segment, percent-encoded (project codes may hold `/` or `#`).
pub(crate) fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}
