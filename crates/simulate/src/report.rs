//! Figures per variant, pooled over replications, and their table, JSON and CSV forms.
//! The JSON is documented in `docs/simulate.md`.

use std::fmt::Write as _;

use petgraph::graph::NodeIndex;
use petgraph::Direction;
use serde::Serialize;

use super::des::{self, RunResult, DAY, NONE};
use super::scenario::Scenario;
use onewindow_core::plan::Options;
use onewindow_core::plan::{Plan, Stage};

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Scenario name.
    pub scenario: String,
    /// Its seed.
    pub seed: u64,
    /// Replications per variant.
    pub replications: u32,
    /// Per variant, the first being the baseline.
    pub variants: Vec<VariantReport>,
}

/// Summary statistics of working days.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// How many values.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
}

impl Stats {
    /// Of a list of values (sorted here).
    pub fn of(mut v: Vec<f64>) -> Stats {
        if v.is_empty() {
            return Stats::default();
        }
        v.sort_by(f64::total_cmp);
        let rank = |q: f64| onewindow_core::stats::nearest_rank(&v, q).unwrap_or(0.0);
        Stats {
            count: v.len() as u64,
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p50: rank(0.5),
            p90: rank(0.9),
            p99: rank(0.99),
            min: v[0],
            max: v[v.len() - 1],
        }
    }
}

/// One stage's span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageReport {
    /// Stage id.
    pub stage: String,
    /// Working days it was open, over the projects that completed it.
    pub working_days: Stats,
}

/// One department.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DepartmentReport {
    /// Department id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Reviewers (`null`: unlimited).
    pub staff: Option<u32>,
    /// Reviews started (a second look after a supplement counts).
    pub reviews: u64,
    /// Tasks approved.
    pub approved: u64,
    /// Busy reviewer time over available reviewer time (`null` with unlimited staff).
    pub utilization: Option<f64>,
    /// Mean number of reviews in progress.
    pub mean_busy: f64,
    /// Mean working days a task waited for a reviewer.
    pub mean_wait_working_days: f64,
    /// Share of approvals that came after the task's due date.
    pub overdue_share: f64,
    /// Reviews that returned the project to an earlier item (退回).
    pub returns: u64,
    /// Mean working days an approved task's countersigned steps waited for their named
    /// signers (会签, 或签, 票签).
    pub mean_signing_working_days: f64,
}

/// The critical path of a plan, on the limits the workflow runs on (its `limits:`:
/// committed unless it says statutory), for the first project type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedPath {
    /// Working days.
    pub working_days: u32,
    /// Item ids, first to last.
    pub items: Vec<String>,
}

/// One task of the typical project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GanttRow {
    /// Item id.
    pub item: String,
    /// Item name, as the workflow gives it.
    pub name: String,
    /// Department id, or `window` for a milestone.
    pub department: String,
    /// Working days from the project's arrival: ready, review started, approved.
    pub ready: f64,
    /// Review started (equal to `ready` for a milestone).
    pub start: f64,
    /// Approved or reported.
    pub end: f64,
}

/// The project of the first replication whose total is the median: its tasks and the
/// chain of items that set its length.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypicalProject {
    /// Its total, working days.
    pub total_working_days: f64,
    /// Item ids, first to last: each waited for the one before it, which finished last
    /// among what it waited for.
    pub critical_path: Vec<String>,
    /// Its tasks, by ready time.
    pub tasks: Vec<GanttRow>,
}

/// Differences from the baseline (this minus the first variant).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    /// Projects completed.
    pub projects_completed: i64,
    /// Mean total working days.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// Counts of total working days in equal bins from 0, shared by every variant.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Histogram {
    /// Width of a bin, working days.
    pub bin_working_days: f64,
    /// Completed projects per bin.
    pub counts: Vec<u64>,
}

