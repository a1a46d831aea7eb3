//! What operators scrape and probe: `/healthz` (the process is up), `/readyz` (the store
//! answers; a load balancer takes a node whose database is gone out of rotation) and
//! `/metrics` in Prometheus text format (prometheus-client).
//!
//! Counted as they happen: commands by kind and outcome and their latency, open streams,
//! the store's group commits (how many commands shared a flush, how long it took). Read
//! at a scrape: projects held in memory. Open and overdue tasks by department come from
//! the store's indexes, which a scrape must not walk (a city has 100,000 open tasks and
//! a scrape must stay under 10 ms): they are counted in the background at most every few
//! seconds and a scrape reports the last count.

use std::collections::{BTreeMap, HashMap};
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

/// A command's kind and outcome, as metric labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Outcome {
    /// `submit`, `approve`, … (`Command::kind`).
    pub(crate) kind: &'static str,
    /// `applied`, `replayed`, `refused` or `failed` (the store failed).
    pub(crate) outcome: &'static str,
}

/// A command's kind, as a metric label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Kind {
    pub(crate) kind: &'static str,
}

/// A department, as a metric label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Dept {
    pub(crate) department: String,
}

/// A port, as a metric label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Port {
    pub(crate) port: &'static str,
}

/// The connection counts of both ports.
pub(crate) struct Doors {
    pub(crate) grpc: crate::connections::DoorMetrics,
    pub(crate) http: crate::connections::DoorMetrics,
}

/// What the server counts.
pub(crate) struct Metrics {
    registry: Registry,
    /// Commands by kind and outcome.
    pub(crate) commands: Family<Outcome, Counter>,
    /// How long commands took by kind, seconds (decided, written and durable).
    pub(crate) latency: Family<Kind, Histogram>,
    /// Open tasks (ready, claimed, suspended) by department, as last counted.
    open: Family<Dept, Gauge<i64, AtomicI64>>,
    /// Open tasks past their due date by department, as last counted.
    overdue: Family<Dept, Gauge<i64, AtomicI64>>,
    /// When open and overdue tasks were last counted (or are being counted now).
    counted: std::sync::Mutex<Option<std::time::Instant>>,
    /// How many commits shared one flush of the store.
    pub(crate) group_size: Histogram,
    /// How long a flush of the store took, seconds.
    pub(crate) flush_seconds: Histogram,
    /// Failed logins to the console and requests with an unknown token over HTTP.
    pub(crate) auth_failures: Counter,
    /// Watch streams and department streams open now.
    streams: Gauge<i64, AtomicI64>,
    /// Projects held in memory, read at each scrape.
    cached: Gauge<i64, AtomicI64>,
    /// Checkpoints of the audit trail this node signed.
    pub(crate) audit_checkpoints: Counter,
    /// Broken links the last audit verification on this node found (0: intact).
    pub(crate) audit_broken: Gauge<i64, AtomicI64>,
    /// Connections per port: open, refused, closed for a newcomer, timed out.
    pub(crate) doors: Doors,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("onewindow");
        let commands = Family::<Outcome, Counter>::default();
        registry.register(
            "commands",
            "Commands by kind and outcome (applied, replayed, refused, failed)",
            commands.clone(),
        );
        // 0.5 ms to ~4 s.
        let latency = Family::<Kind, Histogram>::new_with_constructor(seconds_histogram as _);
        registry.register(
            "command_seconds",
            "Time to a command's durable answer, by kind",
            latency.clone(),
        );
        let open = Family::<Dept, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "open_tasks",
            "Open tasks (ready, claimed, suspended) by department",
            open.clone(),
        );
        let overdue = Family::<Dept, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "overdue_tasks",
            "Open tasks past their due date by department",
            overdue.clone(),
        );
        let group_size = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(1.0, 2.0, 12),
        );
        registry.register(
            "store_group_size",
            "Commits made durable by one flush of the store",
            group_size.clone(),
        );
        let flush_seconds = seconds_histogram();
        registry.register(
            "store_flush_seconds",
            "Time one flush (group commit) of the store took",
            flush_seconds.clone(),
        );
        let auth_failures = Counter::default();
        registry.register(
            "auth_failures",
            "Failed logins and unknown, expired or revoked bearer tokens, over gRPC and HTTP",
            auth_failures.clone(),
        );
        let streams = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "streams_open",
            "Watch and department streams open",
            streams.clone(),
        );
        let cached = Gauge::<i64, AtomicI64>::default();
        registry.register("projects_cached", "Projects held in memory", cached.clone());
        let audit_checkpoints = Counter::default();
        registry.register(
            "audit_checkpoints",
            "Checkpoints of the audit trail this node signed",
            audit_checkpoints.clone(),
        );
        let audit_broken = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "audit_broken_links",
            "Broken links the last audit verification on this node found (alert when above 0)",
            audit_broken.clone(),
        );
        let open_conns = Family::<Port, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "connections_open",
            "Connections open now, by port (grpc, http)",
            open_conns.clone(),
        );
        let refused = Family::<Port, Counter>::default();
        registry.register(
            "connections_refused",
            "New connections refused because the port held as many as it may, all of them served",
            refused.clone(),
        );
        let evicted = Family::<Port, Counter>::default();
        registry.register(
            "connections_evicted",
            "Connections that had not finished a request, closed to let a new one in at a full port",
            evicted.clone(),
        );
        let timed_out = Family::<Port, Counter>::default();
        registry.register(
            "connections_timed_out",
            "Connections closed for silence: no request within the handshake's bound, or idle too long",
            timed_out.clone(),
        );
        let door = |port: &'static str| {
            let label = Port { port };
            crate::connections::DoorMetrics {
                open: open_conns.get_or_create(&label).clone(),
                refused: refused.get_or_create(&label).clone(),
                evicted: evicted.get_or_create(&label).clone(),
                timed_out: timed_out.get_or_create(&label).clone(),
            }
        };
        let doors = Doors {
            grpc: door("grpc"),
            http: door("http"),
        };
        Metrics {
            registry,
            doors,
            commands,
            latency,
            open,
            overdue,
            counted: std::sync::Mutex::new(None),
            group_size,
            flush_seconds,
            auth_failures,
            streams,
            cached,
            audit_checkpoints,
            audit_broken,
        }
    }

    /// Counts a stream as open until the returned guard is dropped.
    pub(crate) fn stream_opened(&self) -> StreamOpen {
        self.streams.inc();
        StreamOpen(self.streams.clone())
    }

    /// Counts a command's outcome.
    pub(crate) fn command(&self, kind: &'static str, outcome: &'static str, seconds: f64) {
        self.commands
            .get_or_create(&Outcome { kind, outcome })
            .inc();
        self.latency.get_or_create(&Kind { kind }).observe(seconds);
    }

    /// Whether open and overdue tasks are due to be counted again, and whether they were
    /// never counted; marks them as being counted, so that concurrent scrapes start one.
    fn count_due(&self) -> (bool, bool) {
        let mut last = self.counted.lock().unwrap_or_else(|p| p.into_inner());
        let first = last.is_none();
        let due = last.is_none_or(|t| t.elapsed() >= RECOUNT);
        if due {
            *last = Some(std::time::Instant::now());
        }
        (due, first)
    }

    /// Sets the open and overdue gauges from a count: departments no longer counted go
    /// to zero rather than keep their last value.
    fn set_tasks(&self, open: &BTreeMap<String, i64>, overdue: &BTreeMap<String, i64>) {
        for (family, counts) in [(&self.open, open), (&self.overdue, overdue)] {
            family.clear();
            for (department, n) in counts {
                family
                    .get_or_create(&Dept {
                        department: department.clone(),
                    })
                    .set(*n);
            }
        }
    }
}

