//! The HTTP side, on the same runtime and the same service as gRPC (axum, which tonic
//! itself is built on): what operators scrape and probe.
//!
//! - `GET /healthz`: the process is up (always 200 while it serves).
//! - `GET /readyz`: the store answers (200), or not (503 with the reason): a load
//!   balancer takes a node whose database is gone out of rotation.
//! - `GET /metrics`: Prometheus text format (prometheus-client): commands by outcome,
//!   their latency, open streams, projects held in memory.

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::Api;

/// A command's outcome, as a metric label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Outcome {
    /// `applied`, `replayed`, `refused` or `failed` (the store failed).
    pub(crate) outcome: &'static str,
}

/// What the server counts.
pub(crate) struct Metrics {
    registry: Registry,
    /// Commands by outcome.
    pub(crate) commands: Family<Outcome, Counter>,
    /// How long commands took, seconds (decided, written and durable).
    pub(crate) latency: Histogram,
    /// Watch streams and department streams open now.
    streams: Gauge<i64, AtomicI64>,
    /// Projects held in memory, read at each scrape.
    cached: Gauge<i64, AtomicI64>,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("onewindow");
        let commands = Family::<Outcome, Counter>::default();
        registry.register(
            "commands",
            "Commands by outcome (applied, replayed, refused, failed)",
            commands.clone(),
        );
        // 0.5 ms to ~4 s.
        let latency = Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
            0.0005, 2.0, 14,
        ));
        registry.register(
            "command_seconds",
            "Time to a command's durable answer",
            latency.clone(),
        );
        let streams = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "streams_open",
            "Watch and department streams open",
            streams.clone(),
        );
        let cached = Gauge::<i64, AtomicI64>::default();
        registry.register("projects_cached", "Projects held in memory", cached.clone());
        Metrics {
            registry,
            commands,
            latency,
            streams,
            cached,
        }
    }

    /// Counts a stream as open until the returned guard is dropped.
    pub(crate) fn stream_opened(&self) -> StreamOpen {
        self.streams.inc();
        StreamOpen(self.streams.clone())
    }

    /// Counts a command's outcome.
    pub(crate) fn command(&self, outcome: &'static str, seconds: f64) {
        self.commands.get_or_create(&Outcome { outcome }).inc();
        self.latency.observe(seconds);
    }
}

/// An open stream, counted in `streams_open` while it lives.
pub(crate) struct StreamOpen(Gauge<i64, AtomicI64>);

impl Drop for StreamOpen {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The HTTP routes over the API's service.
pub(crate) fn router(api: Api) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(api)
}

async fn ready(State(api): State<Api>) -> impl IntoResponse {
    let svc = api.svc.clone();
    let checked = tokio::task::spawn_blocking(move || svc.store().projects_after("", 1)).await;
    match checked {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n".to_string()),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}\n")),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")),
    }
}

async fn metrics(State(api): State<Api>) -> impl IntoResponse {
    api.metrics
        .cached
        .set(i64::try_from(api.svc.cached()).unwrap_or(i64::MAX));
    let mut out = String::new();
    match prometheus_client::encoding::text::encode(&mut out, &api.metrics.registry) {
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            out,
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            e.to_string(),
        ),
    }
}

/// Serves the HTTP side on `listener` until `shutdown` resolves.
///
/// # Errors
/// The listener failed.
pub(crate) async fn serve(
    api: Api,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(api))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Shared between the handlers (cheap to clone).
pub(crate) type Shared = Arc<Metrics>;
