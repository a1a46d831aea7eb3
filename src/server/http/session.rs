//! Console sessions: a clerk logs in once with their token and works with a session
//! cookie; every form carries the session's CSRF token.
//!
//! - The token is checked as the API checks it ([`auth::authenticate`]); a failed login
//!   is logged with the client's address and counted (`onewindow_auth_failures_total`),
//!   and logins share the public pages' per-address rate limit, so guessing is slow and
//!   visible.
//! - The session id is 256 random bits, kept only in this node's memory: the cookie is
//!   `HttpOnly; SameSite=Strict`, so another site can neither read it nor send it. A
//!   session ends after [`IDLE`] without a request, after [`LIFETIME`] in any case, or at
//!   logout. Nodes behind one load balancer need sticky sessions (or a clerk logs in again
//!   on another node); the record itself does not depend on the session.
//! - CSRF: every form has a hidden `csrf` field holding the session's own random token,
//!   compared in constant time before anything is done (the synchronizer-token pattern;
//!   `SameSite=Strict` is the second line).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::html;

use super::page::{self, Page};
use super::Http;
use crate::server::auth::{self, Caller, Role};

/// A session ends after this long without a request.
pub(crate) const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends after this long in any case.
pub(crate) const LIFETIME: Duration = Duration::from_secs(10 * 60 * 60);
/// At most this many sessions at once (expired ones are dropped first).
const MAX_SESSIONS: usize = 10_000;
/// The cookie's name.
const COOKIE: &str = "onewindow_session";

/// A logged-in clerk, reviewer or supervisor.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    /// Who: the token's role.
    pub(crate) caller: Caller,
    /// The token every form of this session must carry.
    pub(crate) csrf: String,
    started: Instant,
    seen: Instant,
}

impl Session {
    /// The department of a reviewer's session.
    pub(crate) fn department(&self) -> Option<&str> {
        self.caller.role.department()
    }

    /// Whether a form's `csrf` field is this session's token (constant time).
    pub(crate) fn csrf_ok(&self, sent: Option<&str>) -> bool {
        let Some(sent) = sent else { return false };
        let (a, b) = (sent.as_bytes(), self.csrf.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// The sessions of this node.
pub(crate) struct Sessions {
    all: Mutex<HashMap<String, Session>>,
    idle: Duration,
    lifetime: Duration,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions::with_limits(IDLE, LIFETIME)
    }
}

impl Sessions {
    fn with_limits(idle: Duration, lifetime: Duration) -> Sessions {
        Sessions {
            all: Mutex::default(),
            idle,
            lifetime,
        }
    }

    fn alive(&self, s: &Session) -> bool {
        s.seen.elapsed() < self.idle && s.started.elapsed() < self.lifetime
    }

    /// Starts a session; `None` when the node holds too many.
    fn start(&self, caller: Caller) -> Option<String> {
        let mut all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() >= MAX_SESSIONS {
            all.retain(|_, s| self.alive(s));
            if all.len() >= MAX_SESSIONS {
                return None;
            }
        }
        let id = random_hex();
        let now = Instant::now();
        all.insert(
            id.clone(),
            Session {
                caller,
                csrf: random_hex(),
                started: now,
                seen: now,
            },
        );
        Some(id)
    }

    /// The live session of an id, its idle time restarted.
    fn touch(&self, id: &str) -> Option<Session> {
        let mut all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        let s = all.get_mut(id)?;
        if !self.alive(s) {
            all.remove(id);
            return None;
        }
        s.seen = Instant::now();
        Some(s.clone())
    }

    fn end(&self, id: &str) {
        self.all
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// 256 random bits as hex (the thread's generator is a CSPRNG seeded by the system).
pub(crate) fn random_hex() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session id a request's cookie names.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Why a console page is not shown: no session (to the login page) or the wrong role.
pub(crate) enum Refused {
    Login,
    Forbidden(String),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Login => Redirect::to("/console/login").into_response(),
            Refused::Forbidden(why) => {
                page::message(StatusCode::FORBIDDEN, "无权访问 Forbidden", &why)
            }
        }
    }
}

impl FromRequestParts<Http> for Session {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, http: &Http) -> Result<Self, Self::Rejection> {
        let id = cookie(&parts.headers).ok_or(Refused::Login)?;
        http.sessions.touch(&id).ok_or(Refused::Login)
    }
}

impl axum::extract::OptionalFromRequestParts<Http> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        http: &Http,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(cookie(&parts.headers).and_then(|id| http.sessions.touch(&id)))
    }
}

