//! Group commit on PostgreSQL: commits from many projects share one transaction.
//!
//! A few writer tasks take turns at the queue: each takes every commit waiting (up to a
//! batch), sends one `onewindow_commit(...)` call per commit down one connection without
//! waiting between them (tokio-postgres pipelines queries issued together), commits the
//! transaction, and answers each writer with its own outcome. A commit that was decided
//! on a stale state is refused by the function without raising, so it does not spoil the
//! others in its batch. `synchronous_commit` is on for every connection, so `COMMIT`
//! returning means the batch is durable (on the standby too, where one is configured).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Mutex};

use super::pg;
use crate::store::{codec, Commit, Error, IndexKey};

/// The SQL every commit runs.
const COMMIT_SQL: &str = "SELECT onewindow_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                          $11, $12, $13, $14, $15, $16)";

/// A commit encoded for the database: the parameters of `onewindow_commit`.
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
}

/// Index entries as four parallel columns (kind, department or due date, project, item).
#[derive(Default)]
pub(super) struct Columns(Vec<i16>, Vec<String>, Vec<String>, Vec<String>);

impl Columns {
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
) {
    loop {
        let batch = {
            let mut rx = queue.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            batch
        };
        match commit_batch(&pool, &batch).await {
            Ok(outcomes) => {
                for (p, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = p.reply.send(outcome);
                }
            }
            Err(e) => {
                // The transaction failed as a whole (the database went away, a COMMIT
                // without an answer): each writer is told, and a retry with the same
                // request id finds out whether it committed.
                let message = e.to_string();
                tracing::warn!("a commit batch of {} failed: {message}", batch.len());
                for p in batch {
                    let _ = p.reply.send(Err(Error::Backend(message.clone())));
                }
            }
        }
    }
}

/// One transaction for a batch; each commit's own outcome, once the transaction is
/// durable.
async fn commit_batch(
    pool: &deadpool_postgres::Pool,
    batch: &[Pending],
) -> Result<Vec<Result<(), Error>>, Error> {
    let mut client = pool
        .get()
        .await
        .map_err(|e| Error::Backend(format!("database: {e}")))?;
    let tx = client.transaction().await.map_err(pg)?;
    let stmt = tx.prepare_cached(COMMIT_SQL).await.map_err(pg)?;
    type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);
    let params: Vec<[Param<'_>; 16]> = batch
        .iter()
        .map(|p| {
            let c = &p.commit;
            [
                &c.project as Param<'_>,
                &c.base,
                &c.first,
                &c.events,
                &c.snap_seq,
                &c.snap,
                &c.unindex.0,
                &c.unindex.1,
                &c.unindex.2,
                &c.unindex.3,
                &c.index.0,
                &c.index.1,
                &c.index.2,
                &c.index.3,
                &c.request,
                &c.answer,
            ]
        })
        .collect();
    let calls = params.iter().map(|p| tx.query_one(&stmt, p));
    let rows = futures_util::future::try_join_all(calls)
        .await
        .map_err(pg)?;
    tx.commit().await.map_err(pg)?;
    Ok(batch
        .iter()
        .zip(rows)
        .map(|(p, row)| outcome(&p.commit, row.get::<_, &str>(0)))
        .collect())
}

/// What the commit function said, as the contract's result.
fn outcome(c: &Encoded, said: &str) -> Result<(), Error> {
    let head = |s: &str| s.parse::<u64>().unwrap_or(0);
    match said.split_once(' ') {
        None if said == "ok" => Ok(()),
        None if said == "answered" => Err(Error::Inconsistent(format!(
            "request `{}` was answered meanwhile",
            c.request.as_deref().unwrap_or_default()
        ))),
        Some(("stale", h)) => Err(crate::store::memory::stale(
            &c.project,
            c.base.unwrap_or_default() as u64,
            head(h),
        )),
        Some(("gap", h)) => Err(Error::Inconsistent(format!(
            "project `{}`: event {} would follow event {} (a gap or a duplicate)",
            c.project,
            c.first,
            head(h)
        ))),
        _ => Err(Error::Backend(format!(
            "the commit function answered `{said}`"
        ))),
    }
}
