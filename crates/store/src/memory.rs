//! The in-memory store: the reference implementation of the contract, for tests, the
//! simulator and as the model the conformance suite holds every backend to.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use chrono::NaiveDate;

use super::callbacks::{CallbackStore, DeadLetter, Subscription};
use super::checks::check_commit;
use super::{
    check_id, Commit, Durable, Error, IndexKey, ReadStore, Recorded, Snapshot, StoredCalendar,
    StoredWorkflow, WriteStore,
};
use onewindow_engine::Envelope;

#[derive(Default)]
struct Inner {
    events: BTreeMap<String, Vec<Envelope>>,
    snapshots: BTreeMap<String, Snapshot>,
    answers: BTreeMap<String, Recorded>,
    workflows: BTreeMap<String, StoredWorkflow>,
    calendars: BTreeMap<String, StoredCalendar>,
    checkpoints: BTreeMap<u64, Vec<u8>>,
    index: BTreeSet<IndexKey>,
    registers: BTreeMap<String, u64>,
    subscriptions: BTreeMap<String, Subscription>,
    cursors: BTreeMap<(String, String), u64>,
    dead: BTreeMap<(String, String), DeadLetter>,
}

/// Everything in memory, behind one lock; "durable" means "in this process".
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, Error> {
        self.inner
            .lock()
            .map_err(|_| Error::Backend("a writer panicked while holding the store".into()))
    }
}

impl super::Shared for MemoryStore {}

impl ReadStore for MemoryStore {
    fn events(&self, project: &str, after: u64) -> Result<Vec<Envelope>, Error> {
        let g = self.lock()?;
        Ok(g.events.get(project).map_or_else(Vec::new, |v| {
            v.iter().filter(|e| e.seq > after).cloned().collect()
        }))
    }

    fn snapshot(&self, project: &str) -> Result<Option<Snapshot>, Error> {
        Ok(self.lock()?.snapshots.get(project).cloned())
    }

    fn projects(&self) -> Result<Vec<String>, Error> {
        Ok(self.lock()?.events.keys().cloned().collect())
    }

    fn heads(&self) -> Result<Vec<(String, u64)>, Error> {
        Ok(self
            .lock()?
            .events
            .iter()
            .map(|(p, v)| (p.clone(), v.last().map_or(0, |e| e.seq)))
            .collect())
    }

    fn answer(&self, request: &str) -> Result<Option<Recorded>, Error> {
        Ok(self.lock()?.answers.get(request).cloned())
    }

    fn workflow(&self, version: &str) -> Result<Option<StoredWorkflow>, Error> {
        Ok(self.lock()?.workflows.get(version).cloned())
    }

    fn workflows(&self) -> Result<Vec<StoredWorkflow>, Error> {
        Ok(self.lock()?.workflows.values().cloned().collect())
    }

    fn calendars(&self) -> Result<Vec<StoredCalendar>, Error> {
        Ok(self.lock()?.calendars.values().cloned().collect())
    }

    fn checkpoints(&self) -> Result<Vec<Vec<u8>>, Error> {
        Ok(self.lock()?.checkpoints.values().cloned().collect())
    }

    fn register(&self, register: &str) -> Result<u64, Error> {
        Ok(self.lock()?.registers.get(register).copied().unwrap_or(0))
    }

    fn index(&self) -> Result<Vec<IndexKey>, Error> {
        Ok(self.lock()?.index.iter().cloned().collect())
    }

    fn open_tasks(&self, department: &str) -> Result<Vec<(String, String)>, Error> {
        Ok(self
            .lock()?
            .index
            .iter()
            .filter_map(|k| match k {
                IndexKey::Open {
                    department: d,
                    project,
                    item,
                } if d == department => Some((project.clone(), item.clone())),
                _ => None,
            })
            .collect())
    }

    fn due_by(&self, date: NaiveDate) -> Result<Vec<(NaiveDate, String, String)>, Error> {
        Ok(self
            .lock()?
            .index
            .iter()
            .filter_map(|k| match k {
                IndexKey::Deadline { due, project, item } if *due <= date => {
                    Some((*due, project.clone(), item.clone()))
                }
                _ => None,
            })
            .collect())
    }
}

