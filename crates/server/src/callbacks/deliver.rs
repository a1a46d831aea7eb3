//! The delivery loop: one task per node, which delivers only while the node holds the
//! `callbacks` lease (always on sled; one node of a PostgreSQL city at a time, and the
//! next when it dies).
//!
//! For each subscription it keeps the cursor of every project (read from the store when
//! it takes the lease), a queue of projects whose log runs past their cursor, and at
//! most [`Policy::lanes`] deliveries in flight, each carrying the next events of projects
//! not already in flight: so a project's events arrive in order, and a slow project
//! does not hold back the others. A delivery is read from the log when it is made (no
//! copy of an event waits in memory), signed ([`super::sign`]) and POSTed; a 2xx answer
//! moves the cursors. A failure waits [`Policy::wait_after`] (subscription-wide: a
//! receiver that is down is probed by one delivery, not hammered by all), and a
//! project's events that fail [`Policy::attempts`] times become a dead letter and the
//! cursor moves past them.
//!
//! What wakes it: the node's own commits ([`super::Hub::note`], from `Api::publish`),
//! the other nodes' commits (the store's change feed), a subscription made or removed
//! ([`super::Hub::changed`]; on a shared store the subscriptions are read again every
//! [`LEASE_RECHECK`], as another node may have changed them), a backoff ending. A change feed that lost notifications
//! makes it read every cursor and head again. Nothing here runs on a command's path: a
//! receiver that hangs costs its own lane's timeout, never a command's latency.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::{Hub, Policy};
use crate::{convert, pb, Api};
use onewindow_core::plan::Plan;
use onewindow_engine::Event;
use onewindow_store::callbacks::{DeadLetter, Subscription};
use onewindow_store::Change;

/// How often a node asks whether it holds (or can take) the `callbacks` lease.
const LEASE_RECHECK: Duration = Duration::from_secs(1);

/// Starts the loop; it ends when the server shuts down.
pub(crate) fn spawn(api: Api) {
    api.clone()
        .spawn_until_shutdown(async move { Loop::new(api).run().await });
}

/// One subscription's outbox as the delivering node holds it.
struct Outbox {
    sub: Arc<Subscription>,
    /// Last event delivered (or passed over) per project.
    cursor: HashMap<String, u64>,
    /// Last event known per project with something to deliver.
    head: HashMap<String, u64>,
    /// Projects with something to deliver and no delivery in flight, oldest first.
    queue: VecDeque<String>,
    queued: HashSet<String>,
    /// Projects in a delivery in flight.
    busy: HashSet<String>,
    in_flight: usize,
    /// Failed attempts of each project's next events.
    attempts: HashMap<String, u32>,
    /// Failures in a row (of any delivery): the backoff.
    failures: u32,
    not_before: Instant,
}

impl Outbox {
    fn new(sub: Subscription, cursors: Vec<(String, u64)>, heads: &[(String, u64)]) -> Outbox {
        let mut o = Outbox {
            sub: Arc::new(sub),
            cursor: cursors.into_iter().collect(),
            head: HashMap::new(),
            queue: VecDeque::new(),
            queued: HashSet::new(),
            busy: HashSet::new(),
            in_flight: 0,
            attempts: HashMap::new(),
            failures: 0,
            not_before: Instant::now(),
        };
        for (p, h) in heads {
            o.note(p, *h);
        }
        o
    }

    /// `project`'s log now ends at `head`.
    fn note(&mut self, project: &str, head: u64) {
        if head <= self.cursor.get(project).copied().unwrap_or(0) {
            return;
        }
        let known = self.head.entry(project.to_string()).or_insert(0);
        *known = (*known).max(head);
        self.enqueue(project);
    }

    fn enqueue(&mut self, project: &str) {
        let behind = self.head.get(project).copied().unwrap_or(0)
            > self.cursor.get(project).copied().unwrap_or(0);
        if behind && !self.busy.contains(project) && self.queued.insert(project.to_string()) {
            self.queue.push_back(project.to_string());
        }
    }

    /// Events known and not yet delivered.
    fn pending(&self) -> u64 {
        self.head
            .iter()
            .map(|(p, h)| h.saturating_sub(self.cursor.get(p).copied().unwrap_or(0)))
            .sum()
    }

    /// The next delivery's projects (each from its cursor), if one may start now.
    fn next(&mut self, policy: &Policy) -> Option<Vec<(String, u64)>> {
        let lanes = if self.failures > 0 { 1 } else { policy.lanes };
        if self.in_flight >= lanes || self.queue.is_empty() || Instant::now() < self.not_before {
            return None;
        }
        let mut picks = Vec::new();
        let mut events = 0u64;
        while let Some(p) = self.queue.pop_front() {
            self.queued.remove(&p);
            let after = self.cursor.get(&p).copied().unwrap_or(0);
            events += self
                .head
                .get(&p)
                .copied()
                .unwrap_or(0)
                .saturating_sub(after);
            self.busy.insert(p.clone());
            picks.push((p, after));
            if events >= policy.batch as u64 {
                break;
            }
        }
        self.in_flight += 1;
        Some(picks)
    }
}

