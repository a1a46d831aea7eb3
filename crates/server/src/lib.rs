//! The gRPC server (tonic): the window, the departments and supervision talk to the
//! durable engine through `proto/onewindow/v1/onewindow.proto`.
//!
//! [`run`] is the composition root: given a [`Config`], any store and a listener, it opens
//! the durable service, deploys the shipped workflows, loads (or on first start generates)
//! the tokens, starts the supervision ticker and serves until the shutdown future
//! resolves. The binary only parses arguments, opens its store and calls it; the tests
//! call it in process on the memory store.
//!
//! # Layout
//! - [`pb`]: the generated types. Only this module knows protobuf; it converts at the edge
//!   ([`convert`]) and maps every error to a status in one place ([`status`]).
//! - [`auth`]: bearer tokens → [`auth::Caller`], checked in one place: each service is
//!   wrapped in an interceptor that admits only its roles; the engine's actor check then
//!   keeps a department to its own tasks.
//! - One file per service: [`window`] (and its [`watch`] stream), [`department`] (and
//!   its push stream in [`feed`]), [`supervision`] (and the ticker), [`workflows`];
//!   [`callbacks`] (webhooks, with their delivery loop).
//! - [`command`]: the mutating path shared by every service — [`Api::act`] and
//!   [`Api::run`]: the durable service decides and writes, the answer waits for the
//!   flush, and what became durable is published ([`feed`]).
//! - [`serve`]: [`run`], the transport, health and reflection, TLS, graceful shutdown.
//!
//! # Following one `Approve`
//! `department::approve` builds the command → `command::Api::act`/`run` →
//! `store::service::Service::execute_async` (the project's lock, `engine::execute`, one
//! `Commit` to the store, the shared flush) → back in `run`, `feed::Api::publish` sends
//! the events to watchers and each `Effect::Dispatch` to its department's stream → the
//! `CommandResponse`.

#![deny(missing_docs)]

pub mod auth;
mod calendar;
pub mod callbacks;
pub mod certs;
mod checkpoints;
pub mod codec;
mod command;
pub mod connections;
mod convert;
mod department;
mod feed;
mod http;
pub mod identity;
mod input;
mod lease;
pub mod limits;
mod metrics;
mod migrate;
pub mod pb;
mod serve;
mod site;
mod status;
mod supervision;
pub mod verbs;
mod watch;
mod window;
mod workflows;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDateTime;
use tonic::Status;

use onewindow_core::plan::Plan;
use onewindow_engine as engine;

pub use connections::Hygiene;
pub use http::client::TrustedProxies;
use onewindow_store::service::Service;
use onewindow_store::Store;
pub use serve::{bound, run, Config, Error, Tls};
pub use status::{refusal_status, NOTICE_TYPE_URL};

/// Where "now" comes from: the real clock, or a controllable one in tests. The server's
/// clock is the only time of record. It gives an absolute instant (UTC): what day and
/// hour that is, is the city's zone's business ([`Api::now`]), never the host's `TZ`.
pub type Clock = Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>;

/// A stream of events for `Window.Watch`.
pub(crate) type EventStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::Event, Status>> + Send>>;
/// A stream of tasks for `Department.StreamReady`.
pub(crate) type TaskStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::Task, Status>> + Send>>;

/// The handlers, shared by every service (cheap to clone: everything is behind `Arc`s).
#[derive(Clone)]
pub(crate) struct Api {
    /// The durable engine, over whichever store [`run`] was given.
    svc: Arc<Service<dyn Store>>,
    clock: Clock,
    /// The city's zone: the zone of the deployed calendars (`calendar.yaml`'s `zone`).
    zone: onewindow_core::calendar::Tz,
    /// Every durable event, for watchers. Published after the command is durable; a
    /// watcher that falls behind re-reads the store.
    events: tokio::sync::broadcast::Sender<pb::Event>,
    /// Tasks becoming ready, one channel per department with a stream open: each stream
    /// wakes only for its own department's tasks, not for every event of every project.
    ready:
        Arc<std::sync::Mutex<HashMap<String, tokio::sync::broadcast::Sender<Arc<feed::Pushed>>>>>,
    /// Where deployed YAML is compiled as if it stood (for `extends` and `calendar`).
    workflows_dir: PathBuf,
    /// Becomes `true` when the server shuts down: every watch stream, department feed and
    /// the ticker end, so that graceful shutdown does not wait for clients to hang up.
    shutdown: tokio::sync::watch::Receiver<bool>,
    /// What `/metrics` reports.
    metrics: metrics::Shared,
    /// Blueprints loaded for site checks, by directory.
    blueprints: site::Blueprints,
    /// Requests per second and streams per identity.
    limits: Arc<limits::Limits>,
    /// The identities: a stream asks them again whether its caller's credential holds.
    tokens: Arc<auth::Tokens>,
    /// The departments' keys that seal issued documents (`None`: documents unsealed).
    document_keys: Option<Arc<onewindow_audit::document::Keys>>,
    /// The public half of the key that signs checkpoints: what `VerifyAudit` trusts.
    audit_public: Option<ed25519_dalek::VerifyingKey>,
    /// What this node remembers of the newest checkpoint (beside its audit key): a live
    /// verification checks the store still holds it.
    audit_witness: Option<onewindow_audit::Witness>,
    /// Held while an audit verification runs (one at a time).
    audit_turn: Arc<tokio::sync::Mutex<()>>,
    /// Callbacks: the operator's policy, the client, what the delivery loop must look at.
    callbacks: Arc<callbacks::Hub>,
}

