//! The push streams over plain HTTP, as server-sent events, for systems without gRPC:
//! `Window.Watch` of one project at `GET /api/v1/projects/{project}/events` and
//! `Department.StreamReady` at `GET /api/v1/tasks/ready`.
//!
//! Each runs the gRPC handler itself, so the same bearer tokens, roles, per-caller stream
//! limits and revocation hold (a revoked token ends the stream within the lease's
//! recheck, with an `error` event saying so). A project's events carry their sequence
//! number as the event's `id`: a client that drops reconnects with `Last-Event-ID` (every
//! `EventSource` does) and gets what follows it, nothing twice and nothing missed. The
//! ready stream starts with every task ready now, so a reconnect needs no id.
//!
//! Memory stays bounded whatever the client does: the handlers' streams are bounded
//! channels, and a response body is polled only as fast as the socket drains, so a client
//! that never reads holds back its own stream (and, for a watch, falls behind the live
//! feed and re-reads the store), not the server.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use tokio_stream::StreamExt;
use tonic::Status;

use super::client::Client;
use super::error::status_response;
use super::sse_body::{error_frame, frame, Chunk};
use super::{request, Http};
use crate::auth;
use crate::pb;
use crate::pb::department_server::Department;
use crate::pb::window_server::Window;
use crate::status::invalid_argument;

pub(super) fn router() -> Router<Http> {
    Router::new()
        .route("/api/v1/projects/{project}/events", get(watch))
        .route("/api/v1/tasks/ready", get(ready))
        .route("/api/v1/events", get(watch_all))
}

/// The query of the stream of every project's events.
#[derive(serde::Deserialize)]
struct WatchAllQuery {
    /// Start at the present (the default over HTTP), or replay every project's stored
    /// events first (`live=false`, as the gRPC call's default).
    #[serde(default = "yes")]
    live: bool,
    /// Where to resume some projects: `project:seq,project:seq` (the `id`s last seen).
    #[serde(default)]
    cursors: String,
    /// Only events of these types, comma-separated.
    #[serde(default)]
    types: String,
}

fn yes() -> bool {
    true
}

/// A `project:seq` event id (the stream of every project's ids).
fn project_cursor(field: &str, v: &str) -> Result<(String, u64), Status> {
    v.rsplit_once(':')
        .and_then(|(p, n)| Some((p.to_string(), n.parse::<u64>().ok()?)))
        .filter(|(p, _)| !p.is_empty())
        .ok_or_else(|| {
            invalid_argument(format!(
                "{field}: {} is not `project:seq`",
                crate::input::quoted(v)
            ))
        })
}

/// Every project's events (`Window.Watch` without a project), each with the id
/// `project:seq`; a reconnect resumes the project of its `Last-Event-ID` and those named
/// in `cursors` (a system that must miss nothing keeps its cursors per project, or
/// registers a callback).
async fn watch_all(
    State(http): State<Http>,
    client: Client,
    Query(q): Query<WatchAllQuery>,
    headers: HeaderMap,
) -> Response {
    let caller = match caller(&http, &headers, client, auth::WINDOW, "Window.Watch") {
        Ok(c) => c,
        Err(s) => return status_response(&s),
    };
    let mut cursors = std::collections::HashMap::new();
    for (i, c) in q
        .cursors
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .enumerate()
    {
        if i >= crate::input::MAX_LIST {
            return status_response(&invalid_argument(format!(
                "cursors: more than {} entries",
                crate::input::MAX_LIST
            )));
        }
        match project_cursor(&format!("cursors[{i}]"), c) {
            Ok((p, n)) => cursors.insert(p, n),
            Err(s) => return status_response(&s),
        };
    }
    if let Some(last) = headers.get("last-event-id") {
        match last
            .to_str()
            .map_err(|_| invalid_argument("Last-Event-ID: not text"))
            .and_then(|v| project_cursor("Last-Event-ID", v.trim()))
        {
            Ok((p, n)) => cursors.insert(p, n),
            Err(s) => return status_response(&s),
        };
    }
    let message = pb::WatchRequest {
        cursors,
        live: q.live,
        types: split_types(&q.types),
        ..Default::default()
    };
    let stream = match Window::watch(&http.api, request(&caller, message)).await {
        Ok(r) => r.into_inner(),
        Err(s) => return status_response(&s),
    };
    events_response(stream, |e| format!("{}:{}", e.project, e.seq))
}

