//! The city's record as process-mining logs: every project's events, read from the store
//! (sled, PostgreSQL — any `ReadStore`), written as XES (IEEE 1849, one trace per
//! project) for the case-centric tools and as OCEL 2.0 (JSON or SQLite) for the
//! object-centric ones.
//!
//! Why the `process_mining` crate writes the files: the formats have many details a
//! reader insists on (XES extensions and typed attributes, OCEL 2.0's SQLite tables per
//! type); that crate writes them, reads them back and is tested against the reference
//! logs, so this crate only maps onewindow's record onto its structures (`xes.rs`,
//! `ocel.rs`) and keeps the mapping in one place for both formats (`activity`,
//! `lifecycle`).
//!
//! Times: every event's `time:timestamp` is its time of record with its offset (the city's,
//! `+08:00`), from the envelope's stored offset, else the calendar's zone.

#![deny(missing_docs)]

pub mod ocel;
pub mod xes;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use onewindow_core::plan::Plan;
use onewindow_engine::{Envelope, Event};
use onewindow_store::ReadStore;

/// Why the record could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed or holds damaged data.
    #[error("{0}")]
    Store(#[from] onewindow_store::Error),
    /// A project runs on a workflow version the store does not hold.
    #[error("project {project} runs on workflow version {version}, which the store does not hold")]
    MissingVersion {
        /// The project.
        project: String,
        /// The version.
        version: String,
    },
    /// A project's log does not start with its submission.
    #[error("project {0}: its log does not start with a submission")]
    NoSubmission(String),
    /// Writing a file failed.
    #[error("writing {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// One project's part of the record.
pub struct ProjectLog {
    /// The project's id (its project code).
    pub id: String,
    /// Its workflow's plan (the version it was submitted on).
    pub plan: Arc<Plan>,
    /// Its events within the period, in order.
    pub events: Vec<Envelope>,
}

/// The record of a period: the projects with at least one event in it.
pub struct Record {
    /// By project id.
    pub projects: Vec<ProjectLog>,
}

impl Record {
    /// How many events the record holds.
    pub fn events(&self) -> usize {
        self.projects.iter().map(|p| p.events.len()).sum()
    }
}

/// Reads the record of `[from, to]` (days of the events' time of record; either end
/// open): every project with an event in the period, and its events in it.
///
/// # Errors
/// The store fails, or a project's workflow version is not in the store.
pub fn read(
    store: &dyn ReadStore,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<Record, Error> {
    let projects = Projects::new(store, from, to)?.collect::<Result<Vec<_>, _>>()?;
    Ok(Record { projects })
}

/// The record of a period one project at a time, read from the store as it is asked for:
/// what a streaming export holds in memory is one project, not the city.
pub struct Projects<'s> {
    store: &'s dyn ReadStore,
    plans: HashMap<String, Arc<Plan>>,
    ids: std::vec::IntoIter<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

impl<'s> Projects<'s> {
    /// The projects of `[from, to]` in `store`, the workflow versions compiled first.
    ///
    /// # Errors
    /// The store fails, or a stored version does not compile.
    pub fn new(
        store: &'s dyn ReadStore,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Projects<'s>, Error> {
        let mut plans: HashMap<String, Arc<Plan>> = HashMap::new();
        for w in store.workflows()? {
            let plan = onewindow_store::restore::restore_workflow(&w)?;
            plans.insert(w.version.clone(), Arc::new(plan));
        }
        Ok(Projects {
            store,
            plans,
            ids: store.projects()?.into_iter(),
            from,
            to,
        })
    }

    fn load(&self, id: String) -> Result<Option<ProjectLog>, Error> {
        let all = self.store.events(&id, 0)?;
        let Some(Event::Submitted { version, .. }) = all.first().map(|e| &e.event) else {
            return Err(Error::NoSubmission(id));
        };
        let plan = self
            .plans
            .get(version)
            .cloned()
            .ok_or_else(|| Error::MissingVersion {
                project: id.clone(),
                version: version.clone(),
            })?;
        let (from, to) = (self.from, self.to);
        let events: Vec<Envelope> = all
            .into_iter()
            .filter(|e| {
                let day = e.at.date();
                from.is_none_or(|f| day >= f) && to.is_none_or(|t| day <= t)
            })
            .collect();
        Ok((!events.is_empty()).then_some(ProjectLog { id, plan, events }))
    }
}

impl Iterator for Projects<'_> {
    type Item = Result<ProjectLog, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let id = self.ids.next()?;
            match self.load(id) {
                Ok(Some(p)) => return Some(Ok(p)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// An event's instant: its time of record with the offset stored beside it, else the
/// offset of its calendar's zone at that time.
pub fn instant(e: &Envelope, plan: &Plan) -> DateTime<FixedOffset> {
    let offset = e
        .offset
        .and_then(FixedOffset::east_opt)
        .or_else(|| {
            plan.calendar
                .zone()
                .offset_from_local_datetime(&e.at)
                .earliest()
                .map(|o| chrono::Offset::fix(&o))
        })
        .unwrap_or_else(|| FixedOffset::east_opt(8 * 3600).expect("+08:00 is an offset"));
    offset
        .from_local_datetime(&e.at)
        .earliest()
        .unwrap_or_else(|| offset.from_utc_datetime(&e.at))
}

/// The activity an event is: the item's name for the events of a task's life (its
/// lifecycle says which moment), the item's name and what happened for the other task
/// events, the event's type for the project's own.
pub fn activity(plan: &Plan, e: &Event) -> String {
    match e.item() {
        Some(item) => {
            let name = plan
                .item_index(item)
                .map_or(item, |i| plan.items[i].name.as_str());
            match lifecycle(e) {
                "unknown" => format!("{name}: {}", e.kind()),
                _ => name.to_string(),
            }
        }
        None => e.kind().to_string(),
    }
}

/// The XES standard lifecycle transition of an event: a task is scheduled when ready,
/// started when claimed, suspended while a supplement stops its clock and resumed when
/// it is handed in, complete when decided (approved or rejected); a project's withdrawal
/// withdraws it; everything else is `unknown`, as the standard model has it.
pub fn lifecycle(e: &Event) -> &'static str {
    match e {
        Event::TaskReady { .. } => "schedule",
        Event::TaskClaimed { .. } => "start",
        Event::SupplementRequested { .. } | Event::SpecialStarted { .. } => "suspend",
        Event::SupplementProvided { .. } | Event::SpecialEnded { .. } => "resume",
        Event::TaskApproved { .. } | Event::TaskRejected { .. } => "complete",
        Event::Submitted { .. } | Event::Completed => "complete",
        Event::Withdrawn { .. } => "withdraw",
        _ => "unknown",
    }
}

/// The department whose item an event concerns.
pub fn department<'p>(plan: &'p Plan, e: &Event) -> Option<&'p str> {
    let i = plan.item_index(e.item()?)?;
    Some(plan.department_of(i))
}

/// The working days an event says a task had used (its decision, or its clock stopped).
pub fn used(e: &Event) -> Option<u32> {
    match e {
        Event::TaskApproved { used, .. }
        | Event::TaskRejected { used, .. }
        | Event::SupplementRequested { used, .. }
        | Event::SpecialStarted { used, .. } => Some(*used),
        _ => None,
    }
}