/// What one delivery did.
struct Done {
    sub: String,
    /// Each project with the last event the delivery carried (or passed over).
    upto: Vec<(String, u64)>,
    /// `Ok(true)`: the receiver took events; `Ok(false)`: none concerned it.
    outcome: Result<bool, String>,
}

struct Loop {
    api: Api,
    hub: Arc<Hub>,
    boxes: HashMap<String, Outbox>,
    jobs: JoinSet<Done>,
    leading: bool,
    loaded: bool,
}

impl Loop {
    fn new(api: Api) -> Loop {
        let hub = api.callbacks.clone();
        Loop {
            api,
            hub,
            boxes: HashMap::new(),
            jobs: JoinSet::new(),
            leading: false,
            loaded: false,
        }
    }

    async fn run(mut self) {
        let mut changes = self.api.svc.store().changes();
        let mut lease = tokio::time::interval(LEASE_RECHECK);
        lease.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut health = tokio::time::interval(Duration::from_millis(500));
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if self.leading && (!self.loaded || self.hub.take_reload()) {
                if let Err(e) = self.load().await {
                    tracing::warn!("callbacks: reading the outbox: {e}");
                    self.loaded = false;
                }
            }
            if self.leading && self.loaded {
                self.take_dirty();
                self.start();
            } else {
                // Not delivering: the node that takes the lease reads the heads itself.
                self.hub.take_dirty();
            }
            let wake_at = self.next_backoff();
            tokio::select! {
                Some(done) = self.jobs.join_next(), if !self.jobs.is_empty() => {
                    if let Ok(done) = done {
                        self.finish(done).await;
                    }
                }
                () = self.hub.wake.notified() => {}
                change = async { changes.as_mut().expect("guarded").recv().await }, if changes.is_some() => {
                    use tokio::sync::broadcast::error::RecvError;
                    match change {
                        Ok(Change::Committed { project, last, .. }) => self.hub.note_one(&project, last),
                        Ok(Change::Lost) | Err(RecvError::Lagged(_)) => self.loaded = false,
                        Err(RecvError::Closed) => changes = None,
                    }
                }
                () = sleep_until(wake_at) => {}
                _ = lease.tick() => self.check_lease().await,
                _ = health.tick() => self.report(),
            }
        }
    }

    /// Takes the lease, or lets go of everything when it is lost.
    async fn check_lease(&mut self) {
        let svc = self.api.svc.clone();
        let holds = tokio::task::spawn_blocking(move || svc.store().lead("callbacks"))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let holds = match holds {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!("callbacks: the lease: {e}");
                false
            }
        };
        if holds && !self.leading {
            tracing::info!("callbacks: this node delivers");
            self.loaded = false;
        }
        if !holds && self.leading {
            tracing::info!("callbacks: another node delivers now");
            self.jobs.abort_all();
            self.boxes.clear();
            self.loaded = false;
        }
        if !holds {
            // Commands on a node that does not deliver note nothing; the node that takes
            // the lease reads every head itself.
            self.hub.set_active(false);
        }
        self.leading = holds;
        self.api.metrics.callback_leader.set(i64::from(holds));
        if holds && self.api.svc.store().shared() {
            // Another node may have made or removed a subscription: look again (one
            // small read a second; a new subscription starts from the heads it was
            // made at, so nothing committed meanwhile is missed).
            self.hub
                .reload
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Reads the subscriptions; each new one's cursors and the heads of every project
    /// (all of them again after a lost notification or when taking the lease).
    async fn load(&mut self) -> Result<(), onewindow_store::Error> {
        let svc = self.api.svc.clone();
        let full = !self.loaded;
        let known: HashSet<String> = if full {
            HashSet::new()
        } else {
            self.boxes.keys().cloned().collect()
        };
        let (subs, fresh, heads) = tokio::task::spawn_blocking(move || {
            let store = svc.store();
            let subs = store.subscriptions()?;
            let mut fresh = Vec::new();
            for s in subs.iter().filter(|s| !known.contains(&s.id)) {
                fresh.push((s.id.clone(), store.cursors(&s.id)?));
            }
            let heads = if fresh.is_empty() {
                Vec::new()
            } else {
                store.heads()?
            };
            Ok::<_, onewindow_store::Error>((subs, fresh, heads))
        })
        .await
        .map_err(|e| onewindow_store::Error::Backend(e.to_string()))??;
        if full {
            self.jobs.abort_all();
            self.boxes.clear();
        }
        let ids: HashSet<&str> = subs.iter().map(|s| s.id.as_str()).collect();
        self.boxes.retain(|id, _| ids.contains(id.as_str()));
        let mut fresh: HashMap<String, Vec<(String, u64)>> = fresh.into_iter().collect();
        for s in subs {
            if let Some(cursors) = fresh.remove(&s.id) {
                self.boxes
                    .insert(s.id.clone(), Outbox::new(s, cursors, &heads));
            }
        }
        self.hub.set_active(!self.boxes.is_empty());
        self.loaded = true;
        Ok(())
    }

    fn take_dirty(&mut self) {
        let dirty = self.hub.take_dirty();
        for (p, head) in &dirty {
            for b in self.boxes.values_mut() {
                b.note(p, *head);
            }
        }
    }

    /// Starts every delivery that may start now.
    fn start(&mut self) {
        let policy = &self.hub.policy;
        for b in self.boxes.values_mut() {
            while let Some(picks) = b.next(policy) {
                let (api, hub, sub) = (self.api.clone(), self.hub.clone(), b.sub.clone());
                self.jobs.spawn(async move {
                    let (upto, outcome) = deliver(&api, &hub, &sub, picks).await;
                    Done {
                        sub: sub.id.clone(),
                        upto,
                        outcome,
                    }
                });
            }
        }
    }

    /// The earliest end of a backoff that holds back a subscription with work.
    fn next_backoff(&self) -> Instant {
        let now = Instant::now();
        self.boxes
            .values()
            .filter(|b| !b.queue.is_empty() && b.not_before > now)
            .map(|b| b.not_before)
            .min()
            .unwrap_or(now + LEASE_RECHECK)
    }

    async fn finish(&mut self, done: Done) {
        let Some(b) = self.boxes.get_mut(&done.sub) else {
            return;
        };
        b.in_flight -= 1;
        for (p, _) in &done.upto {
            b.busy.remove(p);
        }
        let mut dead = Vec::new();
        match done.outcome {
            Ok(posted) => {
                b.failures = 0;
                for (p, upto) in &done.upto {
                    b.cursor.insert(p.clone(), *upto);
                    b.attempts.remove(p);
                    // Caught up: what is pending stays a list of the projects behind.
                    if b.head.get(p).is_some_and(|h| h <= upto) {
                        b.head.remove(p);
                    }
                }
                if posted {
                    self.hub.delivered(&done.sub);
                }
            }
            Err(e) => {
                b.failures += 1;
                b.not_before = Instant::now() + self.hub.policy.wait_after(b.failures);
                for (p, upto) in &done.upto {
                    let first = b.cursor.get(p).copied().unwrap_or(0) + 1;
                    if *upto < first {
                        continue;
                    }
                    let tries = b.attempts.entry(p.clone()).or_insert(0);
                    *tries += 1;
                    if *tries >= self.hub.policy.attempts {
                        dead.push(DeadLetter {
                            id: DeadLetter::id_of(p, first),
                            subscription: done.sub.clone(),
                            project: p.clone(),
                            first,
                            last: *upto,
                            attempts: *tries,
                            error: e.clone(),
                            failed_ms: chrono::Utc::now().timestamp_millis(),
                        });
                    }
                }
                tracing::debug!("callbacks: {} failed: {e}", done.sub);
                self.hub.failed(&done.sub, e, b.failures);
            }
        }
        if !dead.is_empty() {
            let svc = self.api.svc.clone();
            let letters = dead.clone();
            let written = tokio::task::spawn_blocking(move || {
                for d in &letters {
                    svc.store().put_dead_letter(d)?;
                    svc.store()
                        .advance(&d.subscription, &[(d.project.clone(), d.last)])?;
                }
                Ok::<_, onewindow_store::Error>(())
            })
            .await;
            match written {
                Ok(Ok(())) => {
                    for d in &dead {
                        tracing::warn!(
                            "callbacks: {} gave up on {} events {}..={} after {} attempts: {}",
                            d.subscription,
                            d.project,
                            d.first,
                            d.last,
                            d.attempts,
                            d.error
                        );
                        b.cursor.insert(d.project.clone(), d.last);
                        b.attempts.remove(&d.project);
                    }
                }
                Ok(Err(e)) => tracing::warn!("callbacks: keeping a dead letter: {e}"),
                Err(e) => tracing::warn!("callbacks: keeping a dead letter: {e}"),
            }
        }
        for (p, _) in &done.upto {
            b.enqueue(p);
        }
    }

    fn report(&self) {
        for (id, b) in &self.boxes {
            self.hub.pending(id, b.pending());
        }
    }
}

