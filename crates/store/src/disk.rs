//! The embedded default: a sled database in a data directory.
//!
//! One sled tree holds everything under key prefixes:
//!
//! | key | value |
//! | --- | --- |
//! | `m/format` | `onewindow-store/3`: what this directory is |
//! | `p/{project}` | empty: the project exists (written before its first record) |
//! | `h/{project}` | the sequence number of the project's last event (big-endian) |
//! | `x/{project}` | empty: a commit of the project is being written (removed when done) |
//! | `e/{project}\0{seq}` | one command's [`Record`]: its events from `seq` on, its request id and its index changes (seq big-endian, so a prefix scan is in order) |
//! | `s/{project}` | the project's latest snapshot |
//! | `r/{request}` | the answer given to a request id |
//! | `w/{version}` | a deployed workflow version |
//! | `c/{id}` | the latest deployed edition of a calendar |
//! | `k/{number}` | a checkpoint of the audit trail, as signed (number big-endian) |
//! | `n/{register}` | the last number drawn from a register of document numbers (big-endian) |
//! | `i/o/{department}\0{project}\0{item}` | an open task |
//! | `i/d/{YYYY-MM-DD}\0{project}\0{item}` | a running task's due date |
//! | `b/…` | the callbacks' outbox: subscriptions, cursors, dead letters (`disk/callbacks.rs`) |
//!
//! **One record is the commit.** A command's events go into one key, written whole or
//! not at all; the record also carries the request id and the index changes. The
//! snapshot, the index entries and the answer are written after it, in that order, and
//! are derived from it: after a crash, [`SledStore::open`] redoes them from the last
//! record of each project whose commit was being written — marked by `x/{project}`,
//! written before the record and removed after the last derived write — so what a
//! command wrote is all there or not there at all, and opening reads only the projects
//! a crash interrupted, not every project. sled recovers its log up to the first
//! incomplete write, so a later write surviving means an earlier one did. This is the write-ahead-log discipline with sled as both the log
//! and the tables, and it is why a commit is plain inserts: a sled transaction (or
//! batch) writes and syncs sled's IO buffer twice on every call, which made
//! transactions, not flushes, the cost of every command (see BENCHMARKS.md).
//!
//! **Group commit.** Writers apply their inserts concurrently, then ask for a flush.
//! One committer thread takes every flush request waiting, flushes once, and answers them
//! all: a flush covers every write that finished before it started, so each writer
//! is answered only once its own writes are on disk, and concurrent commands share one
//! sync. [`Flush::EachCommand`] flushes per command instead (for comparison).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::checks::check_commit;
use super::{
    check_id, codec, Answer, Commit, Durable, Error, IndexKey, ReadStore, Recorded, Snapshot,
    StoredCalendar, StoredWorkflow, WriteStore,
};
use onewindow_engine::Envelope;

const FORMAT_KEY: &[u8] = b"m/format";
const FORMAT: &[u8] = b"onewindow-store/3";

/// The format before in-flight markers and stored heads: opened by reading every project
/// once, then marked as the current format.
const FORMAT_2: &[u8] = b"onewindow-store/2";

/// sled's segment (and IO buffer) size. A flush seals the current buffer and the next
/// write starts a fresh, zeroed one: with flushes every few hundred microseconds, sled's
/// default of 512 KiB spent most of the machine's time zeroing pages. Fixed for a data
/// directory: sled refuses to open one with another size.
pub const SEGMENT_SIZE: usize = 64 * 1024;

/// sled's page cache. Its default (1 GiB) made a node's memory grow with the store until
/// the cache was full; the projects themselves are cached above the store (bounded by
/// project count), so sled's own cache is kept to a quarter of that (BENCHMARKS.md:
/// memory with a million projects).
const CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// When commits reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Concurrent commits share one flush (the default).
    Group,
    /// Every commit flushes on its own.
    EachCommand,
}

/// Where the group committer answers a writer: the flush's outcome.
type FlushReply = tokio::sync::oneshot::Sender<Result<(), Error>>;

/// Stripes of the head table: commits to different projects rarely wait on each other.
const STRIPES: usize = 64;

/// The last sequence numbers of the projects written since opening, in [`STRIPES`]
/// separately locked parts (the others are read from `h/` when first written).
type Heads = Vec<Mutex<HashMap<String, u64>>>;

