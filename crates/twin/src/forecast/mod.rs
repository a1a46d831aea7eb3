//! The forecast from today: every open project restored where it stands ([`open`]),
//! the scenario's world (calibrated from the record, or given) run forward a horizon of
//! working days many times, and what supervision would do counted across the runs — the
//! chance each task passes its limit and draws a yellow card (督办), or a red one (整改),
//! within the horizon; each department's queue over the days ahead; and, with a change
//! of staff, the same under the change, on the same random numbers (so the difference is
//! the change's, not the dice's).

pub mod open;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use onewindow_core::plan::Plan;
use onewindow_engine::Card;
use onewindow_simulate::des::forecast::{self as run, OpenProject, Outlook};
use onewindow_simulate::scenario::{Scenario, Staff, Variant};
use onewindow_store::ReadStore;
use serde::Serialize;

use crate::clock::WorkClock;
use crate::Error;

/// What to forecast.
#[derive(Debug, Clone)]
pub struct Options {
    /// The moment the forecast starts from (the record up to it).
    pub at: NaiveDateTime,
    /// Working days ahead.
    pub horizon: u32,
    /// Runs.
    pub replications: u32,
    /// Threads.
    pub threads: usize,
    /// A change of staff to weigh: department id and reviewers added (or removed).
    pub staff: Vec<(String, i64)>,
    /// The seed: the same seed and record give the same forecast.
    pub seed: u64,
}

/// The most working days a forecast looks ahead.
pub const MAX_HORIZON: u32 = 250;
/// The most runs.
pub const MAX_REPLICATIONS: u32 = 10_000;

/// One task's risk.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRisk {
    /// Project id.
    pub project: String,
    /// Item id.
    pub item: String,
    /// Item name.
    pub name: String,
    /// Department id.
    pub department: String,
    /// Its state at the start (`ready`, `claimed`, `suspended`, `waiting`, …).
    pub state: &'static str,
    /// Its due date as it stands (none while its clock is stopped or before it is ready).
    pub due: Option<NaiveDate>,
    /// Already overdue at the start.
    pub overdue: bool,
    /// Chance of a yellow card within the horizon.
    pub yellow: f64,
    /// Chance of a red card within the horizon.
    pub red: f64,
    /// The working day the yellow card falls on, the median over the runs that drew it.
    pub day: Option<u32>,
}

/// A department's days ahead.
#[derive(Debug, Clone, Serialize)]
pub struct DepartmentOutlook {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Reviewers (none: unlimited).
    pub staff: Option<u32>,
    /// Per working day (0 = the start): mean tasks waiting for a reviewer.
    pub waiting: Vec<f64>,
    /// The 90th percentile of the same.
    pub waiting_p90: Vec<f64>,
    /// Mean reviews under way.
    pub reviewing: Vec<f64>,
    /// Yellow cards expected within the horizon, on its tasks.
    pub yellow: f64,
}

/// The forecast under one world.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Projects whose chance of a card within the horizon is at least one half.
    pub projects_at_risk: usize,
    /// Projects expected to draw a card (the sum of their chances).
    pub projects_expected: f64,
    /// Yellow and red cards expected.
    pub yellow_expected: f64,
    /// Red cards expected.
    pub red_expected: f64,
    /// Tasks with a chance of a card, likeliest first.
    pub tasks: Vec<TaskRisk>,
    /// Per department.
    pub departments: Vec<DepartmentOutlook>,
}

/// A forecast.
#[derive(Debug, Clone, Serialize)]
pub struct Forecast {
    /// The moment it starts from.
    pub at: NaiveDateTime,
    /// Working days ahead.
    pub horizon: u32,
    /// Runs.
    pub replications: u32,
    /// The workflow and version forecast.
    pub workflow: String,
    /// Its version.
    pub version: String,
    /// Open projects forecast.
    pub open: usize,
    /// Open projects of other versions, left out.
    pub left_out: usize,
    /// New projects expected per working day.
    pub arrivals_per_day: f64,
    /// Engine commands executed, over all runs (the what-if's included).
    pub commands: u64,
    /// Under the scenario's world.
    pub outcome: Outcome,
    /// Under the change of staff, if one was asked for.
    pub what_if: Option<(Vec<(String, i64)>, Outcome)>,
}

