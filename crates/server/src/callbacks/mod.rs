//! `onewindow.v1.Callbacks`: webhooks for department systems that are told rather than
//! asking. A department (or an administrator for it) registers a URL; every event the
//! department would see is POSTed to it, signed, at least once and in order per project.
//!
//! - [`target`]: the operator's [`Policy`] (allow-list, HTTPS, retries) and the URL check.
//! - [`sign`]: the signature scheme (HMAC-SHA256 over timestamp and body).
//! - [`deliver`]: the delivery loop (one node at a time) over the store's outbox
//!   (`store::callbacks`: subscriptions, cursors into the event log, dead letters).
//! - This file: the [`Hub`] the API shares with the loop, and the RPCs.

pub(crate) mod deliver;
pub mod sign;
pub mod target;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use tonic::{Request, Response, Status};

use super::convert::caller;
use super::status::{invalid_argument, store_status};
use super::{input, pb, Api};
use crate::auth::{Caller, Role};
use onewindow_store::callbacks::{DeadLetter, Subscription};
pub use target::Policy;

/// The most subscriptions one department may have.
pub const MAX_PER_DEPARTMENT: usize = 16;

/// What the API and the delivery loop share.
pub(crate) struct Hub {
    pub(crate) policy: Policy,
    client: reqwest::Client,
    /// Any subscription exists: `Api::publish` notes nothing otherwise.
    active: AtomicBool,
    /// Projects with events the loop has not looked at: project → last event.
    dirty: Mutex<HashMap<String, u64>>,
    wake: tokio::sync::Notify,
    /// Subscriptions were made or removed: the loop reads them again.
    reload: AtomicBool,
    /// How each subscription's delivery goes, as this node saw it.
    health: Mutex<HashMap<String, Health>>,
}

/// How one subscription's delivery goes.
#[derive(Debug, Clone, Default)]
struct Health {
    pending: u64,
    last_ok: Option<chrono::DateTime<chrono::Utc>>,
    last_error: String,
    failures: u32,
}

impl Hub {
    /// A hub for `policy`, with its HTTP client: no redirects followed, the policy's
    /// timeout on connecting and on the whole answer, a pool of connections per receiver.
    ///
    /// # Errors
    /// The TLS backend could not be set up.
    pub(crate) fn new(policy: Policy) -> Result<Hub, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.timeout)
            .timeout(policy.timeout)
            .pool_max_idle_per_host(policy.lanes * 2)
            .user_agent(concat!("onewindow-callbacks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Hub {
            policy,
            client,
            active: AtomicBool::new(true),
            dirty: Mutex::default(),
            wake: tokio::sync::Notify::new(),
            reload: AtomicBool::new(true),
            health: Mutex::default(),
        })
    }

    /// Notes what became durable on this node (cheap: nothing at all while no
    /// subscription exists).
    ///
    /// The events published together are one command's, of one project, in order: its
    /// last one is the project's new head.
    pub(crate) fn note(&self, events: &[pb::Event]) {
        if let Some(last) = events.last() {
            self.note_one(&last.project, last.seq);
        }
    }

    fn note_one(&self, project: &str, last: u64) {
        if !self.active.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut dirty) = self.dirty.lock() {
            let head = dirty.entry(project.to_string()).or_insert(0);
            *head = (*head).max(last);
        }
        self.wake.notify_one();
    }

    fn take_dirty(&self) -> HashMap<String, u64> {
        self.dirty
            .lock()
            .map(|mut d| std::mem::take(&mut *d))
            .unwrap_or_default()
    }

    fn set_active(&self, active: bool) {
        self.active.store(active, Ordering::Relaxed);
    }

    /// Subscriptions changed: the loop reads them again.
    fn changed(&self) {
        self.active.store(true, Ordering::Relaxed);
        self.reload.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    fn take_reload(&self) -> bool {
        self.reload.swap(false, Ordering::SeqCst)
    }

    fn with_health(&self, id: &str, f: impl FnOnce(&mut Health)) {
        if let Ok(mut h) = self.health.lock() {
            f(h.entry(id.to_string()).or_default());
        }
    }

    fn delivered(&self, id: &str) {
        self.with_health(id, |h| {
            h.last_ok = Some(chrono::Utc::now());
            h.last_error.clear();
            h.failures = 0;
        });
    }

    fn failed(&self, id: &str, error: String, failures: u32) {
        self.with_health(id, |h| {
            h.last_error = error;
            h.failures = failures;
        });
    }

    fn pending(&self, id: &str, pending: u64) {
        self.with_health(id, |h| h.pending = pending);
    }

    fn health(&self, id: &str) -> Health {
        self.health
            .lock()
            .ok()
            .and_then(|h| h.get(id).cloned())
            .unwrap_or_default()
    }

    /// POSTs one delivery and says whether the receiver took it (a 2xx answer within the
    /// timeout). The signature's timestamp is the wall clock's — a transport freshness
    /// check between two machines, not a time of record.
    async fn post(&self, sub: &Subscription, events: Vec<deliver::Entry>) -> Result<(), String> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            callback: &'a str,
            department: &'a str,
            delivery: String,
            events: Vec<deliver::Entry>,
        }
        let delivery = crate::identity::hex(&rand::random::<[u8; 12]>());
        let body = serde_json::to_vec(&Body {
            callback: &sub.id,
            department: &sub.department,
            delivery: delivery.clone(),
            events,
        })
        .map_err(|e| format!("encoding: {e}"))?;
        let ts = chrono::Utc::now().timestamp();
        let answer = self
            .client
            .post(&sub.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("onewindow-delivery", &delivery)
            .header("onewindow-timestamp", ts.to_string())
            .header(
                "onewindow-signature",
                sign::signature(&sub.secret, ts, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {status}"))
        }
    }
}