/// How often open and overdue tasks are counted at most.
const RECOUNT: std::time::Duration = std::time::Duration::from_secs(2);

/// Seconds from 0.5 ms to ~4 s.
fn seconds_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.0005, 2.0, 14,
    ))
}

/// A count per department.
type ByDepartment = BTreeMap<String, i64>;

/// Open and overdue tasks by department, from the store's indexes: an open entry names
/// the department, a deadline entry the due date.
fn count_tasks(api: &Api) -> Result<(ByDepartment, ByDepartment), String> {
    use onewindow_store::IndexKey;
    let today = api.now().date();
    let index = api.svc.store().index().map_err(|e| e.to_string())?;
    let mut department_of: HashMap<(&str, &str), &str> = HashMap::new();
    // Every department of a deployed workflow is reported, at zero when it has nothing:
    // an alert on a department's series needs the series.
    let mut open: BTreeMap<String, i64> = BTreeMap::new();
    for v in api.svc.versions() {
        if let Some(plan) = api.svc.plan(&v) {
            for d in &plan.departments {
                open.insert(d.id.clone(), 0);
            }
        }
    }
    let mut overdue = open.clone();
    for k in &index {
        if let IndexKey::Open {
            department,
            project,
            item,
        } = k
        {
            department_of.insert((project, item), department);
            *open.entry(department.clone()).or_default() += 1;
        }
    }
    for k in &index {
        if let IndexKey::Deadline { due, project, item } = k {
            if *due < today {
                if let Some(d) = department_of.get(&(project.as_str(), item.as_str())) {
                    *overdue.entry((*d).to_string()).or_default() += 1;
                }
            }
        }
    }
    Ok((open, overdue))
}

/// An open stream, counted in `streams_open` while it lives.
pub(crate) struct StreamOpen(Gauge<i64, AtomicI64>);

impl Drop for StreamOpen {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The operators' routes.
pub(super) fn router() -> Router<super::Http> {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
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

async fn metrics(State(api): State<Api>, headers: axum::http::HeaderMap) -> impl IntoResponse {
    api.metrics
        .cached
        .set(i64::try_from(api.svc.cached()).unwrap_or(i64::MAX));
    let (due, first) = api.metrics.count_due();
    if due {
        let counting = api.clone();
        let count = tokio::task::spawn_blocking(move || match count_tasks(&counting) {
            Ok((open, overdue)) => counting.metrics.set_tasks(&open, &overdue),
            Err(e) => tracing::warn!("metrics: counting open tasks: {e}"),
        });
        // The first scrape waits for the first count; later ones report the last.
        if first {
            let _ = count.await;
        }
    }
    let mut out = String::new();
    // Prometheus asks for OpenMetrics; anything else (promtool, curl, an older scraper)
    // gets the classic text format.
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    match prometheus_client::encoding::text::encode(&mut out, &api.metrics.registry) {
        Ok(()) if openmetrics => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            out,
        ),
        Ok(()) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            classic(&out),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            e.to_string(),
        ),
    }
}

/// OpenMetrics text as the classic Prometheus text format (0.0.4): a counter's `HELP` and
/// `TYPE` name its samples (`x_total`), not its family (`x`), and there is no `# EOF`.
/// The samples themselves are the same in both.
fn classic(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 64 * counters.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                if counters.contains(name) {
                    out.push_str(&format!("{prefix}{name}_total {tail}"));
                } else {
                    out.push_str(line);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Shared between the handlers (cheap to clone).
pub(crate) type Shared = Arc<Metrics>;
