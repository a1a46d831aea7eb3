//! Durable storage: the event log (the source of truth), snapshots, indexes, deployed
//! workflow versions and idempotency records — behind a narrow trait.
//!
//! # Layout
//! - [`ReadStore`] / [`WriteStore`]: the two halves of the contract every backend meets.
//!   A write is one [`Commit`]: a command's events, the index changes they cause, an
//!   optional snapshot and the answer recorded under the request id, applied atomically
//!   and durable when `commit` returns.
//! - [`memory::MemoryStore`]: the reference backend, in memory.
//! - [`disk::SledStore`]: the embedded default on sled, with group commit.
//! - [`codec`]: the versioned byte encoding of what is stored.
//! - [`service::Service`]: the engine made durable — the edge that loads a project, runs
//!   the engine, commits, and only then answers.
//!
//! The trait speaks in keys a networked database could hold as well (project id and
//! sequence, request id, department, due date), so a backend on an existing database can
//! implement it without the engine changing.

#![deny(missing_docs)]

pub mod cache;
pub mod callbacks;
pub mod chain;
mod checks;
pub mod codec;
pub mod disk;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod index;
pub mod memory;
pub mod postgres;
pub mod readonly;
pub mod request;
pub mod restore;
pub mod service;
pub mod sessions;

use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use onewindow_engine::{Envelope, Refusal};

/// Why the store could not do its job. Never a panic: a damaged or foreign data directory
/// is an error that says so.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend failed (disk, database), as described.
    #[error("storage: {0}")]
    Backend(String),
    /// The storage engine underneath failed (sled, the file system), with its own error
    /// as the source.
    #[error("storage: {0}")]
    Engine(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored bytes do not decode.
    #[error("damaged data: {0}")]
    Corrupt(String),
    /// The directory holds something that is not a onewindow store, or a newer one.
    #[error("not a onewindow store: {0}")]
    Foreign(String),
    /// The store is consistent but says something impossible (a gap in a log).
    #[error("inconsistent store: {0}")]
    Inconsistent(String),
    /// A commit drew numbers from a register another writer moved since it was read:
    /// nothing was written, and the command is decided again on the register as it
    /// stands (contention, not damage).
    #[error("numbers drawn meanwhile: {0}")]
    Drawn(String),
    /// An id the store cannot take as a key (empty, too long, with a NUL). The API checks
    /// ids before they get here; this is the store's own guard.
    #[error("`{0}` cannot be used as an id (empty, over {MAX_KEY_BYTES} bytes or with a NUL)")]
    InvalidId(String),
}

/// A deployed workflow version: immutable, and kept for as long as projects run on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWorkflow {
    /// Content hash of the sources ([`onewindow_core::plan::Plan::version`]).
    pub version: String,
    /// Workflow id.
    pub id: String,
    /// The workflow flattened (no `extends`) and without its `calendar` path: everything
    /// needed to compile it again.
    pub yaml: String,
    /// The calendar's files: `calendar.yaml` first, then one per year, by file name.
    pub calendar: Vec<(String, String)>,
}

/// A deployed edition of a working-day calendar (a new year's schedule published): it
/// replaces the calendar of every workflow version counting on a calendar with its id.
/// The latest edition per id is kept; what it changed is in the projects' logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCalendar {
    /// The calendar's id (`calendar.yaml`'s `id`).
    pub id: String,
    /// Its files: `calendar.yaml` first, then one per year, by file name.
    pub files: Vec<(String, String)>,
    /// When it was deployed (the server's clock).
    pub deployed_at: chrono::NaiveDateTime,
    /// Why (e.g. the notice that published the schedule).
    pub reason: String,
}

/// A project's state at a point of its log, so that opening does not replay everything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last event folded in.
    pub seq: u64,
    /// The state (an encoded [`onewindow_engine::Project`]).
    pub state: Vec<u8>,
}

/// An index entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum IndexKey {
    /// A task its department can act on (ready, claimed or suspended).
    Open {
        /// Department id.
        department: String,
        /// Project id.
        project: String,
        /// Item id.
        item: String,
    },
    /// A running task's due date, for supervision.
    Deadline {
        /// Due date.
        due: NaiveDate,
        /// Project id.
        project: String,
        /// Item id.
        item: String,
    },
}

