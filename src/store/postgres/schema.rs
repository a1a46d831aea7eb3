//! The PostgreSQL schema and its migrations.
//!
//! Each migration is applied once, in order, in its own transaction, and recorded in
//! `onewindow_schema`. Nodes starting together take an advisory lock first, so exactly
//! one of them migrates and the others find the work done. A database whose schema is
//! newer than this build knows is refused: an older node must not write a layout it does
//! not understand.
//!
//! Key columns are `COLLATE "C"`: ids compare byte by byte, as on the other backends, so
//! listings come out in the same order whatever the database's locale.

use tokio_postgres::Client;

use super::pg;
use crate::store::Error;

/// The migrations, in order: `MIGRATIONS[n]` takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[V1];

/// The schema version this build writes.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// Any constant the nodes agree on: the advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x6f6e_6577_696e_0001;

/// Version 1: the log, its heads, snapshots, answers, workflows, the task indexes, and the
/// commit as one function (so a commit is one round trip, and many share a transaction).
const V1: &str = r#"
CREATE TABLE projects (
    project text COLLATE "C" PRIMARY KEY,
    head bigint NOT NULL
);
CREATE TABLE events (
    project text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    body bytea NOT NULL,
    PRIMARY KEY (project, seq)
);
CREATE TABLE snapshots (
    project text COLLATE "C" PRIMARY KEY,
    seq bigint NOT NULL,
    state bytea NOT NULL
);
CREATE TABLE requests (
    key text COLLATE "C" PRIMARY KEY,
    body bytea NOT NULL
);
CREATE TABLE workflows (
    version text COLLATE "C" PRIMARY KEY,
    id text NOT NULL,
    body bytea NOT NULL
);
-- kind 0: an open task (a = department); kind 1: a running task's due date (a = YYYY-MM-DD).
CREATE TABLE task_index (
    kind smallint NOT NULL,
    a text COLLATE "C" NOT NULL,
    project text COLLATE "C" NOT NULL,
    item text COLLATE "C" NOT NULL,
    PRIMARY KEY (kind, a, project, item)
);

-- One command's writes. Returns 'ok', or why nothing was written:
--   'stale <head>'  the command was decided on another state than the log's end;
--   'gap <head>'    the events do not continue the log;
--   'answered'      the request id was answered meanwhile (by another node).
CREATE FUNCTION onewindow_commit(
    p_project text, p_base bigint, p_first bigint, p_events bytea[],
    p_snap_seq bigint, p_snap bytea,
    p_un_kind smallint[], p_un_a text[], p_un_p text[], p_un_i text[],
    p_in_kind smallint[], p_in_a text[], p_in_p text[], p_in_i text[],
    p_request text, p_answer bytea
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    h bigint;
    n integer := coalesce(array_length(p_events, 1), 0);
BEGIN
    SELECT head INTO h FROM projects WHERE project = p_project FOR UPDATE;
    IF NOT FOUND THEN h := 0; END IF;
    IF p_base IS NOT NULL AND p_base <> h THEN RETURN 'stale ' || h; END IF;
    IF n > 0 AND p_first <> h + 1 THEN RETURN 'gap ' || h; END IF;
    BEGIN
        IF p_request IS NOT NULL THEN
            INSERT INTO requests (key, body) VALUES (p_request, p_answer) ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN RAISE EXCEPTION USING ERRCODE = 'OW001'; END IF;
        END IF;
        IF n > 0 THEN
            IF h = 0 THEN
                INSERT INTO projects (project, head) VALUES (p_project, p_first + n - 1)
                    ON CONFLICT DO NOTHING;
                IF NOT FOUND THEN RAISE EXCEPTION USING ERRCODE = 'OW002'; END IF;
            ELSE
                UPDATE projects SET head = p_first + n - 1 WHERE project = p_project;
            END IF;
            INSERT INTO events (project, seq, body)
                SELECT p_project, p_first + o - 1, b FROM unnest(p_events) WITH ORDINALITY AS t(b, o);
            PERFORM pg_notify('onewindow_commits', p_first || ' ' || (p_first + n - 1) || ' ' || p_project);
        END IF;
        IF p_snap IS NOT NULL THEN
            INSERT INTO snapshots (project, seq, state) VALUES (p_project, p_snap_seq, p_snap)
                ON CONFLICT (project) DO UPDATE SET seq = excluded.seq, state = excluded.state;
        END IF;
        DELETE FROM task_index t
            USING unnest(p_un_kind, p_un_a, p_un_p, p_un_i) AS u(k, a, p, i)
            WHERE t.kind = u.k AND t.a = u.a AND t.project = u.p AND t.item = u.i;
        INSERT INTO task_index (kind, a, project, item)
            SELECT * FROM unnest(p_in_kind, p_in_a, p_in_p, p_in_i) ON CONFLICT DO NOTHING;
    EXCEPTION
        WHEN SQLSTATE 'OW001' THEN RETURN 'answered';
        WHEN SQLSTATE 'OW002' THEN RETURN 'stale 0';
    END;
    RETURN 'ok';
END
$$;
"#;

/// Brings the database to [`VERSION`], or refuses one that is newer.
///
/// # Errors
/// [`Error::Foreign`] for a newer schema; the database's error otherwise.
pub async fn migrate(client: &mut Client) -> Result<i32, Error> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg)?;
    let result = apply(client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg);
    let version = result?;
    unlocked?;
    Ok(version)
}

async fn apply(client: &mut Client) -> Result<i32, Error> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS onewindow_schema (
                version integer PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(pg)?;
    let current: i32 = client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM onewindow_schema",
            &[],
        )
        .await
        .map_err(pg)?
        .get(0);
    if current > VERSION {
        return Err(Error::Foreign(format!(
            "the database's schema is version {current}; this onewindow knows up to {VERSION} (upgrade onewindow first)"
        )));
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = n as i32 + 1;
        let tx = client.transaction().await.map_err(pg)?;
        tx.batch_execute(sql).await.map_err(pg)?;
        tx.execute(
            "INSERT INTO onewindow_schema (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        tracing::info!("database schema migrated to version {version}");
    }
    Ok(VERSION)
}