async fn sleep_until(at: Instant) {
    tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
}

/// Reads, signs and POSTs one delivery: the events after each project's cursor (up to
/// the batch) that concern the subscription's department, and moves the cursors once the
/// receiver answers 2xx (at once when none concerns it). Returns how far each project
/// went, and whether it was delivered.
async fn deliver(
    api: &Api,
    hub: &Hub,
    sub: &Subscription,
    picks: Vec<(String, u64)>,
) -> (Vec<(String, u64)>, Result<bool, String>) {
    let ranges: Vec<(String, u64, u64)> = picks
        .iter()
        .map(|(p, after)| (p.clone(), *after, u64::MAX))
        .collect();
    let (upto, entries) = match collect(api, sub, ranges, hub.policy.batch).await {
        Ok(c) => c,
        // Nothing read: every project stays where it was.
        Err(e) => return (picks, Err(format!("reading the log: {e}"))),
    };
    let ats: Vec<chrono::NaiveDateTime> = entries.iter().map(|e| e.at).collect();
    let sent = if entries.is_empty() {
        Ok(false)
    } else {
        hub.post(sub, entries).await.map(|()| true)
    };
    observe(api, &ats, &sent);
    if sent.is_ok() {
        let (svc, id, cursors) = (api.svc.clone(), sub.id.clone(), upto.clone());
        let moved = tokio::task::spawn_blocking(move || svc.store().advance(&id, &cursors)).await;
        if let Ok(Err(e)) = moved {
            // Delivered but not recorded: sent again later, which receivers allow.
            tracing::warn!("callbacks: recording a delivery of {}: {e}", sub.id);
        }
    }
    (upto, sent)
}