/// The answer given to a request, kept so that a retry gets it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Answer {
    /// Applied: the project and the sequence numbers of the events it wrote.
    Applied {
        /// Project id.
        project: String,
        /// First event.
        first: u64,
        /// Last event.
        last: u64,
    },
    /// Refused, with the engine's reason.
    Refused(Refusal),
}

/// An answer as the store keeps it: bound to the command it answered, so that a request
/// id used again for another command is refused rather than answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// The answered command's fingerprint (`store::service::fingerprint`).
    pub command: String,
    /// The answer.
    pub answer: Answer,
}

/// One command's writes, applied atomically.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    /// The project.
    pub project: String,
    /// The last event of the state the command was decided on: the commit applies only
    /// if the project's log still ends there (refused as [`Error::Inconsistent`]
    /// otherwise, and nothing is written). On a store shared by several nodes this is the
    /// optimistic concurrency check: a command decided on a stale state never commits.
    /// `None` checks only that the events continue the log.
    pub base: Option<u64>,
    /// Its new events, in order, continuing its log without a gap.
    pub events: Vec<Envelope>,
    /// A snapshot to keep (replacing the previous one).
    pub snapshot: Option<Snapshot>,
    /// Index entries to remove.
    pub unindex: Vec<IndexKey>,
    /// Index entries to add.
    pub index: Vec<IndexKey>,
    /// The request's key (the caller's scope and its request id) and the answer to record.
    pub request: Option<(String, Recorded)>,
    /// Numbers drawn from registers (a department's yearly sequence of document numbers):
    /// the commit applies only if each register still stands where it was read, and
    /// moves it on in the same atomic write — so a number is issued once, and only with
    /// the approval that prints it (no gap when a command is refused or a node fails).
    pub drawn: Vec<Drawn>,
}

/// Checks a commit's draws against where each register stands (`stands`): each must
/// still be where it was read, and move forward.
///
/// # Errors
/// [`Error::Drawn`] naming the register another writer moved first (the service decides
/// the command again), [`Error::Inconsistent`] for a draw that does not move forward.
pub fn check_drawn(
    drawn: &[Drawn],
    mut stands: impl FnMut(&str) -> Result<u64, Error>,
) -> Result<(), Error> {
    for d in drawn {
        check_id(&d.register)?;
        if d.to <= d.from {
            return Err(Error::Inconsistent(format!(
                "register `{}`: a draw from {} to {} does not move forward",
                d.register, d.from, d.to
            )));
        }
        let now = stands(&d.register)?;
        if now != d.from {
            return Err(Error::Drawn(format!(
                "register `{}`: drawn from {}, but it stands at {now} (another writer was first)",
                d.register, d.from
            )));
        }
    }
    Ok(())
}

/// Numbers drawn from one register by a commit: it stood at `from` (the last number
/// issued; 0 for none) and will stand at `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drawn {
    /// The register (`plan::numbering::register`: department and year).
    pub register: String,
    /// Where it stood when read.
    pub from: u64,
    /// Where it stands after the commit.
    pub to: u64,
}

