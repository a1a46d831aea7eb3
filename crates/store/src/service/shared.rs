//! The service on a store that several nodes write: the gate that serializes a project's
//! commands through their commit, what a command that met another node's write comes to
//! (decided again on the state read afresh), and another node's commits taken in.

use super::*;
use onewindow_engine::ChainHash;

impl<S: Store + ?Sized> Service<S> {
    /// The gate of a project's commands on a shared store (striped: two projects may
    /// share one, which only serializes them).
    pub(super) fn gate(&self, project: &str) -> &tokio::sync::Mutex<()> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        project.hash(&mut h);
        &self.gates[(h.finish() % GATES as u64) as usize]
    }

    /// Takes in what another node committed to a project (events `first..=last`, as its
    /// notification said): the events, read from the log, come back with the tasks they
    /// dispatched, to be published here too; the state held in memory (if any) catches
    /// up. Events this process already had (it read the project after they were written)
    /// are returned all the same: this process has not *published* them, and watchers
    /// skip what they have seen.
    ///
    /// # Errors
    /// The store failed.
    pub async fn refresh(
        &self,
        project: &str,
        first: u64,
        last: u64,
    ) -> Result<Option<(Vec<Envelope>, Vec<Effect>)>, Error> {
        let _turn = self.gate(project).lock().await;
        let events: Vec<Envelope> = self
            .store
            .events(project, first.saturating_sub(1))?
            .into_iter()
            .filter(|e| e.seq <= last)
            .collect();
        let Some(newest) = events.last().map(|e| e.seq) else {
            return Ok(None);
        };
        let cached = self.slots.lock().map_err(lock_err)?.get(project);
        let mut version = None;
        if let Some(slot) = cached {
            let mut slot = slot.lock().map_err(lock_err)?;
            let seq = slot.project.as_ref().map_or(0, |p| p.seq());
            match &mut slot.project {
                Some(p) if seq + 1 >= first && seq < newest => {
                    let mut plan = self.plan(p.version()).ok_or_else(|| {
                        Error::Inconsistent(format!("version {} missing", p.version()))
                    })?;
                    for e in events.iter().filter(|e| e.seq > seq) {
                        p.apply(&plan, e);
                        let before = p.chain().unwrap_or(ChainHash::GENESIS);
                        p.seal(crate::chain::link(&before, e)?);
                        // A migration: what follows is laid out on the new version.
                        if let onewindow_engine::Event::Migrated { to, .. } = &e.event {
                            plan = self.plan(to).ok_or_else(|| {
                                Error::Inconsistent(format!("version {to} missing"))
                            })?;
                        }
                    }
                    version = Some(p.version().to_string());
                }
                Some(p) if seq >= newest => version = Some(p.version().to_string()),
                // Behind by more than this commit (a notification was missed), or a
                // submission this node saw refused: read it again when needed.
                _ => {
                    drop(slot);
                    self.evict(project);
                }
            }
        }
        let version = match version {
            Some(v) => Some(v),
            None => self.with_project(project, |p| p.version().to_string()),
        };
        let effects = match version.and_then(|v| self.plan(&v)) {
            Some(plan) => onewindow_engine::dispatched(&plan, &events),
            None => Vec::new(),
        };
        Ok(Some((events, effects)))
    }

    /// What a command on a shared store comes to: its answer once durable; or, when it
    /// failed, the project is forgotten (memory may be ahead of the store), and a command
    /// decided on a stale state (another node was first) is decided again (`None`) on the
    /// state read afresh, up to [`RETRIES`] times.
    pub(super) fn after_shared(
        &self,
        project: &str,
        done: Result<Result<Receipt, Refusal>, Error>,
        attempt: usize,
    ) -> Option<Result<Result<Receipt, Refusal>, Error>> {
        match done {
            Ok(answer) => Some(Ok(answer)),
            Err(e) => {
                self.evict(project);
                // A draw in flight may not have landed: the next reads the registers.
                self.forget_draws();
                match e {
                    // Another node drew from the same register first: it got its number,
                    // so each such conflict is someone's progress; try again at once on
                    // the register as it stands, for longer than a project's contention.
                    Error::Drawn(_) if attempt < DRAW_RETRIES => {
                        tracing::debug!(project, attempt, "{e}");
                        None
                    }
                    Error::Drawn(_) => Some(Err(Error::Backend(format!(
                        "gave up after {DRAW_RETRIES} attempts to draw a number other nodes kept drawing: {e}"
                    )))),
                    Error::Inconsistent(_) if attempt < RETRIES => {
                        tracing::debug!(project, attempt, "decided on a stale state: {e}");
                        None
                    }
                    // Contention, not damage: the caller may retry (UNAVAILABLE).
                    Error::Inconsistent(_) => Some(Err(Error::Backend(format!(
                        "gave up after {RETRIES} attempts on a project other nodes kept changing: {e}"
                    )))),
                    e => Some(Err(e)),
                }
            }
        }
    }
}
