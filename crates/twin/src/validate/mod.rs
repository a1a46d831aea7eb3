//! Fidelity: a scenario (calibrated, or written by hand) simulated over a period of the
//! record and compared with what the record shows for that period, with the measures of
//! the simulation-discovery literature ([`measures`]) — and the record compared with
//! itself, its first half against its second, as the baseline that gives those numbers
//! meaning: a twin is as good as the record is like itself when its distances are no
//! larger than the baseline's.
//!
//! The cases compared are the projects *submitted* in the period, followed to their end
//! (events after the period included): the simulator runs every project it starts to its
//! end, so cutting the record at the period's end would compare whole simulated projects
//! with cut real ones. A recorded project still open at the record's end has no cycle
//! time and is left out of that measure (its events count in the others).

pub mod measures;

use std::collections::HashMap;

use chrono::{NaiveDate, NaiveTime};
use onewindow_core::plan::Plan;
use onewindow_engine::{Envelope, Event};
use onewindow_simulate::scenario::Scenario;
use onewindow_store::ReadStore;

use self::measures::{Case, Log, Measures};
use crate::clock::WorkClock;
use crate::Error;

/// What to validate.
#[derive(Debug, Clone)]
pub struct Options {
    /// The first day of the period.
    pub from: NaiveDate,
    /// The last day.
    pub to: NaiveDate,
    /// Simulated runs pooled into the twin's log.
    pub replications: u32,
    /// Threads the runs share.
    pub threads: usize,
}

/// The result.
#[derive(Debug, Clone)]
pub struct Validation {
    /// The scenario's variant simulated.
    pub variant: String,
    /// Working days in the period.
    pub working_days: u32,
    /// The twin against the record.
    pub twin: Measures,
    /// The record's first half against its second.
    pub baseline: Measures,
    /// Cases and events of the record (projects submitted in the period).
    pub record: (usize, usize),
    /// Cases and events of the two halves.
    pub halves: [(usize, usize); 2],
    /// Cases and events simulated (all runs).
    pub simulated: (usize, usize),
    /// Runs pooled.
    pub replications: u32,
}

/// Activity labels shared by every log compared: the XES classifier (activity and
/// lifecycle), so that the same event of the same item is one symbol in both.
#[derive(Default)]
struct Alphabet(HashMap<String, u32>);

impl Alphabet {
    fn of(&mut self, plan: &Plan, e: &Event) -> u32 {
        let label = format!(
            "{}|{}",
            onewindow_mining::activity(plan, e),
            onewindow_mining::lifecycle(e)
        );
        let n = self.0.len() as u32;
        *self.0.entry(label).or_insert(n)
    }
}

fn case(plan: &Plan, events: &[Envelope], alphabet: &mut Alphabet) -> Case {
    Case {
        events: events
            .iter()
            .map(|e| (e.at, alphabet.of(plan, &e.event)))
            .collect(),
        finished: events
            .last()
            .is_some_and(|e| matches!(e.event, Event::Completed | Event::Withdrawn { .. })),
    }
}