/// One variant's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantReport {
    /// Name.
    pub name: String,
    /// Workflow id.
    pub workflow: String,
    /// Projects that arrived.
    pub projects_arrived: u64,
    /// Projects completed.
    pub projects_completed: u64,
    /// Withdrawn after a rejection.
    pub projects_withdrawn: u64,
    /// Refused at the window.
    pub projects_refused: u64,
    /// Refused at the window because the site conflicts with the plans (一张蓝图).
    pub projects_stopped_at_counter: u64,
    /// Let through with a conflicting site and rejected for it by a department.
    pub projects_rejected_for_site: u64,
    /// Still running when the simulation ended (none: it runs until every project ends).
    pub projects_running: u64,
    /// Arrival to completion, working days, over completed projects.
    pub total_working_days: Stats,
    /// Per stage.
    pub stages: Vec<StageReport>,
    /// Per department.
    pub departments: Vec<DepartmentReport>,
    /// The plan's own critical path.
    pub planned_critical_path: PlannedPath,
    /// The typical project.
    pub typical_project: Option<TypicalProject>,
    /// Against the baseline (absent for the baseline).
    pub delta: Option<Delta>,
    /// Total working days binned on the same bins for every variant (for charts).
    pub histogram: Histogram,
    /// Engine commands executed.
    pub engine_commands: u64,
    /// Working days simulated, summed over replications.
    pub simulated_working_days: f64,
}

fn days(minutes: u64) -> f64 {
    minutes as f64 / DAY as f64
}

/// Pools the replications of every variant.
pub fn pool(s: &Scenario, runs: Vec<Vec<RunResult>>) -> Report {
    let (mut variants, totals): (Vec<VariantReport>, Vec<Vec<f64>>) = s
        .variants
        .iter()
        .zip(runs)
        .map(|(v, runs)| variant_report(&v.plan, v, &runs))
        .unzip();
    // Forty bins over the range of every variant, so the distributions overlay.
    let top = totals.iter().flatten().copied().fold(0.0_f64, f64::max);
    let width = if top > 0.0 { top / 40.0 } else { 1.0 };
    for (v, t) in variants.iter_mut().zip(&totals) {
        let mut counts = vec![0u64; 40];
        for x in t {
            counts[((x / width) as usize).min(39)] += 1;
        }
        v.histogram = Histogram {
            bin_working_days: width,
            counts,
        };
    }
    if let Some(base) = variants.first().cloned() {
        for v in variants.iter_mut().skip(1) {
            v.delta = Some(Delta {
                projects_completed: v.projects_completed as i64 - base.projects_completed as i64,
                mean: v.total_working_days.mean - base.total_working_days.mean,
                p50: v.total_working_days.p50 - base.total_working_days.p50,
                p90: v.total_working_days.p90 - base.total_working_days.p90,
                p99: v.total_working_days.p99 - base.total_working_days.p99,
            });
        }
    }
    Report {
        scenario: s.raw.scenario.clone(),
        seed: s.raw.seed,
        replications: s.raw.replications,
        variants,
    }
}

