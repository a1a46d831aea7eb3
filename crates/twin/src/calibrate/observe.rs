//! Reading the record as the simulator's world would have produced it: per project, its
//! events walked in order, each task's life split into the moments the simulator draws —
//! how long it queued before a reviewer claimed it, how long the review took, what the
//! review ended in, how long the applicant took to answer — and collected per item and
//! per department of one workflow.
//!
//! The mapping (docs/twin.md has it as a table): a review runs from `task_claimed` to the
//! first decision (`supplement_requested`, `task_rejected`, `task_approved`, a return,
//! or the first signature of a step); the second look after a supplement runs from
//! `supplement_provided` to the next decision (its start is not in the record, so its
//! span includes any wait for a reviewer). A review whose start lies before the period
//! is not counted (its length is unknown), nor one still open at the period's end.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use onewindow_core::form::{Form, Value};
use onewindow_core::plan::Plan;
use onewindow_core::spec::ItemKind;
use onewindow_engine::Event;

use crate::clock::{WorkClock, DAY};
use onewindow_mining::ProjectLog;

/// Successes among trials.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Trials {
    /// Trials.
    pub n: u64,
    /// Successes.
    pub yes: u64,
}

impl Trials {
    fn add(&mut self, yes: bool) {
        self.n += 1;
        self.yes += u64::from(yes);
    }

    /// The share, if there was a trial.
    pub fn share(&self) -> Option<f64> {
        (self.n > 0).then(|| self.yes as f64 / self.n as f64)
    }

    /// The sum of two.
    pub fn plus(self, o: Trials) -> Trials {
        Trials {
            n: self.n + o.n,
            yes: self.yes + o.yes,
        }
    }
}

/// What one item's tasks showed.
#[derive(Debug, Default)]
pub struct ItemObs {
    /// First looks (claim to decision), working days.
    pub reviews: Vec<f64>,
    /// Second looks after a supplement (answer to decision), working days.
    pub reworks: Vec<f64>,
    /// A milestone's time from ready to reported, working days.
    pub milestone: Vec<f64>,
    /// Reviews that could ask for a supplement, and did.
    pub supplement: Trials,
    /// Reviews that could reject, and did.
    pub rejection: Trials,
    /// Reviews that could return to an earlier item, and did.
    pub returns: Trials,
    /// Rejections the applicant answered, by resubmitting (else withdrawing).
    pub resubmit: Trials,
}

/// What one department's work showed, in working minutes of the period.
#[derive(Debug, Default)]
pub struct DeptObs {
    /// First looks: claim and decision.
    pub busy: Vec<(u64, u64)>,
    /// Second looks: the answer, the decision, and the item.
    pub reworks: Vec<(u64, u64, String)>,
    /// Tasks ready but not yet claimed: ready and claim.
    pub queued: Vec<(u64, u64)>,
}

/// A kind of project: the items its form makes apply.
#[derive(Debug)]
pub struct TypeObs {
    /// Projects of this kind submitted in the period.
    pub count: u64,
    /// The first one's form, standing for the kind.
    pub values: BTreeMap<String, Value>,
    /// The items that do not apply to it.
    pub not_applying: Vec<String>,
}

/// Everything seen of one workflow in the period.
#[derive(Debug, Default)]
pub struct Observations {
    /// Submissions in the period.
    pub arrivals: u64,
    /// Projects with an event in the period.
    pub projects: u64,
    /// Their events in the period.
    pub events: u64,
    /// Completed in the period.
    pub completed: u64,
    /// Withdrawn in the period.
    pub withdrawn: u64,
    /// Projects per version.
    pub versions: BTreeMap<String, u64>,
    /// By which items apply.
    pub types: BTreeMap<Vec<bool>, TypeObs>,
    /// By item id.
    pub items: BTreeMap<String, ItemObs>,
    /// By department id.
    pub departments: BTreeMap<String, DeptObs>,
    /// The applicant's time to answer a supplement request, working days.
    pub supplement_response: Vec<f64>,
    /// The applicant's time to resubmit after a rejection, working days.
    pub rejection_response: Vec<f64>,
}

