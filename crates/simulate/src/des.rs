//! One replication of one variant: a discrete-event simulation on a virtual clock that
//! drives the real engine.
//!
//! Time is counted in working minutes from the first simulated working day (a working
//! day is [`DAY`] minutes, 09:00–17:00), so only working time passes and the engine's
//! working-day calendar and the simulator's clock agree by construction: minute `t` is
//! day `t / DAY` of the calendar's working days, at 09:00 plus the rest. Every change to
//! a project is an engine command (`Submit`, `Claim`, `Approve`, `RequestSupplement`,
//! `ProvideSupplement`, `Reject`, `Resubmit`, `Withdraw`, `ReportMilestone`) and the
//! simulator reacts to the engine's events: a `TaskReady` or `Resubmitted` puts the task in
//! its department's queue (or, for a milestone, asks the window to report it),
//! `StageOpened`/`StageCompleted`/`Completed` are measured.
//!
//! The event queue orders by (time, sequence number), and every random draw comes from one
//! seeded ChaCha generator in a fixed order, so a replication is a pure function of its
//! seed.

use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod arrivals;
pub mod forecast;
mod office;
mod settings;

pub use settings::{DepartmentSettings, ItemSettings, Settings};

use super::scenario::{Arrivals, Variant};
use onewindow_core::plan::{Plan, Stage};
use onewindow_core::spec::ItemKind;
use onewindow_engine::{Actor, Command, Event, MaterialRef, Outcome, Policy, Project};

/// Working minutes in a working day.
pub const DAY: u64 = 480;

/// No time recorded.
pub const NONE: u32 = u32::MAX;

/// When a task's first round was ready, first started, and was finally approved
/// (working minutes from the project's arrival; [`NONE`] if it never happened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskTimes {
    /// Ready.
    pub ready: u32,
    /// First review started.
    pub start: u32,
    /// Approved (or reported, for a milestone).
    pub end: u32,
}

/// One project's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectResult {
    /// Project type index.
    pub kind: usize,
    /// Arrival, working minutes from the start.
    pub arrived: u64,
    /// Working minutes from arrival to completion.
    pub total: Option<u64>,
    /// Withdrawn after a rejection.
    pub withdrawn: bool,
    /// Refused at the window (the form or materials did not satisfy the workflow).
    pub refused: bool,
    /// Refused at the window because its site conflicts with the plans (一张蓝图).
    pub site_stopped: bool,
    /// Let through at the window with a conflicting site, and rejected for it by the
    /// department responsible for that plan.
    pub site_rejected: bool,
    /// Working minutes each stage was open, by [`Stage`] order.
    pub stages: [Option<u64>; 5],
    /// Per plan item (kept for the first replication only: the typical project's Gantt
    /// chart and critical path are drawn from it).
    pub tasks: Vec<TaskTimes>,
}

/// What one department did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DepartmentResult {
    /// Reviewers (`None`: unlimited).
    pub staff: Option<u32>,
    /// Reviews started (a rework after a supplement counts again).
    pub reviews: u64,
    /// Working minutes reviewers were busy.
    pub busy: u64,
    /// Working minutes tasks waited in the queue, summed.
    pub waited: u64,
    /// Tasks approved.
    pub approved: u64,
    /// Of those, approved after their due date.
    pub overdue: u64,
    /// Reviews that returned the project to an earlier item (退回).
    pub returns: u64,
    /// Working minutes steps waited for their named signers (会签, 或签, 票签), summed.
    pub signing: u64,
}

/// One replication's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Every project, in arrival order.
    pub projects: Vec<ProjectResult>,
    /// Per plan department.
    pub departments: Vec<DepartmentResult>,
    /// Working minutes from the start to the last event.
    pub span: u64,
    /// Engine commands executed.
    pub commands: u64,
    /// Every event the engine wrote, in the order it wrote them (only when asked for: a
    /// run kept as a log, `simulate --log`).
    pub log: Vec<onewindow_engine::Envelope>,
}

