//! Console sessions: a clerk logs in once with their token and works with a session
//! cookie; every form carries the session's CSRF token.
//!
//! - The token is checked as the API checks it ([`auth::authenticate`]); a failed login
//!   is logged with the client's address and counted (`onewindow_auth_failures_total`).
//!   Logins have limits of their own, apart from the public pages' (so the public cannot
//!   lock staff out): attempts per client address ([`ATTEMPTS_PER_MINUTE`]; the address
//!   behind a proxy only when the operator names the proxy, [`super::client`]) and
//!   logins per account, the token's identity ([`LOGINS_PER_MINUTE`]) — guessing is slow
//!   and visible, and a stolen token cannot mint sessions without end.
//! - A session is tied to its token's credential and asks again on every request whether
//!   it holds: a token revoked or expired ends every session made from it within the same
//!   second as the API refuses it, and with them their live streams ([`Sessions::holds`]).
//!   A session also ends after [`IDLE`] without a request, after [`LIFETIME`] in any
//!   case, at logout, and when the same browser logs in again; an account holds at most
//!   [`PER_ACCOUNT`] sessions at once (a new one ends the oldest).
//! - The session id is 256 random bits, kept only in this node's memory: the cookie is
//!   `HttpOnly; SameSite=Strict` (and `Secure` when the browser speaks https), so another
//!   site can neither read it nor send it. Nodes behind one load balancer need sticky
//!   sessions (or a clerk logs in again on another node); the record itself does not
//!   depend on the session.
//! - CSRF: every form has a hidden `csrf` field holding the session's own random token,
//!   compared in constant time before anything is done (the synchronizer-token pattern;
//!   `SameSite=Strict` is the second line). The login form, which has no session yet,
//!   carries a random token that must equal its own short-lived cookie (double submit),
//!   so another site cannot log a clerk in to an account of its choosing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use governor::{DefaultKeyedRateLimiter, Quota};
use maud::html;

use super::client::Client;
use super::messages::Lang;
use super::page::{self, Page};
use super::Http;
use crate::auth::{self, Caller, Role, Tokens};
use onewindow_store::sessions::{SessionStore, StoredSession};

/// A session ends after this long without a request.
pub(crate) const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends after this long in any case.
pub(crate) const LIFETIME: Duration = Duration::from_secs(10 * 60 * 60);
/// At most this many sessions at once (expired ones are dropped first).
const MAX_SESSIONS: usize = 10_000;
/// At most this many sessions of one account (a window's token may be shared by the
/// clerks of one counter, each at their own desk); a new one ends the oldest.
pub(crate) const PER_ACCOUNT: usize = 64;
/// Login attempts a minute per client address (a burst of as many).
pub(crate) const ATTEMPTS_PER_MINUTE: u32 = 30;
/// Logins a minute per account (a burst of as many).
pub(crate) const LOGINS_PER_MINUTE: u32 = 30;
/// The session cookie's name.
const COOKIE: &str = "onewindow_session";
/// The login form's own cookie (its CSRF token), and how long a login form stays good.
const LOGIN_COOKIE: &str = "onewindow_login";
const LOGIN_FORM_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// A logged-in clerk, reviewer or supervisor.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    /// The session's id (the cookie's value).
    pub(crate) id: String,
    /// Who: the token's role and credential.
    pub(crate) caller: Caller,
    /// The token every form of this session must carry.
    pub(crate) csrf: String,
    started: Instant,
    seen: Instant,
    /// The reader's language this request (from its cookie, not kept with the session).
    pub(crate) lang: Lang,
}

impl Session {
    /// The department of a reviewer's session.
    pub(crate) fn department(&self) -> Option<&str> {
        self.caller.role.department()
    }

    /// Whether a form's `csrf` field is this session's token (constant time).
    pub(crate) fn csrf_ok(&self, sent: Option<&str>) -> bool {
        same_secret(sent, &self.csrf)
    }

