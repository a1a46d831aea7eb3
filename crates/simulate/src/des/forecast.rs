//! A forecast replication: the simulation starts from the city's open projects as they
//! stand — each one's engine state restored from its log, each task where it is (waiting
//! for a reviewer, under review, waiting for the applicant's supplement or resubmission)
//! and for how long it has been there — and runs a horizon of working days ahead, new
//! projects arriving as the scenario says. Supervision runs as on the server: the engine's
//! own `Tick` draws the yellow card (督办) when a task passes its due date and the red
//! card (整改) when the yellow card's deadline passes; the forecast only decides *when*
//! to tick a project (the first working day a card may fall due, so ten thousand
//! projects are not ticked every day for nothing).
//!
//! Time already spent counts: a review under way for two days draws its length from the
//! review distribution *given that it is longer than two days* (up to a few tries; a
//! review already longer than the distribution allows draws afresh, as if memoryless),
//! and the same for the applicant's answer.

use std::cmp::Reverse;

use onewindow_engine::{Actor, Card, Command, Event, Project, Suspension, TaskState};
use rand::Rng;

use super::{minutes, Arrivals, Dept, Due, Ev, Live, ProjectResult, Settings, Sim, DAY};
use crate::dist::Dist;
use crate::scenario::Variant;

/// How a task of an open project stands, beyond what its engine state says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenTask {
    /// Working minutes it has been in its present state (waiting, under review, waiting
    /// for the applicant).
    pub elapsed: u64,
    /// Asked for a supplement already (a task asks at most once).
    pub supplemented: bool,
    /// Rejected already (at most once).
    pub rejected: bool,
    /// Returned to an earlier item already (at most once).
    pub returned: bool,
    /// Claimed and answered after a supplement: it waits for its second look.
    pub rework: bool,
}

/// An open project as it stands.
#[derive(Debug, Clone)]
pub struct OpenProject {
    /// Its id.
    pub id: String,
    /// Its engine state, restored from its log.
    pub project: Project,
    /// Per plan item.
    pub tasks: Vec<OpenTask>,
}

/// What one replication of a forecast saw.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outlook {
    /// Cards drawn: open project (index into the list given), item, card, working day
    /// (0 = the first day). Projects that arrive during the horizon are not listed.
    pub cards: Vec<(u32, u32, Card, u32)>,
    /// At the start of each working day (0..=horizon), per plan department: tasks
    /// waiting for a reviewer, and reviews under way.
    pub queues: Vec<Vec<(u32, u32)>>,
    /// Engine commands executed.
    pub commands: u64,
}

/// What the simulator watches in a forecast.
pub(super) struct Watch {
    /// The start and the horizon, working minutes.
    start: u64,
    horizon: u64,
    /// The open projects given (the first of the simulation's projects).
    open: u32,
    /// The minute each project's next supervision is scheduled for.
    next_tick: Vec<Option<u64>>,
    /// Per working day, the projects supervision looks at when the day starts. Looks fall
    /// on a day's first minute (a card falls due with the day); kept here rather than on
    /// the agenda, they no longer make up half of its traffic.
    looks: Vec<Vec<u32>>,
    out: Outlook,
}

/// Runs one forecast replication of `horizon` working days from the moment `at` (a moment
/// outside working hours counts from the next working moment), from `open` projects, new
/// ones arriving by `arrivals`' rate (its count and period are ignored: the horizon is
/// the period).
pub fn run(
    variant: &Variant,
    open: &[OpenProject],
    arrivals: &Arrivals,
    at: chrono::NaiveDateTime,
    horizon: u32,
    seed: u64,
) -> Outlook {
    use chrono::Timelike;
    let set = Settings::of(variant);
    let stream = Arrivals {
        count: None,
        per_working_day: arrivals.per_working_day,
        working_days: Some(f64::from(horizon)),
    };
    let quiet = |_| {};
    let mut sim = Sim::new(variant, set, &stream, at.date(), seed, false, false, &quiet);
    // The simulation's minute 0 is 09:00 of the first working day on or after `at`'s day;
    // the forecast starts at `at` itself (the open projects' logs run up to it).
    let t0 = if sim.dates[0] == at.date() {
        // A moment within a minute counts as the next minute: no command goes before it.
        let minute =
            at.hour() * 60 + at.minute() + u32::from(at.second() > 0 || at.nanosecond() > 0);
        (i64::from(minute) - 9 * 60).clamp(0, DAY as i64) as u64
    } else {
        0
    };
    sim.now = t0;
    let end = t0 + u64::from(horizon) * DAY;
    sim.arrival_until = Some(end);
    // The calendar's days up to the horizon, so that a due date finds its working day.
    sim.datetime(end + DAY);
    sim.watch = Some(Watch {
        start: t0,
        horizon: end,
        open: open.len() as u32,
        next_tick: Vec::new(),
        looks: vec![Vec::new(); (end / DAY) as usize + 1],
        out: Outlook::default(),
    });
    // Supervision's looks at each working day's start, before whatever else happens in
    // that minute.
    for day in (t0 / DAY + 1)..=(end / DAY) {
        sim.push(day * DAY, Ev::Looks);
    }
    let mut waiting: Vec<(u64, u32, u32, bool)> = Vec::new();
    // A queue entry's time is when it joined: before the start, all of them.
    for o in open {
        sim.adopt(o, &mut waiting);
    }
    // Those waiting longest first: the departments' queues as they stand.
    waiting.sort_by_key(|&(elapsed, p, i, _)| (Reverse(elapsed), p, i));
    for (_, p, i, rework) in waiting {
        if let Some(d) = sim.plan.items[i as usize].department {
            let round = sim.round(p, i);
            sim.depts[d].queue.push_back((p, i, t0, rework, round));
        }
    }
    for d in 0..sim.depts.len() {
        sim.start_reviews(d);
    }
    if let Some(rate) = arrivals.per_working_day {
        let first = t0 + sim.arrival_gap(rate);
        if first < end {
            sim.push(first, Ev::Arrive);
        }
    }
    sim.push(t0, Ev::Day);
    while let Some(Due { at: t, ev, .. }) = sim.heap.pop() {
        if t > end {
            break;
        }
        sim.now = t;
        sim.step(ev);
    }
    let mut out = sim.watch.take().map(|w| w.out).unwrap_or_default();
    out.commands = sim.commands;
    out
}

