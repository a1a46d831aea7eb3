//! The engine made durable: load, decide, commit, and only then answer.
//!
//! [`Service::execute`] runs one command under its project's lock:
//!
//! 1. a request id already answered gets that answer again, and nothing is written;
//! 2. the engine runs on the project's state in place (it decides every refusal before
//!    it changes anything, so a refusal leaves the state as it was);
//! 3. the events, the index changes they cause, a snapshot every
//!    [`Service::snapshot_every`] events and the answer (a refusal too) go to the store as
//!    one atomic [`Commit`] (if that fails, the memory is ahead of the store and the
//!    service refuses everything until it is opened again);
//! 4. the project's lock is released, and the caller waits for the flush that makes the
//!    commit durable — shared with every other writer waiting — before it gets its answer
//!    and the effects to run ([`Service::execute`] blocks, [`Service::execute_async`]
//!    awaits). A later command on the same project may read the state before that flush,
//!    but its own answer waits for a flush that covers both.
//!
//! Commands on different projects run concurrently and share flushes (group commit);
//! commands on one project are serialized, so of two departments racing on one task
//! exactly one wins. [`Service::open`] restores every project from its snapshot and the
//! log after it, and checks the indexes against the restored state, rebuilding them when
//! they are missing or behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};

use super::cache::{Cache, Shared as SharedSlot, Slot, DEFAULT_CAPACITY};
pub use super::index::index_of;
use super::index::{index_diff, indexed};
pub use super::request::{fingerprint, request_key, When, SCOPE_SEPARATOR};
pub use super::restore::{restore, restore_workflow, stored_workflow};

mod calendar;
pub use calendar::CalendarDeployed;
mod migrate;
pub use migrate::Preview;
use migrate::{entries_of, migrated_from};
mod decide;
mod numbering;
mod tick;
pub use tick::tick_request;
mod shared;
mod verify;
use super::{codec, Answer, Commit, Durable, Error, Recorded, Snapshot, Store};
use onewindow_core::plan::Plan;
use onewindow_engine::{Actor, ChainHash, Command, Effect, Envelope, Policy, Project, Refusal};

/// What a successful command gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// The project.
    pub project: String,
    /// Its events (on a retry: the events the first attempt wrote).
    pub events: Vec<Envelope>,
    /// Effects to run (empty on a retry: they ran after the first attempt).
    pub effects: Vec<Effect>,
    /// This answer was recorded before: nothing new was written.
    pub replayed: bool,
}

/// What a supervision run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tick {
    /// How far ahead it looked, in calendar days.
    pub horizon_days: u64,
    /// Projects it ran supervision on (each once).
    pub projects: usize,
    /// The warnings and overdue flags it recorded.
    pub events: Vec<Envelope>,
}

/// What opening found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OpenReport {
    /// Workflow versions loaded.
    pub workflows: usize,
    /// Projects restored.
    pub projects: usize,
    /// Events replayed after snapshots.
    pub replayed_events: usize,
    /// Events in all logs.
    pub total_events: u64,
    /// The indexes did not match the log and were rebuilt.
    pub index_rebuilt: bool,
    /// How long it took.
    pub elapsed: Duration,
}

/// A decided command: its answer, and the promise that it is durable.
type Prepared = (Result<Receipt, Refusal>, Durable);

/// How many times a command decided on a stale state is decided again before the
/// service gives up (each time on the state just read from the store).
const RETRIES: usize = 8;

/// How many times an approval that met another node's draw from the same register of
/// document numbers is decided again (each time another node got its number).
const DRAW_RETRIES: usize = 64;

/// Stripes of the turns of approvals that draw document numbers (by department).
const NUMBERING_STRIPES: usize = 64;

/// Stripes of the commit gates (see [`Service::gate`]).
const GATES: usize = 1024;