/// Simulates the scenario's first variant over the period and compares it with the
/// record.
///
/// # Errors
/// The store fails, the period holds no submission, or the scenario cannot run over it.
pub fn validate(
    scenario: &Scenario,
    store: &dyn ReadStore,
    o: &Options,
) -> Result<Validation, Error> {
    if o.from > o.to {
        return Err(Error::Input(format!(
            "the period starts ({}) after it ends ({})",
            o.from, o.to
        )));
    }
    let mut alphabet = Alphabet::default();
    // The record: projects submitted in the period, to their end.
    let mut record = Log::default();
    let mut last = o.to;
    for p in onewindow_mining::Projects::new(store, Some(o.from), None)? {
        let p = p?;
        let Some(first) = p.events.first() else {
            continue;
        };
        if !matches!(first.event, Event::Submitted { .. }) || first.at.date() > o.to {
            continue;
        }
        last = last.max(p.events.last().map_or(o.to, |e| e.at.date()));
        record.cases.push(case(&p.plan, &p.events, &mut alphabet));
    }
    if record.cases.is_empty() {
        return Err(Error::Input(format!(
            "no project was submitted between {} and {}: nothing to compare with",
            o.from, o.to
        )));
    }
    // The twin: the scenario over the same period, its runs pooled.
    let variant = scenario
        .variants
        .first()
        .ok_or_else(|| Error::Input("the scenario has no variant".into()))?;
    let calendar = &variant.plan.calendar;
    let working_days = calendar.count_working_days(o.from, o.to);
    // The scenario's arrivals over the period (a stream's rate kept, its span the period's).
    let mut arrivals = scenario.raw.arrivals.clone();
    if arrivals.per_working_day.is_some() {
        arrivals.count = None;
        arrivals.working_days = Some(f64::from(working_days.max(1)));
    }
    let mut simulated = Log::default();
    let reps = o.replications.max(1);
    let runs = onewindow_simulate::in_parallel(reps as usize, o.threads, |r| {
        let seed = onewindow_simulate::replication_seed(scenario.raw.seed, r as u32);
        let quiet = |_| {};
        onewindow_simulate::des::run(variant, &arrivals, o.from, seed, false, true, &quiet).log
    });
    for log in runs {
        let mut by: HashMap<String, Vec<Envelope>> = HashMap::new();
        let mut order = Vec::new();
        for e in log {
            last = last.max(e.at.date());
            if !by.contains_key(&*e.project) {
                order.push(e.project.clone());
            }
            by.entry(e.project.to_string()).or_default().push(e);
        }
        for id in order {
            simulated
                .cases
                .push(case(&variant.plan, &by[&*id], &mut alphabet));
        }
    }
    let clock = WorkClock::new(calendar, o.from, last + chrono::Days::new(1));
    let start = |d: NaiveDate| d.and_time(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default());
    let twin = measures::measures(&simulated, start(o.from), &record, start(o.from), &clock);
    // The baseline: the record's cases split where the period's working days are halved.
    let mid = calendar.add_working_days(o.from, working_days / 2).date;
    let (mut first, mut second) = (Log::default(), Log::default());
    for c in &record.cases {
        match c.events.first() {
            Some((t, _)) if t.date() < mid => first.cases.push(c.clone()),
            _ => second.cases.push(c.clone()),
        }
    }
    let baseline = measures::measures(&first, start(o.from), &second, start(mid), &clock);
    let size = |l: &Log| {
        (
            l.cases.len(),
            l.cases.iter().map(|c| c.events.len()).sum::<usize>(),
        )
    };
    Ok(Validation {
        variant: variant.name.clone(),
        working_days,
        twin,
        baseline,
        record: size(&record),
        halves: [size(&first), size(&second)],
        simulated: size(&simulated),
        replications: reps,
    })
}

impl Validation {
    /// The report: each measure, the twin's and the baseline's, and their ratio.
    pub fn table(&self) -> String {
        use std::fmt::Write as _;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "variant `{}` over {} working days: the record {} projects ({} events); {} run(s) simulated, {} projects ({} events)",
            self.variant,
            self.working_days,
            self.record.0,
            self.record.1,
            self.replications,
            self.simulated.0,
            self.simulated.1
        );
        let _ = writeln!(
            o,
            "baseline: the record's first half ({} projects) against its second ({})\n",
            self.halves[0].0, self.halves[1].0
        );
        let _ = writeln!(
            o,
            "{:<44} {:>12} {:>12} {:>8}",
            "measure", "twin", "baseline", "ratio"
        );
        for ((name, t), (_, b)) in self.twin.rows().into_iter().zip(self.baseline.rows()) {
            let ratio = if b > 0.0 { t / b } else { f64::NAN };
            let _ = writeln!(o, "{name:<44} {t:>12.4} {b:>12.4} {ratio:>8.2}");
        }
        o
    }

    /// As JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "variant": self.variant,
            "working_days": self.working_days,
            "record": {"projects": self.record.0, "events": self.record.1},
            "halves": [
                {"projects": self.halves[0].0, "events": self.halves[0].1},
                {"projects": self.halves[1].0, "events": self.halves[1].1},
            ],
            "simulated": {"projects": self.simulated.0, "events": self.simulated.1, "runs": self.replications},
            "twin": self.twin.json(),
            "baseline": self.baseline.json(),
        })
    }
}