/// A draw of `dist` longer than `elapsed` working minutes, less `elapsed`.
fn residual<R: Rng>(rng: &mut R, dist: &Dist, limit: f64, scale: f64, elapsed: u64) -> u64 {
    for _ in 0..16 {
        let m = minutes(dist.sample(rng, limit) * scale);
        if m > elapsed {
            return m - elapsed;
        }
    }
    minutes(dist.sample(rng, limit) * scale)
}

impl Sim<'_> {
    /// Takes an open project into the simulation where it stands.
    fn adopt(&mut self, o: &OpenProject, waiting: &mut Vec<(u64, u32, u32, bool)>) {
        let now = self.now;
        let p = self.results.len() as u32;
        let n = self.plan.items.len();
        self.results.push(ProjectResult::new(0, 0, Vec::new()));
        let flag =
            |f: fn(&OpenTask) -> bool| (0..n).map(|i| o.tasks.get(i).is_some_and(f)).collect();
        let mut live = Live::new(o.id.clone(), Some(o.project.clone()), n);
        live.supplemented = flag(|t| t.supplemented);
        live.rejected = flag(|t| t.rejected);
        live.returned = flag(|t| t.returned);
        self.live.push(live);
        if let Some(w) = &mut self.watch {
            w.next_tick.resize(self.live.len(), None);
        }
        for i in 0..n {
            let task = &o.project.tasks()[i];
            let at = o.tasks.get(i).copied().unwrap_or_default();
            let it = &self.plan.items[i];
            let iw = self.set.items[i].clone();
            match (task.state, it.department) {
                (TaskState::Ready, Some(_)) => waiting.push((at.elapsed, p, i as u32, false)),
                (TaskState::Ready, None) => {
                    let m = self.set.milestone.clone();
                    let r = residual(&mut self.rng, &m, 0.0, 1.0, at.elapsed);
                    self.push(now + r, Ev::Milestone { p, i: i as u32 });
                }
                (TaskState::Claimed, Some(_)) if at.rework => {
                    waiting.push((at.elapsed, p, i as u32, true));
                }
                (TaskState::Claimed, Some(d)) => {
                    let slowdown = self.depts[d].set.slowdown;
                    let r = residual(&mut self.rng, &iw.review, iw.limit, slowdown, at.elapsed);
                    let dept: &mut Dept = &mut self.depts[d];
                    dept.busy_now += 1;
                    dept.out.reviews += 1;
                    self.push(
                        now + r,
                        Ev::ReviewDone {
                            p,
                            i: i as u32,
                            started: now,
                            round: task.round,
                        },
                    );
                }
                (TaskState::Suspended, Some(_))
                    if matches!(task.suspension, Some((Suspension::Supplement { .. }, _))) =>
                {
                    let dist = self.set.supplement_response.clone();
                    let r = residual(&mut self.rng, &dist, 0.0, 1.0, at.elapsed);
                    self.push(now + r, Ev::SupplementAnswered { p, i: i as u32 });
                }
                (TaskState::Rejected, Some(_)) => {
                    let again = self.rng.random::<f64>() < iw.resubmit;
                    let dist = self.set.rejection_response.clone();
                    let r = residual(&mut self.rng, &dist, 0.0, 1.0, at.elapsed);
                    let ev = if again {
                        Ev::Resubmit { p, i: i as u32 }
                    } else {
                        Ev::Withdraw { p }
                    };
                    self.push(now + r, ev);
                }
                // Waiting for documents (the engine makes it ready), a special procedure
                // (no draw for its end: it stays stopped), decided, closed.
                _ => {}
            }
        }
        self.schedule_tick(p);
    }

    /// Cards the engine drew for an open project; and whether any event may have brought
    /// a card's day nearer (a task's clock started or restarted, a due date or a card
    /// changed), so that supervision's next look must be worked out again — a decision
    /// only moves it later, which the look itself finds out.
    pub(super) fn watch_cards(&mut self, p: u32, events: &[onewindow_engine::Envelope]) -> bool {
        let plan = self.plan;
        let Some(w) = &mut self.watch else {
            return false;
        };
        let day = ((self.now - w.start) / DAY) as u32;
        let mut moved = false;
        for e in events {
            match &e.event {
                Event::Carded { item, card, .. } => {
                    moved = true;
                    if p < w.open {
                        if let Some(i) = plan.item_index(item) {
                            w.out.cards.push((p, i as u32, *card, day));
                        }
                    }
                }
                Event::TaskReady { .. }
                | Event::Resubmitted { .. }
                | Event::Returned { .. }
                | Event::SupplementProvided { .. }
                | Event::SpecialEnded { .. }
                | Event::Extended { .. }
                | Event::DueRederived { .. }
                | Event::Overdue { .. } => moved = true,
                _ => {}
            }
        }
        moved
    }

    /// The first minute supervision may have something to say about project `p`: the
    /// first working day after a running task's due date (the yellow card), or after an
    /// outstanding yellow card's deadline (the red). `None`: nothing can fall due.
    fn card_due(&self, p: u32) -> Option<u64> {
        let project = self.live[p as usize].project.as_ref()?;
        let due = project
            .tasks()
            .iter()
            .filter(|t| t.running())
            .filter_map(|t| match (t.overdue, t.yellow, t.red) {
                (false, _, _) => t.due,
                (true, Some(deadline), false) => Some(deadline),
                _ => None,
            })
            .min()?;
        // The first working day whose date is after `due`.
        let day = self.dates.partition_point(|d| *d <= due) as u64;
        Some((day * DAY).max(self.now))
    }

    /// Schedules project `p`'s next supervision, if it is earlier than the one scheduled.
    pub(super) fn schedule_tick(&mut self, p: u32) {
        let now = self.now;
        let Some(at) = self.card_due(p) else { return };
        let Some(w) = &mut self.watch else { return };
        if w.next_tick.len() <= p as usize {
            w.next_tick.resize(p as usize + 1, None);
        }
        let slot = &mut w.next_tick[p as usize];
        if at > w.horizon || slot.is_some_and(|s| s <= at && s >= now) {
            return;
        }
        *slot = Some(at);
        self.look_at(p, at);
    }

    /// Puts supervision's look at project `p` at minute `at`: on its day's list when `at`
    /// is a later day's start, else on the agenda.
    fn look_at(&mut self, p: u32, at: u64) {
        if at.is_multiple_of(DAY) && at > self.now {
            if let Some(list) = self
                .watch
                .as_mut()
                .and_then(|w| w.looks.get_mut((at / DAY) as usize))
            {
                list.push(p);
                return;
            }
        }
        self.push(at, Ev::Tick { p });
    }

    /// The start of a working day: supervision looks at the day's list.
    pub(super) fn looks(&mut self) {
        let day = (self.now / DAY) as usize;
        let Some(list) = self
            .watch
            .as_mut()
            .and_then(|w| w.looks.get_mut(day))
            .map(std::mem::take)
        else {
            return;
        };
        for p in list {
            self.tick(p);
        }
    }

    /// Supervision looks at project `p`, if this is still its scheduled moment and a card
    /// may still fall due (a task decided since needs no look).
    pub(super) fn tick(&mut self, p: u32) {
        let now = self.now;
        let Some(w) = &mut self.watch else { return };
        if w.next_tick.get(p as usize).copied().flatten() != Some(now) {
            return;
        }
        w.next_tick[p as usize] = None;
        match self.card_due(p) {
            None => return,
            Some(later) if later > now => {
                self.schedule_tick(p);
                return;
            }
            Some(_) => {}
        }
        let _ = self.command(p, &Actor::System, Command::Tick);
        // Nothing more today: the next look is tomorrow at the earliest.
        if let Some(w) = &mut self.watch {
            if w.next_tick[p as usize] == Some(now) {
                w.next_tick[p as usize] = None;
                let next = now - now % DAY + DAY;
                if next <= w.horizon {
                    w.next_tick[p as usize] = Some(next);
                    self.look_at(p, next);
                }
            }
        }
    }

    /// The start of a working day: the queues counted, the next day scheduled.
    pub(super) fn day(&mut self) {
        let now = self.now;
        let counts: Vec<(u32, u32)> = self
            .depts
            .iter()
            .map(|d| (d.queue.len() as u32, d.busy_now))
            .collect();
        let Some(w) = &mut self.watch else { return };
        w.out.queues.push(counts);
        if now + DAY <= w.horizon {
            self.push(now + DAY, Ev::Day);
        }
    }
}
