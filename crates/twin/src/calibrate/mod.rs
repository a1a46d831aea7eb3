//! Calibration: the city's own record read back as a simulator scenario — arrivals, the
//! kinds of project, each department's review times (a family fitted and its fit
//! reported), what reviews end in, the applicants' delays and each department's
//! effective staff — so an analyst starts from the city as it is, not from numbers typed
//! in by hand (docs/twin.md).
//!
//! One pass over the record ([`observe`]), then per department and item the fits
//! ([`fit`], [`staff`]); [`write`] turns the result into a scenario file whose comments
//! say where every number came from, and a report of what could not be fitted.
//!
//! Where an item's own numbers are written: a department's review time and shares are
//! always its pooled ones; an item gets its own only when it has enough observations
//! ([`ITEM_MIN`]) and differs from its department by more than chance (a z statistic
//! above [`ITEM_Z`]) — so a scenario carries real differences between items, not the
//! noise of small samples.

pub mod fit;
pub mod observe;
pub mod staff;
pub mod write;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use onewindow_core::plan::Plan;
use onewindow_store::{ReadStore, StoredWorkflow};

use self::fit::Fit;
use self::observe::{Observations, Trials, Upstream};
use crate::clock::{WorkClock, DAY};
use crate::Error;

/// Observations an item needs before it gets numbers of its own.
pub const ITEM_MIN: usize = 30;
/// How far (in standard errors) an item must differ from its department.
pub const ITEM_Z: f64 = 3.0;

/// What to calibrate.
#[derive(Debug, Clone)]
pub struct Options {
    /// The first day of the period.
    pub from: NaiveDate,
    /// The last day of the period.
    pub to: NaiveDate,
    /// The workflow (needed when the period holds projects of several).
    pub workflow: Option<String>,
}

/// A department, calibrated.
#[derive(Debug, Clone)]
pub struct DepartmentFit {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Review time (first looks of all its items), if it could be fitted.
    pub review: Option<Fit>,
    /// Observations of review time.
    pub reviews: usize,
    /// Effective staff, if any review was seen.
    pub staff: Option<staff::Staff>,
    /// Mean wait for a reviewer, working days (over tasks seen claimed).
    pub mean_wait: Option<f64>,
    /// Shares pooled over its items.
    pub supplement: Trials,
    /// Rejections.
    pub rejection: Trials,
    /// Returns.
    pub returns: Trials,
}

/// An item, calibrated.
#[derive(Debug, Clone)]
pub struct ItemFit {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Its department's id (none for a milestone).
    pub department: Option<String>,
    /// Review times observed and their mean.
    pub reviews: usize,
    /// Mean review, working days.
    pub mean_review: Option<f64>,
    /// Its own review time, where it differs from its department's.
    pub review: Option<Fit>,
    /// Its shares.
    pub supplement: Trials,
    /// Rejections.
    pub rejection: Trials,
    /// Returns.
    pub returns: Trials,
    /// Resubmissions after a rejection.
    pub resubmit: Trials,
    /// Which of its shares differ from its department's (written as its own).
    pub own: Own,
}

/// Which of an item's shares are its own in the scenario (its review time is its own
/// when [`ItemFit::review`] is there).
#[derive(Debug, Clone, Copy, Default)]
pub struct Own {
    /// Supplement share.
    pub supplement: bool,
    /// Rejection share.
    pub rejection: bool,
    /// Return share.
    pub returns: bool,
}

/// A kind of project.
#[derive(Debug, Clone)]
pub struct ProjectKind {
    /// Name.
    pub name: String,
    /// Projects of this kind.
    pub count: u64,
    /// A representative form.
    pub values: BTreeMap<String, onewindow_core::form::Value>,
    /// Items that do not apply, with names.
    pub not_applying: Vec<(String, String)>,
}

