//! The console's layout and the pieces every page shares: the frame with its navigation,
//! message pages, a refusal shown as the API would report it, the hidden fields every
//! form carries, and the static files (one stylesheet, one small script), compiled in.
//!
//! Pages are maud templates: every value interpolated is HTML-escaped, so a workflow's
//! name, a form value or a reason containing `<script>` is shown as text.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use super::error::explain;
use super::session::{home_of, random_hex, Session};
use super::Http;
use crate::server::auth::Role;

/// The stylesheet (print styles included: the notice and the receipt are printed).
const CSS: &str = include_str!("static/console.css");
/// The dashboard's live updates (EventSource) and nothing else.
const JS: &str = include_str!("static/live.js");

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
            html lang="zh-CN" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title) " · onewindow 一窗受理" }
                    link rel="stylesheet" href="/console/static/console.css";
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
                                    Role::Department(d) => {
                                        a href="/console/inbox" { "待办 Inbox (" (d) ")" }
                                    }
                                    _ => {
                                        a href="/console/supervision" { "电子监察 Supervision" }
                                    }
                                }
                                a href="/public" { "信息公开 Public" }
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

/// A refused or failed command, as the API reports it: the message, the engine's code
/// and each violation.
pub(crate) fn refusal(status: &tonic::Status) -> Markup {
    let e = explain(status);
    html! {
        div.error role="alert" {
            p { strong { "未办理 Not done: " } (status.message()) }
            p.hint { "code " code { (e.reason) } }
            @if !e.violations.is_empty() {
                ul { @for (field, why) in &e.violations { li { code { (field) } " " (why) } } }
            }
        }
    }
}

/// The HTTP status a refusal page is sent with.
pub(crate) fn refusal_code(status: &tonic::Status) -> StatusCode {
    super::error::http_status(status.code())
}

pub(super) fn router() -> Router<Http> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route("/console", get(home))
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
}

async fn home(session: Option<Session>) -> Redirect {
    match session {
        Some(s) => Redirect::to(home_of(&s.caller.role)),
        None => Redirect::to("/console/login"),
    }
}
