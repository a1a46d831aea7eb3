//! A new edition of a working-day calendar (the State Council publishes next year's
//! schedule around November): it replaces the calendar of every deployed plan counting on
//! a calendar with its id, is kept in the store so a restarted node counts on it too, and
//! the projects on those plans have their running tasks' due dates derived again
//! ([`Command::Rederive`](onewindow_engine::Command::Rederive), run by the host for each
//! project in [`Service::projects_on`]).
//!
//! A workflow version stays the text it was deployed as: a calendar edition is a
//! published fact the law refers to, not a change to the workflow's rules, so it applies
//! to every version (pinned projects included) rather than making new versions.

use std::collections::HashMap;
use std::sync::Arc;

use super::{lock_err, Service};
use crate::restore::calendar_of;
use crate::{Error, ReadStore, Store, StoredCalendar};
use onewindow_core::calendar::Calendar;
use onewindow_core::plan::Plan;
use onewindow_engine::Status;

/// The calendar editions a store keeps, compiled.
pub(super) fn stored_editions(
    store: &(impl ReadStore + ?Sized),
) -> Result<HashMap<String, Calendar>, Error> {
    let mut out = HashMap::new();
    for c in store.calendars()? {
        let cal =
            calendar_of(&c.files).map_err(|e| Error::Corrupt(format!("calendar {}: {e}", c.id)))?;
        out.insert(c.id.clone(), cal);
    }
    Ok(out)
}

/// A plan counting on the deployed edition of its calendar, if there is one.
pub(super) fn with_edition(mut plan: Plan, editions: &HashMap<String, Calendar>) -> Plan {
    if let Some(cal) = editions.get(plan.calendar.id()) {
        plan.calendar = cal.clone();
    }
    plan
}

/// What deploying a calendar edition changed.
#[derive(Debug, Clone, Default)]
pub struct CalendarDeployed {
    /// The calendar's id.
    pub id: String,
    /// The workflow versions that count on it now.
    pub versions: Vec<String>,
}

impl<S: Store + ?Sized> Service<S> {
    /// Deploys a calendar edition: checked, stored (replacing the one before under its
    /// id), and put in place of the calendar of every deployed plan counting on one with
    /// its id. The projects on those plans are [`Service::projects_on`]; deriving their
    /// due dates again is a command for each ([`onewindow_engine::Command::Rederive`]).
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the files do not make a calendar (the message says why),
    /// or the store failed.
    pub fn deploy_calendar(&self, edition: &StoredCalendar) -> Result<CalendarDeployed, Error> {
        let cal =
            calendar_of(&edition.files).map_err(|e| Error::Corrupt(format!("calendar: {e}")))?;
        if cal.id() != edition.id {
            return Err(Error::Corrupt(format!(
                "calendar: `calendar.yaml` names `{}`, deployed as `{}`",
                cal.id(),
                edition.id
            )));
        }
        self.store.put_calendar(edition)?;
        self.calendars
            .write()
            .map_err(lock_err)?
            .insert(cal.id().to_string(), cal.clone());
        let mut versions = Vec::new();
        let mut plans = self.plans.write().map_err(lock_err)?;
        for (version, plan) in plans.iter_mut() {
            if plan.calendar.id() == cal.id() {
                let mut p = Plan::clone(plan);
                p.calendar = cal.clone();
                *plan = Arc::new(p);
                versions.push(version.clone());
            }
        }
        versions.sort();
        Ok(CalendarDeployed {
            id: edition.id.clone(),
            versions,
        })
    }

    /// The active projects pinned to one of `versions`, in id order (read from the store
    /// one by one through the cache).
    pub fn projects_on(&self, versions: &[String]) -> Vec<String> {
        self.project_ids()
            .into_iter()
            .filter(|id| {
                self.with_project(id, |p| {
                    p.status() == Status::Active && versions.iter().any(|v| v == p.version())
                })
                .unwrap_or(false)
            })
            .collect()
    }
}