/// The durable engine over a [`Store`].
pub struct Service<S: Store + ?Sized> {
    store: Arc<S>,
    plans: RwLock<HashMap<String, Arc<Plan>>>,
    /// The latest deployed edition of each calendar, by id: it replaces the calendar of
    /// every plan counting on one with its id (see `service/calendar.rs`).
    calendars: RwLock<HashMap<String, onewindow_core::calendar::Calendar>>,
    /// The projects held in memory (a bounded cache of the store).
    slots: Mutex<Cache>,
    /// On a shared store, a project's commands are serialized through their commit, not
    /// only their decision: the next one is decided on a state the store has confirmed,
    /// so a conflict with another node costs only the command that met it.
    gates: Vec<tokio::sync::Mutex<()>>,
    /// Held by an approval that may draw a document number, from reading the register
    /// until its commit is durable: one node's draws from one department take turns
    /// (striped by department, `service/numbering.rs`).
    numbering: Vec<tokio::sync::Mutex<()>>,
    /// Where this node's draws in flight leave each register (written, not yet
    /// confirmed durable by a shared store): the next draw goes on from there.
    in_flight: Mutex<HashMap<String, u64>>,
    policy: Policy,
    /// Set when a flush failed: the memory may be ahead of the disk.
    failed: std::sync::atomic::AtomicBool,
    /// Keep a snapshot every this many events of a project.
    pub snapshot_every: u64,
}

fn lock_err<T>(_: T) -> Error {
    Error::Backend("a command panicked while holding a lock".into())
}