#[derive(Clone, Copy)]
enum St {
    Idle,
    Queued(u64),
    Reviewing(u64),
    Asked(u64),
    Reworking(u64),
    Rejected(u64),
}

#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    Supplement,
    Reject,
    Return,
    Approve,
}

#[derive(Clone, Copy)]
struct Task {
    st: St,
    supplemented: bool,
    rejected: bool,
    returned: bool,
    milestone: Option<u64>,
}

/// Per plan version: which items have an earlier review item to return to.
#[derive(Default)]
pub struct Upstream(HashMap<String, Arc<Vec<bool>>>);

impl Upstream {
    fn of(&mut self, plan: &Plan) -> Arc<Vec<bool>> {
        self.0
            .entry(plan.version.clone())
            .or_insert_with(|| {
                let mut up = vec![false; plan.items.len()];
                for (j, it) in plan.items.iter().enumerate() {
                    if it.kind == ItemKind::Review {
                        for k in plan.dependents(j) {
                            up[k] = true;
                        }
                    }
                }
                Arc::new(up)
            })
            .clone()
    }
}

impl Observations {
    /// Adds one project's events.
    pub fn add(&mut self, p: &ProjectLog, clock: &WorkClock, upstream: &mut Upstream) {
        let plan = &*p.plan;
        let up = upstream.of(plan);
        self.projects += 1;
        self.events += p.events.len() as u64;
        *self.versions.entry(plan.version.clone()).or_default() += 1;
        let mut tasks = vec![
            Task {
                st: St::Idle,
                supplemented: false,
                rejected: false,
                returned: false,
                milestone: None,
            };
            plan.items.len()
        ];
        let days = |a: u64, b: u64| b.saturating_sub(a) as f64 / DAY as f64;
        for e in &p.events {
            let t = clock.minutes(e.at);
            let index = |item: &str| plan.item_index(item);
            match &e.event {
                Event::Submitted { form, .. } => {
                    self.arrivals += 1;
                    let f = Form {
                        values: form.clone(),
                    };
                    let key = onewindow_engine::notice::applicable(plan, &f);
                    let ty = self.types.entry(key.clone()).or_insert_with(|| TypeObs {
                        count: 0,
                        values: form.clone(),
                        not_applying: plan
                            .items
                            .iter()
                            .zip(&key)
                            .filter(|(_, a)| !**a)
                            .map(|(it, _)| it.id.clone())
                            .collect(),
                    });
                    ty.count += 1;
                }
                Event::TaskReady { item, .. } => {
                    if let Some(i) = index(item) {
                        if plan.items[i].department.is_some() {
                            tasks[i].st = St::Queued(t);
                        } else {
                            tasks[i].milestone = Some(t);
                        }
                    }
                }
                Event::Resubmitted { item, .. } => {
                    if let Some(i) = index(item) {
                        if let St::Rejected(r) = tasks[i].st {
                            self.rejection_response.push(days(r, t));
                            self.item(item).resubmit.add(true);
                        }
                        tasks[i].st = St::Queued(t);
                    }
                }
                Event::Returned { item, by, .. } => {
                    if let Some(b) = index(by) {
                        self.end_review(plan, &up, &mut tasks, b, Outcome::Return, t);
                    }
                    if let Some(i) = index(item) {
                        tasks[i].st = St::Queued(t);
                    }
                }
                Event::Reopened { item, .. } => {
                    if let Some(i) = index(item) {
                        tasks[i].st = St::Idle;
                    }
                }
                Event::TaskClaimed { item } => {
                    if let Some(i) = index(item) {
                        if let (St::Queued(q), Some(d)) = (tasks[i].st, plan.items[i].department) {
                            let dept = self.dept(&plan.departments[d].id);
                            dept.queued.push((q, t));
                        }
                        tasks[i].st = St::Reviewing(t);
                    }
                }
                Event::SupplementRequested { item, .. } => {
                    if let Some(i) = index(item) {
                        self.end_review(plan, &up, &mut tasks, i, Outcome::Supplement, t);
                        tasks[i].st = St::Asked(t);
                    }
                }
                Event::SupplementProvided { item, .. } => {
                    if let Some(i) = index(item) {
                        if let St::Asked(a) = tasks[i].st {
                            self.supplement_response.push(days(a, t));
                            tasks[i].st = St::Reworking(t);
                        }
                    }
                }
                Event::TaskRejected { item, .. } => {
                    if let Some(i) = index(item) {
                        self.end_review(plan, &up, &mut tasks, i, Outcome::Reject, t);
                        tasks[i].st = St::Rejected(t);
                    }
                }
                Event::TaskApproved { item, .. } => {
                    if let Some(i) = index(item) {
                        if plan.items[i].department.is_some() {
                            self.end_review(plan, &up, &mut tasks, i, Outcome::Approve, t);
                            tasks[i].st = St::Idle;
                        } else if let Some(r) = tasks[i].milestone.take() {
                            self.item(item).milestone.push(days(r, t));
                        }
                    }
                }
                Event::StepSigned { item, .. } | Event::StepCompleted { item, .. } => {
                    // The review is over when its holder signs; the rest is signatures.
                    if let Some(i) = index(item) {
                        self.end_review(plan, &up, &mut tasks, i, Outcome::Approve, t);
                    }
                }
                Event::Withdrawn { .. } => {
                    // The applicant gave up on one rejection (the latest: the one whose
                    // answer was awaited longest is as likely, and the share over all
                    // items is the same); other rejections still open are cut short,
                    // their answer unknown, and not counted.
                    self.withdrawn += 1;
                    let latest = (0..tasks.len())
                        .filter_map(|i| match tasks[i].st {
                            St::Rejected(r) => Some((r, i)),
                            _ => None,
                        })
                        .max();
                    if let Some((_, i)) = latest {
                        let id = plan.items[i].id.clone();
                        self.item(&id).resubmit.add(false);
                    }
                    for task in &mut tasks {
                        task.st = St::Idle;
                    }
                }
                Event::Completed => self.completed += 1,
                _ => {}
            }
        }
    }