/// A client error in a few words (reqwest's own chain is long and names the URL).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within the timeout".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        let mut s = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(inner) = source {
            s = format!("{s}: {inner}");
            source = inner.source();
        }
        s
    }
}

/// Who may call `Callbacks`: a department as a whole, and administrators.
pub(crate) const ADMIT: crate::auth::Admit = |r| matches!(r, Role::Department(_) | Role::Admin);

/// The department a caller acts for: its own, or the one an administrator names.
fn department_of(caller: &Caller, named: &str) -> Result<Option<String>, Status> {
    match &caller.role {
        Role::Department(d) => {
            if !named.is_empty() && named != d {
                return Err(Status::permission_denied(format!(
                    "department:{d} manages its own callbacks, not those of {}",
                    input::quoted(named)
                )));
            }
            Ok(Some(d.clone()))
        }
        Role::Admin => {
            input::optional_id("department", named)?;
            Ok((!named.is_empty()).then(|| named.to_string()))
        }
        other => Err(Status::permission_denied(format!(
            "{} may not manage callbacks (a department's token or an administrator's)",
            other.id()
        ))),
    }
}

impl Api {
    fn subscription(&self, caller: &Caller, id: &str) -> Result<Subscription, Status> {
        input::id("id", id)?;
        let subs = self
            .svc
            .store()
            .subscriptions()
            .map_err(|e| store_status(&e))?;
        let sub = subs.into_iter().find(|s| s.id == id).ok_or_else(|| {
            Status::not_found(format!(
                "unknown-callback: no callback {}",
                input::quoted(id)
            ))
        })?;
        if let Role::Department(d) = &caller.role {
            if *d != sub.department {
                return Err(Status::permission_denied(format!(
                    "callback {} is another department's",
                    input::quoted(id)
                )));
            }
        }
        Ok(sub)
    }