/// One command's record in a project's log.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    /// The request that wrote it (its key), so that its answer can be redone.
    request: Option<String>,
    /// The fingerprint of the command it answered (empty in records written before
    /// answers were bound to their commands).
    #[serde(default)]
    command: String,
    /// Its events, in order.
    events: Vec<Envelope>,
    /// Index entries it removed.
    unindex: Vec<IndexKey>,
    /// Index entries it added.
    index: Vec<IndexKey>,
    /// Numbers it drew (the registers it moved), redone with the index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    drawn: Vec<super::Drawn>,
}

/// What opening had to redo after an interrupted commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Projects looked at: those whose commit was being written when the store stopped
    /// (every project, once, when a store of the previous format is opened).
    pub projects: usize,
    /// Answers written again from their records.
    pub answers: usize,
    /// Index entries added or removed again from their records.
    pub index_entries: usize,
    /// Projects registered whose first record never landed (removed).
    pub empty_projects: usize,
}

/// A store in a sled data directory.
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    flush: Flush,
    /// Each project's last sequence number, for the continuity check; a stripe's lock is
    /// held through a commit's writes, so one project's commits never interleave.
    heads: Heads,
    /// A commit failed half-way: refuse writes until the store is opened again.
    poisoned: AtomicBool,
    /// Held by a commit that draws numbers from its check of the registers through its
    /// writes (registers are shared by projects, whose commits run concurrently).
    numbering: Mutex<()>,
    recovery: Recovery,
    committer: Option<Mutex<mpsc::Sender<FlushReply>>>,
    /// Where the group-commit thread reports its flushes.
    flushes: super::FlushWatch,
    /// The group-commit thread, joined on drop so that the database is closed (and its
    /// lock released) when the store is.
    thread: Option<thread::JoinHandle<()>>,
    /// The private copy a read-only store was opened on ([`super::readonly`]), removed
    /// when the store is dropped: declared last, so the database closes first.
    scratch: Option<tempfile::TempDir>,
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.committer = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The storage engine's own error (sled, the file system), kept as the source.
fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Engine(Box::new(e))
}

/// A failure of our own making, described.
fn failed(message: &str) -> Error {
    Error::Backend(message.to_string())
}

fn key(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut k = prefix.to_vec();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(p);
    }
    k
}

fn stripe(project: &str) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    project.hash(&mut h);
    (h.finish() % STRIPES as u64) as usize
}

/// Removes and adds index entries.
fn apply_index(tree: &sled::Tree, unindex: &[IndexKey], index: &[IndexKey]) -> Result<(), Error> {
    for k in unindex {
        tree.remove(index_key(k)).map_err(backend)?;
    }
    for k in index {
        tree.insert(index_key(k), &[]).map_err(backend)?;
    }
    Ok(())
}

