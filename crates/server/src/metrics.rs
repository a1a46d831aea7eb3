//! What a node counts for its operators (prometheus-client): shared by the gRPC side,
//! the HTTP side, the ticker and the checkpoints, so it lives beside `Api`, not in the
//! HTTP side that serves it (`http/probes.rs`).
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
    /// Rounds of supervision this node's ticker finished (a stalled ticker shows as a
    /// count that stops; tests wait for rounds instead of sleeping).
    pub(crate) ticker_rounds: Counter,
    /// Broken links the last audit verification on this node found (0: intact).
    pub(crate) audit_broken: Gauge<i64, AtomicI64>,
    /// Connections per port: open, refused, closed for a newcomer, timed out.
    pub(crate) doors: Doors,
    /// Callbacks: events receivers took, deliveries that failed, whether this node
    /// delivers (holds the `callbacks` lease), and how long events waited from their
    /// commit to their receiver's answer.
    pub(crate) callback_events: Counter,
    pub(crate) callback_failures: Counter,
    pub(crate) callback_leader: Gauge<i64, AtomicI64>,
    pub(crate) callback_delay: Histogram,
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
        let ticker_rounds = Counter::default();
        registry.register(
            "ticker_rounds",
            "Rounds of supervision (warnings, overdue flags, cards) this node's ticker finished",
            ticker_rounds.clone(),
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
        let callback_events = Counter::default();
        registry.register(
            "callback_events",
            "Events callback receivers took (2xx), redeliveries included",
            callback_events.clone(),
        );
        let callback_failures = Counter::default();
        registry.register(
            "callback_failures",
            "Callback deliveries that failed (no answer, refused, not 2xx)",
            callback_failures.clone(),
        );
        let callback_leader = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "callback_leader",
            "1 while this node delivers callbacks (holds the lease), else 0",
            callback_leader.clone(),
        );
        let callback_delay = seconds_histogram();
        registry.register(
            "callback_delay_seconds",
            "From a delivered event's commit to its receiver's answer",
            callback_delay.clone(),
        );
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
            ticker_rounds,
            audit_broken,
            callback_events,
            callback_failures,
            callback_leader,
            callback_delay,
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

/// The node's counts as OpenMetrics text: the projects cached read now, the tasks by
/// department counted again first when the last count is older than [`RECOUNT`] (the
/// first scrape waits for the first count; later ones report the last and recount in
/// the background).
pub(crate) async fn encode(api: &Api) -> Result<String, std::fmt::Error> {
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
    prometheus_client::encoding::text::encode(&mut out, &api.metrics.registry)?;
    Ok(out)
}

/// Shared between the handlers (cheap to clone).
pub(crate) type Shared = Arc<Metrics>;
