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
    let types = q
        .types
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let message = pb::WatchRequest {
        project,
        after,
        types,
        ..Default::default()
    };
    let stream = match Window::watch(&http.api, request(&caller, message)).await {
        Ok(r) => r.into_inner(),
        Err(s) => return status_response(&s),
    };
    let events = stream.map(|item| {
        Chunk::Text(match item {
            Ok(e) => match serde_json::to_string(&e) {
                Ok(json) => frame(Some(&e.seq.to_string()), &e.r#type, &json),
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
