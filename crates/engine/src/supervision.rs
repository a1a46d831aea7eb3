//! Supervision (电子监察) and assessment (考核): thresholds for warnings, queries over
//! tasks, and per-department figures computed from events.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Engine, Envelope, Event, Task, TaskState};
use onewindow_core::plan::Plan;

/// When supervision warns that a task nears its due date: when at most `warn_days`
/// working days are left, or at most `warn_percent` of the limit. Zero turns a rule off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Warn with this many working days left (or fewer).
    pub warn_days: u32,
    /// Warn with this share of the limit left, in percent (or less).
    pub warn_percent: u32,
    /// Working days a yellow card (督办) gives the department to finish an overdue task
    /// before the red card (整改).
    #[serde(default = "default_rectify_days")]
    pub rectify_days: u32,
}

fn default_rectify_days() -> u32 {
    3
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            warn_days: 3,
            warn_percent: 20,
            rectify_days: default_rectify_days(),
        }
    }
}

impl Policy {
    /// How far ahead of its due date, in calendar days, a task whose limit is at most
    /// `longest_limit` days can need a warning: the furthest warning comes
    /// `max(warn_days, warn_percent of the limit)` working days before the due date, and a
    /// working day is at most 7/5 calendar days plus the longest public holiday (three
    /// weeks covers the Spring Festival and its weekends). Supervision looks this far
    /// ahead, so no warning is missed for a long limit.
    pub fn horizon_days(&self, longest_limit: u32) -> u64 {
        let by_percent = (u64::from(longest_limit) * u64::from(self.warn_percent)).div_ceil(100);
        let working = u64::from(self.warn_days).max(by_percent) + 1;
        working * 7 / 5 + 21
    }

    /// Whether a task with `remaining` of `limit` days left should be warned about.
    pub fn warns(&self, remaining: u32, limit: u32) -> bool {
        (self.warn_days > 0 && remaining <= self.warn_days)
            || (self.warn_percent > 0
                && u64::from(remaining) * 100 <= u64::from(self.warn_percent) * u64::from(limit))
    }
}

/// One task in a supervision list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRow {
    /// Project id.
    pub project: String,
    /// Item id.
    pub item: String,
    /// Department id ("window" for milestones).
    pub department: String,
    /// State.
    pub state: TaskState,
    /// Due date, while the clock runs.
    pub due: Option<NaiveDate>,
    /// Warned this round.
    pub warned: bool,
    /// Overdue this round.
    pub overdue: bool,
}

impl Engine {
    /// Tasks, optionally only one department's and only in one state, by project then
    /// workflow order. Without a state: the open ones ([`TaskState::is_open`]) and those
    /// done or waiting, but not the pending and inapplicable ones.
    pub fn tasks(&self, department: Option<&str>, state: Option<TaskState>) -> Vec<TaskRow> {
        self.rows(|dept, t| {
            department.is_none_or(|d| d == dept)
                && match state {
                    Some(s) => s == t.state,
                    None => !matches!(t.state, TaskState::Pending | TaskState::NotApplicable),
                }
        })
    }

    /// Tasks supervision lists as overdue ([`Task::is_overdue`]).
    pub fn overdue(&self) -> Vec<TaskRow> {
        self.rows(|_, t| t.is_overdue())
    }

    /// Tasks supervision lists as warned and not (yet) overdue ([`Task::is_warned`]).
    pub fn warnings(&self) -> Vec<TaskRow> {
        self.rows(|_, t| t.is_warned())
    }

    fn rows(&self, keep: impl Fn(&str, &Task) -> bool) -> Vec<TaskRow> {
        let mut out = Vec::new();
        for view in self.projects() {
            for (i, t) in view.project.tasks.iter().enumerate() {
                let dept = view.plan.department_of(i);
                if keep(dept, t) {
                    out.push(TaskRow {
                        project: view.project.id.to_string(),
                        item: view.plan.items[i].id.clone(),
                        department: dept.to_string(),
                        state: t.state,
                        due: t.due,
                        warned: t.warned,
                        overdue: t.overdue,
                    });
                }
            }
        }
        out
    }

    /// A project's timeline: its events as one line each, with time and actor.
    pub fn timeline(&self, project: &str) -> Vec<String> {
        self.events(project)
            .iter()
            .map(|e| format!("{} #{} {:?}: {}", e.at, e.seq, e.actor, e.event.summary()))
            .collect()
    }
}

/// One department's figures for a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// Department id.
    pub department: String,
    /// Tasks decided (approved or rejected) in the period.
    pub done: usize,
    /// Mean days of the limit used per decided task (suspensions not counted).
    pub mean_days: f64,
    /// 90th percentile (nearest rank) of days used.
    pub p90_days: u32,
    /// Share of decided tasks decided by their due date, 0–1.
    pub on_time_rate: f64,
    /// Tasks open at the end of the period and past their due date.
    pub overdue_now: usize,
    /// Yellow cards (督办) given in the period.
    pub yellow_cards: usize,
    /// Red cards (整改) given in the period.
    pub red_cards: usize,
}