/// Reading a store.
pub trait ReadStore: Send + Sync {
    /// A project's events with sequence numbers above `after`, in order.
    ///
    /// # Errors
    /// Backend failure or undecodable data.
    fn events(&self, project: &str, after: u64) -> Result<Vec<Envelope>, Error>;
    /// The project's latest snapshot.
    ///
    /// # Errors
    /// As above.
    fn snapshot(&self, project: &str) -> Result<Option<Snapshot>, Error>;
    /// Every project id, in order.
    ///
    /// # Errors
    /// As above.
    fn projects(&self) -> Result<Vec<String>, Error>;
    /// Project ids after `after` (all of them when it is empty), in order, at most
    /// `limit`: a page of the listing, without reading every id.
    ///
    /// # Errors
    /// As above.
    fn projects_after(&self, after: &str, limit: usize) -> Result<Vec<String>, Error> {
        Ok(self
            .projects()?
            .into_iter()
            .filter(|p| p.as_str() > after)
            .take(limit)
            .collect())
    }
    /// Every project with the sequence number of its last event, in project order: where
    /// each project's log ends now (a live watch starts there).
    ///
    /// # Errors
    /// As above.
    fn heads(&self) -> Result<Vec<(String, u64)>, Error>;
    /// The answer recorded for a request id.
    ///
    /// # Errors
    /// As above.
    fn answer(&self, request: &str) -> Result<Option<Recorded>, Error>;
    /// A deployed workflow version.
    ///
    /// # Errors
    /// As above.
    fn workflow(&self, version: &str) -> Result<Option<StoredWorkflow>, Error>;
    /// Every deployed version.
    ///
    /// # Errors
    /// As above.
    fn workflows(&self) -> Result<Vec<StoredWorkflow>, Error>;
    /// The latest deployed edition of every calendar.
    ///
    /// # Errors
    /// As above.
    fn calendars(&self) -> Result<Vec<StoredCalendar>, Error>;
    /// The audit trail's signed checkpoints (`audit`), as written, in number order.
    ///
    /// # Errors
    /// As above.
    fn checkpoints(&self) -> Result<Vec<Vec<u8>>, Error>;
    /// Where a register of numbers stands: the last number drawn from it (0: none).
    ///
    /// # Errors
    /// As above.
    fn register(&self, register: &str) -> Result<u64, Error>;
    /// Every index entry, in order (open tasks by department, then deadlines by date).
    ///
    /// # Errors
    /// As above.
    fn index(&self) -> Result<Vec<IndexKey>, Error>;
    /// A department's open tasks, as (project, item).
    ///
    /// # Errors
    /// As above.
    fn open_tasks(&self, department: &str) -> Result<Vec<(String, String)>, Error>;
    /// Running tasks due on or before `date`, as (due, project, item), earliest first.
    ///
    /// # Errors
    /// As above.
    fn due_by(&self, date: NaiveDate) -> Result<Vec<(NaiveDate, String, String)>, Error>;
}

/// A promise that writes already applied will be durable: wait on it (blocking or async)
/// before acknowledging them.
#[derive(Debug)]
pub struct Durable(Option<tokio::sync::oneshot::Receiver<Result<(), Error>>>);

impl Durable {
    /// Already durable.
    pub fn ready() -> Durable {
        Durable(None)
    }

    /// Durable once the sender reports a successful flush (or the store's reason why the
    /// commit did not become durable).
    pub fn pending(rx: tokio::sync::oneshot::Receiver<Result<(), Error>>) -> Durable {
        Durable(Some(rx))
    }

    /// Blocks until durable. Not for use inside an async task (use [`Durable::wait_async`]).
    ///
    /// # Errors
    /// The flush failed, or the flusher went away.
    pub fn wait(self) -> Result<(), Error> {
        match self.0 {
            None => Ok(()),
            Some(rx) => rx
                .blocking_recv()
                .map_err(|e| Error::Backend(e.to_string()))?,
        }
    }

    /// Waits until durable without blocking a thread.
    ///
    /// # Errors
    /// As [`Durable::wait`].
    pub async fn wait_async(self) -> Result<(), Error> {
        match self.0 {
            None => Ok(()),
            Some(rx) => rx.await.map_err(|e| Error::Backend(e.to_string()))?,
        }
    }
}

/// Writing a store. Every method but [`WriteStore::commit_deferred`] is durable when it
/// returns.
pub trait WriteStore: Send + Sync {
    /// Applies one command's writes atomically and durably.
    ///
    /// # Errors
    /// Backend failure; then nothing of the commit is visible.
    fn commit(&self, commit: Commit) -> Result<(), Error> {
        self.commit_deferred(commit)?.wait()
    }

    /// Applies one command's writes atomically and returns a promise of their durability,
    /// so a caller can release its locks (and its thread) while the flush is shared with
    /// other writers. Readers may see the writes before they are durable; nothing may be
    /// acknowledged before the promise is kept.
    ///
    /// # Errors
    /// Backend failure; then nothing of the commit is visible.
    fn commit_deferred(&self, commit: Commit) -> Result<Durable, Error>;

    /// Tells `observer` of every flush the store's group commit makes from now on (how
    /// many commits it made durable, how long it took), for metrics. A store without
    /// group commit says nothing.
    fn observe_flushes(&self, observer: FlushObserver) {
        let _ = observer;
    }