impl<S: Store + ?Sized> Service<S> {
    /// Starts a service over a store as a serving node does: loads the deployed versions
    /// and nothing else. Projects are read from the store when first needed and kept in a
    /// bounded cache ([`Service::set_cache_capacity`]), so starting does not read the log
    /// and memory does not grow with the number of projects.
    ///
    /// # Errors
    /// A store that cannot be read, or a stored version that no longer compiles.
    pub fn start(store: Arc<S>, policy: Policy) -> Result<(Service<S>, OpenReport), Error> {
        let started = Instant::now();
        let mut report = OpenReport::default();
        let calendars = calendar::stored_editions(&*store)?;
        let mut plans = HashMap::new();
        for w in store.workflows()? {
            let plan = calendar::with_edition(restore_workflow(&w)?, &calendars);
            plans.insert(w.version.clone(), Arc::new(plan));
            report.workflows += 1;
        }
        report.elapsed = started.elapsed();
        let service = Service {
            store,
            plans: RwLock::new(plans),
            calendars: RwLock::new(calendars),
            slots: Mutex::new(Cache::new(DEFAULT_CAPACITY)),
            gates: (0..GATES).map(|_| tokio::sync::Mutex::new(())).collect(),
            numbering: (0..NUMBERING_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            in_flight: Mutex::new(HashMap::new()),
            policy,
            failed: std::sync::atomic::AtomicBool::new(false),
            snapshot_every: 64,
        };
        Ok((service, report))
    }

    /// Opens a service over a store and checks it: [`Service::start`], then every
    /// project restored (snapshot, then the log after it) and the indexes compared with
    /// what the restored states imply, rebuilt when they are missing or behind. For tools
    /// and tests; a serving node starts without reading every project.
    ///
    /// # Errors
    /// As [`Service::start`], and damaged records, a log with a gap, or a project on a
    /// version the store does not have.
    pub fn open(store: Arc<S>, policy: Policy) -> Result<(Service<S>, OpenReport), Error> {
        let started = Instant::now();
        let (service, mut report) = Service::start(store, policy)?;
        let mut index = Vec::new();
        for id in service.store.projects()? {
            let (project, replayed) = restore(&*service.store, &id, |v| service.plan(v))?;
            report.replayed_events += replayed;
            if let Some(p) = project {
                report.total_events += p.seq();
                let plan = service.plan(p.version()).ok_or_else(|| {
                    Error::Inconsistent(format!("version {} missing", p.version()))
                })?;
                index.extend(index_of(&plan, &p));
                service
                    .slots
                    .lock()
                    .map_err(lock_err)?
                    .get_or_insert(&id, || Slot { project: Some(p) });
                report.projects += 1;
            }
        }
        index.sort();
        let mut stored = service.store.index()?;
        stored.sort();
        if stored != index {
            service.store.replace_index(&index)?;
            report.index_rebuilt = true;
        }
        report.elapsed = started.elapsed();
        Ok((service, report))
    }

    /// Bounds the projects kept in memory (those in use are always kept).
    pub fn set_cache_capacity(&self, capacity: usize) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.set_capacity(capacity);
        }
    }

    /// How many projects are held in memory now.
    pub fn cached(&self) -> usize {
        self.slots.lock().map(|mut s| s.len()).unwrap_or(0)
    }

    /// The store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Deploys a compiled workflow: records the version (immutable) and makes it
    /// available. Returns the version.
    ///
    /// # Errors
    /// The store cannot record it.
    pub fn deploy(&self, plan: Plan) -> Result<String, Error> {
        let version = plan.version.clone();
        if self.plans.read().map_err(lock_err)?.contains_key(&version) {
            return Ok(version);
        }
        self.store.put_workflow(&stored_workflow(&plan)?)?;
        let plan = calendar::with_edition(plan, &*self.calendars.read().map_err(lock_err)?);
        self.plans
            .write()
            .map_err(lock_err)?
            .insert(version.clone(), Arc::new(plan));
        Ok(version)
    }

    /// Every deployed version (on a shared store, those other nodes deployed too).
    pub fn versions(&self) -> Vec<String> {
        if self.store.shared() {
            if let Ok(stored) = self.store.workflows() {
                for w in stored {
                    let _ = self.plan(&w.version);
                }
            }
        }
        let mut v: Vec<String> = self
            .plans
            .read()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// A deployed plan. A version this process has not seen is looked up in the store:
    /// on a shared store another node may have deployed it.
    pub fn plan(&self, version: &str) -> Option<Arc<Plan>> {
        if let Some(p) = self.plans.read().ok()?.get(version) {
            return Some(p.clone());
        }
        let stored = self.store.workflow(version).ok()??;
        let plan = calendar::with_edition(
            restore_workflow(&stored).ok()?,
            &*self.calendars.read().ok()?,
        );
        let plan = Arc::new(plan);
        let mut plans = self.plans.write().ok()?;
        Some(plans.entry(version.to_string()).or_insert(plan).clone())
    }

    /// A project's slot: the one in memory, or the project read from the store (`None`:
    /// there is no such project).
    fn slot(&self, id: &str) -> Result<Option<SharedSlot>, Error> {
        if let Some(s) = self.slots.lock().map_err(lock_err)?.get(id) {
            return Ok(Some(s));
        }
        super::check_id(id)?;
        let (project, _) = restore(&*self.store, id, |v| self.plan(v))?;
        let Some(project) = project else {
            return Ok(None);
        };
        // Another thread may have read it meanwhile: the slot already held wins (it may
        // be ahead of what was read here).
        let mut slots = self.slots.lock().map_err(lock_err)?;
        Ok(Some(slots.get_or_insert(id, || Slot {
            project: Some(project),
        })))
    }

    /// Forgets what memory holds of a project: the next use reads it from the store.
    fn evict(&self, id: &str) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(id);
        }
    }

    /// Forgets every project held in memory (a shared store's notifications were lost,
    /// so any of them may be stale).
    pub fn forget_all(&self) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.clear();
        }
    }

    /// Reads a project's current state without copying it.
    pub fn with_project<T>(&self, id: &str, f: impl FnOnce(&Project) -> T) -> Option<T> {
        let slot = self.slot(id).ok()??;
        let g = slot.lock().ok()?;
        g.project.as_ref().map(f)
    }

    /// A project's current state.
    pub fn project(&self, id: &str) -> Option<Project> {
        self.with_project(id, Project::clone)
    }

    /// Every project id in the store, in order.
    pub fn project_ids(&self) -> Vec<String> {
        self.store.projects().unwrap_or_default()
    }

    /// Runs one command durably. The outer error is the store's; the inner one the
    /// engine's refusal (recorded under the request id like any answer).
    ///
    /// # Errors
    /// The store failed: nothing was acknowledged, and the command may be retried with
    /// the same request id.
    pub fn execute<'c>(
        &self,
        request: &str,
        project: &str,
        actor: &Actor,
        command: Command,
        when: impl Into<When<'c>>,
    ) -> Result<Result<Receipt, Refusal>, Error> {
        let when = when.into();
        if !self.store.shared() {
            // The turn of a draw ends with its write: a later draw reads the register as
            // the write left it (on a store of this process's own at once; on a shared
            // one through the draws in flight, `service/numbering.rs`).
            let turn = self
                .numbering_turn(project, &command)
                .map(tokio::sync::Mutex::blocking_lock);
            let prepared = self.prepare(request, project, actor, command, when, false);
            drop(turn);
            let done =
                prepared.and_then(|(answer, durable)| self.settle(durable.wait()).map(|()| answer));
            return self.after_own(project, done);
        }
        let gate = self.gate(project);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let _turn = gate.blocking_lock();
            let turn = self
                .numbering_turn(project, &command)
                .map(tokio::sync::Mutex::blocking_lock);
            let prepared =
                self.prepare(request, project, actor, command.clone(), when, attempt == 1);
            drop(turn);
            let done = prepared.and_then(|(answer, durable)| durable.wait().map(|()| answer));
            match self.after_shared(project, done, attempt) {
                Some(result) => return result,
                None => continue,
            }
        }
    }

    /// [`Service::execute`] for async callers: the command is decided and written at once,
    /// and the task waits for the shared flush without holding a thread or the project's
    /// lock.
    ///
    /// # Errors
    /// As [`Service::execute`].
    pub async fn execute_async<'c>(
        &self,
        request: &str,
        project: &str,
        actor: &Actor,
        command: Command,
        when: impl Into<When<'c>>,
    ) -> Result<Result<Receipt, Refusal>, Error> {
        let when = when.into();
        if !self.store.shared() {
            let turn = match self.numbering_turn(project, &command) {
                Some(turn) => Some(turn.lock().await),
                None => None,
            };
            let prepared = self.prepare(request, project, actor, command, when, false);
            drop(turn);
            let done = match prepared {
                Ok((answer, durable)) => self.settle(durable.wait_async().await).map(|()| answer),
                Err(e) => Err(e),
            };
            return self.after_own(project, done);
        }
        let gate = self.gate(project);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let _turn = gate.lock().await;
            let turn = match self.numbering_turn(project, &command) {
                Some(turn) => Some(turn.lock().await),
                None => None,
            };
            let prepared =
                self.prepare(request, project, actor, command.clone(), when, attempt == 1);
            drop(turn);
            let done = match prepared {
                Ok((answer, durable)) => durable.wait_async().await.map(|()| answer),
                Err(e) => Err(e),
            };
            match self.after_shared(project, done, attempt) {
                Some(result) => return result,
                None => continue,
            }
        }
    }

    /// What a command on a store of this process's own comes to. A command decided on a
    /// state the store had moved past (a project read from the store while another
    /// thread's command on it was being written, then dropped from the cache) wrote
    /// nothing: the project is forgotten, to be read again, and the caller may retry.
    fn after_own(
        &self,
        project: &str,
        done: Result<Result<Receipt, Refusal>, Error>,
    ) -> Result<Result<Receipt, Refusal>, Error> {
        match done {
            Err(Error::Inconsistent(e) | Error::Drawn(e)) => {
                self.evict(project);
                Err(Error::Backend(format!(
                    "decided on a stale state, nothing written; retry: {e}"
                )))
            }
            other => other,
        }
    }

    /// A failed flush leaves the memory ahead of the disk: refuse everything until the
    /// service is opened again from the store.
    fn settle(&self, waited: Result<(), Error>) -> Result<(), Error> {
        if waited.is_err() {
            self.failed.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        waited
    }

    /// Decides and writes a command under its project's lock; the answer may be given once
    /// the returned promise is kept.
    ///
    /// The request's answer is kept under [`request_key`] (the caller's scope and its id)
    /// with the command's [`fingerprint`]: a retry of the same command gets the same
    /// answer, the same id with another command is refused ([`Refusal::RequestReused`]),
    /// and another caller's id never meets this one. A command for a project that does
    /// not exist (other than its submission) and a refusal about the time of record leave
    /// nothing behind, in memory or in the store.
    ///
    /// `optimistic` (a shared store's first attempt) reads nothing before deciding: not
    /// the recorded answer (the store refuses a commit under a request id already answered,
    /// and the retry that follows replays the answer), not the project of a submission
    /// (the store refuses a submission of a project that exists, as decided on a stale
    /// state). A retry reads both. That leaves one round trip to the database per command:
    /// its commit.
    fn prepare(
        &self,
        request: &str,
        project: &str,
        actor: &Actor,
        command: Command,
        when: When<'_>,
        optimistic: bool,
    ) -> Result<Prepared, Error> {
        if self.failed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Backend("a flush failed; reopen the store".into()));
        }
        let key = request_key(actor, request);
        super::check_id(&key)?;
        super::check_id(project)?;
        let fingerprint = fingerprint(project, &command);
        let submit = matches!(command, Command::Submit { .. });
        let known = if optimistic && submit {
            self.slots.lock().map_err(lock_err)?.get(project)
        } else {
            self.slot(project)?
        };
        let slot = match known {
            Some(s) => s,
            None if submit => self
                .slots
                .lock()
                .map_err(lock_err)?
                .get_or_insert(project, || Slot { project: None }),
            None => {
                // No such project: an earlier answer to this request, if any, or the
                // refusal — recorded nowhere, so a flood of made-up ids writes nothing.
                return match self.replay(&key, &fingerprint)? {
                    Some(replayed) => Ok(replayed),
                    None => Ok((
                        Err(Refusal::UnknownProject(project.to_string())),
                        Durable::ready(),
                    )),
                };
            }
        };
        let decided = self.decide(
            &slot,
            &key,
            &fingerprint,
            project,
            actor,
            command,
            when,
            optimistic,
        );
        // A submission that created nothing leaves no slot behind (unless another request
        // for the same project is waiting on it: the last one out removes it).
        // (The slot's lock is never taken while the cache's is held: `decide` takes the
        // cache's inside the slot's to forget a project whose commit failed.)
        if submit {
            let empty = slot.lock().map(|s| s.project.is_none()).unwrap_or(false);
            let mut slots = self.slots.lock().map_err(lock_err)?;
            if empty && Arc::strong_count(&slot) == 2 {
                slots.remove(project);
            }
        }
        decided
    }

    /// The recorded answer to a request, if it was answered: the same answer again for the
    /// same command, a refusal for another command under the same id.
    fn replay(&self, key: &str, fingerprint: &str) -> Result<Option<Prepared>, Error> {
        let Some(recorded) = self.store.answer(key)? else {
            return Ok(None);
        };
        if recorded.command != fingerprint {
            let request = key.split_once(SCOPE_SEPARATOR).map_or(key, |(_, r)| r);
            return Ok(Some((
                Err(Refusal::RequestReused(request.to_string())),
                Durable::ready(),
            )));
        }
        // The answer may have been applied but not yet flushed: wait for that too.
        let durable = self.store.durable_point()?;
        let answer = match recorded.answer {
            Answer::Refused(r) => Err(r),
            Answer::Applied {
                project: p,
                first,
                last,
            } => {
                let events = self
                    .store
                    .events(&p, first.saturating_sub(1))?
                    .into_iter()
                    .filter(|e| e.seq <= last)
                    .collect();
                Ok(Receipt {
                    project: p,
                    events,
                    effects: Vec::new(),
                    replayed: true,
                })
            }
        };
        Ok(Some((answer, durable)))
    }

    /// A department's open tasks, from the index.
    ///
    /// # Errors
    /// The store cannot be read.
    pub fn open_tasks(&self, department: &str) -> Result<Vec<(String, String)>, Error> {
        self.store.open_tasks(department)
    }
}
