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
use crate::Error;

/// The migrations, in order: `MIGRATIONS[n]` takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6];

/// Version 6: the callbacks' outbox (`store::callbacks`): subscriptions, each one's
/// cursor per project (the last event delivered or passed over), and dead letters. The
/// events themselves are not copied: the log is the outbox's content.
const V6: &str = r#"
CREATE TABLE callbacks (
    id text COLLATE "C" PRIMARY KEY,
    body bytea NOT NULL
);
CREATE TABLE callback_cursors (
    callback text COLLATE "C" NOT NULL,
    project text COLLATE "C" NOT NULL,
    seq bigint NOT NULL,
    PRIMARY KEY (callback, project)
);
CREATE TABLE callback_dead (
    callback text COLLATE "C" NOT NULL,
    id text COLLATE "C" NOT NULL,
    body bytea NOT NULL,
    PRIMARY KEY (callback, id)
);
"#;

/// Version 5: console sessions, so that any node serves any clerk (times: the server's
/// clock in Unix milliseconds).
const V5: &str = r#"
CREATE TABLE console_sessions (
    id text COLLATE "C" PRIMARY KEY,
    credential text COLLATE "C" NOT NULL,
    role text NOT NULL,
    csrf text NOT NULL,
    started bigint NOT NULL,
    seen bigint NOT NULL
);
CREATE INDEX console_sessions_credential ON console_sessions (credential, started);
"#;

/// Version 4: the registers of document numbers (a department's yearly sequence), moved
/// by the commit function in the transaction of the approvals that draw from them.
const V4: &str = r#"
CREATE TABLE registers (
    register text COLLATE "C" PRIMARY KEY,
    last bigint NOT NULL
);
DROP FUNCTION onewindow_commit_batch(
    text[], bigint[], bigint[], integer[], text[], bytea[], bigint[], bytea[],
    integer[], bigint[], bytea[],
    integer[], smallint[], text[], text[], text[],
    integer[], smallint[], text[], text[], text[],
    text);
-- As in version 1, and: r_ arrays, a draw each (r_k: its commit); status
--   'drawn <last>'  a register another writer moved since the commit read it.
CREATE FUNCTION onewindow_commit_batch(
    c_project text[], c_base bigint[], c_first bigint[], c_count integer[],
    c_request text[], c_answer bytea[], c_snap_seq bigint[], c_snap bytea[],
    e_k integer[], e_seq bigint[], e_body bytea[],
    u_k integer[], u_kind smallint[], u_a text[], u_p text[], u_i text[],
    i_k integer[], i_kind smallint[], i_a text[], i_p text[], i_i text[],
    r_k integer[], r_register text[], r_from bigint[], r_to bigint[],
    node text
) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    st text[];
    created text[];
    claimed text[];
    stands bigint;