fn record_key(project: &str, seq: u64) -> Vec<u8> {
    let mut k = key(b"e/", &[project.as_bytes()]);
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn index_key(k: &IndexKey) -> Vec<u8> {
    match k {
        IndexKey::Open {
            department,
            project,
            item,
        } => key(
            b"i/o/",
            &[department.as_bytes(), project.as_bytes(), item.as_bytes()],
        ),
        IndexKey::Deadline { due, project, item } => key(
            b"i/d/",
            &[
                due.to_string().as_bytes(),
                project.as_bytes(),
                item.as_bytes(),
            ],
        ),
    }
}

fn parse_index_key(raw: &[u8]) -> Result<IndexKey, Error> {
    let bad = || Error::Corrupt(format!("index key {:?}", String::from_utf8_lossy(raw)));
    let (kind, rest) = if let Some(r) = raw.strip_prefix(b"i/o/") {
        ('o', r)
    } else if let Some(r) = raw.strip_prefix(b"i/d/") {
        ('d', r)
    } else {
        return Err(bad());
    };
    let parts: Vec<String> = rest
        .split(|b| *b == 0)
        .map(|p| String::from_utf8(p.to_vec()).map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [a, project, item] = <[String; 3]>::try_from(parts).map_err(|_| bad())?;
    Ok(match kind {
        'o' => IndexKey::Open {
            department: a,
            project,
            item,
        },
        _ => IndexKey::Deadline {
            due: a.parse::<NaiveDate>().map_err(|_| bad())?,
            project,
            item,
        },
    })
}

impl SledStore {
    /// Opens (or creates) a store in `dir`.
    ///
    /// # Errors
    /// [`Error::Foreign`] when the directory holds something else (a non-empty sled
    /// database without the onewindow marker, a newer format), [`Error::Backend`] or
    /// [`Error::Corrupt`] when sled cannot open it. Never panics: a panic inside sled on
    /// damaged files is caught and reported as [`Error::Corrupt`].
    pub fn open(dir: &Path, flush: Flush) -> Result<SledStore, Error> {
        if dir.is_file() {
            return Err(Error::Foreign(format!(
                "{} is a file, not a data directory",
                dir.display()
            )));
        }
        let mut existed = false;
        if dir.is_dir() {
            let entries: Vec<_> = std::fs::read_dir(dir)
                .map_err(backend)?
                .filter_map(Result::ok)
                .collect();
            let looks_like_sled = entries
                .iter()
                .any(|e| e.file_name() == "conf" || e.file_name() == "db");
            if !entries.is_empty() && !looks_like_sled {
                return Err(Error::Foreign(format!(
                    "{} is not empty and holds no onewindow data (no sled database)",
                    dir.display()
                )));
            }
            existed = looks_like_sled;
        }
        let path = dir.to_path_buf();
        // sled panics on some damaged files: the panic is caught and reported as damage,
        // and the default hook is silenced meanwhile so that no raw panic message and
        // backtrace reach the operator's terminal before the clean error.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let open = || {
            std::panic::catch_unwind(|| {
                sled::Config::new()
                    .path(path.clone())
                    .segment_size(SEGMENT_SIZE)
                    .cache_capacity(CACHE_BYTES)
                    .open()
            })
        };
        // sled's lock on its files is let go a moment after the last handle of a store
        // closed in this process (or a process that is exiting): wait for it briefly
        // rather than call a directory in use damaged.
        let mut opened = open();
        for _ in 0..20 {
            match &opened {
                Ok(Err(e)) if e.to_string().contains("could not acquire lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    opened = open();
                }
                _ => break,
            }
        }
        std::panic::set_hook(hook);
        let damaged = |why: String| {
            Error::Corrupt(format!(
                "{}: the database files are damaged or are not onewindow's ({why})",
                dir.display()
            ))
        };
        let db = opened
            .map_err(|_| damaged("the storage engine could not read them".into()))?
            .map_err(|e| damaged(format!("sled: {e}")))?;
        let tree = db.open_tree("onewindow").map_err(backend)?;
        let mut upgrade = false;
        match tree.get(FORMAT_KEY).map_err(backend)? {
            Some(v) if v.as_ref() == FORMAT => {}
            Some(v) if v.as_ref() == FORMAT_2 => upgrade = true,
            Some(v) => {
                return Err(Error::Foreign(format!(
                    "{}: format `{}`, this onewindow reads `{}`",
                    dir.display(),
                    String::from_utf8_lossy(&v),
                    String::from_utf8_lossy(FORMAT)
                )))
            }
            None => {
                if !tree.is_empty() {
                    return Err(Error::Foreign(format!(
                        "{}: a sled database without the onewindow marker",
                        dir.display()
                    )));
                }
                // Every store is marked when it is created: a database that was there and
                // reads as empty and unmarked has lost its contents.
                if existed {
                    return Err(Error::Corrupt(format!(
                        "{}: the database files are there but hold nothing readable (damaged?)",
                        dir.display()
                    )));
                }
                tree.insert(FORMAT_KEY, FORMAT).map_err(backend)?;
                db.flush().map_err(backend)?;
            }
        }
        let recovery = if upgrade {
            let recovery = recover(&tree, b"p/")?;
            tree.insert(FORMAT_KEY, FORMAT).map_err(backend)?;
            recovery
        } else {
            recover(&tree, b"x/")?
        };
        if recovery.projects > 0 || upgrade {
            db.flush().map_err(backend)?;
        }
        let heads: Heads = (0..STRIPES).map(|_| Mutex::new(HashMap::new())).collect();
        let flushes = super::FlushWatch::default();
        let (committer, thread) = if flush == Flush::Group {
            let (tx, rx) = mpsc::channel::<FlushReply>();
            let db = db.clone();
            let watch = flushes.clone();
            let handle = thread::Builder::new()
                .name("onewindow-group-commit".into())
                .spawn(move || group_commit(&db, &rx, &watch))
                .map_err(backend)?;
            (Some(Mutex::new(tx)), Some(handle))
        } else {
            (None, None)
        };
        Ok(SledStore {
            db,
            tree,
            flush,
            heads,
            poisoned: AtomicBool::new(false),
            numbering: Mutex::new(()),
            recovery,
            committer,
            flushes,
            thread,
            scratch: None,
        })
    }

    /// This store, keeping `dir` (its private copy) until it is dropped.
    pub(super) fn keeping(mut self, dir: tempfile::TempDir) -> SledStore {
        self.scratch = Some(dir);
        self
    }

    /// What opening redid after an interrupted commit.
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// A promise that everything written so far will be durable: joins the next group
    /// flush, or flushes at once without group commit.
    fn durable(&self) -> Result<Durable, Error> {
        match (&self.flush, &self.committer) {
            (Flush::Group, Some(c)) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                c.lock()
                    .map_err(|_| failed("group committer lock poisoned"))?
                    .send(tx)
                    .map_err(backend)?;
                Ok(Durable::pending(rx))
            }
            _ => {
                self.db.flush().map_err(backend)?;
                Ok(Durable::ready())
            }
        }
    }

    fn scan<T>(
        &self,
        prefix: &[u8],
        f: impl Fn(&[u8], &[u8]) -> Result<T, Error>,
    ) -> Result<Vec<T>, Error> {
        self.tree
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv.map_err(backend)?;
                f(&k, &v)
            })
            .collect()
    }
}

