//! `Window.Watch`: every durable event, in order per project, with no gaps or duplicates:
//! stored events first (from each cursor), then the live feed, falling back to the store
//! whenever the feed lags or skips.

use std::collections::HashMap;

use tonic::{Response, Status};

use super::convert::*;
use super::status::*;
use super::*;

impl Api {
    /// `Window.Watch`: resumes each project from its cursor (reading the store), then
    /// follows the live feed; a watcher that falls behind catches up from the store.
    pub(super) fn watch_events(
        &self,
        r: pb::WatchRequest,
        lease: super::lease::Lease,
    ) -> Result<Response<EventStream>, Status> {
        let kinds = Kinds::new(r.types)?;
        input::optional_id("project", &r.project)?;
        input::list("cursors", &r.cursors.iter().collect::<Vec<_>>())?;
        for p in r.cursors.keys() {
            input::id("cursors", p)?;
        }
        // A project watched by name must exist: otherwise the stream would wait forever.
        if !r.project.is_empty() && self.svc.with_project(&r.project, |_| ()).is_none() {
            return Err(Status::not_found(format!(
                "unknown-project: project {}",
                input::quoted(&r.project)
            )));
        }
        // Subscribe before reading the store, so nothing falls between the two.
        let mut rx = self.events.subscribe();
        let one = (!r.project.is_empty()).then(|| r.project.clone());
        let live = one.is_none() && r.live;
        let mut cursors: HashMap<String, u64> = match &one {
            Some(p) => HashMap::from([(p.clone(), r.after)]),
            None => r.cursors.into_iter().collect(),
        };
        // Live: only the projects named resume from the store; the rest start where their
        // logs end now (the store's heads: one listing, no project read), and a project
        // submitted later starts at its first event.
        let named: Vec<String> = cursors.keys().cloned().collect();
        if live {
            let heads = self.svc.store().heads().map_err(|e| store_status(&e))?;
            for (p, seq) in heads {
                cursors.entry(p).or_insert(seq);
            }
        }
        let (tx, out) = tokio::sync::mpsc::channel(1024);
        let svc = self.svc.clone();
        let open = self.metrics.stream_opened();
        self.spawn_until_shutdown(async move {
            let _open = open;
            let follow = async {
                let all = |svc: &Service<dyn Store>| match &one {
                    Some(p) => vec![p.clone()],
                    None => svc.project_ids(),
                };
                let resume: Vec<String> = if live { named } else { all(&svc) };
                for p in resume {
                    let after = cursors.get(&p).copied().unwrap_or(0);
                    let Some(last) = send_stored(&svc, &tx, &kinds, &p, after, None).await else {
                        return;
                    };
                    cursors.insert(p, last);
                }
                loop {
                    // A watcher gone ends the task at once, not at the next event: its
                    // place in the caller's stream count is given back.
                    let received = tokio::select! {
                        r = rx.recv() => r,
                        () = tx.closed() => return,
                    };
                    let e = match received {
                        Ok(e) => e,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            // Fell behind the live feed: catch up from the store.
                            for p in all(&svc) {
                                let after = cursors.get(&p).copied().unwrap_or(0);
                                let Some(last) =
                                    send_stored(&svc, &tx, &kinds, &p, after, None).await
                                else {
                                    return;
                                };
                                cursors.insert(p, last);
                            }
                            continue;
                        }
                        Err(_) => return,
                    };
                    if one.as_ref().is_some_and(|p| *p != e.project) {
                        continue;
                    }
                    let mut last = cursors.get(&e.project).copied().unwrap_or(0);
                    if e.seq <= last {
                        continue;
                    }
                    if e.seq > last + 1 {
                        // The project's events were published out of order: fill the gap from
                        // the store.
                        match send_stored(&svc, &tx, &kinds, &e.project, last, Some(e.seq)).await {
                            Some(l) => last = l,
                            None => return,
                        }
                    }
                    if e.seq == last + 1 {
                        let (project, seq) = (e.project.clone(), e.seq);
                        if kinds.wants(&e.r#type) && tx.send(Ok(e)).await.is_err() {
                            return;
                        }
                        cursors.insert(project, seq);
                    }
                }
            };
            tokio::select! {
                () = follow => {}
                () = lease.ended() => {
                    // The caller's right ended (revoked, expired): say so, then close.
                    let _ = tx.try_send(Err(super::lease::ended_status()));
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out),
        )))
    }
}

/// The event types a watcher asked for (none named: every type).
pub(super) struct Kinds(Vec<String>);

impl Kinds {
    pub(super) fn new(types: Vec<String>) -> Result<Kinds, Status> {
        input::list("types", &types)?;
        for (i, t) in types.iter().enumerate() {
            if !engine::Event::KINDS.contains(&t.as_str()) {
                return Err(invalid_argument(format!(
                    "types[{i}]: {} is not an event type (one of {})",
                    input::quoted(t),
                    engine::Event::KINDS.join(", ")
                )));
            }
        }
        Ok(Kinds(types))
    }

    pub(super) fn wants(&self, kind: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|k| k == kind)
    }
}

/// Sends a project's stored events after `after`, up to `until` (exclusive) when given,
/// those of the kinds wanted; returns the last sequence number passed (sent or not).
pub(super) async fn send_stored(
    svc: &Service<dyn Store>,
    tx: &tokio::sync::mpsc::Sender<Result<pb::Event, Status>>,
    kinds: &Kinds,
    project: &str,
    after: u64,
    until: Option<u64>,
) -> Option<u64> {
    let events = svc.store().events(project, after).ok()?;
    let mut last = after;
    for e in events.iter().filter(|e| until.is_none_or(|u| e.seq < u)) {
        if kinds.wants(e.event.kind()) {
            tx.send(Ok(event_pb(e))).await.ok()?;
        }
        last = e.seq;
    }
    Some(last)
}