/// Runs the forecast.
///
/// # Errors
/// The store fails, the options are out of range, a department of the change does not
/// exist, or the scenario has no variant.
pub fn forecast(
    scenario: &Scenario,
    store: &dyn ReadStore,
    o: &Options,
) -> Result<Forecast, Error> {
    if o.horizon == 0 || o.horizon > MAX_HORIZON {
        return Err(Error::Input(format!(
            "the horizon is {} working days: 1 to {MAX_HORIZON}",
            o.horizon
        )));
    }
    if o.replications == 0 || o.replications > MAX_REPLICATIONS {
        return Err(Error::Input(format!(
            "{} runs: 1 to {MAX_REPLICATIONS}",
            o.replications
        )));
    }
    let variant = scenario
        .variants
        .first()
        .ok_or_else(|| Error::Input("the scenario has no variant".into()))?;
    let plan = Arc::new(variant.plan.clone());
    let changed = match o.staff.is_empty() {
        true => None,
        false => Some(with_staff(variant, &o.staff)?),
    };
    let day = o.at.date();
    let clock = WorkClock::new(
        &plan.calendar,
        day - chrono::Days::new(3 * 366),
        day + chrono::Days::new(1),
    );
    let open = open::open_at(store, &plan, o.at, &clock)?;
    let arrivals = &scenario.raw.arrivals;
    let outlooks = runs(variant, &open.projects, arrivals, o);
    let mut commands: u64 = outlooks.iter().map(|x| x.commands).sum();
    let outcome = summarise(&plan, variant, &open.projects, &outlooks, o);
    let what_if = changed.map(|v| {
        let outlooks = runs(&v, &open.projects, arrivals, o);
        commands += outlooks.iter().map(|x| x.commands).sum::<u64>();
        (
            o.staff.clone(),
            summarise(&plan, &v, &open.projects, &outlooks, o),
        )
    });
    Ok(Forecast {
        at: o.at,
        horizon: o.horizon,
        replications: o.replications,
        workflow: plan.id.clone(),
        version: plan.version.clone(),
        open: open.projects.len(),
        left_out: open.left_out.values().sum(),
        arrivals_per_day: arrivals.per_working_day.unwrap_or(0.0),
        commands,
        outcome,
        what_if,
    })
}

