//! The store on PostgreSQL, for a city's production: several `onewindow serve` nodes on
//! one (replicated) database.
//!
//! # Why tokio-postgres and deadpool-postgres
//! The server is async (tokio); tokio-postgres is the async driver the ecosystem
//! maintains, and it pipelines: queries issued together on one connection go out without
//! waiting for each other's answers, which is how many commits share one transaction
//! ([`writer`]). It speaks `LISTEN`/`NOTIFY`, which wakes the other nodes when one
//! commits ([`listen`]). deadpool-postgres is the small pool built for it. The blocking
//! `postgres` crate would run its own runtime inside ours; sqlx would bring a query
//! macro layer and a second migration system this store does not need.
//!
//! # Shape
//! The store contract ([`ReadStore`], [`WriteStore`]) is synchronous — the engine's
//! service calls it under a project's lock. This store runs its connections on a small
//! runtime of its own; a call from a thread of the server's runtime hands the query over
//! and waits without starving the server's other tasks (`block_in_place`). A commit does
//! not wait at all: it is queued for the group committer and returns a [`Durable`]
//! promise kept when its batch's transaction commits.
//!
//! # Concurrency
//! Every commit carries [`Commit::base`], the last event of the state it was decided on.
//! `onewindow_commit` locks the project's head row, and writes nothing unless the log
//! still ends there: of two nodes deciding on the same state, one commits and the other
//! is told its state was stale (the service reloads and decides again). Request ids are
//! a primary key: a request is answered once across nodes.

mod callbacks;
mod listen;
pub mod schema;
mod writer;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::types::ToSql;

use super::checks::check_shape;
use super::{
    check_id, codec, Change, Commit, Durable, Error, IndexKey, ReadStore, Recorded, Shared,
    Snapshot, StoredCalendar, StoredWorkflow, WriteStore,
};
use onewindow_engine::Envelope;

/// The database's error, kept as the source.
pub(crate) fn pg(e: tokio_postgres::Error) -> Error {
    Error::Engine(Box::new(e))
}

/// How a node uses its database.
#[derive(Debug, Clone)]
pub struct Options {
    /// Connections in the pool (reads and the group committer's transactions).
    pub connections: usize,
    /// Group-commit writers: how many transactions may be in flight at once.
    pub writers: usize,
    /// How long a query may wait for a connection before the store says it is unavailable.
    pub wait: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            connections: 16,
            writers: 4,
            wait: Duration::from_secs(5),
        }
    }
}