    /// A promise that everything applied so far is durable (a retried request whose
    /// answer was applied but not yet flushed waits on it).
    ///
    /// # Errors
    /// Backend failure.
    fn durable_point(&self) -> Result<Durable, Error> {
        Ok(Durable::ready())
    }
    /// Records a deployed workflow version (idempotent: a version is immutable).
    ///
    /// # Errors
    /// Backend failure.
    fn put_workflow(&self, workflow: &StoredWorkflow) -> Result<(), Error>;
    /// Records a calendar edition, replacing the one deployed before under its id.
    ///
    /// # Errors
    /// Backend failure.
    fn put_calendar(&self, calendar: &StoredCalendar) -> Result<(), Error>;
    /// Records checkpoint `number` of the audit trail (`audit`); `false`, writing
    /// nothing, when that number is taken (checkpoints are never replaced).
    ///
    /// # Errors
    /// Backend failure.
    fn put_checkpoint(&self, number: u64, body: &[u8]) -> Result<bool, Error>;
    /// Replaces the whole index (after a rebuild from the log).
    ///
    /// # Errors
    /// Backend failure.
    fn replace_index(&self, entries: &[IndexKey]) -> Result<(), Error>;
}

/// A change another writer made to a shared store, as its notifications report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Events `first..=last` of a project were committed (by any node, this one included).
    Committed {
        /// Project id.
        project: String,
        /// First new event.
        first: u64,
        /// Last new event.
        last: u64,
        /// This process committed them (and has published them itself).
        own: bool,
    },
    /// Notifications may have been missed (the connection that carries them was lost and
    /// made again): whatever a node holds in memory may be stale.
    Lost,
}

/// What a store shared by several processes adds to the contract. A store one process
/// owns alone keeps the defaults: nobody else writes, and this process leads everything.
pub trait Shared: Send + Sync {
    /// Other processes may write this store: the state a node holds in memory is only a
    /// cache, confirmed by [`Commit::base`] at every commit and reloaded when it is stale.
    fn shared(&self) -> bool {
        false
    }
    /// The commits of every node, as they happen (`None`: nobody else commits).
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        None
    }
    /// Whether this process holds (or has just taken) the lease named `role`, which at
    /// most one process holds at a time and which passes to another when its holder dies.
    ///
    /// # Errors
    /// The store cannot be reached.
    fn lead(&self, role: &str) -> Result<bool, Error> {
        let _ = role;
        Ok(true)
    }
    /// Where console sessions are kept for every node (`None`: each node keeps its own in
    /// memory, [`sessions`]).
    fn sessions(&self) -> Option<&dyn sessions::SessionStore> {
        None
    }
}

/// A complete store: with the callbacks' outbox ([`callbacks::CallbackStore`]), which
/// every backend keeps.
pub trait Store: ReadStore + WriteStore + Shared + callbacks::CallbackStore {}

impl<T: ReadStore + WriteStore + Shared + callbacks::CallbackStore> Store for T {}

/// Told of a group commit's flush: the commits it made durable and how long it took.
pub type FlushObserver = Arc<dyn Fn(usize, std::time::Duration) + Send + Sync>;

/// Where a store's committer reports its flushes: set once (by the server, for its
/// metrics), read by the committer thread or tasks at every flush.
#[derive(Clone, Default)]
pub struct FlushWatch(Arc<std::sync::OnceLock<FlushObserver>>);

impl FlushWatch {
    /// Sets the observer (the first one set stays).
    pub fn set(&self, observer: FlushObserver) {
        let _ = self.0.set(observer);
    }

    /// Reports one flush.
    pub fn report(&self, commits: usize, took: std::time::Duration) {
        if let Some(f) = self.0.get() {
            f(commits, took);
        }
    }
}

/// The longest id or request key the store takes, in bytes: the API's ids are at most
/// 128 characters (up to 512 bytes of UTF-8), and a request key adds the caller's scope.
pub const MAX_KEY_BYTES: usize = 1024;

/// Project ids become key prefixes: they must be non-empty and free of the separator.
///
/// # Errors
/// [`Error::Inconsistent`] for an id that cannot be stored.
pub fn check_id(id: &str) -> Result<(), Error> {
    if id.is_empty() || id.contains('\0') || id.len() > MAX_KEY_BYTES {
        Err(Error::InvalidId(id.chars().take(40).collect()))
    } else {
        Ok(())
    }
}
