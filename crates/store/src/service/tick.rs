//! Supervision through the service: which projects need a tick now (through the
//! deadline index, not a scan), and the ticks themselves, idempotent by their request
//! ids.

use super::*;

impl<S: Store + ?Sized> Service<S> {
    /// Runs supervision on every project with a running task that could need a warning or
    /// an overdue flag now: those due within the policy's horizon for the longest limit
    /// deployed ([`Policy::horizon_days`]), found through the deadline index, not by
    /// scanning every project. Each project is ticked once, however many of its tasks are
    /// due. Request ids are derived from the project and the time, so a repeated tick is
    /// idempotent.
    ///
    /// # Errors
    /// The store failed.
    pub fn tick<'c>(&self, when: impl Into<When<'c>>) -> Result<Tick, Error> {
        let when = when.into();
        let now = when.now();
        let (horizon, projects) = self.due_for_tick(now)?;
        let mut tick = Tick {
            horizon_days: horizon,
            ..Tick::default()
        };
        for p in projects {
            let request = tick_request(&p, now);
            tick.projects += 1;
            if let Ok(r) = self.execute(&request, &p, &Actor::System, Command::Tick, when)? {
                tick.events.extend(r.events);
            }
        }
        Ok(tick)
    }

    /// The projects a tick at `now` must look at — those with a deadline within the
    /// policy's horizon for the longest limit deployed — each once, with the horizon in
    /// days. A server ticks them concurrently ([`tick_request`] names each one's request).
    ///
    /// # Errors
    /// The store failed.
    pub fn due_for_tick(&self, now: NaiveDateTime) -> Result<(u64, Vec<String>), Error> {
        let longest = self
            .plans
            .read()
            .map_err(lock_err)?
            .values()
            .flat_map(|p| p.items.iter())
            .map(|it| {
                it.limit
                    .statutory
                    .max(it.limit.committed)
                    .saturating_add(it.extension)
            })
            .max()
            .unwrap_or(0);
        let horizon = self.policy.horizon_days(longest);
        let until = now
            .date()
            .checked_add_days(chrono::Days::new(horizon))
            .unwrap_or(NaiveDate::MAX);
        let mut projects: Vec<String> = self
            .store
            .due_by(until)?
            .into_iter()
            .map(|(_, p, _)| p)
            .collect();
        // The index is sorted by due date: a project with two deadlines appears twice.
        projects.sort_unstable();
        projects.dedup();
        Ok((horizon, projects))
    }
}

/// The request id of a project's tick at `now`: derived from both, so a repeated tick is
/// idempotent.
pub fn tick_request(project: &str, now: NaiveDateTime) -> String {
    format!("tick/{project}/{}", now.format("%Y-%m-%dT%H:%M:%S"))
}