/// A project's last sequence number as stored (`0`: no such project).
fn stored_head(tree: &sled::Tree, project: &str) -> Result<u64, Error> {
    stored_u64(tree, key(b"h/", &[project.as_bytes()]), || {
        format!("project `{project}`: a damaged head")
    })
}

fn group_commit(db: &sled::Db, rx: &mpsc::Receiver<FlushReply>, watch: &super::FlushWatch) {
    while let Ok(first) = rx.recv() {
        let mut waiting = vec![first];
        while let Ok(more) = rx.try_recv() {
            waiting.push(more);
        }
        let started = std::time::Instant::now();
        let result = db.flush().map(|_| ()).map_err(|e| e.to_string());
        watch.report(waiting.len(), started.elapsed());
        for w in waiting {
            let _ = w.send(result.clone().map_err(Error::Backend));
        }
    }
}

impl super::Shared for SledStore {}

impl ReadStore for SledStore {
    fn events(&self, project: &str, after: u64) -> Result<Vec<Envelope>, Error> {
        // The record holding event `after + 1` starts at or before it.
        let wanted = after.saturating_add(1);
        let start = self
            .tree
            .range(record_key(project, 0)..=record_key(project, wanted))
            .next_back()
            .transpose()
            .map_err(backend)?
            .map_or_else(|| record_key(project, 0), |(k, _)| k.to_vec());
        let mut out = Vec::new();
        for kv in self.tree.range(start..=record_key(project, u64::MAX)) {
            let (k, v) = kv.map_err(backend)?;
            // A damaged record is named by where it starts (the key's last 8 bytes).
            let record: Record = codec::decode(&v).map_err(|e| {
                let from = k
                    .len()
                    .checked_sub(8)
                    .and_then(|at| <[u8; 8]>::try_from(&k[at..]).ok());
                let from = from.map_or(0, u64::from_be_bytes);
                Error::Corrupt(format!(
                    "project `{project}`, the record of event {from} on: {e}"
                ))
            })?;
            out.extend(record.events.into_iter().filter(|e| e.seq > after));
        }
        Ok(out)
    }

    fn snapshot(&self, project: &str) -> Result<Option<Snapshot>, Error> {
        self.tree
            .get(key(b"s/", &[project.as_bytes()]))
            .map_err(backend)?
            .map(|v| codec::decode(&v))
            .transpose()
    }

    fn projects(&self) -> Result<Vec<String>, Error> {
        self.scan(b"p/", |k, _| {
            String::from_utf8(k[2..].to_vec())
                .map_err(|_| Error::Corrupt("project id is not UTF-8".into()))
        })
    }