/// A comma-separated list of event types.
fn split_types(types: &str) -> Vec<String> {
    types
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// The query of a project's event stream.
#[derive(serde::Deserialize, Default)]
struct WatchQuery {
    /// Start after this sequence number (`Last-Event-ID` wins when both are given).
    #[serde(default)]
    after: u64,
    /// Only events of these types, comma-separated (`task_ready,completed`).
    #[serde(default)]
    types: String,
}

/// The query of the ready stream.
#[derive(serde::Deserialize, Default)]
struct ReadyQuery {
    /// Claim each task for the caller as it is pushed (as `StreamReady`'s `claim`).
    #[serde(default)]
    claim: bool,
}

/// `Last-Event-ID`, the sequence number a reconnecting client saw last.
fn last_event_id(headers: &HeaderMap) -> Result<Option<u64>, Status> {
    let Some(v) = headers.get("last-event-id") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .map(str::trim)
        .and_then(|s| s.parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| invalid_argument("Last-Event-ID: not an event's sequence number"))
}

/// The caller of a stream's request, admitted by `admit`, or why not.
fn caller(
    http: &Http,
    headers: &HeaderMap,
    client: Client,
    admit: auth::Admit,
    rpc: &str,
) -> Result<auth::Caller, Status> {
    let caller = http.bearer(headers, client)?;
    if !admit(&caller.role) {
        return Err(Status::permission_denied(format!(
            "{} may not call {rpc}",
            caller.role.id()
        )));
    }
    Ok(caller)
}

async fn watch(
    State(http): State<Http>,
    client: Client,
    Path(project): Path<String>,
    Query(q): Query<WatchQuery>,
    headers: HeaderMap,
) -> Response {
    let caller = match caller(&http, &headers, client, auth::WINDOW, "Window.Watch") {
        Ok(c) => c,
        Err(s) => return status_response(&s),
    };
    let after = match last_event_id(&headers) {
        Ok(last) => last.unwrap_or(q.after),
        Err(s) => return status_response(&s),
    };
    let message = pb::WatchRequest {
        project,
        after,
        types: split_types(&q.types),
        ..Default::default()
    };
    let stream = match Window::watch(&http.api, request(&caller, message)).await {
        Ok(r) => r.into_inner(),
        Err(s) => return status_response(&s),
    };
    events_response(stream, |e| e.seq.to_string())
}

/// A watch's events as server-sent events, each `id` as `id_of` writes it (a project's
/// stream: its sequence number; every project's: `project:seq`), `event` its type.
fn events_response(stream: crate::EventStream, id_of: fn(&pb::Event) -> String) -> Response {
    let events = stream.map(move |item| {
        Chunk::Text(match item {
            Ok(e) => match serde_json::to_string(&e) {
                Ok(json) => frame(Some(&id_of(&e)), &e.r#type, &json),
                Err(err) => error_frame(&Status::internal(err.to_string())),
            },
            Err(s) => error_frame(&s),
        })
    });
    super::sse_body::response(events)
}

async fn ready(
    State(http): State<Http>,
    client: Client,
    Query(q): Query<ReadyQuery>,
    headers: HeaderMap,
) -> Response {
    let caller = match caller(
        &http,
        &headers,
        client,
        auth::DEPARTMENT,
        "Department.StreamReady",
    ) {
        Ok(c) => c,
        Err(s) => return status_response(&s),
    };
    if !q.claim {
        // Told, not claiming: read straight from the department's feed, each task encoded
        // once for every stream of the department.
        return match http.api.ready_feed(&caller) {
            Ok(feed) => super::sse_body::response(feed),
            Err(s) => status_response(&s),
        };
    }
    let message = pb::StreamReadyRequest { claim: q.claim };
    let stream = match Department::stream_ready(&http.api, request(&caller, message)).await {
        Ok(r) => r.into_inner(),
        Err(s) => return status_response(&s),
    };
    let tasks = stream.map(|item| {
        Chunk::Text(match item {
            Ok(t) => crate::feed::sse_frame(&t),
            Err(s) => error_frame(&s),
        })
    });
    super::sse_body::response(tasks)
}
