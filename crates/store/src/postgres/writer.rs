//! Group commit on PostgreSQL: commits from many projects share one transaction.
//!
//! A few writer tasks take turns at the queue: each takes every commit waiting (up to a
//! batch) and sends them as one call of `onewindow_commit_batch` — the batch's commits as
//! parallel arrays, one statement, one round trip, one transaction — and answers each
//! writer with its own commit's outcome. The function writes set-wise (one insert per
//! table for the whole batch, not a statement per command), which is what lets the
//! database keep up with many clients on two cores. A commit that was decided on a stale
//! state is refused by the function without raising, so it does not spoil the others in
//! its batch. `synchronous_commit` is on for every connection, so the statement returning
//! means the batch is durable (on the standby too, where one is configured).
//!
//! A batch holds at most one commit per project: the service serializes a project's
//! commands through their commit on a shared store. Should two come anyway (a bug), the
//! later ones wait for the next batch.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex};

use super::pg;
use crate::{codec, Commit, Error, IndexKey};

/// The SQL every batch runs.
const COMMIT_SQL: &str = "SELECT onewindow_commit_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                          $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
                          $23, $24, $25, $26)";

/// A commit encoded for the database (in the committing thread, so that the writer only
/// moves bytes): its share of `onewindow_commit_batch`'s parameters.
pub(super) struct Encoded {
    project: String,
    base: Option<i64>,
    first: i64,
    events: Vec<Vec<u8>>,
    snap_seq: Option<i64>,
    snap: Option<Vec<u8>>,
    unindex: Columns,
    index: Columns,
    request: Option<String>,
    answer: Option<Vec<u8>>,
    /// Numbers drawn: the commit function moves the register in the batch's
    /// transaction, only if it still stands where the commit read it.
    drawn: Vec<crate::Drawn>,
}

/// Index entries as four parallel columns (kind, department or due date, project, item).
#[derive(Default)]
pub(super) struct Columns(Vec<i16>, Vec<String>, Vec<String>, Vec<String>);

impl Columns {
    /// Moves another commit's entries here, each tagged with that commit's number `k`.
    fn append(&mut self, other: Columns, k: i32, tags: &mut Vec<i32>) {
        tags.extend(std::iter::repeat_n(k, other.0.len()));
        self.0.extend(other.0);
        self.1.extend(other.1);
        self.2.extend(other.2);
        self.3.extend(other.3);
    }

    fn of(keys: &[IndexKey]) -> Columns {
        let mut c = Columns::default();
        for k in keys {
            let (kind, a, project, item) = index_row(k);
            c.0.push(kind);
            c.1.push(a);
            c.2.push(project.to_string());
            c.3.push(item.to_string());
        }
        c
    }
}

/// An index entry as a row of `task_index`.
pub(super) fn index_row(k: &IndexKey) -> (i16, String, &str, &str) {
    match k {
        IndexKey::Open {
            department,
            project,
            item,
        } => (0, department.clone(), project, item),
        IndexKey::Deadline { due, project, item } => {
            (1, due.format("%Y-%m-%d").to_string(), project, item)
        }
    }
}

/// A queued commit and where its outcome goes.
pub(super) struct Pending {
    pub(super) commit: Encoded,
    pub(super) reply: oneshot::Sender<Result<(), Error>>,
}

/// Encodes a commit (before anything is queued: an encoding failure writes nothing).
pub(super) fn encode(commit: Commit) -> Result<Encoded, Error> {
    if commit.drawn.len() > 1 {
        // The commit function moves one register per commit (all or nothing).
        return Err(Error::Inconsistent(
            "a commit draws numbers from at most one register".into(),
        ));
    }
    let first = commit.events.first().map_or(0, |e| e.seq);
    let events = commit
        .events
        .iter()
        .map(codec::encode)
        .collect::<Result<Vec<_>, _>>()?;
    let (request, answer) = match &commit.request {
        Some((key, recorded)) => (Some(key.clone()), Some(codec::encode(recorded)?)),
        None => (None, None),
    };
    Ok(Encoded {
        base: commit.base.map(int),
        first: int(first),
        events,
        snap_seq: commit.snapshot.as_ref().map(|s| int(s.seq)),
        snap: commit.snapshot.map(|s| s.state),
        unindex: Columns::of(&commit.unindex),
        index: Columns::of(&commit.index),
        request,
        answer,
        drawn: commit.drawn,
        project: commit.project,
    })
}

/// A sequence number as PostgreSQL's `bigint` (they never come near 2^63).
pub(super) fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The most commits one transaction takes.
const MAX_BATCH: usize = 256;

