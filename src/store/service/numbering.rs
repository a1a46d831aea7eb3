//! Drawing document numbers (文号) from a department's register: an approval that names
//! no number for a document its department numbers by pattern gets the next one of the
//! department's year, written with the approval in one atomic commit
//! ([`Commit::drawn`](crate::store::Commit)).
//!
//! Why here and not in the engine: the register is shared by every project a department
//! approves (and by every node of a city), while the engine decides one project from its
//! own state. The service reads where the register stands, fills the numbers into the
//! command, and the store writes the approval only if the register still stands there —
//! otherwise nothing is written and the command is decided again (on a shared store), so
//! a number is issued once, and only by an approval that was written: a refused command
//! draws nothing, a crash leaves no gap. Within one node drawing approvals take turns
//! ([`Service::numbering`]), so the store's check fails only when another node was first.

use chrono::Datelike;

use super::Service;
use crate::engine::{Command, Project};
use crate::plan::numbering;
use crate::store::{Drawn, Error, Store};

impl<S: Store + ?Sized> Service<S> {
    /// Whether `command` on `project` could draw a number: an approval of an item whose
    /// department declares a pattern and for which some number is missing. When the
    /// project is not in memory, any approval could.
    pub(super) fn may_draw(&self, project: &str, command: &Command) -> bool {
        let Command::Approve { item, numbers } = command else {
            return false;
        };
        match self.with_project(project, |p| p.version.clone()) {
            None => true,
            Some(version) => self
                .plan(&version)
                .is_some_and(|plan| numbering::to_draw(&plan, item, numbers).is_some()),
        }
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
        let Some(plan) = self.plan(&p.version) else {
            return Ok(Vec::new());
        };
        let Some((department, pattern, documents)) = numbering::to_draw(&plan, item, numbers)
        else {
            return Ok(Vec::new());
        };
        let register = numbering::register(department, year);
        let from = self.store.register(&register)?;
        let to = numbering::fill(pattern, year, from, &documents, numbers);
        Ok(vec![Drawn { register, from, to }])
    }
}

/// The year of the day of record.
pub(super) fn year_of(day: chrono::NaiveDate) -> i32 {
    day.year()
}