/// An event on the simulation's agenda, ordered (earliest first, for the max-heap) by its
/// minute and then by the order it was scheduled in, so that events of one minute happen
/// in the order they were caused — and by nothing else: comparing the events themselves
/// would cost every sift of a heap that holds tens of thousands of them.
struct Due {
    at: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Due {
    fn eq(&self, other: &Due) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Due) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    #[inline]
    fn cmp(&self, other: &Due) -> std::cmp::Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Arrive,
    ReviewDone {
        p: u32,
        i: u32,
        started: u64,
        round: u32,
    },
    SupplementAnswered {
        p: u32,
        i: u32,
    },
    Resubmit {
        p: u32,
        i: u32,
    },
    Withdraw {
        p: u32,
    },
    Milestone {
        p: u32,
        i: u32,
    },
    /// A named signer of step `step` of task `i` (round `round`) signs.
    Signed {
        p: u32,
        i: u32,
        round: u32,
        step: u16,
        signer: u16,
    },
    /// Supervision looks at project `p` (a forecast only: when a card may fall due).
    Tick {
        p: u32,
    },
    /// The start of a working day: supervision looks at the projects waiting in that day's
    /// list (a forecast only; a look at a day's start waits in a list, not on the agenda).
    Looks,
    /// The start of a working day: the departments' queues are counted (a forecast only).
    Day,
}

struct Dept {
    set: DepartmentSettings,
    busy_now: u32,
    /// Waiting tasks: project, item, since, rework, the task's round when queued (a task
    /// re-opened by a return since is passed over).
    queue: VecDeque<(u32, u32, u64, bool, u32)>,
    out: DepartmentResult,
}

/// A project under way in the simulation.
struct Live {
    project: Option<Project>,
    id: String,
    supplemented: Vec<bool>,
    rejected: Vec<bool>,
    /// Returned once already (a review returns at most once per task).
    returned: Vec<bool>,
    /// When each task's current step began waiting for its signers.
    signing_since: Vec<u64>,
    stage_open: [Option<u64>; 5],
    /// The department whose plan the site conflicts with, when the counter did not check
    /// it: that department rejects the project at its first review.
    site_conflict: Option<String>,
}

struct Sim<'a> {
    plan: &'a Plan,
    variant: &'a Variant,
    policy: Policy,
    rng: ChaCha8Rng,
    /// Arrivals and project types draw from their own stream, so that every variant sees
    /// the same projects arrive at the same times whatever happens to them afterwards.
    arrivals_rng: ChaCha8Rng,
    /// Sites draw from their own stream too: adding sites to a scenario does not change
    /// what else happens.
    sites_rng: ChaCha8Rng,
    heap: BinaryHeap<Due>,
    seq: u64,
    dates: Vec<NaiveDate>,
    depts: Vec<Dept>,
    set: Settings,
    live: Vec<Live>,
    results: Vec<ProjectResult>,
    materials: Vec<MaterialRef>,
    weights: Vec<f64>,
    arrivals_left: Option<u64>,
    arrival_rate: Option<f64>,
    arrival_until: Option<u64>,
    keep_tasks: bool,
    /// The events written so far, when the run is kept as a log.
    log: Option<Vec<onewindow_engine::Envelope>>,
    commands: u64,
    /// The registers of document numbers the simulated departments draw from (department
    /// and year → the last number).
    /// Keyed by the department's index rather than `numbering::register`'s name: one
    /// register per department and year all the same, without a string per approval.
    registers: HashMap<(Option<usize>, i32), u64>,
    now: u64,
    progress: &'a dyn Fn(u64),
    finished: u64,
    /// What a forecast watches (`forecast.rs`); `None` in a comparison of variants.
    watch: Option<forecast::Watch>,
}