/// The calibration: everything the scenario and the report say.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// The period.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Working days in it.
    pub working_days: u32,
    /// The workflow calibrated: its stored version (most projects ran on it).
    pub workflow: StoredWorkflow,
    /// Its plan.
    pub plan: Arc<Plan>,
    /// Projects per version of it.
    pub versions: BTreeMap<String, u64>,
    /// Other workflows in the period and their submissions (left out).
    pub others: Vec<(String, u64)>,
    /// Projects and events read for this workflow.
    pub projects: u64,
    /// Events.
    pub events: u64,
    /// Submissions in the period.
    pub arrivals: u64,
    /// Completed and withdrawn in the period.
    pub completed: u64,
    /// Withdrawn.
    pub withdrawn: u64,
    /// The kinds of project, most frequent first.
    pub kinds: Vec<ProjectKind>,
    /// By plan department order.
    pub departments: Vec<DepartmentFit>,
    /// By plan item order (department items and milestones).
    pub items: Vec<ItemFit>,
    /// The applicant's answer to a supplement.
    pub supplement_response: Option<Fit>,
    /// Its observations.
    pub supplement_responses: usize,
    /// The applicant's resubmission after a rejection.
    pub rejection_response: Option<Fit>,
    /// Its observations.
    pub rejection_responses: usize,
    /// The window's time to report a milestone.
    pub milestone: Option<Fit>,
    /// Its observations.
    pub milestones: usize,
    /// The second look as a share of a first, and from how many.
    pub rework: Option<(f64, usize)>,
    /// Resubmissions after a rejection, over every item.
    pub resubmit: Trials,
}

impl Calibration {
    /// Arrivals per working day.
    pub fn per_working_day(&self) -> f64 {
        self.arrivals as f64 / f64::from(self.working_days.max(1))
    }
}

/// Reads the record of the period and calibrates one workflow's world.
///
/// # Errors
/// The store fails, a project's version is missing, the period is empty, or it holds
/// several workflows and none was chosen.
pub fn calibrate(store: &dyn ReadStore, o: &Options) -> Result<Calibration, Error> {
    if o.from > o.to {
        return Err(Error::Input(format!(
            "the period starts ({}) after it ends ({})",
            o.from, o.to
        )));
    }
    let mut per: BTreeMap<String, (Observations, Arc<Plan>)> = BTreeMap::new();
    let mut clocks: BTreeMap<String, WorkClock> = BTreeMap::new();
    let mut upstream = Upstream::default();
    for p in onewindow_mining::Projects::new(store, Some(o.from), Some(o.to))? {
        let p = p?;
        let clock = clocks
            .entry(p.plan.calendar.id().to_string())
            .or_insert_with(|| {
                WorkClock::new(&p.plan.calendar, o.from, o.to + chrono::Days::new(1))
            });
        let entry = per
            .entry(p.plan.id.clone())
            .or_insert_with(|| (Observations::default(), p.plan.clone()));
        entry.0.add(&p, clock, &mut upstream);
    }
    if per.values().all(|(obs, _)| obs.arrivals == 0) {
        let what = if per.is_empty() {
            "no event"
        } else {
            "events, but no submission"
        };
        return Err(Error::Input(format!(
            "the record holds {what} between {} and {}: there are no arrivals to calibrate from",
            o.from, o.to
        )));
    }
    let counts: Vec<(String, u64)> = per
        .iter()
        .map(|(id, (obs, _))| (id.clone(), obs.arrivals))
        .filter(|(_, n)| *n > 0)
        .collect();
    let chosen = match &o.workflow {
        Some(w) => {
            if !per.contains_key(w) {
                return Err(Error::Input(format!(
                    "no project of workflow `{w}` between {} and {}; the period holds: {}",
                    o.from,
                    o.to,
                    list(&counts)
                )));
            }
            w.clone()
        }
        None if counts.len() == 1 => counts[0].0.clone(),
        None => {
            return Err(Error::Input(format!(
                "the period holds projects of several workflows ({}): choose one with --workflow",
                list(&counts)
            )))
        }
    };
    let (obs, _) = per.remove(&chosen).expect("chosen from the map");
    // The version most of its projects ran on stands for it.
    let version = obs
        .versions
        .iter()
        .max_by_key(|(v, n)| (**n, (*v).clone()))
        .map(|(v, _)| v.clone())
        .unwrap_or_default();
    let workflow = store
        .workflows()?
        .into_iter()
        .find(|w| w.version == version)
        .ok_or_else(|| {
            Error::Record(onewindow_mining::Error::MissingVersion {
                project: chosen.clone(),
                version: version.clone(),
            })
        })?;
    let plan = Arc::new(onewindow_store::restore::restore_workflow(&workflow)?);
    let clock = WorkClock::new(&plan.calendar, o.from, o.to + chrono::Days::new(1));
    let working_days = clock.working_days(o.from, o.to);
    let others = counts.into_iter().filter(|(w, _)| *w != chosen).collect();
    Ok(summarise(obs, plan, workflow, others, o, working_days))
}

