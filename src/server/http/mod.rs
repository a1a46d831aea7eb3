//! The HTTP side of a node, on the same runtime and the same service as gRPC (axum,
//! which tonic itself is built on): the faces people use and the JSON API beside gRPC.
//!
//! # Layout
//! - [`metrics`]: `/healthz`, `/readyz`, `/metrics` for operators.
//! - [`api`]: the JSON/HTTP API under `/api/v1/` — the gRPC handlers over HTTP, one
//!   table of routes; [`openapi`] its document at `/api/v1/openapi.json`; [`error`] every
//!   status as an HTTP status with the typed reason.
//! - The console under `/console/`, server-rendered HTML (maud escapes every value it
//!   interpolates): [`session`] (tokens → a session cookie, CSRF on every form),
//!   [`page`] (the layout and shared pieces), [`counter`] (the integrated window),
//!   [`inbox`] (a department's queue), [`dashboard`] (supervision, live over server-sent
//!   events), [`public`] (progress by project code, no login, rate-limited).
//!
//! The console calls the same gRPC handlers as the API (through [`Http::rpc`]'s
//! callers), so a page shows exactly the refusals and messages a gRPC client gets.

mod api;
mod counter;
mod dashboard;
mod error;
mod inbox;
pub(crate) mod metrics;
mod openapi;
mod page;
mod permit;
mod public;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use tonic::Status;

pub(crate) use metrics::{Metrics, Shared};

use super::auth::{self, Caller, Tokens};
use super::Api;

/// The largest request body the HTTP side reads (gRPC's default message limit).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// What every HTTP handler shares (cheap to clone).
#[derive(Clone)]
pub(crate) struct Http {
    api: Api,
    tokens: Arc<Tokens>,
    sessions: Arc<session::Sessions>,
    /// Supervision's last board.
    boards: Arc<dashboard::Boards>,
    /// Requests per client address to the public pages and to the login form.
    limiter: Arc<public::Limiter>,
}

impl FromRef<Http> for Api {
    fn from_ref(http: &Http) -> Api {
        http.api.clone()
    }
}

impl Http {
    /// The caller of an API request, from its `authorization: Bearer` header; a failure
    /// is counted for `/metrics` and logged with the client's address (an operator
    /// alerts on guessing).
    fn bearer(&self, headers: &HeaderMap, peer: SocketAddr) -> Result<Caller, Status> {
        let header = headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|h| h.to_str().unwrap_or(""));
        match auth::authenticate(&self.tokens, header) {
            Ok(role) => {
                self.api.limits.check(&role)?;
                Ok(Caller { role })
            }
            Err(status) => {
                self.api.metrics.auth_failures.inc();
                tracing::warn!(peer = %peer, "HTTP API: authentication failed: {}", status.message());
                Err(status)
            }
        }
    }
}

/// A gRPC request from `caller`, as the service's interceptor would have passed it on:
/// the HTTP side calls the same handlers.
pub(crate) fn request<T>(caller: &Caller, message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.extensions_mut().insert(caller.clone());
    r
}

/// Every HTTP route of a node.
fn router(http: Http) -> Router {
    Router::new()
        .merge(metrics::router())
        .merge(api::router())
        .route(
            "/api/v1/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
        .merge(session::router())
        .merge(counter::router())
        .merge(permit::router())
        .merge(inbox::router())
        .merge(dashboard::router())
        .merge(public::router())
        .merge(page::router())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(http)
}

/// Serves the HTTP side on `listener` until `shutdown` resolves.
///
/// # Errors
/// The listener failed.
pub(crate) async fn serve(
    api: Api,
    tokens: Arc<Tokens>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let http = Http {
        api,
        tokens,
        sessions: Arc::new(session::Sessions::default()),
        boards: Arc::new(dashboard::Boards::default()),
        limiter: Arc::new(public::limiter()),
    };
    axum::serve(
        listener,
        router(http).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