impl ProjectResult {
    /// A project arrived at `arrived`, nothing measured yet.
    fn new(kind: usize, arrived: u64, tasks: Vec<TaskTimes>) -> ProjectResult {
        ProjectResult {
            kind,
            arrived,
            total: None,
            withdrawn: false,
            refused: false,
            site_stopped: false,
            site_rejected: false,
            stages: [None; 5],
            tasks,
        }
    }
}

impl Live {
    /// Project `id` with `n` items, its state `project` (none before its submission).
    fn new(id: String, project: Option<Project>, n: usize) -> Live {
        Live {
            project,
            id,
            supplemented: vec![false; n],
            rejected: vec![false; n],
            returned: vec![false; n],
            signing_since: vec![0; n],
            stage_open: [None; 5],
            site_conflict: None,
        }
    }
}

/// Runs one replication.
pub fn run(
    variant: &Variant,
    arrivals: &Arrivals,
    start: NaiveDate,
    seed: u64,
    keep_tasks: bool,
    keep_log: bool,
    progress: &dyn Fn(u64),
) -> RunResult {
    let set = Settings::of(variant);
    let mut sim = Sim::new(
        variant, set, arrivals, start, seed, keep_tasks, keep_log, progress,
    );
    sim.push(0, Ev::Arrive);
    while let Some(Due { at: t, ev, .. }) = sim.heap.pop() {
        sim.now = t;
        sim.step(ev);
    }
    if sim.finished > 0 {
        (sim.progress)(sim.finished);
    }
    RunResult {
        span: sim.now,
        commands: sim.commands,
        departments: sim.depts.into_iter().map(|d| d.out).collect(),
        projects: sim.results,
        log: sim.log.unwrap_or_default(),
    }
}

impl<'a> Sim<'a> {
    /// A simulation of `variant` in the world `set`, nothing scheduled yet.
    #[allow(clippy::too_many_arguments)]
    fn new(
        variant: &'a Variant,
        set: Settings,
        arrivals: &Arrivals,
        start: NaiveDate,
        seed: u64,
        keep_tasks: bool,
        keep_log: bool,
        progress: &'a dyn Fn(u64),
    ) -> Sim<'a> {
        let plan = &variant.plan;
        let depts = set
            .departments
            .iter()
            .map(|&d| Dept {
                set: d,
                busy_now: 0,
                queue: VecDeque::new(),
                out: DepartmentResult {
                    staff: d.staff,
                    ..DepartmentResult::default()
                },
            })
            .collect();
        let first = if plan.calendar.is_working_day(start) {
            start
        } else {
            plan.calendar.add_working_days(start, 1).date
        };
        Sim {
            plan,
            variant,
            policy: Policy::default(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            arrivals_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_A441_7A15_0000),
            sites_rng: ChaCha8Rng::seed_from_u64(seed ^ 0x517E_5EED_0000_0001),
            heap: BinaryHeap::new(),
            seq: 0,
            dates: vec![first],
            depts,
            set,
            live: Vec::new(),
            results: Vec::new(),
            materials: plan
                .materials
                .iter()
                .map(|m| MaterialRef::named(&m.id))
                .collect(),
            weights: variant.types.iter().map(|t| t.weight).collect(),
            arrivals_left: arrivals.count,
            arrival_rate: arrivals.per_working_day,
            arrival_until: arrivals
                .working_days
                .map(|d| (d * DAY as f64).round() as u64),
            keep_tasks,
            log: keep_log.then(Vec::new),
            commands: 0,
            registers: HashMap::new(),
            now: 0,
            progress,
            finished: 0,
            watch: None,
        }
    }
}

/// Working minutes from `from` to `now` as a [`TaskTimes`] field (kept below [`NONE`]).
fn since(now: u64, from: u64) -> u32 {
    (now - from).min(u64::from(NONE - 1)) as u32
}

fn minutes(days: f64) -> u64 {
    (days * DAY as f64).round() as u64
}

