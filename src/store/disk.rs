//! The embedded default: a sled database in a data directory.
//!
//! One sled tree holds everything under key prefixes, so that one command's writes are a
//! single-tree transaction (atomic) followed by a flush (durable):
//!
//! | key | value |
//! | --- | --- |
//! | `m/format` | `onewindow-store/1`: what this directory is |
//! | `h/{project}` | the sequence number of the project's last event (big-endian u64) |
//! | `e/{project}\0{seq}` | an event envelope (seq big-endian, so a prefix scan is in order) |
//! | `s/{project}` | the project's latest snapshot |
//! | `r/{request}` | the answer given to a request id |
//! | `w/{version}` | a deployed workflow version |
//! | `i/o/{department}\0{project}\0{item}` | an open task |
//! | `i/d/{YYYY-MM-DD}\0{project}\0{item}` | a running task's due date |
//!
//! **Group commit.** Writers run their transactions concurrently, then ask for a flush.
//! One committer thread takes every flush request waiting, flushes once, and answers them
//! all: a flush covers every transaction that finished before it started, so each writer
//! is answered only once its own writes are on disk, and concurrent commands share one
//! fsync. [`Flush::EachCommand`] flushes per command instead (for comparison).

use std::path::Path;
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread;

use chrono::NaiveDate;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use super::memory::check_commit;
use super::{
    check_id, codec, Answer, Commit, Durable, Error, IndexKey, ReadStore, Snapshot, StoredWorkflow,
    WriteStore,
};
use crate::engine::Envelope;

const FORMAT_KEY: &[u8] = b"m/format";
const FORMAT: &[u8] = b"onewindow-store/1";

/// sled's segment (and IO buffer) size. A flush seals the current buffer and the next
/// write starts a fresh, zeroed one: with flushes every few hundred microseconds, sled's
/// default of 512 KiB spent most of the machine's time zeroing pages. Fixed for a data
/// directory: sled refuses to open one with another size.
const SEGMENT_SIZE: usize = 64 * 1024;

/// When commits reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Flush {
    /// Concurrent commits share one flush (the default).
    Group,
    /// Every commit flushes on its own.
    EachCommand,
}

/// Where the group committer answers a writer: the flush's outcome.
type FlushReply = tokio::sync::oneshot::Sender<Result<(), String>>;

/// A store in a sled data directory.
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    flush: Flush,
    committer: Option<Mutex<mpsc::Sender<FlushReply>>>,
    /// The group-commit thread, joined on drop so that the database is closed (and its
    /// lock released) when the store is.
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.committer = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn backend(e: impl std::fmt::Display) -> Error {
    Error::Backend(e.to_string())
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

fn event_key(project: &str, seq: u64) -> Vec<u8> {
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
        }
        let path = dir.to_path_buf();
        let db = std::panic::catch_unwind(move || {
            sled::Config::new()
                .path(path)
                .segment_size(SEGMENT_SIZE)
                .open()
        })
        .map_err(|_| Error::Corrupt(format!("{}: the database files are damaged", dir.display())))?
        .map_err(|e| Error::Corrupt(format!("{}: {e}", dir.display())))?;
        let tree = db.open_tree("onewindow").map_err(backend)?;
        match tree.get(FORMAT_KEY).map_err(backend)? {
            Some(v) if v.as_ref() == FORMAT => {}
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
                tree.insert(FORMAT_KEY, FORMAT).map_err(backend)?;
                db.flush().map_err(backend)?;
            }
        }
        let (committer, thread) = if flush == Flush::Group {
            let (tx, rx) = mpsc::channel::<FlushReply>();
            let db = db.clone();
            let handle = thread::Builder::new()
                .name("onewindow-group-commit".into())
                .spawn(move || group_commit(&db, &rx))
                .map_err(backend)?;
            (Some(Mutex::new(tx)), Some(handle))
        } else {
            (None, None)
        };
        Ok(SledStore {
            db,
            tree,
            flush,
            committer,
            thread,
        })
    }

    /// A promise that everything written so far will be durable: joins the next group
    /// flush, or flushes at once without group commit.
    fn durable(&self) -> Result<Durable, Error> {
        match (&self.flush, &self.committer) {
            (Flush::Group, Some(c)) => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                c.lock()
                    .map_err(|_| backend("group committer lock poisoned"))?
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

fn group_commit(db: &sled::Db, rx: &mpsc::Receiver<FlushReply>) {
    while let Ok(first) = rx.recv() {
        let mut waiting = vec![first];
        while let Ok(more) = rx.try_recv() {
            waiting.push(more);
        }
        let result = db.flush().map(|_| ()).map_err(|e| e.to_string());
        for w in waiting {
            let _ = w.send(result.clone());
        }
    }
}

impl ReadStore for SledStore {
    fn events(&self, project: &str, after: u64) -> Result<Vec<Envelope>, Error> {
        let start = event_key(project, after.saturating_add(1));
        let end = event_key(project, u64::MAX);
        self.tree
            .range(start..=end)
            .map(|kv| codec::decode(&kv.map_err(backend)?.1))
            .collect()
    }

    fn snapshot(&self, project: &str) -> Result<Option<Snapshot>, Error> {
        self.tree
            .get(key(b"s/", &[project.as_bytes()]))
            .map_err(backend)?
            .map(|v| codec::decode(&v))
            .transpose()
    }

    fn projects(&self) -> Result<Vec<String>, Error> {
        self.scan(b"h/", |k, _| {
            String::from_utf8(k[2..].to_vec())
                .map_err(|_| Error::Corrupt("project id is not UTF-8".into()))
        })
    }

    fn answer(&self, request: &str) -> Result<Option<Answer>, Error> {
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
    fn commit_deferred(&self, commit: Commit) -> Result<Durable, Error> {
        check_id(&commit.project)?;
        let head_key = key(b"h/", &[commit.project.as_bytes()]);
        let mut writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        for e in &commit.events {
            writes.push((event_key(&commit.project, e.seq), Some(codec::encode(e)?)));
        }
        if let Some(last) = commit.events.last() {
            writes.push((head_key.clone(), Some(last.seq.to_be_bytes().to_vec())));
        }
        if let Some(s) = &commit.snapshot {
            writes.push((
                key(b"s/", &[commit.project.as_bytes()]),
                Some(codec::encode(s)?),
            ));
        }
        for k in &commit.unindex {
            writes.push((index_key(k), None));
        }
        for k in &commit.index {
            writes.push((index_key(k), Some(Vec::new())));
        }
        if let Some((id, answer)) = &commit.request {
            writes.push((key(b"r/", &[id.as_bytes()]), Some(codec::encode(answer)?)));
        }
        // Check the log's continuity and write, atomically.
        let result = self.tree.transaction(|tx| {
            let head = match tx.get(&head_key)? {
                Some(v) => u64::from_be_bytes(v.as_ref().try_into().unwrap_or([0xff; 8])),
                None => 0,
            };
            if let Err(e) = check_commit(&commit, head) {
                return Err(ConflictableTransactionError::Abort(e));
            }
            for (k, v) in &writes {
                match v {
                    Some(v) => {
                        tx.insert(k.as_slice(), v.as_slice())?;
                    }
                    None => {
                        tx.remove(k.as_slice())?;
                    }
                }
            }
            Ok(())
        });
        match result {
            Ok(()) => self.durable(),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(backend(e)),
        }
    }

    fn durable_point(&self) -> Result<Durable, Error> {
        self.durable()
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