/// A store in a PostgreSQL database.
pub struct PgStore {
    runtime: Option<tokio::runtime::Runtime>,
    pool: deadpool_postgres::Pool,
    queue: mpsc::UnboundedSender<writer::Pending>,
    changes: broadcast::Sender<Change>,
    leases: Arc<listen::Leases>,
    /// Where the writers report their batches.
    flushes: crate::FlushWatch,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's task would panic: let it wind down on
        // its own threads.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgresql://user@host:port/db`), applies the
    /// schema's migrations, and starts the group committer and the listener.
    ///
    /// # Errors
    /// A malformed URL, a database that cannot be reached, or one whose schema is newer
    /// than this build ([`Error::Foreign`]).
    pub fn open(url: &str, options: &Options) -> Result<PgStore, Error> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| Error::Backend(format!("database URL: {e}")))?;
        // Acknowledged means durable: never let a server default weaken it.
        config.options("-c synchronous_commit=on");
        config.application_name("onewindow");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("onewindow-postgres")
            .enable_all()
            .build()
            .map_err(|e| Error::Engine(Box::new(e)))?;
        let manager = deadpool_postgres::Manager::from_config(
            config.clone(),
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(options.connections.max(options.writers + 1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(options.wait))
            .create_timeout(Some(options.wait))
            .build()
            .map_err(|e| Error::Backend(format!("database pool: {e}")))?;
        {
            let pool = pool.clone();
            block(runtime.handle(), async move {
                let mut client = pool.get().await.map_err(unavailable)?;
                schema::migrate(&mut client).await
            })?;
        }
        let (queue, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        // This process's name in the notifications, so that it knows its own commits.
        let node: Arc<str> = Arc::from(format!(
            "{:x}{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let flushes = crate::FlushWatch::default();
        for _ in 0..options.writers.max(1) {
            runtime.spawn(writer::run(
                pool.clone(),
                rx.clone(),
                node.clone(),
                flushes.clone(),
            ));
        }
        let (changes, _) = broadcast::channel(65536);
        runtime.spawn(listen::run(config.clone(), changes.clone(), node));
        let leases = Arc::new(listen::Leases::new(config));
        Ok(PgStore {
            runtime: Some(runtime),
            pool,
            queue,
            changes,
            leases,
            flushes,
        })
    }

    fn handle(&self) -> Result<&tokio::runtime::Handle, Error> {
        self.runtime
            .as_ref()
            .map(tokio::runtime::Runtime::handle)
            .ok_or_else(|| Error::Backend("the store is closed".into()))
    }

    /// Runs a query on the store's runtime and waits for its result.
    fn query<T, F>(
        &self,
        f: impl FnOnce(deadpool_postgres::Client) -> F + Send + 'static,
    ) -> Result<T, Error>
    where
        T: Send + 'static,
        F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
    {
        let pool = self.pool.clone();
        block(self.handle()?, async move {
            let client = pool.get().await.map_err(unavailable)?;
            f(client).await
        })
    }

    /// Every row of a query (a statement prepared once per connection).
    fn rows(
        &self,
        sql: &'static str,
        params: Vec<Param>,
    ) -> Result<Vec<tokio_postgres::Row>, Error> {
        self.query(move |c| async move {
            let stmt = c.prepare_cached(sql).await.map_err(pg)?;
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect();
            c.query(&stmt, &refs).await.map_err(pg)
        })
    }
}

/// A query parameter, owned so that the query can run on the store's runtime.
type Param = Box<dyn ToSql + Send + Sync>;

/// A text parameter.
fn text(s: &str) -> Param {
    Box::new(s.to_string())
}

/// The pool could not give a connection: the database is down or overloaded.
fn unavailable(e: deadpool_postgres::PoolError) -> Error {
    Error::Backend(format!("database unavailable: {e}"))
}

/// Runs `f` on `rt` and waits for it from any thread: a thread of another multi-threaded
/// runtime lets that runtime move its other tasks elsewhere meanwhile.
fn block<T: Send + 'static>(
    rt: &tokio::runtime::Handle,
    f: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
) -> Result<T, Error> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(f.await);
    });
    let wait = move || {
        rx.recv()
            .map_err(|_| Error::Backend("the store's runtime stopped".into()))?
    };
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(wait)
        }
        _ => wait(),
    }
}