fn variant_report(
    plan: &Plan,
    v: &super::scenario::Variant,
    runs: &[RunResult],
) -> (VariantReport, Vec<f64>) {
    let all = || runs.iter().flat_map(|r| r.projects.iter());
    let totals: Vec<f64> = all().filter_map(|p| p.total.map(days)).collect();
    let stages = Stage::ALL
        .iter()
        .enumerate()
        .map(|(k, st)| StageReport {
            stage: st.id().to_string(),
            working_days: Stats::of(all().filter_map(|p| p.stages[k].map(days)).collect()),
        })
        .collect();
    let span: u64 = runs.iter().map(|r| r.span).sum();
    let departments = plan
        .departments
        .iter()
        .enumerate()
        .map(|(d, dept)| {
            let mut sum = des::DepartmentResult::default();
            for r in runs {
                let x = &r.departments[d];
                sum.staff = x.staff;
                sum.reviews += x.reviews;
                sum.busy += x.busy;
                sum.waited += x.waited;
                sum.approved += x.approved;
                sum.overdue += x.overdue;
                sum.returns += x.returns;
                sum.signing += x.signing;
            }
            let mean_busy = if span > 0 {
                sum.busy as f64 / span as f64
            } else {
                0.0
            };
            DepartmentReport {
                id: dept.id.clone(),
                name: dept.name.clone(),
                staff: sum.staff,
                reviews: sum.reviews,
                approved: sum.approved,
                utilization: sum.staff.map(|s| mean_busy / f64::from(s)),
                mean_busy,
                mean_wait_working_days: if sum.reviews > 0 {
                    days(sum.waited) / sum.reviews as f64
                } else {
                    0.0
                },
                overdue_share: if sum.approved > 0 {
                    sum.overdue as f64 / sum.approved as f64
                } else {
                    0.0
                },
                returns: sum.returns,
                mean_signing_working_days: if sum.approved > 0 {
                    days(sum.signing) / sum.approved as f64
                } else {
                    0.0
                },
            }
        })
        .collect();
    let form = v.types.first().map(|t| onewindow_core::form::Form {
        values: t.form.clone(),
    });
    let sched = plan.schedule(&Options {
        limits: plan.default_limits,
        form: form.as_ref(),
        start: None,
    });
    let planned = PlannedPath {
        working_days: sched.total,
        items: sched
            .critical_path
            .iter()
            .map(|&i| plan.items[i].id.clone())
            .collect(),
    };
    let typical = runs.first().and_then(|r| typical(plan, r));
    let count = |f: &dyn Fn(&des::ProjectResult) -> bool| all().filter(|p| f(p)).count() as u64;
    let report = VariantReport {
        name: v.name.clone(),
        workflow: plan.id.clone(),
        projects_arrived: count(&|_| true),
        projects_completed: totals.len() as u64,
        projects_withdrawn: count(&|p| p.withdrawn),
        projects_refused: count(&|p| p.refused),
        projects_stopped_at_counter: count(&|p| p.site_stopped),
        projects_rejected_for_site: count(&|p| p.site_rejected),
        projects_running: count(&|p| p.total.is_none() && !p.withdrawn && !p.refused),
        total_working_days: Stats::of(totals.clone()),
        stages,
        departments,
        planned_critical_path: planned,
        typical_project: typical,
        delta: None,
        histogram: Histogram::default(),
        engine_commands: runs.iter().map(|r| r.commands).sum(),
        simulated_working_days: days(span),
    };
    (report, totals)
}

/// The completed project whose total is the median of its replication (the first such,
/// by arrival), with its realized critical path.
fn typical(plan: &Plan, r: &RunResult) -> Option<TypicalProject> {
    let mut totals: Vec<(u64, usize)> = r
        .projects
        .iter()
        .enumerate()
        .filter_map(|(k, p)| p.total.map(|t| (t, k)))
        .collect();
    if totals.is_empty() {
        return None;
    }
    totals.sort_unstable();
    let (total, k) = totals[(totals.len() - 1) / 2];
    let p = &r.projects[k];
    if p.tasks.is_empty() {
        return None;
    }
    let d = |m: u32| f64::from(m) / DAY as f64;
    let mut rows: Vec<(u32, usize)> = p
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.ready != NONE && t.end != NONE)
        .map(|(i, t)| (t.ready, i))
        .collect();
    rows.sort_unstable();
    let tasks = rows
        .iter()
        .map(|&(_, i)| {
            let t = p.tasks[i];
            let it = &plan.items[i];
            GanttRow {
                item: it.id.clone(),
                name: it.name.clone(),
                department: plan.department_of(i).to_string(),
                ready: d(t.ready),
                start: d(if t.start == NONE { t.ready } else { t.start }),
                end: d(t.end),
            }
        })
        .collect();
    Some(TypicalProject {
        total_working_days: days(total),
        critical_path: realized_path(plan, &p.tasks),
        tasks,
    })
}