BEGIN
    SELECT array_agg(
        CASE
            WHEN c.base IS NOT NULL AND c.base <> coalesce(h.head, 0)
                THEN 'stale ' || coalesce(h.head, 0)
            WHEN c.cnt > 0 AND c.first <> coalesce(h.head, 0) + 1
                THEN 'gap ' || coalesce(h.head, 0)
            ELSE 'ok'
        END ORDER BY c.k)
    INTO st
    FROM unnest(c_project, c_base, c_first, c_count) WITH ORDINALITY AS c(project, base, first, cnt, k)
    LEFT JOIN (
        SELECT project, head FROM projects WHERE project = ANY(c_project)
        ORDER BY project FOR UPDATE
    ) h ON h.project = c.project;

    -- New projects: whoever inserts the head first owns the project.
    WITH ins AS (
        INSERT INTO projects (project, head)
        SELECT c.project, c.first + c.cnt - 1
        FROM unnest(c_project, c_first, c_count) WITH ORDINALITY AS c(project, first, cnt, k)
        WHERE st[c.k] = 'ok' AND c.cnt > 0 AND c.first = 1
        ON CONFLICT DO NOTHING RETURNING project)
    SELECT coalesce(array_agg(project), '{}') INTO created FROM ins;
    SELECT array_agg(
        CASE WHEN st[c.k] = 'ok' AND c.cnt > 0 AND c.first = 1 AND NOT c.project = ANY(created)
            THEN 'stale 0' ELSE st[c.k] END ORDER BY c.k)
    INTO st
    FROM unnest(c_project, c_first, c_count) WITH ORDINALITY AS c(project, first, cnt, k);

    -- Request ids: answered once, whichever node.
    WITH ins AS (
        INSERT INTO requests (key, body)
        SELECT r.key, r.body FROM unnest(c_request, c_answer) WITH ORDINALITY AS r(key, body, k)
        WHERE st[r.k] = 'ok' AND r.key IS NOT NULL
        ON CONFLICT DO NOTHING RETURNING key)
    SELECT coalesce(array_agg(key), '{}') INTO claimed FROM ins;
    SELECT array_agg(
        CASE WHEN st[r.k] = 'ok' AND r.key IS NOT NULL AND NOT r.key = ANY(claimed)
            THEN 'answered' ELSE st[r.k] END ORDER BY r.k)
    INTO st
    FROM unnest(c_request) WITH ORDINALITY AS r(key, k);
    -- A new project whose request was answered meanwhile is not created after all.
    DELETE FROM projects p
    USING unnest(c_project) WITH ORDINALITY AS c(project, k)
    WHERE p.project = c.project AND st[c.k] = 'answered' AND c.project = ANY(created);

    -- Numbers drawn: the registers locked (in register order, so two nodes' batches never
    -- deadlock on them), then each draw in batch order (so draws of one register queued
    -- one after another all land): it moves the register only if it still stands where
    -- the commit read it, else the commit is refused ('drawn <where it stands>') and its
    -- request id let go. A commit draws from at most one register.
    IF coalesce(array_length(r_k, 1), 0) > 0 THEN
        INSERT INTO registers (register, last)
        SELECT DISTINCT r, 0 FROM unnest(r_register) AS r
        ON CONFLICT DO NOTHING;
        PERFORM 1 FROM registers WHERE register = ANY(r_register) ORDER BY register FOR UPDATE;
        FOR i IN 1 .. array_length(r_k, 1) LOOP
            CONTINUE WHEN st[r_k[i]] <> 'ok';
            SELECT last INTO stands FROM registers WHERE register = r_register[i];
            IF stands = r_from[i] THEN
                UPDATE registers SET last = r_to[i] WHERE register = r_register[i];
            ELSE
                st[r_k[i]] := 'drawn ' || stands;
            END IF;
        END LOOP;
        DELETE FROM requests q
        USING unnest(c_request) WITH ORDINALITY AS r(key, k)
        WHERE q.key = r.key AND st[r.k] LIKE 'drawn %';
        DELETE FROM projects p
        USING unnest(c_project) WITH ORDINALITY AS c(project, k)
        WHERE p.project = c.project AND st[c.k] LIKE 'drawn %' AND c.project = ANY(created);
    END IF;

    UPDATE projects p SET head = c.first + c.cnt - 1
    FROM unnest(c_project, c_first, c_count) WITH ORDINALITY AS c(project, first, cnt, k)
    WHERE p.project = c.project AND st[c.k] = 'ok' AND c.cnt > 0 AND c.first > 1;

    INSERT INTO events (project, seq, body)
    SELECT c_project[e.k], e.seq, e.body FROM unnest(e_k, e_seq, e_body) AS e(k, seq, body)
    WHERE st[e.k] = 'ok';

    -- 'first last node project': the writing node knows its own commits by its id.
    PERFORM pg_notify('onewindow_commits',
        c.first || ' ' || (c.first + c.cnt - 1) || ' ' || node || ' ' || c.project)
    FROM unnest(c_project, c_first, c_count) WITH ORDINALITY AS c(project, first, cnt, k)
    WHERE st[c.k] = 'ok' AND c.cnt > 0;

    INSERT INTO snapshots (project, seq, state)
    SELECT c.project, c.seq, c.state
    FROM unnest(c_project, c_snap_seq, c_snap) WITH ORDINALITY AS c(project, seq, state, k)
    WHERE st[c.k] = 'ok' AND c.state IS NOT NULL
    ON CONFLICT (project) DO UPDATE SET seq = excluded.seq, state = excluded.state;

    DELETE FROM task_index t
    USING unnest(u_k, u_kind, u_a, u_p, u_i) AS u(k, kind, a, p, i)
    WHERE st[u.k] = 'ok' AND t.kind = u.kind AND t.a = u.a AND t.project = u.p AND t.item = u.i;
    INSERT INTO task_index (kind, a, project, item)
    SELECT i.kind, i.a, i.p, i.i FROM unnest(i_k, i_kind, i_a, i_p, i_i) AS i(k, kind, a, p, i)
    WHERE st[i.k] = 'ok'
    ON CONFLICT DO NOTHING;

    RETURN st;
