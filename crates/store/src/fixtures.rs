//! Test data for the store's contract: an event, an open-task and a deadline index entry,
//! the smallest values a commit can carry. Built only for tests (the store's own, the
//! audit crate's, the conformance suite in the testkit), behind the `fixtures` feature:
//! the values must be the same in all of them, and a test crate cannot share its items.

use chrono::{NaiveDate, NaiveDateTime};

use crate::IndexKey;
use onewindow_engine::{Actor, Envelope, Event, EVENT_VERSION};

/// The time every fixture event carries.
pub fn at() -> NaiveDateTime {
    "2025-06-03T09:00:00".parse().expect("a valid time")
}

/// The `seq`th event of `project`: its submission, then claims.
pub fn event(project: &str, seq: u64) -> Envelope {
    Envelope {
        v: EVENT_VERSION,
        project: project.into(),
        seq,
        at: at(),
        offset: None,
        actor: Actor::Window,
        prev: None,
        event: if seq == 1 {
            Event::Submitted {
                workflow: "w".into(),
                version: "v1".into(),
                applicant: "a".into(),
                agent: None,
                form: Default::default(),
                materials: Vec::new(),
            }
        } else {
            Event::TaskClaimed {
                item: format!("I{seq}"),
            }
        },
    }
}

/// An open-task index entry.
pub fn open(department: &str, project: &str, item: &str) -> IndexKey {
    IndexKey::Open {
        department: department.into(),
        project: project.into(),
        item: item.into(),
    }
}

/// A deadline index entry (`due` as `YYYY-MM-DD`).
pub fn deadline(due: &str, project: &str, item: &str) -> IndexKey {
    IndexKey::Deadline {
        due: due.parse::<NaiveDate>().expect("date"),
        project: project.into(),
        item: item.into(),
    }
}