    fn projects_after(&self, after: &str, limit: usize) -> Result<Vec<String>, Error> {
        let mut start = key(b"p/", &[after.as_bytes()]);
        // Just past `after` itself: the smallest key greater than it.
        start.push(0);
        self.tree
            .range(start..)
            .take_while(|kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(b"p/")))
            .take(limit)
            .map(|kv| {
                let k = kv.map_err(backend)?.0;
                String::from_utf8(k[2..].to_vec())
                    .map_err(|_| Error::Corrupt("project id is not UTF-8".into()))
            })
            .collect()
    }

    fn heads(&self) -> Result<Vec<(String, u64)>, Error> {
        self.scan(b"h/", |k, v| {
            let project = String::from_utf8(k[2..].to_vec())
                .map_err(|_| Error::Corrupt("project id is not UTF-8".into()))?;
            let seq = <[u8; 8]>::try_from(v)
                .map(u64::from_be_bytes)
                .map_err(|_| Error::Corrupt(format!("project `{project}`: a damaged head")))?;
            Ok((project, seq))
        })
    }

    fn answer(&self, request: &str) -> Result<Option<Recorded>, Error> {
        self.tree
            .get(key(b"r/", &[request.as_bytes()]))
            .map_err(backend)?
            .map(|v| codec::decode(&v))
            .transpose()
    }

    fn workflow(&self, version: &str) -> Result<Option<StoredWorkflow>, Error> {
        self.tree
            .get(key(b"w/", &[version.as_bytes()]))
            .map_err(backend)?
            .map(|v| codec::decode(&v))
            .transpose()
    }

    fn workflows(&self) -> Result<Vec<StoredWorkflow>, Error> {
        self.scan(b"w/", |_, v| codec::decode(v))
    }

    fn calendars(&self) -> Result<Vec<StoredCalendar>, Error> {
        self.scan(b"c/", |_, v| codec::decode(v))
    }

    fn checkpoints(&self) -> Result<Vec<Vec<u8>>, Error> {
        self.scan(b"k/", |_, v| Ok(v.to_vec()))
    }

    fn register(&self, register: &str) -> Result<u64, Error> {
        stored_register(&self.tree, register)
    }

    fn index(&self) -> Result<Vec<IndexKey>, Error> {
        self.scan(b"i/", |k, _| parse_index_key(k))
    }

    fn open_tasks(&self, department: &str) -> Result<Vec<(String, String)>, Error> {
        let mut prefix = key(b"i/o/", &[department.as_bytes()]);
        prefix.push(0);
        self.scan(&prefix, |k, _| match parse_index_key(k)? {
            IndexKey::Open { project, item, .. } => Ok((project, item)),
            IndexKey::Deadline { .. } => Err(Error::Corrupt("deadline under open tasks".into())),
        })
    }

    fn due_by(&self, date: NaiveDate) -> Result<Vec<(NaiveDate, String, String)>, Error> {
        let end = key(b"i/d/", &[date.to_string().as_bytes(), &[0xff]]);
        self.tree
            .range(b"i/d/".to_vec()..end)
            .map(|kv| match parse_index_key(&kv.map_err(backend)?.0)? {
                IndexKey::Deadline { due, project, item } => Ok((due, project, item)),
                IndexKey::Open { .. } => Err(Error::Corrupt("open task under deadlines".into())),
            })
            .collect()
    }
}

impl WriteStore for SledStore {
    fn observe_flushes(&self, observer: super::FlushObserver) {
        self.flushes.set(observer);
    }