END
$$;
"#;

/// Version 3: the audit trail's signed checkpoints, never replaced.
const V3: &str = r#"
CREATE TABLE checkpoints (
    number bigint PRIMARY KEY,
    body bytea NOT NULL
);
"#;

/// Version 2: deployed calendar editions (a new year's schedule), latest per id.
const V2: &str = r#"
CREATE TABLE calendars (
    id text COLLATE "C" PRIMARY KEY,
    body bytea NOT NULL
);
"#;

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

-- A batch of commands' writes, each all or nothing, in one statement (so one round trip
-- and one durable commit for the whole batch). Commit k of the batch is element k of the
-- c_ arrays; its events, index removals and additions are the elements of the e_, u_
-- and i_ arrays whose *_k is k; `node` names the writing node in the notifications. Returns one status per commit: 'ok', or why nothing of
-- that commit was written:
--   'stale <head>'  the command was decided on another state than the log's end;
--   'gap <head>'    the events do not continue the log;
--   'answered'      the request id was answered meanwhile (by another node).
-- The checks come before the writes: the heads of the batch's projects are locked (in
-- project order, so two nodes' batches never deadlock on them), new projects are claimed
-- by inserting their head, request ids by inserting their answer; only the commits that
-- passed every check write their events, snapshot and index changes. A batch holds at
-- most one commit per project (a node serializes each project's commands).
CREATE FUNCTION onewindow_commit_batch(
    c_project text[], c_base bigint[], c_first bigint[], c_count integer[],
    c_request text[], c_answer bytea[], c_snap_seq bigint[], c_snap bytea[],
    e_k integer[], e_seq bigint[], e_body bytea[],
    u_k integer[], u_kind smallint[], u_a text[], u_p text[], u_i text[],
    i_k integer[], i_kind smallint[], i_a text[], i_p text[], i_i text[],
    node text
) RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    st text[];
    created text[];
    claimed text[];
BEGIN
    SELECT array_agg(
        CASE
            WHEN c.base IS NOT NULL AND c.base <> coalesce(h.head, 0)
                THEN 'stale ' || coalesce(h.head, 0)
            WHEN c.cnt > 0 AND c.first <> coalesce(h.head, 0) + 1
                THEN 'gap ' || coalesce(h.head, 0)
            ELSE 'ok'
        END ORDER BY c.k)
    INTO st
    FROM unnest(c_project, c_base, c_first, c_count) WITH ORDINALITY AS c(project, base, first, cnt, k)
    LEFT JOIN (
        SELECT project, head FROM projects WHERE project = ANY(c_project)
        ORDER BY project FOR UPDATE
    ) h ON h.project = c.project;

    -- New projects: whoever inserts the head first owns the project.
    WITH ins AS (
        INSERT INTO projects (project, head)
        SELECT c.project, c.first + c.cnt - 1
        FROM unnest(c_project, c_first, c_count) WITH ORDINALITY AS c(project, first, cnt, k)
        WHERE st[c.k] = 'ok' AND c.cnt > 0 AND c.first = 1
        ON CONFLICT DO NOTHING RETURNING project)
    SELECT coalesce(array_agg(project), '{}') INTO created FROM ins;
    SELECT array_agg(
        CASE WHEN st[c.k] = 'ok' AND c.cnt > 0 AND c.first = 1 AND NOT c.project = ANY(created)
            THEN 'stale 0' ELSE st[c.k] END ORDER BY c.k)
    INTO st
    FROM unnest(c_project, c_first, c_count) WITH ORDINALITY AS c(project, first, cnt, k);

    -- Request ids: answered once, whichever node.
    WITH ins AS (
        INSERT INTO requests (key, body)
        SELECT r.key, r.body FROM unnest(c_request, c_answer) WITH ORDINALITY AS r(key, body, k)
        WHERE st[r.k] = 'ok' AND r.key IS NOT NULL
        ON CONFLICT DO NOTHING RETURNING key)
    SELECT coalesce(array_agg(key), '{}') INTO claimed FROM ins;
    SELECT array_agg(
        CASE WHEN st[r.k] = 'ok' AND r.key IS NOT NULL AND NOT r.key = ANY(claimed)
            THEN 'answered' ELSE st[r.k] END ORDER BY r.k)
    INTO st
    FROM unnest(c_request) WITH ORDINALITY AS r(key, k);
    -- A new project whose request was answered meanwhile is not created after all.
    DELETE FROM projects p
    USING unnest(c_project) WITH ORDINALITY AS c(project, k)
    WHERE p.project = c.project AND st[c.k] = 'answered' AND c.project = ANY(created);

    UPDATE projects p SET head = c.first + c.cnt - 1
    FROM unnest(c_project, c_first, c_count) WITH ORDINALITY AS c(project, first, cnt, k)
    WHERE p.project = c.project AND st[c.k] = 'ok' AND c.cnt > 0 AND c.first > 1;

    INSERT INTO events (project, seq, body)
    SELECT c_project[e.k], e.seq, e.body FROM unnest(e_k, e_seq, e_body) AS e(k, seq, body)
    WHERE st[e.k] = 'ok';

    -- 'first last node project': the writing node knows its own commits by its id.
    PERFORM pg_notify('onewindow_commits',
        c.first || ' ' || (c.first + c.cnt - 1) || ' ' || node || ' ' || c.project)
    FROM unnest(c_project, c_first, c_count) WITH ORDINALITY AS c(project, first, cnt, k)
    WHERE st[c.k] = 'ok' AND c.cnt > 0;

    INSERT INTO snapshots (project, seq, state)
    SELECT c.project, c.seq, c.state
    FROM unnest(c_project, c_snap_seq, c_snap) WITH ORDINALITY AS c(project, seq, state, k)
    WHERE st[c.k] = 'ok' AND c.state IS NOT NULL
    ON CONFLICT (project) DO UPDATE SET seq = excluded.seq, state = excluded.state;

    DELETE FROM task_index t
    USING unnest(u_k, u_kind, u_a, u_p, u_i) AS u(k, kind, a, p, i)
    WHERE st[u.k] = 'ok' AND t.kind = u.kind AND t.a = u.a AND t.project = u.p AND t.item = u.i;
    INSERT INTO task_index (kind, a, project, item)
    SELECT i.kind, i.a, i.p, i.i FROM unnest(i_k, i_kind, i_a, i_p, i_i) AS i(k, kind, a, p, i)
    WHERE st[i.k] = 'ok'
    ON CONFLICT DO NOTHING;

    RETURN st;
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