fn list(counts: &[(String, u64)]) -> String {
    counts
        .iter()
        .map(|(w, n)| format!("{w} ({n} submitted)"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn summarise(
    mut obs: Observations,
    plan: Arc<Plan>,
    workflow: StoredWorkflow,
    others: Vec<(String, u64)>,
    o: &Options,
    working_days: u32,
) -> Calibration {
    let mut kinds: Vec<ProjectKind> = std::mem::take(&mut obs.types)
        .into_values()
        .map(|t| ProjectKind {
            name: String::new(),
            count: t.count,
            values: t.values,
            not_applying: t
                .not_applying
                .iter()
                .map(|id| {
                    let name = plan
                        .item_index(id)
                        .map_or(id.clone(), |i| plan.items[i].name.clone());
                    (id.clone(), name)
                })
                .collect(),
        })
        .collect();
    kinds.sort_by_key(|k| std::cmp::Reverse(k.count));
    for (k, kind) in kinds.iter_mut().enumerate() {
        kind.name = format!("类型{}", k + 1);
    }
    let empty = observe::ItemObs::default();
    let item_obs = |id: &str| obs.items.get(id).unwrap_or(&empty);
    // Departments: pooled over their items.
    let mut departments = Vec::new();
    for (d, dept) in plan.departments.iter().enumerate() {
        let ids: Vec<&str> = plan
            .items
            .iter()
            .filter(|it| it.department == Some(d))
            .map(|it| it.id.as_str())
            .collect();
        let reviews: Vec<f64> = ids
            .iter()
            .flat_map(|id| item_obs(id).reviews.iter().copied())
            .collect();
        let sum = |f: &dyn Fn(&observe::ItemObs) -> Trials| {
            ids.iter()
                .fold(Trials::default(), |acc, id| acc.plus(f(item_obs(id))))
        };
        let d_obs = obs.departments.get(&dept.id);
        let waits: Vec<f64> = d_obs
            .map(|x| {
                x.queued
                    .iter()
                    .map(|(a, b)| b.saturating_sub(*a) as f64 / DAY as f64)
                    .collect()
            })
            .unwrap_or_default();
        departments.push(DepartmentFit {
            id: dept.id.clone(),
            name: dept.name.clone(),
            review: fit::fit(&reviews),
            reviews: reviews.len(),
            staff: None,
            mean_wait: (!waits.is_empty()).then(|| fit::mean_sd(&waits).0),
            supplement: sum(&|x| x.supplement),
            rejection: sum(&|x| x.rejection),
            returns: sum(&|x| x.returns),
        });
    }
    // Items: their own numbers where they differ from their department's.
    let mut items = Vec::new();
    for it in &plan.items {
        let x = item_obs(&it.id);
        let dept = it.department.map(|d| &departments[d]);
        let (mean, sd) = fit::mean_sd(&x.reviews);
        let mut own = Own::default();
        let own_review = dept.and_then(|d| d.review.as_ref()).is_some_and(|df| {
            let se = (sd * sd / x.reviews.len().max(1) as f64 + df.sd * df.sd / df.n.max(1) as f64)
                .sqrt();
            x.reviews.len() >= ITEM_MIN && se > 0.0 && ((mean - df.mean) / se).abs() > ITEM_Z
        });
        if let Some(dp) = dept {
            own.supplement = differs(x.supplement, dp.supplement);
            own.rejection = differs(x.rejection, dp.rejection);
            own.returns = differs(x.returns, dp.returns);
        }
        items.push(ItemFit {
            id: it.id.clone(),
            name: it.name.clone(),
            department: it.department.map(|d| plan.departments[d].id.clone()),
            reviews: x.reviews.len(),
            mean_review: (!x.reviews.is_empty()).then_some(mean),
            review: if own_review {
                fit::fit(&x.reviews)
            } else {
                None
            },
            supplement: x.supplement,
            rejection: x.rejection,
            returns: x.returns,
            resubmit: x.resubmit,
            own,
        });
    }
    // The second look, as a share of the item's first: its start is not in the record,
    // so its span from the answer to the decision includes any wait for a reviewer.
    // Departments where no task ever waited measure it cleanly; only when they are too
    // few is every department's span taken, less the department's mean wait.
    let ratio = |clean: bool| {
        let (mut num, mut den, mut n) = (0.0, 0.0, 0usize);
        for (d, dept) in plan.departments.iter().enumerate() {
            let Some(x) = obs.departments.get(&dept.id) else {
                continue;
            };
            let queued = x.queued.iter().any(|(a, b)| b > a);
            if clean && queued {
                continue;
            }
            let wait = if queued {
                departments[d].mean_wait.unwrap_or(0.0)
            } else {
                0.0
            };
            for (a, b, id) in &x.reworks {
                let Some(first) = plan
                    .item_index(id)
                    .and_then(|i| items[i].mean_review)
                    .filter(|m| *m > 0.0)
                else {
                    continue;
                };
                num += b.saturating_sub(*a) as f64 / DAY as f64 - wait;
                den += first;
                n += 1;
            }
        }
        (num, den, n)
    };
    let (num, den, n) = match ratio(true) {
        (_, _, n) if n >= fit::MIN_OBSERVATIONS => ratio(true),
        _ => ratio(false),
    };
    let rework =
        (n >= fit::MIN_OBSERVATIONS && den > 0.0).then(|| ((num / den).clamp(0.0, 10.0), n));
    // Staff: first looks as recorded, second looks as the rework share of the item's
    // first look ending at their decision.
    let share = rework.map_or(0.3, |r| r.0);
    for (d, dept) in plan.departments.iter().enumerate() {
        let Some(x) = obs.departments.get(&dept.id) else {
            continue;
        };
        let mut busy = x.busy.clone();
        for (a, b, id) in &x.reworks {
            let first = plan
                .item_index(id)
                .and_then(|i| items[i].mean_review)
                .unwrap_or(0.0);
            let len = (share * first * DAY as f64) as u64;
            busy.push(((*b).saturating_sub(len).max(*a), *b));
        }
        departments[d].staff = staff::estimate(&busy, &x.queued);
    }
    let milestones: Vec<f64> = obs
        .items
        .values()
        .flat_map(|x| x.milestone.iter().copied())
        .collect();
    let resubmit = items
        .iter()
        .fold(Trials::default(), |acc, i| acc.plus(i.resubmit));
    Calibration {
        from: o.from,
        to: o.to,
        working_days,
        workflow,
        plan,
        versions: obs.versions,
        others,
        projects: obs.projects,
        events: obs.events,
        arrivals: obs.arrivals,
        completed: obs.completed,
        withdrawn: obs.withdrawn,
        kinds,
        departments,
        items,
        supplement_response: fit::fit(&obs.supplement_response),
        supplement_responses: obs.supplement_response.len(),
        rejection_response: fit::fit(&obs.rejection_response),
        rejection_responses: obs.rejection_response.len(),
        milestone: fit::fit(&milestones),
        milestones: milestones.len(),
        rework,
        resubmit,
    }
}

/// Whether an item's share differs from its department's by more than chance (a
/// two-proportion z statistic above [`ITEM_Z`], with enough trials).
fn differs(item: Trials, dept: Trials) -> bool {
    let (Some(p1), Some(p2)) = (item.share(), dept.share()) else {
        return false;
    };
    if item.n < ITEM_MIN as u64 || dept.n <= item.n {
        return false;
    }
    // The item against the rest of its department.
    let rest = Trials {
        n: dept.n - item.n,
        yes: dept.yes - item.yes,
    };
    let p_rest = rest.share().unwrap_or(p2);
    let pooled = p2;
    let se = (pooled * (1.0 - pooled) * (1.0 / item.n as f64 + 1.0 / rest.n as f64)).sqrt();
    se > 0.0 && ((p1 - p_rest) / se).abs() > ITEM_Z
}

#[cfg(test)]
mod tests {
    use super::*;
    use onewindow_store::{fixtures, memory::MemoryStore, Commit, WriteStore};

    fn options() -> Options {
        Options {
            from: NaiveDate::from_ymd_opt(2025, 6, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2025, 6, 30).unwrap(),
            workflow: None,
        }
    }

    #[test]
    fn a_store_without_events_or_without_the_projects_version_is_refused_by_name() {
        let store = MemoryStore::new();
        let e = calibrate(&store, &options()).unwrap_err();
        assert!(
            e.to_string()
                .contains("holds no event between 2025-06-01 and 2025-06-30"),
            "{e}"
        );
        // A project on version `v1`, which the store does not hold.
        store
            .commit(Commit {
                project: "P1".into(),
                base: None,
                events: vec![fixtures::event("P1", 1), fixtures::event("P1", 2)],
                snapshot: None,
                unindex: Vec::new(),
                index: Vec::new(),
                request: None,
                drawn: Vec::new(),
            })
            .unwrap();
        let e = calibrate(&store, &options()).unwrap_err();
        assert!(
            e.to_string()
                .contains("project P1 runs on workflow version v1, which the store does not hold"),
            "{e}"
        );
        let backwards = Options {
            from: options().to,
            to: options().from,
            workflow: None,
        };
        assert!(calibrate(&store, &backwards)
            .unwrap_err()
            .to_string()
            .contains("after it ends"));
    }
}
