//! Drawing document numbers (文号) from a department's register: an approval that names
//! no number for a document its department numbers by pattern gets the next one of the
//! department's year, written with the approval in one atomic commit
//! ([`Commit::drawn`](crate::Commit)).
//!
//! Why here and not in the engine: the register is shared by every project a department
//! approves (and by every node of a city), while the engine decides one project from its
//! own state. The service reads where the register stands, fills the numbers into the
//! command, and the store writes the approval only if the register still stands there —
//! otherwise nothing is written and the command is decided again (on a shared store), so
//! a number is issued once, and only by an approval that was written: a refused command
//! draws nothing, a crash leaves no gap. Within one node drawing approvals take turns
//! ([`Service::numbering`]), so the store's check fails only when another node was first.

use super::Service;
use crate::{Drawn, Error, Store};
use onewindow_core::plan::numbering;
use onewindow_engine::{Command, Project};

impl<S: Store + ?Sized> Service<S> {
    /// The turn an approval that could draw a number must hold — from reading its
    /// department's register until its commit is durable — or `None` when it draws
    /// nothing (not an approval, every number given, no pattern, no such project).
    /// Turns are striped by department: one department's draws on this node take turns,
    /// other departments' go on meanwhile.
    pub(super) fn numbering_turn(
        &self,
        project: &str,
        command: &Command,
    ) -> Option<&tokio::sync::Mutex<()>> {
        let Command::Approve { item, numbers } = command else {
            return None;
        };
        let version = self.with_project(project, |p| p.version().to_string())?;
        let plan = self.plan(&version)?;
        let (department, _, _) = numbering::to_draw(&plan, item, numbers)?;
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        department.hash(&mut h);
        Some(&self.numbering[(h.finish() % self.numbering.len() as u64) as usize])
    }

    /// Fills an approval's missing numbers from its department's register of the year
    /// of `now` (the day of record, in the calendar's zone); what it drew, for the commit.
    ///
    /// # Errors
    /// The register cannot be read.
    pub(super) fn draw(
        &self,
        project: Option<&Project>,
        command: &mut Command,
        year: i32,
    ) -> Result<Vec<Drawn>, Error> {
        let (Some(p), Command::Approve { item, numbers }) = (project, command) else {
            return Ok(Vec::new());
        };
        let Some(plan) = self.plan(p.version()) else {
            return Ok(Vec::new());
        };
        let Some((department, pattern, documents)) = numbering::to_draw(&plan, item, numbers)
        else {
            return Ok(Vec::new());
        };
        let register = numbering::register(department, year);
        // This node's own draws in flight are the newest it can know of (a round trip
        // saved on a shared store); when another node was first, the store refuses the
        // commit, the draws in flight are forgotten and the retry reads the register.
        let pending = self
            .in_flight
            .lock()
            .map_err(super::lock_err)?
            .get(&register)
            .copied();
        let from = match pending {
            Some(at) => at,
            None => self.store.register(&register)?,
        };
        let to = numbering::fill(pattern, year, from, &documents, numbers);
        Ok(vec![Drawn { register, from, to }])
    }
}

impl<S: Store + ?Sized> Service<S> {
    /// Remembers where draws just written leave their registers (until a shared store
    /// confirms them the store still says the older value).
    pub(super) fn in_flight_drawn(&self, drawn: &[Drawn]) {
        if let Ok(mut m) = self.in_flight.lock() {
            for d in drawn {
                let at = m.entry(d.register.clone()).or_default();
                *at = (*at).max(d.to);
            }
        }
    }

    /// Forgets the draws in flight: one failed or met another node's, so the next draw
    /// reads the registers as the store has them.
    pub(super) fn forget_draws(&self) {
        if let Ok(mut m) = self.in_flight.lock() {
            m.clear();
        }
    }
}