    fn item(&mut self, id: &str) -> &mut ItemObs {
        if !self.items.contains_key(id) {
            self.items.insert(id.to_string(), ItemObs::default());
        }
        self.items.get_mut(id).expect("inserted")
    }

    fn dept(&mut self, id: &str) -> &mut DeptObs {
        if !self.departments.contains_key(id) {
            self.departments.insert(id.to_string(), DeptObs::default());
        }
        self.departments.get_mut(id).expect("inserted")
    }

    /// A review of item `i` ended at `t` in `outcome`: its length, and the trials of what
    /// it could have ended in — as the simulator draws them: a supplement at most once
    /// per task, else a rejection at most once, else a return at most once (where there
    /// is an earlier item), else approval.
    fn end_review(
        &mut self,
        plan: &Plan,
        up: &[bool],
        tasks: &mut [Task],
        i: usize,
        outcome: Outcome,
        t: u64,
    ) {
        let Some(d) = plan.items[i].department else {
            return;
        };
        let task = tasks[i];
        let id = &plan.items[i].id;
        let dept = &plan.departments[d].id;
        let days = |a: u64| t.saturating_sub(a) as f64 / DAY as f64;
        match task.st {
            St::Reviewing(s) => {
                self.item(id).reviews.push(days(s));
                self.dept(dept).busy.push((s, t));
            }
            St::Reworking(p) => {
                self.item(id).reworks.push(days(p));
                self.dept(dept).reworks.push((p, t, id.clone()));
            }
            _ => return,
        }
        let obs = self.item(id);
        if !task.supplemented {
            obs.supplement.add(outcome == Outcome::Supplement);
        }
        if outcome != Outcome::Supplement && !task.rejected {
            obs.rejection.add(outcome == Outcome::Reject);
        }
        if matches!(outcome, Outcome::Return | Outcome::Approve) && !task.returned && up[i] {
            obs.returns.add(outcome == Outcome::Return);
        }
        let task = &mut tasks[i];
        match outcome {
            Outcome::Supplement => task.supplemented = true,
            Outcome::Reject => task.rejected = true,
            Outcome::Return => task.returned = true,
            Outcome::Approve => {}
        }
        task.st = St::Idle;
    }
}