#[derive(Default)]
struct Record {
    department: String,
    due: Option<NaiveDate>,
    decided: Option<(NaiveDate, u32, bool)>,
    overdue_since: Option<NaiveDate>,
}

/// Per-department assessment (考核) for decisions made from `from` to `to` (inclusive),
/// computed from events alone. `plans` maps a workflow version to its plan; events of an
/// unknown version are skipped.
pub fn assess<'a>(
    events: impl IntoIterator<Item = &'a Envelope>,
    plans: &dyn Fn(&str) -> Option<&'a Plan>,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Assessment> {
    // (project, item, round) → record; the round is counted from TaskReady/Resubmitted.
    let mut version: BTreeMap<&str, &'a Plan> = BTreeMap::new();
    let mut records: BTreeMap<(String, String, u32), Record> = BTreeMap::new();
    let mut round: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut decisions: Vec<(String, NaiveDate, u32, bool)> = Vec::new();
    let mut cards: Vec<(String, NaiveDate, super::Card)> = Vec::new();
    for env in events {
        // A project's plan: its submission's version, then each version it moved to.
        if let Event::Submitted { version: v, .. } | Event::Migrated { to: v, .. } = &env.event {
            if let Some(p) = plans(v) {
                version.insert(&env.project, p);
            }
            continue;
        }
        let Some(plan) = version.get(&*env.project) else {
            continue;
        };
        let Some(item) = env.event.item() else {
            continue;
        };
        let Some(ix) = plan.item_index(item) else {
            continue;
        };
        let key = (env.project.to_string(), item.to_string());
        let date = env.at.date();
        if matches!(
            env.event,
            Event::TaskReady { .. } | Event::Resubmitted { .. }
        ) {
            *round.entry(key.clone()).or_default() += 1;
        }
        let r = round.get(&key).copied().unwrap_or(0);
        let rec = records.entry((key.0, key.1, r)).or_insert_with(|| Record {
            department: plan.department_of(ix).to_string(),
            ..Record::default()
        });
        match &env.event {
            Event::TaskReady { due: Some(due), .. } | Event::Extended { due: Some(due), .. } => {
                rec.due = Some(*due);
            }
            Event::SupplementProvided { due, .. }
            | Event::SpecialEnded { due, .. }
            | Event::Resubmitted { due, .. } => {
                rec.due = Some(*due);
            }
            Event::Overdue { .. } => rec.overdue_since = Some(date),
            Event::Carded { card, .. } => cards.push((rec.department.clone(), date, *card)),
            Event::TaskApproved { used, .. } | Event::TaskRejected { used, .. }
                if plan.items[ix].kind == onewindow_core::spec::ItemKind::Review =>
            {
                let on_time = rec.due.is_none_or(|d| date <= d);
                rec.decided = Some((date, *used, on_time));
                decisions.push((rec.department.clone(), date, *used, on_time));
            }
            _ => {}
        }
    }
    // Per department: days used, on time, overdue now, yellow cards, red cards.
    let mut by_dept: BTreeMap<String, (Vec<u32>, usize, usize, usize, usize)> = BTreeMap::new();
    for (dept, date, card) in cards {
        if date < from || date > to {
            continue;
        }
        let e = by_dept.entry(dept).or_default();
        match card {
            super::Card::Yellow => e.3 += 1,
            super::Card::Red => e.4 += 1,
        }
    }
    for (dept, date, used, on_time) in decisions {
        if date < from || date > to {
            continue;
        }
        let e = by_dept.entry(dept).or_default();
        e.0.push(used);
        e.1 += usize::from(on_time);
    }
    for rec in records.values() {
        let open_at_end = rec.decided.is_none_or(|(d, _, _)| d > to);
        if rec.overdue_since.is_some_and(|d| d <= to) && open_at_end {
            by_dept.entry(rec.department.clone()).or_default().2 += 1;
        }
    }
    by_dept
        .into_iter()
        .map(
            |(department, (mut used, on_time, overdue_now, yellow_cards, red_cards))| {
                used.sort_unstable();
                let done = used.len();
                let mean_days = if done == 0 {
                    0.0
                } else {
                    used.iter().map(|&u| f64::from(u)).sum::<f64>() / done as f64
                };
                let p90_days = if done == 0 {
                    0
                } else {
                    used[(done * 9).div_ceil(10) - 1]
                };
                let on_time_rate = if done == 0 {
                    1.0
                } else {
                    on_time as f64 / done as f64
                };
                Assessment {
                    department,
                    done,
                    mean_days,
                    p90_days,
                    on_time_rate,
                    overdue_now,
                    yellow_cards,
                    red_cards,
                }
            },
        )
        .collect()
}