    fn commit_deferred(&self, commit: Commit) -> Result<Durable, Error> {
        check_id(&commit.project)?;
        let mut heads = self.heads[stripe(&commit.project)]
            .lock()
            .map_err(|_| failed("a writer panicked holding the heads lock"))?;
        let head = match heads.get(&commit.project) {
            Some(h) => *h,
            None => stored_head(&self.tree, &commit.project)?,
        };
        check_commit(&commit, head)?;
        let _numbering = match commit.drawn.is_empty() {
            true => None,
            false => {
                let held = self
                    .numbering
                    .lock()
                    .map_err(|_| failed("a writer panicked holding the numbering lock"))?;
                if commit.events.is_empty() {
                    return Err(Error::Inconsistent(
                        "numbers are drawn only by a commit with events".into(),
                    ));
                }
                super::check_drawn(&commit.drawn, |r| stored_register(&self.tree, r))?;
                Some(held)
            }
        };
        let (project, events, snapshot, unindex, index, request, drawn) = (
            commit.project,
            commit.events,
            commit.snapshot,
            commit.unindex,
            commit.index,
            commit.request,
            commit.drawn,
        );
        // Everything is encoded before the first write, so an encoding failure writes
        // nothing.
        let answer = request
            .as_ref()
            .map(|(id, a)| Ok::<_, Error>((key(b"r/", &[id.as_bytes()]), codec::encode(a)?)))
            .transpose()?;
        let snapshot = snapshot
            .map(|s| Ok::<_, Error>((key(b"s/", &[project.as_bytes()]), codec::encode(&s)?)))
            .transpose()?;
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(failed("an earlier write failed half-way; reopen the store"));
        }
        let last = events.last().map(|e| e.seq);
        let written = (|| {
            if let Some(first) = events.first().map(|e| e.seq) {
                let (request, command) = match request {
                    Some((id, recorded)) => (Some(id), recorded.command),
                    None => (None, String::new()),
                };
                let record = Record {
                    request,
                    command,
                    events,
                    unindex,
                    index,
                    drawn,
                };
                let bytes = codec::encode(&record)?;
                let marker = key(b"x/", &[project.as_bytes()]);
                // In flight: opening after a crash looks at this project.
                self.tree.insert(&marker, &[]).map_err(backend)?;
                if head == 0 {
                    self.tree
                        .insert(key(b"p/", &[project.as_bytes()]), &[])
                        .map_err(backend)?;
                }
                // The commit point: one key, written whole or not at all.
                self.tree
                    .insert(record_key(&project, first), bytes)
                    .map_err(backend)?;
                let last = record.events.last().map_or(first, |e| e.seq);
                self.tree
                    .insert(key(b"h/", &[project.as_bytes()]), &last.to_be_bytes()[..])
                    .map_err(backend)?;
                if let Some((k, v)) = snapshot {
                    self.tree.insert(k, v).map_err(backend)?;
                }
                apply_index(&self.tree, &record.unindex, &record.index)?;
                redo_drawn(&self.tree, &record.drawn)?;
                if let Some((k, v)) = answer {
                    self.tree.insert(k, v).map_err(backend)?;
                }
                self.tree.remove(marker).map_err(backend)?;
            } else if let Some((k, v)) = answer {
                self.tree.insert(k, v).map_err(backend)?;
            }
            Ok(())
        })();
        if let Err(e) = written {
            // Some writes may have landed: only the redo on open makes the store whole.
            self.poisoned.store(true, Ordering::SeqCst);
            return Err(e);
        }
        if let Some(last) = last {
            heads.insert(project, last);
        }
        drop(heads);
        self.durable()
    }

    fn durable_point(&self) -> Result<Durable, Error> {
        self.durable()
    }

    fn put_calendar(&self, calendar: &StoredCalendar) -> Result<(), Error> {
        check_id(&calendar.id)?;
        self.tree
            .insert(
                key(b"c/", &[calendar.id.as_bytes()]),
                codec::encode(calendar)?,
            )
            .map_err(backend)?;
        self.durable()?.wait()
    }

    fn put_checkpoint(&self, number: u64, body: &[u8]) -> Result<bool, Error> {
        let k = key(b"k/", &[&number.to_be_bytes()]);
        let fresh = self
            .tree
            .compare_and_swap(k, None as Option<&[u8]>, Some(body))
            .map_err(backend)?
            .is_ok();
        self.durable()?.wait()?;
        Ok(fresh)
    }

    fn put_workflow(&self, workflow: &StoredWorkflow) -> Result<(), Error> {
        check_id(&workflow.version)?;
        let k = key(b"w/", &[workflow.version.as_bytes()]);
        // A version is immutable: the first text deployed under it stays.
        let _ = self
            .tree
            .compare_and_swap(k, None as Option<&[u8]>, Some(codec::encode(workflow)?))
            .map_err(backend)?;
        self.durable()?.wait()
    }

    fn replace_index(&self, entries: &[IndexKey]) -> Result<(), Error> {
        let mut batch = sled::Batch::default();
        for kv in self.tree.scan_prefix(b"i/") {
            batch.remove(kv.map_err(backend)?.0);
        }
        for e in entries {
            batch.insert(index_key(e), Vec::new());
        }
        self.tree.apply_batch(batch).map_err(backend)?;
        self.durable()?.wait()
    }
}

mod callbacks;
mod recover;
use recover::{recover, redo_drawn, stored_register, stored_u64};

#[cfg(test)]
mod tests;
