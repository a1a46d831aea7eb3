//! Critical-path analysis of a plan: when each item can start and finish at the earliest,
//! how much it may slip, and which chain of items sets the total.
//!
//! Time is counted in working days from the submission (day 0). An item starts when
//! everything it waits for has finished, on their finish day (domain rule: an item that
//! starts when its prerequisites finish starts on their finish date), and finishes its
//! limit later. Stages are barriers, as in the engine: an item of a stage starts no
//! earlier than the last applicable item of every earlier stage finishes.
//!
//! Milestones take no government time (they record market or construction events). Items
//! whose `when` is false for the given form drop out: they take no time and are not
//! listed, but an item that waited for one still waits for what *it* waited for, so a
//! serial chain stays a chain when a link of it does not apply.

use chrono::NaiveDate;
use petgraph::graph::NodeIndex;
use petgraph::Direction;
use serde::Serialize;

use super::{Plan, Stage};
use crate::calendar::Due;
use crate::form::Form;
use crate::spec::{ItemKind, LimitKind, Unit};

/// What to schedule.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    /// Statutory or committed limits.
    pub limits: LimitKind,
    /// The applicant's form; without one every item applies.
    pub form: Option<&'a Form>,
    /// The submission date; with it every offset also becomes a date.
    pub start: Option<NaiveDate>,
}

/// One item's place in the earliest schedule.
#[derive(Debug, Clone, Serialize)]
pub struct ItemSchedule {
    /// Item index in the plan (its id: `plan.items[item].id`).
    pub item: usize,
    /// Working days the item takes on the chosen limits.
    pub duration: u32,
    /// Earliest start, working days after submission.
    pub earliest_start: u32,
    /// Earliest finish.
    pub earliest_finish: u32,
    /// Latest start that does not delay the whole.
    pub latest_start: u32,
    /// Latest finish that does not delay the whole.
    pub latest_finish: u32,
    /// How many working days the item may slip without delaying the whole.
    pub slack: u32,
    /// On the critical path.
    pub critical: bool,
    /// Calendar date the item starts (with a start date).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<NaiveDate>,
    /// Calendar date it is due (with a start date).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    /// The due date relies on a year with no published holiday schedule.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
}

/// When a stage's applicable items run.
#[derive(Debug, Clone, Serialize)]
pub struct StageSpan {
    /// The stage.
    pub stage: Stage,
    /// Number of applicable items.
    pub items: usize,
    /// First earliest start (working days), when the stage has items.
    pub start: Option<u32>,
    /// Last earliest finish.
    pub finish: Option<u32>,
    /// Working days from start to finish.
    pub span: u32,
}

/// The analysis of one plan on one set of limits.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    /// Limits used.
    pub limits: LimitKind,
    /// Submission date, if given.
    pub start: Option<NaiveDate>,
    /// Applicable items in stage-major topological order.
    pub items: Vec<ItemSchedule>,
    /// Items whose condition is false for the form (indexes).
    pub dropped: Vec<usize>,
    /// Length of the critical path in working days: the whole approval time.
    pub total: u32,
    /// The critical path (item indexes, first to last).
    pub critical_path: Vec<usize>,
    /// Per stage.
    pub stages: Vec<StageSpan>,
    /// The largest number of items under review on one day in the earliest schedule.
    pub width: usize,
    /// End date (with a start date).
    pub end: Option<Due>,
}

impl Schedule {
    /// The schedule of an item by plan index.
    pub fn of(&self, item: usize) -> Option<&ItemSchedule> {
        self.items.iter().find(|s| s.item == item)
    }
}