impl WriteStore for MemoryStore {
    fn commit_deferred(&self, commit: Commit) -> Result<Durable, Error> {
        let mut g = self.lock()?;
        let head = g
            .events
            .get(&commit.project)
            .and_then(|v| v.last())
            .map_or(0, |e| e.seq);
        check_commit(&commit, head)?;
        super::check_drawn(&commit.drawn, |r| {
            Ok(g.registers.get(r).copied().unwrap_or(0))
        })?;
        for d in &commit.drawn {
            g.registers.insert(d.register.clone(), d.to);
        }
        if !commit.events.is_empty() {
            g.events
                .entry(commit.project.clone())
                .or_default()
                .extend(commit.events);
        }
        if let Some(s) = commit.snapshot {
            g.snapshots.insert(commit.project.clone(), s);
        }
        for k in &commit.unindex {
            g.index.remove(k);
        }
        g.index.extend(commit.index);
        if let Some((id, answer)) = commit.request {
            g.answers.insert(id, answer);
        }
        Ok(Durable::ready())
    }

    fn put_calendar(&self, calendar: &StoredCalendar) -> Result<(), Error> {
        check_id(&calendar.id)?;
        self.lock()?
            .calendars
            .insert(calendar.id.clone(), calendar.clone());
        Ok(())
    }

    fn put_checkpoint(&self, number: u64, body: &[u8]) -> Result<bool, Error> {
        let mut g = self.lock()?;
        if g.checkpoints.contains_key(&number) {
            return Ok(false);
        }
        g.checkpoints.insert(number, body.to_vec());
        Ok(true)
    }

    fn put_workflow(&self, workflow: &StoredWorkflow) -> Result<(), Error> {
        check_id(&workflow.version)?;
        self.lock()?
            .workflows
            .entry(workflow.version.clone())
            .or_insert_with(|| workflow.clone());
        Ok(())
    }

    fn replace_index(&self, entries: &[IndexKey]) -> Result<(), Error> {
        self.lock()?.index = entries.iter().cloned().collect();
        Ok(())
    }
}

impl CallbackStore for MemoryStore {
    fn put_subscription(&self, s: &Subscription, cursors: &[(String, u64)]) -> Result<(), Error> {
        check_id(&s.id)?;
        let mut g = self.lock()?;
        for (p, seq) in cursors {
            g.cursors.insert((s.id.clone(), p.clone()), *seq);
        }
        g.subscriptions.insert(s.id.clone(), s.clone());
        Ok(())
    }

    fn subscriptions(&self) -> Result<Vec<Subscription>, Error> {
        Ok(self.lock()?.subscriptions.values().cloned().collect())
    }

    fn remove_subscription(&self, id: &str) -> Result<bool, Error> {
        let mut g = self.lock()?;
        g.cursors.retain(|(s, _), _| s != id);
        g.dead.retain(|(s, _), _| s != id);
        Ok(g.subscriptions.remove(id).is_some())
    }

    fn cursors(&self, subscription: &str) -> Result<Vec<(String, u64)>, Error> {
        Ok(self
            .lock()?
            .cursors
            .iter()
            .filter(|((s, _), _)| s == subscription)
            .map(|((_, p), seq)| (p.clone(), *seq))
            .collect())
    }

    fn advance(&self, subscription: &str, cursors: &[(String, u64)]) -> Result<(), Error> {
        let mut g = self.lock()?;
        for (p, seq) in cursors {
            let at = g
                .cursors
                .entry((subscription.to_string(), p.clone()))
                .or_insert(0);
            *at = (*at).max(*seq);
        }
        Ok(())
    }

    fn put_dead_letter(&self, letter: &DeadLetter) -> Result<(), Error> {
        self.lock()?.dead.insert(
            (letter.subscription.clone(), letter.id.clone()),
            letter.clone(),
        );
        Ok(())
    }

    fn dead_letters(&self, subscription: &str) -> Result<Vec<DeadLetter>, Error> {
        Ok(self
            .lock()?
            .dead
            .iter()
            .filter(|((s, _), _)| s == subscription)
            .map(|(_, d)| d.clone())
            .collect())
    }

    fn remove_dead_letter(&self, subscription: &str, id: &str) -> Result<bool, Error> {
        Ok(self
            .lock()?
            .dead
            .remove(&(subscription.to_string(), id.to_string()))
            .is_some())
    }
}