fn seq(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn index_key(kind: i16, a: String, project: String, item: String) -> Result<IndexKey, Error> {
    Ok(match kind {
        0 => IndexKey::Open {
            department: a,
            project,
            item,
        },
        1 => IndexKey::Deadline {
            due: a
                .parse::<NaiveDate>()
                .map_err(|_| Error::Corrupt(format!("index date `{a}`")))?,
            project,
            item,
        },
        k => return Err(Error::Corrupt(format!("index kind {k}"))),
    })
}

impl ReadStore for PgStore {
    fn events(&self, project: &str, after: u64) -> Result<Vec<Envelope>, Error> {
        let rows = self.rows(
            "SELECT body, seq FROM events WHERE project = $1 AND seq > $2 ORDER BY seq",
            vec![text(project), Box::new(writer::int(after))],
        )?;
        rows.iter()
            .map(|r| {
                codec::decode(r.get::<_, &[u8]>(0)).map_err(|e| {
                    let at: i64 = r.get(1);
                    Error::Corrupt(format!("project `{project}`, event {at}: {e}"))
                })
            })
            .collect()
    }

    fn snapshot(&self, project: &str) -> Result<Option<Snapshot>, Error> {
        let rows = self.rows(
            "SELECT seq, state FROM snapshots WHERE project = $1",
            vec![text(project)],
        )?;
        Ok(rows.first().map(|r| Snapshot {
            seq: seq(r.get(0)),
            state: r.get(1),
        }))
    }

    fn projects(&self) -> Result<Vec<String>, Error> {
        let rows = self.rows("SELECT project FROM projects ORDER BY project", vec![])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn projects_after(&self, after: &str, limit: usize) -> Result<Vec<String>, Error> {
        let rows = self.rows(
            "SELECT project FROM projects WHERE project > $1 ORDER BY project LIMIT $2",
            vec![
                text(after),
                Box::new(i64::try_from(limit).unwrap_or(i64::MAX)),
            ],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn heads(&self) -> Result<Vec<(String, u64)>, Error> {
        let rows = self.rows(
            "SELECT project, head FROM projects ORDER BY project",
            vec![],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), seq(r.get(1)))).collect())
    }

    fn answer(&self, request: &str) -> Result<Option<Recorded>, Error> {
        let rows = self.rows(
            "SELECT body FROM requests WHERE key = $1",
            vec![text(request)],
        )?;
        rows.first()
            .map(|r| codec::decode(r.get::<_, &[u8]>(0)))
            .transpose()
    }

    fn workflow(&self, version: &str) -> Result<Option<StoredWorkflow>, Error> {
        let rows = self.rows(
            "SELECT body FROM workflows WHERE version = $1",
            vec![text(version)],
        )?;
        rows.first()
            .map(|r| codec::decode(r.get::<_, &[u8]>(0)))
            .transpose()
    }

    fn workflows(&self) -> Result<Vec<StoredWorkflow>, Error> {
        let rows = self.rows("SELECT body FROM workflows ORDER BY version", vec![])?;
        rows.iter()
            .map(|r| codec::decode(r.get::<_, &[u8]>(0)))
            .collect()
    }

    fn calendars(&self) -> Result<Vec<StoredCalendar>, Error> {
        let rows = self.rows("SELECT body FROM calendars ORDER BY id", vec![])?;
        rows.iter()
            .map(|r| codec::decode(r.get::<_, &[u8]>(0)))
            .collect()
    }

    fn checkpoints(&self) -> Result<Vec<Vec<u8>>, Error> {
        let rows = self.rows("SELECT body FROM checkpoints ORDER BY number", vec![])?;
        Ok(rows.iter().map(|r| r.get::<_, Vec<u8>>(0)).collect())
    }

    fn register(&self, register: &str) -> Result<u64, Error> {
        let rows = self.rows(
            "SELECT last FROM registers WHERE register = $1",
            vec![text(register)],
        )?;
        Ok(rows.first().map_or(0, |r| seq(r.get(0))))
    }

    fn index(&self) -> Result<Vec<IndexKey>, Error> {
        let rows = self.rows(
            "SELECT kind, a, project, item FROM task_index ORDER BY kind, a, project, item",
            vec![],
        )?;
        rows.into_iter()
            .map(|r| index_key(r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    }

    fn open_tasks(&self, department: &str) -> Result<Vec<(String, String)>, Error> {
        let rows = self.rows(
            "SELECT project, item FROM task_index WHERE kind = 0 AND a = $1 ORDER BY project, item",
            vec![text(department)],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn due_by(&self, date: NaiveDate) -> Result<Vec<(NaiveDate, String, String)>, Error> {
        let rows = self.rows(
            "SELECT a, project, item FROM task_index WHERE kind = 1 AND a <= $1 ORDER BY a, project, item",
            vec![text(&date.format("%Y-%m-%d").to_string())],
        )?;
        rows.into_iter()
            .map(|r| match index_key(1, r.get(0), r.get(1), r.get(2))? {
                IndexKey::Deadline { due, project, item } => Ok((due, project, item)),
                IndexKey::Open { .. } => Err(Error::Corrupt("open task under deadlines".into())),
            })
            .collect()
    }
}

impl WriteStore for PgStore {
    fn observe_flushes(&self, observer: crate::FlushObserver) {
        self.flushes.set(observer);
    }

    fn commit_deferred(&self, commit: Commit) -> Result<Durable, Error> {
        check_shape(&commit)?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        let commit = writer::encode(commit)?;
        self.queue
            .send(writer::Pending { commit, reply })
            .map_err(|_| Error::Backend("the group committer stopped".into()))?;
        Ok(Durable::pending(rx))
    }

    fn put_checkpoint(&self, number: u64, body: &[u8]) -> Result<bool, Error> {
        let (number, body) = (writer::int(number), body.to_vec());
        let written = self.query(move |c| async move {
            c.execute(
                "INSERT INTO checkpoints (number, body) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&number, &body],
            )
            .await
            .map_err(pg)
        })?;
        Ok(written == 1)
    }

    fn put_calendar(&self, calendar: &StoredCalendar) -> Result<(), Error> {
        check_id(&calendar.id)?;
        let (id, body) = (calendar.id.clone(), codec::encode(calendar)?);
        self.query(move |c| async move {
            c.execute(
                "INSERT INTO calendars (id, body) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
                &[&id, &body],
            )
            .await
            .map_err(pg)
        })?;
        Ok(())
    }

    fn put_workflow(&self, workflow: &StoredWorkflow) -> Result<(), Error> {
        check_id(&workflow.version)?;
        let (version, id, body) = (
            workflow.version.clone(),
            workflow.id.clone(),
            codec::encode(workflow)?,
        );
        self.query(move |c| async move {
            c.execute(
                "INSERT INTO workflows (version, id, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&version, &id, &body],
            )
            .await
            .map_err(pg)
        })?;
        Ok(())
    }

    fn replace_index(&self, entries: &[IndexKey]) -> Result<(), Error> {
        let rows: Vec<(i16, String, String, String)> = entries
            .iter()
            .map(|k| {
                let (kind, a, p, i) = writer::index_row(k);
                (kind, a, p.to_string(), i.to_string())
            })
            .collect();
        let pool = self.pool.clone();
        block(self.handle()?, async move {
            let mut client = pool.get().await.map_err(unavailable)?;
            let tx = client.transaction().await.map_err(pg)?;
            tx.execute("DELETE FROM task_index", &[])
                .await
                .map_err(pg)?;
            let kinds: Vec<i16> = rows.iter().map(|r| r.0).collect();
            let a: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
            let p: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
            let i: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
            tx.execute(
                "INSERT INTO task_index (kind, a, project, item) \
                 SELECT * FROM unnest($1::smallint[], $2::text[], $3::text[], $4::text[]) \
                 ON CONFLICT DO NOTHING",
                &[&kinds, &a, &p, &i],
            )
            .await
            .map_err(pg)?;
            tx.commit().await.map_err(pg)
        })
    }
}

impl Shared for PgStore {
    fn shared(&self) -> bool {
        true
    }

    fn sessions(&self) -> Option<&dyn crate::sessions::SessionStore> {
        Some(self)
    }

    fn changes(&self) -> Option<broadcast::Receiver<Change>> {
        Some(self.changes.subscribe())
    }

    fn lead(&self, role: &str) -> Result<bool, Error> {
        let leases = self.leases.clone();
        let role = role.to_string();
        block(self.handle()?, async move { leases.hold(&role).await })
    }
}

impl crate::sessions::SessionStore for PgStore {
    fn put_session(&self, s: &crate::sessions::StoredSession) -> Result<(), Error> {
        let s = s.clone();
        self.query(move |c| async move {
            c.execute(
                "INSERT INTO console_sessions (id, credential, role, csrf, started, seen) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &s.id,
                    &s.credential,
                    &s.role,
                    &s.csrf,
                    &s.started_ms,
                    &s.seen_ms,
                ],
            )
            .await
            .map_err(pg)
        })?;
        Ok(())
    }

    fn session(&self, id: &str) -> Result<Option<crate::sessions::StoredSession>, Error> {
        let rows = self.rows(
            "SELECT id, credential, role, csrf, started, seen FROM console_sessions WHERE id = $1",
            vec![text(id)],
        )?;
        Ok(rows.first().map(|r| crate::sessions::StoredSession {
            id: r.get(0),
            credential: r.get(1),
            role: r.get(2),
            csrf: r.get(3),
            started_ms: r.get(4),
            seen_ms: r.get(5),
        }))
    }

    fn session_seen(&self, id: &str, seen_ms: i64) -> Result<(), Error> {
        let id = id.to_string();
        self.query(move |c| async move {
            c.execute(
                "UPDATE console_sessions SET seen = GREATEST(seen, $2) WHERE id = $1",
                &[&id, &seen_ms],
            )
            .await
            .map_err(pg)
        })?;
        Ok(())
    }

    fn end_session(&self, id: &str) -> Result<(), Error> {
        let id = id.to_string();
        self.query(move |c| async move {
            c.execute("DELETE FROM console_sessions WHERE id = $1", &[&id])
                .await
                .map_err(pg)
        })?;
        Ok(())
    }

    fn sessions_of(&self, credential: &str) -> Result<Vec<(String, i64)>, Error> {
        let rows = self.rows(
            "SELECT id, started FROM console_sessions WHERE credential = $1 ORDER BY started, id",
            vec![text(credential)],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn expire_sessions(&self, seen_before_ms: i64, started_before_ms: i64) -> Result<u64, Error> {
        self.query(move |c| async move {
            c.execute(
                "DELETE FROM console_sessions WHERE seen < $1 OR started < $2",
                &[&seen_before_ms, &started_before_ms],
            )
            .await
            .map_err(pg)
        })
    }
}