pub(super) fn compute(plan: &Plan, opts: &Options<'_>) -> Schedule {
    let n = plan.items.len();
    let applies: Vec<bool> = plan
        .items
        .iter()
        .map(|it| match (&it.when, opts.form) {
            (Some(when), Some(form)) => when.0.eval(form),
            _ => true,
        })
        .collect();
    let cal = &plan.calendar;
    let date_of = |offset: u32| opts.start.map(|s| cal.add_working_days(s, offset));

    // Forward pass, stage by stage.
    let mut es = vec![0u32; n];
    let mut ef = vec![0u32; n];
    let mut dur = vec![0u32; n];
    let mut gate = 0u32;
    let mut stage_max = 0u32;
    let mut current = None;
    for &i in &plan.topo {
        let item = &plan.items[i];
        if current != Some(item.stage) {
            gate = gate.max(stage_max);
            current = Some(item.stage);
        }
        let mut start = gate;
        for p in plan
            .graph
            .neighbors_directed(NodeIndex::new(i), Direction::Incoming)
        {
            start = start.max(ef[p.index()]);
        }
        let days = item.limit.days(opts.limits);
        let d = match (item.kind, item.limit.unit) {
            _ if !applies[i] => 0,
            (ItemKind::Milestone, _) => 0,
            (_, Unit::WorkingDays) => days,
            (_, Unit::CalendarDays) => match opts.start {
                Some(s) => {
                    let from = cal.add_working_days(s, start).date;
                    let due = cal.add_calendar_days(from, days).date;
                    cal.count_working_days(s, due).saturating_sub(start)
                }
                None => item.limit.working_days_undated(opts.limits),
            },
        };
        es[i] = start;
        dur[i] = d;
        ef[i] = start + d;
        if applies[i] {
            stage_max = stage_max.max(ef[i]);
        }
    }
    let total = plan
        .topo
        .iter()
        .filter(|&&i| applies[i])
        .map(|&i| ef[i])
        .max()
        .unwrap_or(0);

    // Backward pass: an item must finish before its successors' latest start and before
    // any item of a later stage starts.
    let mut lf = vec![total; n];
    let mut ls = vec![total; n];
    let mut later_min = total; // min latest start over items of later stages
    let mut stage_min = total;
    let mut current = None;
    for &i in plan.topo.iter().rev() {
        let item = &plan.items[i];
        if current != Some(item.stage) {
            later_min = later_min.min(stage_min);
            current = Some(item.stage);
        }
        let mut finish = later_min;
        for s in plan
            .graph
            .neighbors_directed(NodeIndex::new(i), Direction::Outgoing)
        {
            finish = finish.min(ls[s.index()]);
        }
        lf[i] = finish;
        ls[i] = finish.saturating_sub(dur[i]);
        if applies[i] {
            stage_min = stage_min.min(ls[i]);
        }
    }

    // Critical path: walk back from the last finisher along predecessors that finish
    // exactly when the item starts; through the stage gate when no direct one does.
    let mut critical_path = Vec::new();
    let mut rank = vec![0usize; n];
    for (r, &i) in plan.topo.iter().enumerate() {
        rank[i] = r;
    }
    let last = plan
        .topo
        .iter()
        .copied()
        .filter(|&i| applies[i] && ef[i] == total)
        .find(|&i| ls[i] == es[i]);
    if let Some(mut cur) = last {
        critical_path.push(cur);
        loop {
            let t = es[cur];
            // A predecessor in the graph that finishes exactly when `cur` starts (the
            // longest one when several do), or else the stage gate's last finisher.
            let direct = plan
                .graph
                .neighbors_directed(NodeIndex::new(cur), Direction::Incoming)
                .map(NodeIndex::index)
                .filter(|&p| ef[p] == t && ls[p] == es[p])
                .max_by_key(|&p| (dur[p], std::cmp::Reverse(p)));
            let next = direct.or_else(|| {
                plan.topo
                    .iter()
                    .copied()
                    .filter(|&p| {
                        applies[p]
                            && plan.items[p].stage < plan.items[cur].stage
                            && ef[p] == t
                            && ls[p] == es[p]
                    })
                    .max_by_key(|&p| (dur[p], rank[p]))
            });
            match next {
                Some(p) => {
                    critical_path.push(p);
                    cur = p;
                }
                None => break,
            }
        }
        critical_path.retain(|&i| applies[i]);
        critical_path.reverse();
    }

    // Peak concurrency of the earliest schedule (items with a non-zero duration).
    let mut events: Vec<(u32, i32)> = Vec::new();
    for &i in &plan.topo {
        if applies[i] && dur[i] > 0 {
            events.push((es[i], 1));
            events.push((ef[i], -1));
        }
    }
    events.sort_unstable();
    let (mut running, mut width) = (0i32, 0i32);
    for (_, delta) in events {
        running += delta;
        width = width.max(running);
    }

    let stages = Stage::ALL
        .iter()
        .map(|&stage| {
            let members: Vec<usize> = plan
                .topo
                .iter()
                .copied()
                .filter(|&i| applies[i] && plan.items[i].stage == stage)
                .collect();
            let start = members.iter().map(|&i| es[i]).min();
            let finish = members.iter().map(|&i| ef[i]).max();
            StageSpan {
                stage,
                items: members.len(),
                start,
                finish,
                span: finish.unwrap_or(0) - start.unwrap_or(0),
            }
        })
        .collect();

    let items = plan
        .topo
        .iter()
        .copied()
        .filter(|&i| applies[i])
        .map(|i| {
            let start = date_of(es[i]);
            let due = date_of(ef[i]);
            ItemSchedule {
                item: i,
                duration: dur[i],
                earliest_start: es[i],
                earliest_finish: ef[i],
                latest_start: ls[i],
                latest_finish: lf[i],
                slack: ls[i] - es[i],
                critical: ls[i] == es[i],
                start_date: start.map(|d| d.date),
                due_date: due.map(|d| d.date),
                provisional: due.is_some_and(|d| d.provisional),
            }
        })
        .collect();

    Schedule {
        limits: opts.limits,
        start: opts.start,
        items,
        dropped: (0..n).filter(|&i| !applies[i]).collect(),
        total,
        critical_path,
        stages,
        width: usize::try_from(width).unwrap_or(0),
        end: date_of(total),
    }
}