/// Walks back from the task that finished last: each step goes to the task, among those
/// the current one waited for (its graph predecessors and every task of earlier stages),
/// that finished last — when it finished exactly as the current one became ready.
fn realized_path(plan: &Plan, tasks: &[des::TaskTimes]) -> Vec<String> {
    let done = |i: usize| tasks[i].end != NONE && tasks[i].ready != NONE;
    let Some(mut cur) = (0..tasks.len())
        .filter(|&i| done(i))
        .max_by_key(|&i| (tasks[i].end, std::cmp::Reverse(i)))
    else {
        return Vec::new();
    };
    let mut path = vec![cur];
    loop {
        let ready = tasks[cur].ready;
        if ready == 0 {
            break;
        }
        let stage = plan.items[cur].stage;
        let graph = plan
            .graph
            .neighbors_directed(NodeIndex::new(cur), Direction::Incoming)
            .map(NodeIndex::index);
        let earlier = (0..tasks.len()).filter(|&j| plan.items[j].stage < stage);
        let best = graph
            .chain(earlier)
            .filter(|&j| done(j) && tasks[j].end <= ready)
            .max_by_key(|&j| (tasks[j].end, std::cmp::Reverse(j)));
        match best {
            Some(j) if tasks[j].end == ready && !path.contains(&j) => {
                path.push(j);
                cur = j;
            }
            _ => break,
        }
    }
    path.reverse();
    path.into_iter().map(|i| plan.items[i].id.clone()).collect()
}

fn signed(x: f64) -> String {
    if x.abs() < 0.005 {
        "±0".into()
    } else {
        format!("{x:+.1}")
    }
}

/// The terminal table: one column per variant, and one per non-baseline variant's
/// difference (with the change in percent).
pub fn table(r: &Report) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let base = r.variants.first();
    let pct = |x: f64, b: f64| {
        if b.abs() > f64::EPSILON {
            format!(" ({:+.1} %)", 100.0 * x / b)
        } else {
            String::new()
        }
    };
    let mut row = |label: &str, f: &dyn Fn(&VariantReport) -> f64, int: bool| {
        let mut cells = Vec::new();
        for (k, v) in r.variants.iter().enumerate() {
            let x = f(v);
            cells.push(if int {
                format!("{x:.0}")
            } else {
                format!("{x:.1}")
            });
            if k > 0 {
                let b = base.map_or(0.0, f);
                cells.push(format!("{}{}", signed(x - b), pct(x - b, b)));
            }
        }
        rows.push((label.to_string(), cells));
    };
    row("projects arrived", &|v| v.projects_arrived as f64, true);
    row("projects completed", &|v| v.projects_completed as f64, true);
    row("projects withdrawn", &|v| v.projects_withdrawn as f64, true);
    if r.variants
        .iter()
        .any(|v| v.projects_stopped_at_counter + v.projects_rejected_for_site > 0)
    {
        row(
            "site stopped at the counter",
            &|v| v.projects_stopped_at_counter as f64,
            true,
        );
        row(
            "site rejected by a department",
            &|v| v.projects_rejected_for_site as f64,
            true,
        );
    }
    row(
        "total working days, mean",
        &|v| v.total_working_days.mean,
        false,
    );
    row("  p50", &|v| v.total_working_days.p50, false);
    row("  p90", &|v| v.total_working_days.p90, false);
    row("  p99", &|v| v.total_working_days.p99, false);
    row(
        "planned critical path (the workflow's limits)",
        &|v| f64::from(v.planned_critical_path.working_days),
        true,
    );
    for (k, st) in Stage::ALL.iter().enumerate() {
        let label = format!("stage {}, mean", st.id());
        row(&label, &|v| v.stages[k].working_days.mean, false);
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {} — seed {}, {} replication(s) per variant",
        r.scenario, r.seed, r.replications
    );
    let mut header = vec![String::new()];
    for (k, v) in r.variants.iter().enumerate() {
        header.push(v.name.clone());
        if k > 0 {
            header.push(format!("Δ {}", v.name));
        }
    }
    let mut lines = vec![header];
    lines.extend(rows.into_iter().map(|(l, c)| {
        let mut line = vec![l];
        line.extend(c);
        line
    }));
    out.push_str(&columns(&lines));
    for v in &r.variants {
        let _ = writeln!(out, "\n{} — departments", v.name);
        let mut lines = vec![vec![
            "department".to_string(),
            "staff".into(),
            "reviews".into(),
            "utilization".into(),
            "mean busy".into(),
            "mean wait (wd)".into(),
            "overdue".into(),
            "returns".into(),
            "signing (wd)".into(),
        ]];
        for d in &v.departments {
            lines.push(vec![
                d.id.clone(),
                d.staff.map_or("unlimited".into(), |s| s.to_string()),
                d.reviews.to_string(),
                d.utilization
                    .map_or("-".into(), |u| format!("{:.1} %", 100.0 * u)),
                format!("{:.2}", d.mean_busy),
                format!("{:.2}", d.mean_wait_working_days),
                format!("{:.1} %", 100.0 * d.overdue_share),
                d.returns.to_string(),
                format!("{:.2}", d.mean_signing_working_days),
            ]);
        }
        out.push_str(&columns(&lines));
        if let Some(t) = &v.typical_project {
            let _ = writeln!(
                out,
                "typical project: {:.1} working days; critical path {}",
                t.total_working_days,
                t.critical_path.join(" → ")
            );
        }
        let _ = writeln!(
            out,
            "planned critical path: {} working days; {}",
            v.planned_critical_path.working_days,
            v.planned_critical_path.items.join(" → ")
        );
    }
    out
}