/// Runs one writer until the queue closes.
pub(super) async fn run(
    pool: deadpool_postgres::Pool,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Pending>>>,
    node: Arc<str>,
    flushes: crate::FlushWatch,
) {
    // Commits held back because their project already had one in the batch.
    let mut carry: Vec<Pending> = Vec::new();
    loop {
        let batch = {
            let mut batch = Vec::new();
            let mut seen = std::collections::HashSet::new();
            let mut held = Vec::new();
            for p in carry.drain(..) {
                if seen.insert(p.commit.project.clone()) {
                    batch.push(p);
                } else {
                    held.push(p);
                }
            }
            let mut rx = queue.lock().await;
            if batch.is_empty() {
                let Some(first) = rx.recv().await else {
                    return;
                };
                seen.insert(first.commit.project.clone());
                batch.push(first);
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(p) if seen.insert(p.commit.project.clone()) => batch.push(p),
                    Ok(p) => held.push(p),
                    Err(_) => break,
                }
            }
            carry = held;
            batch
        };
        let mut arrays = Arrays::default();
        let mut replies = Vec::with_capacity(batch.len());
        for p in batch {
            arrays.push(p.commit);
            replies.push(p.reply);
        }
        let started = std::time::Instant::now();
        let committed = commit_batch(&pool, &arrays, &node).await;
        flushes.report(replies.len(), started.elapsed());
        match committed {
            Ok(said) => {
                for (k, (reply, said)) in replies.into_iter().zip(said).enumerate() {
                    let _ = reply.send(arrays.outcome(k, &said));
                }
            }
            Err(e) => {
                // The transaction failed as a whole (the database went away, a COMMIT
                // without an answer): each writer is told, and a retry with the same
                // request id finds out whether it committed.
                let message = e.to_string();
                tracing::warn!("a commit batch of {} failed: {message}", replies.len());
                for reply in replies {
                    let _ = reply.send(Err(Error::Backend(message.clone())));
                }
            }
        }
    }
}

/// The batch's commits as the function's parallel arrays.
#[derive(Default)]
struct Arrays {
    project: Vec<String>,
    base: Vec<Option<i64>>,
    first: Vec<i64>,
    count: Vec<i32>,
    request: Vec<Option<String>>,
    answer: Vec<Option<Vec<u8>>>,
    snap_seq: Vec<Option<i64>>,
    snap: Vec<Option<Vec<u8>>>,
    e_k: Vec<i32>,
    e_seq: Vec<i64>,
    e_body: Vec<Vec<u8>>,
    u_k: Vec<i32>,
    unindex: Columns,
    i_k: Vec<i32>,
    index: Columns,
    r_k: Vec<i32>,
    r_register: Vec<String>,
    r_from: Vec<i64>,
    r_to: Vec<i64>,
}

impl Arrays {
    /// Moves a commit into the batch as its next element.
    fn push(&mut self, c: Encoded) {
        let k = i32::try_from(self.project.len() + 1).unwrap_or(i32::MAX);
        self.project.push(c.project);
        self.base.push(c.base);
        self.first.push(c.first);
        self.count
            .push(i32::try_from(c.events.len()).unwrap_or(i32::MAX));
        self.request.push(c.request);
        self.answer.push(c.answer);
        self.snap_seq.push(c.snap_seq);
        self.snap.push(c.snap);
        for (n, body) in c.events.into_iter().enumerate() {
            self.e_k.push(k);
            self.e_seq.push(c.first + n as i64);
            self.e_body.push(body);
        }
        self.unindex.append(c.unindex, k, &mut self.u_k);
        self.index.append(c.index, k, &mut self.i_k);
        for d in c.drawn {
            self.r_k.push(k);
            self.r_register.push(d.register);
            self.r_from.push(int(d.from));
            self.r_to.push(int(d.to));
        }
    }

    /// What the commit function said of commit `k` (from 0), as the contract's result.
    fn outcome(&self, k: usize, said: &str) -> Result<(), Error> {
        let head = |s: &str| s.parse::<u64>().unwrap_or(0);
        let project = &self.project[k];
        match said.split_once(' ') {
            None if said == "ok" => Ok(()),
            None if said == "answered" => Err(Error::Inconsistent(format!(
                "request `{}` was answered meanwhile",
                self.request[k].as_deref().unwrap_or_default()
            ))),
            Some(("stale", h)) => Err(crate::checks::stale(
                project,
                self.base[k].unwrap_or_default() as u64,
                head(h),
            )),
            Some(("drawn", h)) => Err(Error::Drawn(format!(
                "project `{project}`: a register of numbers stands at {} (another writer was first)",
                head(h)
            ))),
            Some(("gap", h)) => Err(Error::Inconsistent(format!(
                "project `{project}`: event {} would follow event {} (a gap or a duplicate)",
                self.first[k],
                head(h)
            ))),
            _ => Err(Error::Backend(format!(
                "the commit function answered `{said}`"
            ))),
        }
    }
}

/// One statement (and transaction) for a batch: each commit's status as the function said
/// it, once the batch is durable.
async fn commit_batch(
    pool: &deadpool_postgres::Pool,
    a: &Arrays,
    node: &str,
) -> Result<Vec<String>, Error> {
    let client = pool
        .get()
        .await
        .map_err(|e| Error::Backend(format!("database: {e}")))?;
    let stmt = client.prepare_cached(COMMIT_SQL).await.map_err(pg)?;
    let row = client
        .query_one(
            &stmt,
            &[
                &a.project,
                &a.base,
                &a.first,
                &a.count,
                &a.request,
                &a.answer,
                &a.snap_seq,
                &a.snap,
                &a.e_k,
                &a.e_seq,
                &a.e_body,
                &a.u_k,
                &a.unindex.0,
                &a.unindex.1,
                &a.unindex.2,
                &a.unindex.3,
                &a.i_k,
                &a.index.0,
                &a.index.1,
                &a.index.2,
                &a.index.3,
                &a.r_k,
                &a.r_register,
                &a.r_from,
                &a.r_to,
                &node,
            ],
        )
        .await
        .map_err(pg)?;
    let said: Vec<String> = row.get(0);
    if said.len() != a.project.len() {
        return Err(Error::Backend(format!(
            "the commit function answered {} outcomes for {} commits",
            said.len(),
            a.project.len()
        )));
    }
    Ok(said)
}