    /// [`Session::csrf_ok`] for a posted form's fields.
    pub(crate) fn form_csrf_ok(&self, pairs: &[(String, String)]) -> bool {
        self.csrf_ok(
            pairs
                .iter()
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.as_str()),
        )
    }
}

/// Whether `sent` is `secret`, compared in constant time.
fn same_secret(sent: Option<&str>, secret: &str) -> bool {
    let Some(sent) = sent else { return false };
    let (a, b) = (sent.as_bytes(), secret.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a node's sessions read the time from: the monotonic clock, or a test's.
type Now = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The sessions of this node, or of the city's nodes when the store keeps them.
pub(crate) struct Sessions {
    all: Mutex<HashMap<String, Session>>,
    tokens: Arc<Tokens>,
    idle: Duration,
    lifetime: Duration,
    now: Now,
    /// The shared store that keeps every node's sessions (PostgreSQL), with the server's
    /// clock: then `all` stays empty.
    shared: Option<SharedSessions>,
}

/// Sessions kept in a shared store ([`onewindow_store::sessions`]).
struct SharedSessions {
    svc: Arc<onewindow_store::service::Service<dyn onewindow_store::Store>>,
    clock: crate::Clock,
}

impl SharedSessions {
    fn store(&self) -> Option<&dyn SessionStore> {
        self.svc.store().sessions()
    }

    fn now_ms(&self) -> i64 {
        (self.clock)().timestamp_millis()
    }
}

/// A token credential as the store keeps it: `{sha256 as hex} {identity}`.
fn credential_text(c: &auth::Credential) -> Option<String> {
    match c {
        auth::Credential::Token { sha256, identity } => Some(format!(
            "{} {identity}",
            sha256
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )),
        auth::Credential::Certificate => None,
    }
}

/// The credential [`credential_text`] wrote.
fn credential_of(text: &str) -> Option<auth::Credential> {
    let (hex, identity) = text.split_once(' ')?;
    if hex.len() != 64 {
        return None;
    }
    let mut sha256 = [0u8; 32];
    for (i, b) in sha256.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(auth::Credential::Token {
        sha256,
        identity: identity.into(),
    })
}

/// What a shared store's failure means for a session: logged, and the session taken as
/// ended (the clerk logs in again), never as valid.
fn store_failed(what: &str, e: &onewindow_store::Error) {
    tracing::warn!("console sessions: {what}: {e}");
}

impl Sessions {
    /// Sessions whose credentials `tokens` holds: in the store when it keeps sessions for
    /// every node (PostgreSQL), on the server's `clock`; in this node's memory otherwise.
    pub(crate) fn new(
        tokens: Arc<Tokens>,
        svc: Arc<onewindow_store::service::Service<dyn onewindow_store::Store>>,
        clock: crate::Clock,
    ) -> Sessions {
        let mut s = Sessions::with_clock(tokens, IDLE, LIFETIME, Arc::new(Instant::now));
        if svc.store().sessions().is_some() {
            s.shared = Some(SharedSessions { svc, clock });
        }
        s
    }

    /// Sessions whose time is `now`'s (a test moves it instead of sleeping).
    fn with_clock(tokens: Arc<Tokens>, idle: Duration, lifetime: Duration, now: Now) -> Sessions {
        Sessions {
            all: Mutex::default(),
            tokens,
            idle,
            lifetime,
            now,
            shared: None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.all.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Within its time limits and its credential still good.
    fn alive(&self, s: &Session) -> bool {
        let now = (self.now)();
        now.saturating_duration_since(s.seen) < self.idle
            && now.saturating_duration_since(s.started) < self.lifetime
            && self.tokens.holds(&s.caller.credential)
    }

    /// Starts a session for `caller`, ending `replacing` (the session the browser had
    /// before this login) and, when the account is at [`PER_ACCOUNT`], its oldest;
    /// `None` when the node holds too many.
    fn start(&self, caller: Caller, replacing: Option<&str>) -> Option<String> {
        if let Some(shared) = &self.shared {
            return self.start_shared(shared, caller, replacing);
        }
        let mut all = self.lock();
        if let Some(old) = replacing {
            all.remove(old);
        }
        let account = caller.credential.clone();
        let mine: Vec<(Instant, String)> = all
            .iter()
            .filter(|(_, s)| s.caller.credential == account)
            .map(|(id, s)| (s.started, id.clone()))
            .collect();
        if mine.len() >= PER_ACCOUNT {
            if let Some((_, oldest)) = mine.into_iter().min() {
                all.remove(&oldest);
            }
        }
        if all.len() >= MAX_SESSIONS {
            all.retain(|_, s| self.alive(s));
            if all.len() >= MAX_SESSIONS {
                return None;
            }
        }
        let id = random_hex();
        let now = (self.now)();
        all.insert(
            id.clone(),
            Session {
                id: id.clone(),
                caller,
                csrf: random_hex(),
                started: now,
                seen: now,
                lang: Lang::default(),
            },
        );
        Some(id)
    }

    /// The live session of an id, its idle time restarted; a session past its limits or
    /// whose token no longer holds is ended.
    fn touch(&self, id: &str) -> Option<Session> {
        if let Some(shared) = &self.shared {
            return self.touch_shared(shared, id, true);
        }
        let mut all = self.lock();
        let s = all.get_mut(id)?;
        if !self.alive(s) {
            all.remove(id);
            return None;
        }
        s.seen = (self.now)();
        Some(s.clone())
    }

    /// Whether a session is still alive, without counting as a request: what a live
    /// stream opened by the session asks while it lasts.
    pub(crate) fn holds(&self, id: &str) -> bool {
        if let Some(shared) = &self.shared {
            return self.touch_shared(shared, id, false).is_some();
        }
        let all = self.lock();
        all.get(id).is_some_and(|s| self.alive(s))
    }

    fn end(&self, id: &str) {
        if let Some(store) = self.shared.as_ref().and_then(SharedSessions::store) {
            if let Err(e) = store.end_session(id) {
                store_failed("ending a session", &e);
            }
            return;
        }
        self.lock().remove(id);
    }

    /// [`Sessions::start`] in the shared store: the replaced session and, at
    /// [`PER_ACCOUNT`], the account's oldest end; what has expired everywhere goes too.
    fn start_shared(
        &self,
        shared: &SharedSessions,
        caller: Caller,
        replacing: Option<&str>,
    ) -> Option<String> {
        let store = shared.store()?;
        let credential = credential_text(&caller.credential)?;
        let now = shared.now_ms();
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let run = || -> Result<String, onewindow_store::Error> {
            if let Some(old) = replacing {
                store.end_session(old)?;
            }
            store.expire_sessions(now - ms(self.idle), now - ms(self.lifetime))?;
            let mine = store.sessions_of(&credential)?;
            if mine.len() >= PER_ACCOUNT {
                for (old, _) in &mine[..=mine.len() - PER_ACCOUNT] {
                    store.end_session(old)?;
                }
            }
            let id = random_hex();
            store.put_session(&StoredSession {
                id: id.clone(),
                credential: credential.clone(),
                role: caller.role.id(),
                csrf: random_hex(),
                started_ms: now,
                seen_ms: now,
            })?;
            Ok(id)
        };
        run()
            .map_err(|e| store_failed("starting a session", &e))
            .ok()
    }

    /// [`Sessions::touch`] (or, without `seen`, [`Sessions::holds`]) in the shared store.
    fn touch_shared(&self, shared: &SharedSessions, id: &str, seen: bool) -> Option<Session> {
        let store = shared.store()?;
        let kept = match store.session(id) {
            Ok(s) => s?,
            Err(e) => {
                store_failed("reading a session", &e);
                return None;
            }
        };
        let now = shared.now_ms();
        let age = |since: i64| Duration::from_millis(u64::try_from(now - since).unwrap_or(0));
        let caller = credential_of(&kept.credential)
            .zip(Role::parse(&kept.role))
            .map(|(credential, role)| Caller { role, credential });
        let alive = age(kept.seen_ms) < self.idle
            && age(kept.started_ms) < self.lifetime
            && caller
                .as_ref()
                .is_some_and(|c| self.tokens.holds(&c.credential));
        if !alive {
            if let Err(e) = store.end_session(id) {
                store_failed("ending a session", &e);
            }
            return None;
        }
        if seen {
            if let Err(e) = store.session_seen(id, now) {
                store_failed("touching a session", &e);
            }
        }
        let at = (self.now)();
        Some(Session {
            id: kept.id,
            caller: caller?,
            csrf: kept.csrf,
            started: at,
            seen: at,
            lang: Lang::default(),
        })
    }
}

/// The per-address and per-account limits on logins.
pub(crate) struct LoginLimits {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_account: DefaultKeyedRateLimiter<String>,
}

impl Default for LoginLimits {
    fn default() -> LoginLimits {
        let per_minute = |n: u32| {
            let n = NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
            Quota::per_minute(n).allow_burst(n)
        };
        LoginLimits {
            by_address: governor::RateLimiter::keyed(per_minute(ATTEMPTS_PER_MINUTE)),
            by_account: governor::RateLimiter::keyed(per_minute(LOGINS_PER_MINUTE)),
        }
    }
}

/// 256 random bits as hex (the thread's generator is a CSPRNG seeded by the system).
pub(crate) fn random_hex() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of the cookie `name` a request carries.
fn cookie_named(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The session id a request's cookie names.
fn cookie(headers: &HeaderMap) -> Option<String> {
    cookie_named(headers, COOKIE)
}

/// A `Set-Cookie` value: `HttpOnly; SameSite=Strict`, `Secure` when the browser speaks
/// https.
fn set_cookie(name: &str, value: &str, path: &str, max_age: Duration, https: bool) -> String {
    format!(
        "{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={}{}",
        max_age.as_secs(),
        if https { "; Secure" } else { "" }
    )
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
        let mut s = http.sessions.touch(&id).ok_or(Refused::Login)?;
        s.lang = Lang::of(&parts.headers);
        Ok(s)
    }
}

impl axum::extract::OptionalFromRequestParts<Http> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        http: &Http,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(cookie(&parts.headers)
            .and_then(|id| http.sessions.touch(&id))
            .map(|mut s| {
                s.lang = Lang::of(&parts.headers);
                s
            }))
    }
}

pub(super) fn router() -> Router<Http> {
    Router::new()
        .route("/console/login", get(login_form).post(login))
        .route("/console/logout", post(logout))
}

async fn login_form(client: Client) -> Response {
    login_page(None, StatusCode::OK, client.https)
}

/// The login form with a fresh CSRF token, set in its own cookie too.
fn login_page(error: Option<&str>, status: StatusCode, https: bool) -> Response {
    let nonce = random_hex();
    let body = html! {
        h1 { "登录 Log in" }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.card method="post" action="/console/login" {
            input type="hidden" name="csrf" value=(nonce);
            label { "令牌 Token" input type="password" name="token" required autocomplete="off" autofocus; }
            button type="submit" { "登录 Log in" }
        }
        p.hint { "窗口、各部门和监察的令牌由管理员发放。 Tokens are issued by the administrator." }
    };
    let cookie = set_cookie(
        LOGIN_COOKIE,
        &nonce,
        "/console/login",
        LOGIN_FORM_LIFETIME,
        https,
    );
    (
        status,
        [(header::SET_COOKIE, cookie)],
        Page::new("登录 Log in", None).render(body),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct Login {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: Option<String>,
}

async fn login(
    State(http): State<Http>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<Login>,
) -> Response {
    if http.logins.by_address.check_key(&client.addr).is_err() {
        tracing::warn!(client = %client.addr, "console: too many login attempts from one address");
        return page::too_many();
    }
    let expected = cookie_named(&headers, LOGIN_COOKIE);
    if expected.is_none() || !same_secret(form.csrf.as_deref(), expected.as_deref().unwrap_or("")) {
        return login_page(
            Some("登录页面已过期，请重新输入令牌。 The login form had expired or came from another page; enter the token again."),
            StatusCode::FORBIDDEN,
            client.https,
        );
    }
    let header = format!("Bearer {}", form.token);
    let caller = match auth::authenticate(&http.tokens, Some(&header)) {
        Ok(caller) => caller,
        Err(_) => {
            http.api.metrics.auth_failures.inc();
            tracing::warn!(client = %client.addr, "console: login with an unknown token");
            return login_page(
                Some("令牌无效、已过期或已吊销。 The token is not valid, has expired or was revoked."),
                StatusCode::UNAUTHORIZED,
                client.https,
            );
        }
    };
    let account = caller.credential.account().to_string();
    if http.logins.by_account.check_key(&account).is_err() {
        tracing::warn!(client = %client.addr, account, "console: too many logins of one account");
        return page::too_many();
    }
    let home = home_of(&caller.role);
    let replacing = cookie(&headers);
    let Some(id) = http.sessions.start(caller, replacing.as_deref()) else {
        return page::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "繁忙 Busy",
            "本节点会话过多，请稍后再试。 Too many sessions on this node; try again later.",
        );
    };
    tracing::info!(client = %client.addr, account, "console: logged in");
    let session = set_cookie(COOKIE, &id, "/", LIFETIME, client.https);
    let used = set_cookie(
        LOGIN_COOKIE,
        "",
        "/console/login",
        Duration::ZERO,
        client.https,
    );
    (
        axum::response::AppendHeaders([(header::SET_COOKIE, session), (header::SET_COOKIE, used)]),
        Redirect::to(home),
    )
        .into_response()
}

/// Where a role starts.
pub(crate) fn home_of(role: &Role) -> &'static str {
    match role {
        Role::Window => "/console/window",
        Role::Department(_) | Role::Reviewer { .. } => "/console/inbox",
        Role::Agent(_) => "/console/agent",
        // No caller is the system: `Actor::parse` never gives it.
        Role::System => "/public",
        Role::Supervisor | Role::Admin => "/console/supervision",
        Role::Analyst => "/console/analysis",
    }
}

#[derive(serde::Deserialize)]
struct Csrf {
    #[serde(default)]
    csrf: Option<String>,
}

async fn logout(
    State(http): State<Http>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<Csrf>,
) -> Response {
    if let Some(id) = cookie(&headers) {
        if let Some(s) = http.sessions.touch(&id) {
            if !s.csrf_ok(form.csrf.as_deref()) {
                return page::bad_csrf();
            }
            http.sessions.end(&id);
        }
    }
    let expired = set_cookie(COOKIE, "", "/", Duration::ZERO, client.https);
    (
        [(header::SET_COOKIE, expired)],
        Redirect::to("/console/login"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Credential;

    fn tokens() -> (tempfile::TempDir, std::path::PathBuf, Arc<Tokens>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.yaml");
        std::fs::write(&path, "tokens: []\n").unwrap();
        let tokens = Arc::new(Tokens::load(&path).unwrap());
        (dir, path, tokens)
    }

    fn clerk() -> Caller {
        Caller {
            role: Role::Window,
            credential: Credential::Certificate,
        }
    }

    /// A clock the test moves: the sessions see exactly the time it says.
    fn test_clock() -> (Now, impl Fn(u64)) {
        let at = Arc::new(Mutex::new(Instant::now()));
        let read = at.clone();
        let now: Now = Arc::new(move || *read.lock().unwrap());
        let advance = move |ms: u64| *at.lock().unwrap() += Duration::from_millis(ms);
        (now, advance)
    }

    #[test]
    fn a_session_ends_when_idle_and_at_the_end_of_its_life() {
        let (_dir, _, tokens) = tokens();
        let (now, advance) = test_clock();
        let idle = Sessions::with_clock(
            tokens.clone(),
            Duration::from_millis(1000),
            Duration::from_secs(60),
            now,
        );
        let id = idle.start(clerk(), None).unwrap();
        advance(999);
        assert!(idle.touch(&id).is_some(), "in use: alive");
        advance(999);
        assert!(idle.touch(&id).is_some(), "used 999 ms ago: alive");
        advance(1000);
        assert!(idle.touch(&id).is_none(), "idle for its whole limit: ended");
        assert!(idle.touch(&id).is_none(), "and gone");

        let (now, advance) = test_clock();
        let short = Sessions::with_clock(
            tokens,
            Duration::from_secs(60),
            Duration::from_millis(1000),
            now,
        );
        let id = short.start(clerk(), None).unwrap();
        for _ in 0..3 {
            advance(300);
            assert!(short.touch(&id).is_some(), "in use, within its lifetime");
        }
        advance(100);
        assert!(
            short.touch(&id).is_none(),
            "in use, but at the end of its lifetime"
        );
    }

    #[test]
    fn csrf_tokens_are_the_sessions_own() {
        let (_dir, _, tokens) = tokens();
        let sessions = Sessions::with_clock(tokens, IDLE, LIFETIME, Arc::new(Instant::now));
        let a = sessions
            .touch(&sessions.start(clerk(), None).unwrap())
            .unwrap();
        let b = sessions
            .touch(&sessions.start(clerk(), None).unwrap())
            .unwrap();
        assert_ne!(a.csrf, b.csrf);
        assert_eq!(a.csrf.len(), 64);
        assert!(a.csrf_ok(Some(&a.csrf)));
        assert!(!a.csrf_ok(Some(&b.csrf)));
        assert!(!a.csrf_ok(Some(&a.csrf[..63])));
        assert!(!a.csrf_ok(None));
    }

    #[test]
    fn a_session_ends_with_its_token_a_new_login_and_the_accounts_limit() {
        let (_dir, path, tokens) = tokens();
        let now = onewindow_core::calendar::city_now();
        let (token, identity) = crate::identity::add(&path, "window", None, now).unwrap();
        // The table looks at the file at most once a second: wait until it knows the token.
        let header = format!("bearer {token}");
        let started = std::time::Instant::now();
        let caller = loop {
            if let Ok(c) = auth::authenticate(&tokens, Some(&header)) {
                break c;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the token is read"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let sessions = Sessions::with_clock(tokens, IDLE, LIFETIME, Arc::new(Instant::now));
        let first = sessions.start(caller.clone(), None).unwrap();
        // The same browser logging in again ends the session it had.
        let second = sessions.start(caller.clone(), Some(&first)).unwrap();
        assert!(sessions.touch(&first).is_none());
        assert!(sessions.holds(&second));
        // An account holds at most PER_ACCOUNT sessions: the oldest ends.
        let more: Vec<String> = (1..PER_ACCOUNT)
            .map(|_| sessions.start(caller.clone(), None).unwrap())
            .collect();
        assert!(sessions.holds(&second));
        let one_more = sessions.start(caller.clone(), None).unwrap();
        assert!(!sessions.holds(&second), "the oldest ended");
        assert!(sessions.holds(&one_more) && sessions.holds(&more[0]));
        // Revoked: every session of the token ends at the next look at the file.
        crate::identity::revoke(&path, &identity.id, now).unwrap();
        let started = std::time::Instant::now();
        while sessions.holds(&one_more) {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "outlived its token"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(sessions.touch(&more[0]).is_none());
    }
}