    fn callback_pb(&self, s: &Subscription, dead: usize) -> pb::Callback {
        let h = self.callbacks.health(&s.id);
        let at = |t: chrono::DateTime<chrono::Utc>| {
            t.with_timezone(&self.zone)
                .format("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        };
        pb::Callback {
            id: s.id.clone(),
            department: s.department.clone(),
            url: s.url.clone(),
            types: s.types.clone(),
            description: s.description.clone(),
            created_by: s.created_by.clone(),
            created_at: chrono::DateTime::from_timestamp_millis(s.created_ms)
                .map(at)
                .unwrap_or_default(),
            secret: String::new(),
            pending: h.pending,
            dead_letters: u32::try_from(dead).unwrap_or(u32::MAX),
            last_delivered_at: h.last_ok.map(at).unwrap_or_default(),
            last_error: h.last_error,
            failures: h.failures,
        }
    }

    /// Every department of a deployed workflow.
    fn known_department(&self, department: &str) -> bool {
        self.svc.versions().iter().any(|v| {
            self.svc
                .plan(v)
                .is_some_and(|p| p.departments.iter().any(|d| d.id == department))
        })
    }
}

#[tonic::async_trait]
impl pb::callbacks_server::Callbacks for Api {
    async fn register(
        &self,
        req: Request<pb::RegisterCallbackRequest>,
    ) -> Result<Response<pb::Callback>, Status> {
        let caller = caller(&req)?;
        let r = req.into_inner();
        let department = department_of(&caller, &r.department)?
            .ok_or_else(|| invalid_argument("department: required"))?;
        if !self.known_department(&department) {
            return Err(Status::not_found(format!(
                "unknown-department: no deployed workflow has department {}",
                input::quoted(&department)
            )));
        }
        let url = self.callbacks.policy.check(&r.url)?;
        super::watch::Kinds::new(r.types.clone())?;
        input::text("description", &r.description)?;
        let svc = self.svc.clone();
        let theirs: Vec<Subscription> = svc
            .store()
            .subscriptions()
            .map_err(|e| store_status(&e))?
            .into_iter()
            .filter(|s| s.department == department)
            .collect();
        if let Some(same) = theirs.iter().find(|s| s.url == url.as_str()) {
            return Err(Status::already_exists(format!(
                "callback-exists: department {department} already sends to this URL, as {}",
                same.id
            )));
        }
        if theirs.len() >= MAX_PER_DEPARTMENT {
            return Err(Status::resource_exhausted(format!(
                "department {department} has {MAX_PER_DEPARTMENT} callbacks, as many as it may: remove one first"
            )));
        }
        let sub = Subscription {
            id: format!("cb-{}", crate::identity::hex(&rand::random::<[u8; 8]>())),
            department,
            url: url.to_string(),
            // 256 bits (the thread's generator is a CSPRNG seeded by the system).
            secret: crate::identity::hex(&rand::random::<[u8; 32]>()),
            types: r.types,
            created_by: caller.role.id(),
            created_ms: (self.clock)().timestamp_millis(),
            description: r.description,
        };
        let kept = sub.clone();
        tokio::task::spawn_blocking(move || {
            // From now on: every project starts at the head it has now.
            let heads = svc.store().heads()?;
            svc.store().put_subscription(&kept, &heads)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(|e| store_status(&e))?;
        self.callbacks.changed();
        tracing::info!(
            "callbacks: {} registered {} for {} to {}",
            sub.created_by,
            sub.id,
            sub.department,
            sub.url
        );
        let mut answer = self.callback_pb(&sub, 0);
        answer.secret = sub.secret;
        Ok(Response::new(answer))
    }

    async fn list(
        &self,
        req: Request<pb::ListCallbacksRequest>,
    ) -> Result<Response<pb::ListCallbacksResponse>, Status> {
        let caller = caller(&req)?;
        let department = department_of(&caller, &req.get_ref().department)?;
        let store = self.svc.store();
        let mut callbacks = Vec::new();
        for s in store.subscriptions().map_err(|e| store_status(&e))? {
            if department.as_ref().is_some_and(|d| *d != s.department) {
                continue;
            }
            let dead = store
                .dead_letters(&s.id)
                .map_err(|e| store_status(&e))?
                .len();
            callbacks.push(self.callback_pb(&s, dead));
        }
        Ok(Response::new(pb::ListCallbacksResponse { callbacks }))
    }

    async fn remove(
        &self,
        req: Request<pb::CallbackId>,
    ) -> Result<Response<pb::RemoveCallbackResponse>, Status> {
        let caller = caller(&req)?;
        let sub = self.subscription(&caller, &req.get_ref().id)?;
        let svc = self.svc.clone();
        let id = sub.id.clone();
        tokio::task::spawn_blocking(move || svc.store().remove_subscription(&id))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| store_status(&e))?;
        self.callbacks.changed();
        tracing::info!("callbacks: {} removed {}", caller.role.id(), sub.id);
        Ok(Response::new(pb::RemoveCallbackResponse {}))
    }

    async fn dead_letters(
        &self,
        req: Request<pb::CallbackId>,
    ) -> Result<Response<pb::DeadLettersResponse>, Status> {
        let caller = caller(&req)?;
        let sub = self.subscription(&caller, &req.get_ref().id)?;
        let letters = self
            .svc
            .store()
            .dead_letters(&sub.id)
            .map_err(|e| store_status(&e))?
            .into_iter()
            .map(|d| pb::DeadLetter {
                id: d.id,
                project: d.project,
                first: d.first,
                last: d.last,
                attempts: d.attempts,
                error: d.error,
                failed_at: chrono::DateTime::from_timestamp_millis(d.failed_ms)
                    .map(|t| {
                        t.with_timezone(&self.zone)
                            .format("%Y-%m-%dT%H:%M:%S%:z")
                            .to_string()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        Ok(Response::new(pb::DeadLettersResponse { letters }))
    }

    async fn redeliver(
        &self,
        req: Request<pb::RedeliverRequest>,
    ) -> Result<Response<pb::RedeliverResponse>, Status> {
        let caller = caller(&req)?;
        let r = req.into_inner();
        let sub = self.subscription(&caller, &r.id)?;
        input::list("letters", &r.letters)?;
        let all: Vec<DeadLetter> = self
            .svc
            .store()
            .dead_letters(&sub.id)
            .map_err(|e| store_status(&e))?;
        let mut chosen = Vec::new();
        if r.letters.is_empty() {
            chosen = all;
        } else {
            for (i, id) in r.letters.iter().enumerate() {
                let letter = all.iter().find(|d| d.id == *id).ok_or_else(|| {
                    Status::not_found(format!(
                        "letters[{i}]: callback {} has no dead letter {}",
                        sub.id,
                        input::quoted(id)
                    ))
                })?;
                chosen.push(letter.clone());
            }
        }
        let queued = u32::try_from(chosen.len()).unwrap_or(u32::MAX);
        let api = self.clone();
        self.spawn_until_shutdown(async move {
            for letter in chosen {
                redeliver(&api, &sub, letter).await;
            }
        });
        Ok(Response::new(pb::RedeliverResponse { queued }))
    }
}

/// Sends one dead letter's events again; the letter goes once the receiver takes them.
async fn redeliver(api: &Api, sub: &Subscription, letter: DeadLetter) {
    let range = vec![(letter.project.clone(), letter.first - 1, letter.last)];
    let sent = match deliver::collect(api, sub, range, usize::MAX).await {
        Ok((_, entries)) if entries.is_empty() => Ok(()),
        Ok((_, entries)) => {
            let ats: Vec<_> = entries.iter().map(|e| e.at).collect();
            let sent = api.callbacks.post(sub, entries).await;
            deliver::observe(api, &ats, &sent);
            sent
        }
        Err(e) => Err(e),
    };
    match sent {
        Ok(()) => {
            let (svc, sub_id, id) = (api.svc.clone(), sub.id.clone(), letter.id.clone());
            let _ =
                tokio::task::spawn_blocking(move || svc.store().remove_dead_letter(&sub_id, &id))
                    .await;
            tracing::info!("callbacks: {} redelivered {}", sub.id, letter.id);
        }
        Err(e) => {
            let (svc, mut kept) = (api.svc.clone(), letter);
            kept.attempts += 1;
            kept.error = e;
            kept.failed_ms = chrono::Utc::now().timestamp_millis();
            let _ = tokio::task::spawn_blocking(move || svc.store().put_dead_letter(&kept)).await;
        }
    }
}
