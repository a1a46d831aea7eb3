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

mod actions;
mod agent;
mod analysis;
mod api;
mod case;
pub(crate) mod client;
mod counter;
mod dashboard;
mod error;
mod history;
mod inbox;
mod messages;
mod openapi;
mod oversight;
mod page;
mod permit;
mod probes;
mod public;
mod security;
mod session;
mod sse_body;
pub(crate) use sse_body::{error_frame as sse_error_frame, frame as sse_frame, Chunk as SseChunk};
mod streams;

use std::sync::Arc;

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRef};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tonic::Status;
use tower::ServiceExt;

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
    /// Requests per client address to the public pages.
    limiter: Arc<public::Limiter>,
    /// Login attempts per client address and logins per account, apart from the public
    /// pages' limit.
    logins: Arc<session::LoginLimits>,
    /// The proxies whose forwarding headers are believed.
    proxies: Arc<client::TrustedProxies>,
    /// Whether this side serves TLS itself.
    tls: bool,
    /// The forecast headline file the dashboard shows.
    forecast: Option<Arc<std::path::PathBuf>>,
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
    fn bearer(&self, headers: &HeaderMap, client: client::Client) -> Result<Caller, Status> {
        let header = headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|h| h.to_str().unwrap_or(""));
        match auth::authenticate(&self.tokens, header) {
            Ok(caller) => {
                self.api.limits.check(&caller.role)?;
                Ok(caller)
            }
            Err(status) => {
                self.api.metrics.auth_failures.inc();
                tracing::warn!(client = %client.addr, "HTTP API: authentication failed: {}", status.message());
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

/// Every HTTP route of a node, with the security headers on every answer and the bound
/// on every request's body (its timeout is set where the request arrives, [`serve`]).
fn router(http: Http) -> Router {
    Router::new()
        .merge(probes::router())
        .merge(api::router())
        .merge(streams::router())
        .route(
            "/api/v1/openapi.json",
            get(|| async { axum::Json(openapi::document()) }),
        )
        .merge(session::router())
        .merge(counter::router())
        .merge(agent::router())
        .merge(analysis::router())
        .merge(permit::router())
        .merge(inbox::router())
        .merge(dashboard::router())
        .merge(public::router())
        .merge(page::router())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(security::SecurityLayer::new(http.proxies.clone(), http.tls))
        .with_state(http)
}

/// How the HTTP side is served besides its listener.
pub(crate) struct Settings {
    /// Serve TLS with this configuration (the gRPC port's certificate).
    pub(crate) tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    /// The proxies whose forwarding headers are believed.
    pub(crate) proxies: client::TrustedProxies,
    /// Timeouts and the cap on connections.
    pub(crate) hygiene: super::connections::Hygiene,
    /// The forecast headline file the dashboard shows.
    pub(crate) forecast: Option<std::path::PathBuf>,
}

/// Serves the HTTP side on `listener` until `shutdown` resolves, every connection through
/// its [`super::connections::Door`] (timeouts, the cap), HTTP/1.1 and HTTP/2 (hyper's
/// automatic choice), TLS when configured.
///
/// # Errors
/// The listener failed.
pub(crate) async fn serve(
    api: Api,
    tokens: Arc<Tokens>,
    listener: tokio::net::TcpListener,
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use super::connections::Door;
    let Settings {
        tls,
        proxies,
        hygiene,
        forecast,
    } = settings;
    let http = Http {
        api: api.clone(),
        sessions: Arc::new(session::Sessions::new(
            tokens.clone(),
            api.svc.clone(),
            api.clock.clone(),
        )),
        tokens,
        boards: Arc::new(dashboard::Boards::default()),
        limiter: Arc::new(public::limiter()),
        logins: Arc::new(session::LoginLimits::default()),
        proxies: Arc::new(proxies),
        tls: tls.is_some(),
        forecast: forecast.map(Arc::new),
    };
    let router = router(http);
    let door = Door::new("http", &hygiene, api.metrics.doors.http.clone());
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(hygiene.header_read);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(hygiene.keepalive)
        .keep_alive_timeout(hygiene.keepalive_timeout)
        .max_concurrent_streams(256);
    let builder = Arc::new(builder);
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let guarded = tokio::select! {
            g = door.accept(&listener) => g,
            () = &mut shutdown => break,
        };
        let peer = guarded.peer();
        let (door, router, builder, tls, watcher) = (
            door.clone(),
            router.clone(),
            builder.clone(),
            tls.clone(),
            graceful.watcher(),
        );
        let (handshake, body_timeout) = (hygiene.handshake, hygiene.body);
        tokio::spawn(async move {
            // The door is told once, at the connection's first request.
            let told = std::sync::atomic::AtomicBool::new(false);
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    if !told.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        door.served(&peer);
                    }
                    // A body may not pause longer than the bound between frames; a request
                    // without one (most reads) pays no timer for it.
                    use hyper::body::Body as _;
                    let mut req = if req.body().is_end_stream() {
                        req.map(axum::body::Body::new)
                    } else {
                        req.map(|b| {
                            axum::body::Body::new(tower_http::timeout::TimeoutBody::new(
                                body_timeout,
                                b,
                            ))
                        })
                    };
                    req.extensions_mut().insert(ConnectInfo(peer));
                    router.clone().oneshot(req)
                });
            let served = match tls {
                None => {
                    let conn = builder.serve_connection(TokioIo::new(guarded), service);
                    watcher.watch(conn).await
                }
                Some(acceptor) => {
                    let Ok(Ok(stream)) =
                        tokio::time::timeout(handshake, acceptor.accept(guarded)).await
                    else {
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    watcher.watch(conn).await
                }
            };
            if let Err(e) = served {
                tracing::debug!(%peer, "HTTP connection ended: {e}");
            }
        });
    }
    drop(listener);
    // In-flight requests finish; a connection that does not within ten seconds is cut.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), graceful.shutdown()).await;
    Ok(())
}