pub(super) fn router() -> Router<Http> {
    Router::new()
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", post(logout))
}

async fn login_form() -> Response {
    login_page(None, StatusCode::OK)
}

fn login_page(error: Option<&str>, status: StatusCode) -> Response {
    let body = html! {
        h1 { "登录 Log in" }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.card method="post" action="/console/login" {
            label { "令牌 Token" input type="password" name="token" required autocomplete="off" autofocus; }
            button type="submit" { "登录 Log in" }
        }
        p.hint { "窗口、各部门和监察的令牌由管理员发放。 Tokens are issued by the administrator." }
    };
    (status, Page::new("登录 Log in", None).render(body)).into_response()
}

#[derive(serde::Deserialize)]
struct Login {
    #[serde(default)]
    token: String,
}

async fn login(
    State(http): State<Http>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(form): Form<Login>,
) -> Response {
    if http.limiter.check_key(&peer.ip()).is_err() {
        return page::too_many();
    }
    let header = format!("Bearer {}", form.token);
    let role = match auth::authenticate(&http.tokens, Some(&header)) {
        Ok(role) => role,
        Err(_) => {
            http.api.metrics.auth_failures.inc();
            tracing::warn!(peer = %peer, "console: login with an unknown token");
            return login_page(
                Some("令牌无效 The token is not valid."),
                StatusCode::UNAUTHORIZED,
            );
        }
    };
    let home = home_of(&role);
    let Some(id) = http.sessions.start(Caller { role }) else {
        return page::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "繁忙 Busy",
            "Too many sessions on this node; try again later.",
        );
    };
    tracing::info!(peer = %peer, "console: logged in");
    let cookie = format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        LIFETIME.as_secs()
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to(home)).into_response()
}

/// Where a role starts.
pub(crate) fn home_of(role: &Role) -> &'static str {
    match role {
        Role::Window => "/console/window",
        Role::Department(_) | Role::Reviewer { .. } => "/console/inbox",
        // The console has no agent's pages yet: agents use the API.
        Role::Agent(_) => "/public",
        Role::Supervisor | Role::Admin | Role::Analyst => "/console/supervision",
    }
}

#[derive(serde::Deserialize)]
struct Csrf {
    #[serde(default)]
    csrf: Option<String>,
}

async fn logout(State(http): State<Http>, headers: HeaderMap, Form(form): Form<Csrf>) -> Response {
    if let Some(id) = cookie(&headers) {
        if let Some(s) = http.sessions.touch(&id) {
            if !s.csrf_ok(form.csrf.as_deref()) {
                return page::bad_csrf();
            }
            http.sessions.end(&id);
        }
    }
    let expired = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    (
        [(header::SET_COOKIE, expired)],
        Redirect::to("/console/login"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clerk() -> Caller {
        Caller { role: Role::Window }
    }

    #[test]
    fn a_session_ends_when_idle_and_at_the_end_of_its_life() {
        // Margins of hundreds of milliseconds: a loaded machine oversleeps.
        let idle = Sessions::with_limits(Duration::from_millis(1000), Duration::from_secs(60));
        let id = idle.start(clerk()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert!(idle.touch(&id).is_some(), "in use: alive");
        std::thread::sleep(Duration::from_millis(300));
        assert!(idle.touch(&id).is_some(), "used 300 ms ago: alive");
        std::thread::sleep(Duration::from_millis(1500));
        assert!(idle.touch(&id).is_none(), "idle too long: ended");
        assert!(idle.touch(&id).is_none(), "and gone");

        let short = Sessions::with_limits(Duration::from_secs(60), Duration::from_millis(1000));
        let id = short.start(clerk()).unwrap();
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(150));
            assert!(short.touch(&id).is_some());
        }
        std::thread::sleep(Duration::from_millis(800));
        assert!(short.touch(&id).is_none(), "in use, but past its lifetime");
    }

    #[test]
    fn csrf_tokens_are_the_sessions_own() {
        let sessions = Sessions::default();
        let a = sessions.touch(&sessions.start(clerk()).unwrap()).unwrap();
        let b = sessions.touch(&sessions.start(clerk()).unwrap()).unwrap();
        assert_ne!(a.csrf, b.csrf);
        assert_eq!(a.csrf.len(), 64);
        assert!(a.csrf_ok(Some(&a.csrf)));
        assert!(!a.csrf_ok(Some(&b.csrf)));
        assert!(!a.csrf_ok(Some(&a.csrf[..63])));
        assert!(!a.csrf_ok(None));
    }
}