/// Counts a delivery in the metrics: the events taken and each one's delay from its
/// commit, or a failure.
pub(super) fn observe<T>(api: &Api, ats: &[chrono::NaiveDateTime], sent: &Result<T, String>) {
    use chrono::TimeZone;
    let m = &api.metrics;
    if sent.is_err() {
        m.callback_failures.inc();
        return;
    }
    m.callback_events.inc_by(ats.len() as u64);
    let now = chrono::Utc::now();
    for at in ats {
        if let Some(t) = api.zone.from_local_datetime(at).earliest() {
            let delay = (now - t.with_timezone(&chrono::Utc))
                .num_microseconds()
                .unwrap_or(0);
            m.callback_delay.observe(delay.max(0) as f64 / 1e6);
        }
    }
}

/// One event as a delivery carries it: its id (`<project>:<seq>`, what receivers
/// de-duplicate on) and the event as `Watch` sends it.
#[derive(serde::Serialize)]
pub(super) struct Entry {
    pub(super) id: String,
    #[serde(flatten)]
    pub(super) event: pb::Event,
    /// When it was committed (the time of record, civil time in the city's zone): for
    /// the delivery delay's metric.
    #[serde(skip)]
    pub(super) at: chrono::NaiveDateTime,
}

/// The events of each `(project, after, last)` range (at most `budget` in all, a
/// project's taken whole up to it) that concern the subscription; and how far each
/// project's range was read.
pub(super) async fn collect(
    api: &Api,
    sub: &Subscription,
    ranges: Vec<(String, u64, u64)>,
    budget: usize,
) -> Result<(Vec<(String, u64)>, Vec<Entry>), String> {
    let (svc, department, types) = (api.svc.clone(), sub.department.clone(), sub.types.clone());
    tokio::task::spawn_blocking(move || {
        let mut upto = Vec::new();
        let mut entries = Vec::new();
        let mut taken = 0usize;
        for (project, after, last) in ranges {
            if taken >= budget {
                break;
            }
            let events = svc
                .store()
                .events(&project, after)
                .map_err(|e| e.to_string())?;
            let plan = svc
                .with_project(&project, |p| svc.plan(p.version()))
                .flatten();
            let mut reached = after;
            for e in events.iter().filter(|e| e.seq <= last).take(budget - taken) {
                reached = e.seq;
                taken += 1;
                let wanted = types.is_empty() || types.iter().any(|t| t == e.event.kind());
                if wanted
                    && plan
                        .as_deref()
                        .is_some_and(|p| concerns(p, &e.event, &department))
                {
                    entries.push(Entry {
                        id: format!("{project}:{}", e.seq),
                        event: convert::event_pb(e),
                        at: e.at,
                    });
                }
            }
            upto.push((project, reached));
        }
        Ok((upto, entries))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Whether a department sees an event: one of its own items' events, or the withdrawal
/// or completion of a project in which it has an item (its work there ends).
pub(super) fn concerns(plan: &Plan, e: &Event, department: &str) -> bool {
    match e.item() {
        Some(item) => plan
            .item_index(item)
            .is_some_and(|i| plan.department_of(i) == department),
        None => {
            matches!(e, Event::Withdrawn { .. } | Event::Completed)
                && (0..plan.items.len()).any(|i| plan.department_of(i) == department)
        }
    }
}