impl Sim<'_> {
    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Due {
            at,
            seq: self.seq,
            ev,
        });
    }

    /// The engine's wall-clock time for a simulated minute.
    fn datetime(&mut self, t: u64) -> NaiveDateTime {
        let day = (t / DAY) as usize;
        while self.dates.len() <= day {
            let last = *self.dates.last().unwrap_or(&NaiveDate::MIN);
            self.dates
                .push(self.plan.calendar.add_working_days(last, 1).date);
        }
        let minute = (t % DAY) as u32;
        let time = NaiveTime::from_hms_opt(9 + minute / 60, minute % 60, 0).unwrap_or_default();
        self.dates[day].and_time(time)
    }

    fn step(&mut self, ev: Ev) {
        match ev {
            Ev::Arrive => self.arrive(),
            Ev::ReviewDone {
                p,
                i,
                started,
                round,
            } => self.review_done(p, i, started, round),
            Ev::Signed {
                p,
                i,
                round,
                step,
                signer,
            } => self.signed(p, i, round, step, signer),
            Ev::SupplementAnswered { p, i } => {
                let item = self.plan.items[i as usize].id.clone();
                let cmd = Command::ProvideSupplement {
                    item,
                    materials: Vec::new(),
                };
                if self.command(p, &Actor::Window, cmd).is_some() {
                    // The department looks again at what came back.
                    self.enqueue(p, i, true);
                }
            }
            Ev::Resubmit { p, i } => {
                let item = self.plan.items[i as usize].id.clone();
                let cmd = Command::Resubmit {
                    item,
                    materials: Vec::new(),
                };
                self.command(p, &Actor::Window, cmd);
            }
            Ev::Withdraw { p } => {
                let cmd = Command::Withdraw {
                    reason: "the applicant did not resubmit".into(),
                };
                if self.command(p, &Actor::Window, cmd).is_some() {
                    self.results[p as usize].withdrawn = true;
                    self.close(p);
                }
            }
            Ev::Milestone { p, i } => {
                let item = self.plan.items[i as usize].id.clone();
                let cmd = Command::ReportMilestone {
                    item,
                    numbers: BTreeMap::new(),
                };
                self.command(p, &Actor::Window, cmd);
            }
            Ev::Tick { p } => self.tick(p),
            Ev::Looks => self.looks(),
            Ev::Day => self.day(),
        }
    }

    /// Runs a command on a project and reacts to its events. `None` when the engine
    /// refused it (which the simulator's own bookkeeping should never cause).
    fn command(&mut self, p: u32, actor: &Actor, cmd: Command) -> Option<()> {
        let at = self.datetime(self.now);
        self.commands += 1;
        let cmd = self.numbered(cmd, at);
        let live = &mut self.live[p as usize];
        let plan = self.plan;
        let (out, _) = onewindow_engine::execute_without_effects(
            &mut live.project,
            &live.id,
            |_| Some(plan),
            &self.policy,
            actor,
            cmd,
            at,
        )
        .ok()?;
        self.react(p, out);
        Some(())
    }

    /// An approval with the numbers its department writes: the next of the department's
    /// pattern, or, where the workflow declares none, a number of the department's
    /// register all the same (a simulated department writes one by hand).
    fn numbered(&mut self, cmd: Command, at: chrono::NaiveDateTime) -> Command {
        let Command::Approve { item, mut numbers } = cmd else {
            return cmd;
        };
        let year = chrono::Datelike::year(&at.date());
        if let Some(i) = self.plan.item_index(&item) {
            let dept = self.plan.items[i]
                .department
                .map(|d| &self.plan.departments[d]);
            let dept_id = dept.map_or("", |d| d.id.as_str());
            for &d in &self.plan.items[i].produces {
                let doc = &self.plan.documents[d].id;
                if numbers.contains_key(doc) {
                    continue;
                }
                let seq = self
                    .registers
                    .entry((self.plan.items[i].department, year))
                    .or_default();
                *seq += 1;
                let number = match dept.and_then(|d| d.numbering.as_ref()) {
                    Some(pattern) => pattern.format(year, *seq),
                    None => format!("{dept_id}〔{year}〕{seq}号"),
                };
                numbers.insert(doc.clone(), number);
            }
        }
        Command::Approve { item, numbers }
    }

    fn react(&mut self, p: u32, out: Outcome) {
        let now = self.now;
        let arrived = self.results[p as usize].arrived;
        let rel = since(now, arrived);
        if let Some(log) = &mut self.log {
            log.extend(out.events.iter().cloned());
        }
        let due_moved = self.watch.is_some() && self.watch_cards(p, &out.events);
        for e in &out.events {
            match &e.event {
                Event::TaskReady { item, .. }
                | Event::Resubmitted { item, .. }
                | Event::Returned { item, .. } => {
                    let Some(i) = self.plan.item_index(item) else {
                        continue;
                    };
                    if self.keep_tasks {
                        let t = &mut self.results[p as usize].tasks[i];
                        if t.ready == NONE {
                            t.ready = rel;
                        }
                    }
                    let it = &self.plan.items[i];
                    if it.department.is_some() {
                        self.enqueue(p, i as u32, false);
                    } else if it.kind == ItemKind::Milestone {
                        let d = self.set.milestone.sample(&mut self.rng, 0.0);
                        self.push(now + minutes(d), Ev::Milestone { p, i: i as u32 });
                    }
                }
                Event::TaskApproved { item, .. } => {
                    if let (true, Some(i)) = (self.keep_tasks, self.plan.item_index(item)) {
                        self.results[p as usize].tasks[i].end = rel;
                    }
                }
                Event::StageOpened { stage } => {
                    self.live[p as usize].stage_open[stage_index(*stage)] = Some(now);
                }
                Event::StageCompleted { stage } => {
                    let k = stage_index(*stage);
                    if let Some(o) = self.live[p as usize].stage_open[k] {
                        self.results[p as usize].stages[k] = Some(now - o);
                    }
                }
                Event::Completed => {
                    self.results[p as usize].total = Some(now - arrived);
                    self.close(p);
                }
                _ => {}
            }
        }
        if due_moved {
            self.schedule_tick(p);
        }
    }

    /// A project is done (completed, withdrawn or refused): free its state.
    fn close(&mut self, p: u32) {
        self.live[p as usize].project = None;
        self.finished += 1;
        if self.finished == 1024 {
            (self.progress)(self.finished);
            self.finished = 0;
        }
    }

    fn enqueue(&mut self, p: u32, i: u32, rework: bool) {
        let Some(d) = self.plan.items[i as usize].department else {
            return;
        };
        let now = self.now;
        let round = self.round(p, i);
        self.depts[d].queue.push_back((p, i, now, rework, round));
        self.start_reviews(d);
    }

    fn start_reviews(&mut self, d: usize) {
        let now = self.now;
        loop {
            let dept = &mut self.depts[d];
            if dept.set.staff.is_some_and(|s| dept.busy_now >= s) {
                return;
            }
            let Some((p, i, queued, rework, round)) = dept.queue.pop_front() else {
                return;
            };
            if !self.fresh(p, i, round) {
                continue;
            }
            let dept = &mut self.depts[d];
            dept.busy_now += 1;
            dept.out.reviews += 1;
            dept.out.waited += now - queued;
            let slowdown = dept.set.slowdown;
            if !rework {
                let item = self.plan.items[i as usize].id.clone();
                let actor = Actor::Department(self.plan.departments[d].id.clone());
                self.command(p, &actor, Command::Claim { item });
                if self.keep_tasks {
                    let arrived = self.results[p as usize].arrived;
                    let t = &mut self.results[p as usize].tasks[i as usize];
                    if t.start == NONE {
                        t.start = since(now, arrived);
                    }
                }
            }
            let iw = &self.set.items[i as usize];
            let mut days = iw.review.sample(&mut self.rng, iw.limit) * slowdown;
            if rework {
                days *= self.set.rework;
            }
            self.push(
                now + minutes(days),
                Ev::ReviewDone {
                    p,
                    i,
                    started: now,
                    round,
                },
            );
        }
    }

    fn review_done(&mut self, p: u32, i: u32, started: u64, round: u32) {
        let now = self.now;
        let d = self.plan.items[i as usize]
            .department
            .expect("only department items are reviewed");
        self.depts[d].busy_now -= 1;
        self.depts[d].out.busy += now - started;
        if !self.fresh(p, i, round) {
            // Returned or withdrawn while under review: the work is lost.
            self.start_reviews(d);
            return;
        }
        let item = self.plan.items[i as usize].id.clone();
        let actor = Actor::Department(self.plan.departments[d].id.clone());
        if self.live[p as usize].site_conflict.as_deref()
            == Some(self.plan.departments[d].id.as_str())
        {
            // The site conflicts with this department's plan: found at its review, months
            // after the counter, and final.
            self.live[p as usize].site_conflict = None;
            let cmd = Command::Reject {
                item,
                reason: "the site conflicts with the plans".into(),
            };
            if self.command(p, &actor, cmd).is_some() {
                self.results[p as usize].site_rejected = true;
                let r = self.set.rejection_response.sample(&mut self.rng, 0.0);
                self.push(now + minutes(r), Ev::Withdraw { p });
            }
            self.start_reviews(d);
            return;
        }
        let (ps, pr) = (
            self.set.items[i as usize].supplement,
            self.set.items[i as usize].rejection,
        );
        let live = &self.live[p as usize];
        let ask = !live.supplemented[i as usize] && ps > 0.0 && self.rng.random::<f64>() < ps;
        let reject =
            !ask && !live.rejected[i as usize] && pr > 0.0 && self.rng.random::<f64>() < pr;
        if ask {
            self.live[p as usize].supplemented[i as usize] = true;
            let cmd = Command::RequestSupplement {
                item,
                needed: Vec::new(),
                note: "simulated".into(),
            };
            if self.command(p, &actor, cmd).is_some() {
                let r = self.set.supplement_response.sample(&mut self.rng, 0.0);
                self.push(now + minutes(r), Ev::SupplementAnswered { p, i });
            }
        } else if reject {
            self.live[p as usize].rejected[i as usize] = true;
            let cmd = Command::Reject {
                item,
                reason: "simulated".into(),
            };
            if self.command(p, &actor, cmd).is_some() {
                let again = self.rng.random::<f64>() < self.set.items[i as usize].resubmit;
                let r = self.set.rejection_response.sample(&mut self.rng, 0.0);
                let ev = if again {
                    Ev::Resubmit { p, i }
                } else {
                    Ev::Withdraw { p }
                };
                self.push(now + minutes(r), ev);
            }
        } else if self.maybe_return(p, i, d) {
            // Returned to an earlier item: the engine re-opened what depends on it.
        } else if !self.plan.items[i as usize].steps.is_empty() {
            self.run_steps(p, i);
        } else {
            let today = self.datetime(now).date();
            let late = self.live[p as usize]
                .project
                .as_ref()
                .and_then(|x| x.tasks()[i as usize].due)
                .is_some_and(|due| today > due);
            let cmd = Command::Approve {
                item,
                numbers: BTreeMap::new(),
            };
            if self.command(p, &actor, cmd).is_some() {
                self.depts[d].out.approved += 1;
                self.depts[d].out.overdue += u64::from(late);
            }
        }
        self.start_reviews(d);
    }
}

/// A stage's position (0 = investment attraction … 4 = acceptance).
pub fn stage_index(s: Stage) -> usize {
    Stage::ALL.iter().position(|x| *x == s).unwrap_or(0)
}