impl Api {
    /// Now, with its offset in the city's zone.
    pub(crate) fn instant(&self) -> chrono::DateTime<chrono::FixedOffset> {
        (self.clock)().with_timezone(&self.zone).fixed_offset()
    }

    /// Now, as civil time in the city's zone: today's date for pages, cards and limits.
    pub(crate) fn now(&self) -> NaiveDateTime {
        self.instant().naive_local()
    }

    /// Handlers over a durable service.
    fn new(
        svc: Arc<Service<dyn Store>>,
        clock: Clock,
        workflows_dir: PathBuf,
        shutdown: tokio::sync::watch::Receiver<bool>,
        tokens: Arc<auth::Tokens>,
        callbacks: callbacks::Hub,
    ) -> Api {
        let (events, _) = tokio::sync::broadcast::channel(65536);
        Api {
            svc,
            clock,
            zone: onewindow_core::calendar::DEFAULT_ZONE,
            events,
            ready: Arc::default(),
            workflows_dir,
            shutdown,
            metrics: Arc::new(metrics::Metrics::new()),
            blueprints: Arc::default(),
            limits: Arc::new(limits::Limits::new(
                limits::DEFAULT_PER_SECOND,
                limits::DEFAULT_STREAMS,
            )),
            tokens,
            document_keys: None,
            audit_public: None,
            audit_witness: None,
            audit_turn: Arc::default(),
            callbacks: Arc::new(callbacks),
        }
    }

    /// A lease for a stream `caller` opens: a place in its stream count, and its
    /// credential asked again while the stream lasts.
    ///
    /// # Errors
    /// RESOURCE_EXHAUSTED when the caller has as many streams open as it may.
    fn lease(&self, caller: &auth::Caller) -> Result<lease::Lease, Status> {
        let slot = self.limits.open_stream(&caller.role)?;
        Ok(lease::Lease::of_caller(slot, self.tokens.clone(), caller))
    }

    /// Spawns the task behind a stream (or the ticker) so that it ends when the server
    /// shuts down: dropping it drops its sender, which ends the client's stream, so
    /// graceful shutdown does not wait for watchers to hang up.
    fn spawn_until_shutdown(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut stop = self.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => {}
                () = task => {}
            }
        });
    }
}

impl Api {
    /// A deployed plan, or NOT_FOUND (a version that is no id at all is INVALID_ARGUMENT).
    pub(crate) fn plan(&self, version: &str) -> Result<Arc<Plan>, Status> {
        input::id("version", version)?;
        self.svc.plan(version).ok_or_else(|| {
            Status::not_found(format!(
                "version {} is not deployed",
                input::quoted(version)
            ))
        })
    }

    /// Open tasks (ready, claimed or suspended) matching `keep`, of one department or of
    /// all, by project then workflow order. Found through the store's open-task index: only
    /// the projects with such a task are read, not every project of the city.
    pub(crate) fn open_tasks(
        &self,
        department: Option<&str>,
        keep: impl Fn(&str, &engine::Task) -> bool,
    ) -> Result<Vec<pb::Task>, Status> {
        Ok(self
            .indexed_open_tasks(department, keep)?
            .into_iter()
            .map(|(_, t)| t)
            .collect())
    }

    /// [`Api::open_tasks`], each with its item's index in the workflow.
    pub(crate) fn indexed_open_tasks(
        &self,
        department: Option<&str>,
        keep: impl Fn(&str, &engine::Task) -> bool,
    ) -> Result<Vec<(usize, pb::Task)>, Status> {
        let entries: Vec<(String, String)> = match department {
            Some(d) => self.svc.open_tasks(d),
            None => self.svc.store().index().map(|all| {
                all.into_iter()
                    .filter_map(|k| match k {
                        onewindow_store::IndexKey::Open { project, item, .. } => {
                            Some((project, item))
                        }
                        onewindow_store::IndexKey::Deadline { .. } => None,
                    })
                    .collect()
            }),
        }
        .map_err(|e| status::store_status(&e))?;
        let mut by_project: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (project, item) in entries {
            by_project.entry(project).or_default().push(item);
        }
        let mut out = Vec::new();
        for (id, items) in by_project {
            self.read_tasks(&id, |item| items.iter().any(|i| i == item), &keep, &mut out);
        }
        Ok(out)
    }

    /// Tasks in any state matching `keep`, of every project: reads every project, so only
    /// for what the indexes cannot answer (a department's finished tasks).
    pub(crate) fn indexed_tasks_of_every_project(
        &self,
        keep: impl Fn(&str, &engine::Task) -> bool,
    ) -> Vec<(usize, pb::Task)> {
        let mut out = Vec::new();
        for id in self.svc.project_ids() {
            self.read_tasks(&id, |_| true, &keep, &mut out);
        }
        out
    }

    /// Appends a project's tasks that `pick` and `keep` let through, read in place.
    fn read_tasks(
        &self,
        id: &str,
        pick: impl Fn(&str) -> bool,
        keep: &impl Fn(&str, &engine::Task) -> bool,
        out: &mut Vec<(usize, pb::Task)>,
    ) {
        self.svc.with_project(id, |p| {
            let Some(plan) = self.svc.plan(p.version()) else {
                return;
            };
            for (i, t) in p.tasks().iter().enumerate() {
                if pick(&plan.items[i].id) && keep(plan.department_of(i), t) {
                    out.push((i, convert::task_pb(id, &plan, i, t)));
                }
            }
        });
    }
}