/// The variant with the change of staff laid over its world.
fn with_staff(variant: &Variant, change: &[(String, i64)]) -> Result<Variant, Error> {
    let settings = onewindow_simulate::des::Settings::of(variant);
    let mut v = variant.clone();
    for (id, delta) in change {
        let d = variant
            .plan
            .departments
            .iter()
            .position(|d| d.id == *id)
            .ok_or_else(|| {
                Error::Input(format!(
                    "--staff {id}: the workflow has no such department (it has {})",
                    variant
                        .plan
                        .departments
                        .iter()
                        .map(|d| d.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let Some(now) = settings.departments[d].staff else {
            return Err(Error::Input(format!(
                "--staff {id}: the department has no limit on reviewers in this world (staff: unlimited); give it a number in the scenario first"
            )));
        };
        let new = i64::from(now) + delta;
        if !(1..=i64::from(onewindow_simulate::scenario::MAX_STAFF)).contains(&new) {
            return Err(Error::Input(format!(
                "--staff {id}={delta:+}: {now} reviewers would become {new}; at least 1"
            )));
        }
        v.world.departments.entry(id.clone()).or_default().staff = Some(Staff::Count(new as u32));
    }
    Ok(v)
}

fn runs(
    variant: &Variant,
    open: &[OpenProject],
    arrivals: &onewindow_simulate::scenario::Arrivals,
    o: &Options,
) -> Vec<Outlook> {
    onewindow_simulate::in_parallel(o.replications as usize, o.threads, |r| {
        let seed = onewindow_simulate::replication_seed(o.seed, r as u32);
        run::run(variant, open, arrivals, o.at, o.horizon, seed)
    })
}

fn summarise(
    plan: &Plan,
    variant: &Variant,
    open: &[OpenProject],
    outlooks: &[Outlook],
    o: &Options,
) -> Outcome {
    let runs = outlooks.len().max(1) as f64;
    // Per (project, item): runs with a yellow card and its days, runs with a red one.
    let mut seen: HashMap<(u32, u32), (u32, u32, Vec<u32>)> = HashMap::new();
    let mut carded: HashMap<u32, u32> = HashMap::new();
    for out in outlooks {
        let mut this: HashMap<(u32, u32), (bool, bool, u32)> = HashMap::new();
        for &(p, i, card, day) in &out.cards {
            let e = this.entry((p, i)).or_insert((false, false, day));
            match card {
                Card::Yellow => {
                    e.0 = true;
                    e.2 = e.2.min(day);
                }
                Card::Red => e.1 = true,
            }
        }
        let mut projects = std::collections::HashSet::new();
        for ((p, i), (y, r, day)) in this {
            let e = seen.entry((p, i)).or_default();
            e.0 += u32::from(y);
            e.1 += u32::from(r);
            if y {
                e.2.push(day);
            }
            projects.insert(p);
        }
        for p in projects {
            *carded.entry(p).or_default() += 1;
        }
    }
    let mut tasks: Vec<TaskRisk> = seen
        .into_iter()
        .map(|((p, i), (y, r, mut days))| {
            let project = &open[p as usize];
            let task = &project.project.tasks()[i as usize];
            let it = &plan.items[i as usize];
            days.sort_unstable();
            TaskRisk {
                project: project.id.clone(),
                item: it.id.clone(),
                name: it.name.clone(),
                department: it
                    .department
                    .map_or("window".into(), |d| plan.departments[d].id.clone()),
                state: task.state.as_str(),
                due: task.due,
                overdue: task.overdue,
                yellow: f64::from(y) / runs,
                red: f64::from(r) / runs,
                day: onewindow_core::stats::nearest_rank(&days, 0.5),
            }
        })
        .collect();
    tasks.sort_by(|a, b| {
        b.yellow
            .total_cmp(&a.yellow)
            .then(b.red.total_cmp(&a.red))
            .then_with(|| (&a.project, &a.item).cmp(&(&b.project, &b.item)))
    });
    let settings = onewindow_simulate::des::Settings::of(variant);
    let days = o.horizon as usize + 1;
    let departments = plan
        .departments
        .iter()
        .enumerate()
        .map(|(d, dept)| {
            let mut waiting = vec![0.0; days];
            let mut reviewing = vec![0.0; days];
            let mut waiting_p90 = vec![0.0; days];
            for k in 0..days {
                let mut w: Vec<f64> = outlooks
                    .iter()
                    .filter_map(|out| out.queues.get(k).and_then(|q| q.get(d)))
                    .map(|&(w, _)| f64::from(w))
                    .collect();
                let r: f64 = outlooks
                    .iter()
                    .filter_map(|out| out.queues.get(k).and_then(|q| q.get(d)))
                    .map(|&(_, r)| f64::from(r))
                    .sum();
                if !w.is_empty() {
                    reviewing[k] = r / w.len() as f64;
                    waiting[k] = w.iter().sum::<f64>() / w.len() as f64;
                    w.sort_by(f64::total_cmp);
                    waiting_p90[k] = onewindow_core::stats::nearest_rank(&w, 0.9).unwrap_or(0.0);
                }
            }
            let yellow = tasks
                .iter()
                .filter(|t| t.department == dept.id)
                .fold(0.0, |a, t| a + t.yellow);
            DepartmentOutlook {
                id: dept.id.clone(),
                name: dept.name.clone(),
                staff: settings.departments[d].staff,
                waiting,
                waiting_p90,
                reviewing,
                yellow,
            }
        })
        .collect();
    let chance = |n: u32| f64::from(n) / runs;
    Outcome {
        projects_at_risk: carded.values().filter(|&&n| chance(n) >= 0.5).count(),
        projects_expected: carded.values().fold(0.0, |a, &n| a + chance(n)),
        yellow_expected: tasks.iter().fold(0.0, |a, t| a + t.yellow),
        red_expected: tasks.iter().fold(0.0, |a, t| a + t.red),
        tasks,
        departments,
    }
}

impl Forecast {
    /// The headline the supervision dashboard shows.
    pub fn headline(&self) -> String {
        format!(
            "未来 {} 个工作日：{} 个项目可能被亮牌（概率 ≥ 50%），预计黄牌 {:.1} 张、红牌 {:.1} 张",
            self.horizon,
            self.outcome.projects_at_risk,
            self.outcome.yellow_expected,
            self.outcome.red_expected
        )
    }

    /// The headline as the dashboard shows it (made at `made`).
    pub fn published(&self, made: NaiveDateTime) -> onewindow_core::forecast::Headline {
        use onewindow_core::forecast::{HeadlineTask, MAX_TASKS};
        onewindow_core::forecast::Headline {
            made,
            at: self.at,
            horizon: self.horizon,
            replications: self.replications,
            workflow: self.workflow.clone(),
            open: self.open,
            projects_at_risk: self.outcome.projects_at_risk,
            yellow_expected: self.outcome.yellow_expected,
            red_expected: self.outcome.red_expected,
            tasks: self
                .outcome
                .tasks
                .iter()
                .take(MAX_TASKS)
                .map(|t| HeadlineTask {
                    project: t.project.clone(),
                    item: t.item.clone(),
                    name: t.name.clone(),
                    department: t.department.clone(),
                    yellow: t.yellow,
                    red: t.red,
                    day: t.day,
                })
                .collect(),
        }
    }

    /// The report as text.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "forecast from {} for {} working days, {} runs: {} open projects of `{}` ({} of other versions left out), {:.2} new projects a working day",
            self.at, self.horizon, self.replications, self.open, self.workflow, self.left_out, self.arrivals_per_day
        );
        let _ = writeln!(s, "{}\n", self.headline());
        outcome_table(&mut s, &self.outcome, 20);
        if let Some((change, w)) = &self.what_if {
            let change: Vec<String> = change.iter().map(|(d, n)| format!("{d}{n:+}")).collect();
            let _ = writeln!(
                s,
                "\nwhat if: staff {} — projects at risk {} → {}, yellow cards {:.1} → {:.1}, red {:.1} → {:.1}",
                change.join(", "),
                self.outcome.projects_at_risk,
                w.projects_at_risk,
                self.outcome.yellow_expected,
                w.yellow_expected,
                self.outcome.red_expected,
                w.red_expected
            );
            for (a, b) in self.outcome.departments.iter().zip(&w.departments) {
                if a.staff != b.staff {
                    let last = a.waiting.len() - 1;
                    let _ = writeln!(
                        s,
                        "  {} ({}): staff {} → {}, waiting on day {last} {:.1} → {:.1}, yellow cards {:.1} → {:.1}",
                        a.id,
                        a.name,
                        a.staff.map_or("unlimited".into(), |n| n.to_string()),
                        b.staff.map_or("unlimited".into(), |n| n.to_string()),
                        a.waiting[last],
                        b.waiting[last],
                        a.yellow,
                        b.yellow
                    );
                }
            }
        }
        s
    }
}

fn outcome_table(s: &mut String, o: &Outcome, top: usize) {
    use std::fmt::Write as _;
    let _ = writeln!(
        s,
        "tasks likely to pass their limit ({} with any chance; the {} likeliest):",
        o.tasks.len(),
        top.min(o.tasks.len())
    );
    let _ = writeln!(
        s,
        "  {:<14} {:<6} {:<16} {:<11} {:>7} {:>7} {:>5}",
        "project", "item", "department", "due", "yellow", "red", "day"
    );
    for t in o.tasks.iter().take(top) {
        let _ = writeln!(
            s,
            "  {:<14} {:<6} {:<16} {:<11} {:>6.0}% {:>6.0}% {:>5}   {}",
            t.project,
            t.item,
            t.department,
            t.due.map_or_else(|| t.state.to_string(), |d| d.to_string()),
            100.0 * t.yellow,
            100.0 * t.red,
            t.day.map_or("-".into(), |d| d.to_string()),
            t.name
        );
    }
    let _ = writeln!(
        s,
        "\nqueues (tasks waiting for a reviewer, mean; p90), by working day:"
    );
    for d in &o.departments {
        let days: Vec<String> = d
            .waiting
            .iter()
            .zip(&d.waiting_p90)
            .step_by((d.waiting.len() / 5).max(1))
            .map(|(m, p)| format!("{m:.1};{p:.0}"))
            .collect();
        let _ = writeln!(
            s,
            "  {:<16} staff {:<9} {}   yellow cards {:.1}",
            d.id,
            d.staff.map_or("unlimited".into(), |n| n.to_string()),
            days.join("  "),
            d.yellow
        );
    }
}