/// Left-aligned first column, right-aligned others, two spaces apart.
fn columns(lines: &[Vec<String>]) -> String {
    let n = lines.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> = (0..n)
        .map(|c| {
            lines
                .iter()
                .filter_map(|l| l.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for l in lines {
        for (c, cell) in l.iter().enumerate() {
            let pad = width[c].saturating_sub(cell.chars().count());
            if c == 0 {
                out.push_str(cell);
                out.push_str(&" ".repeat(pad));
            } else {
                out.push_str("  ");
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}

/// CSV, long form: one row per variant, metric and value.
pub fn csv(r: &Report) -> String {
    let mut out = String::from("variant,metric,value\n");
    let mut put = |v: &str, m: &str, x: String| {
        let _ = writeln!(out, "{},{},{}", quote(v), quote(m), x);
    };
    for v in &r.variants {
        let n = &v.name;
        put(n, "projects_arrived", v.projects_arrived.to_string());
        put(n, "projects_completed", v.projects_completed.to_string());
        put(n, "projects_withdrawn", v.projects_withdrawn.to_string());
        put(
            n,
            "projects_stopped_at_counter",
            v.projects_stopped_at_counter.to_string(),
        );
        put(
            n,
            "projects_rejected_for_site",
            v.projects_rejected_for_site.to_string(),
        );
        let t = &v.total_working_days;
        for (m, x) in [
            ("mean", t.mean),
            ("p50", t.p50),
            ("p90", t.p90),
            ("p99", t.p99),
        ] {
            put(n, &format!("total_working_days.{m}"), format!("{x}"));
        }
        for s in &v.stages {
            put(
                n,
                &format!("stage.{}.mean", s.stage),
                format!("{}", s.working_days.mean),
            );
        }
        for d in &v.departments {
            if let Some(u) = d.utilization {
                put(
                    n,
                    &format!("department.{}.utilization", d.id),
                    format!("{u}"),
                );
            }
            put(
                n,
                &format!("department.{}.mean_wait_working_days", d.id),
                format!("{}", d.mean_wait_working_days),
            );
            put(
                n,
                &format!("department.{}.overdue_share", d.id),
                format!("{}", d.overdue_share),
            );
            put(
                n,
                &format!("department.{}.returns", d.id),
                d.returns.to_string(),
            );
            put(
                n,
                &format!("department.{}.mean_signing_working_days", d.id),
                format!("{}", d.mean_signing_working_days),
            );
        }
        put(
            n,
            "planned_critical_path.working_days",
            v.planned_critical_path.working_days.to_string(),
        );
    }
    out
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
