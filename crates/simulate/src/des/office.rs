//! The approval office inside the simulation: items with steps are signed step by step
//! after the holder's review — a named signer signs on their own after a draw of the
//! world's `sign` time, at the same time as the others, so a countersigned step waits
//! for its rule (all, any, a share) — and a review may return the project to an earlier,
//! approved item (`returns`), which re-opens what depends on it. Every step is an engine
//! command; the engine decides when a step completes.

use rand::Rng;

use super::{minutes, Ev, Sim};
use onewindow_core::spec::{ItemKind, StepKind};
use onewindow_engine::{Actor, Command, TaskState};

impl Sim<'_> {
    /// The round of task `i` of project `p` now (0 once the project is closed).
    pub(super) fn round(&self, p: u32, i: u32) -> u32 {
        self.live[p as usize]
            .project
            .as_ref()
            .map_or(0, |x| x.tasks()[i as usize].round)
    }

    /// Whether task `i` of project `p` is still the one queued in round `round`: open,
    /// the clock running, the same round (a return or a withdrawal since makes it stale).
    pub(super) fn fresh(&self, p: u32, i: u32, round: u32) -> bool {
        self.live[p as usize].project.as_ref().is_some_and(|x| {
            let t = &x.tasks()[i as usize];
            t.round == round && matches!(t.state, TaskState::Ready | TaskState::Claimed)
        })
    }

    /// After the holder's review of an item with steps: the open steps are signed by the
    /// department at once (the holder did that work), a step with named signers waits
    /// for them, the decision approves.
    pub(super) fn run_steps(&mut self, p: u32, i: u32) {
        let plan = self.plan;
        let it = &plan.items[i as usize];
        let Some(d) = it.department else { return };
        let dept = Actor::Department(plan.departments[d].id.clone());
        loop {
            let Some(project) = self.live[p as usize].project.as_ref() else {
                return;
            };
            let t = &project.tasks()[i as usize];
            let (k, round, due) = (t.step, t.round, t.due);
            let Some(step) = it.steps.get(usize::from(k)) else {
                return;
            };
            if step.kind == StepKind::Decide {
                let today = self.datetime(self.now).date();
                let late = due.is_some_and(|due| today > due);
                let cmd = Command::Approve {
                    item: it.id.clone(),
                    numbers: Default::default(),
                };
                if self.command(p, &dept, cmd).is_some() {
                    self.depts[d].out.approved += 1;
                    self.depts[d].out.overdue += u64::from(late);
                }
                return;
            }
            if step.signers.is_empty() {
                let cmd = Command::Sign {
                    item: it.id.clone(),
                    opinion: "simulated".into(),
                };
                if self.command(p, &dept, cmd).is_none() {
                    return;
                }
                continue;
            }
            self.live[p as usize].signing_since[i as usize] = self.now;
            for j in 0..step.signers.len() {
                let wait = self.set.sign.sample(&mut self.rng, 0.0);
                self.push(
                    self.now + minutes(wait),
                    Ev::Signed {
                        p,
                        i,
                        round,
                        step: k,
                        signer: u16::try_from(j).unwrap_or(u16::MAX),
                    },
                );
            }
            return;
        }
    }

    /// A named signer signs; when that completes the step, the next one follows.
    pub(super) fn signed(&mut self, p: u32, i: u32, round: u32, step: u16, signer: u16) {
        let plan = self.plan;
        let it = &plan.items[i as usize];
        let still = self.fresh(p, i, round)
            && self.live[p as usize]
                .project
                .as_ref()
                .is_some_and(|x| x.tasks()[i as usize].step == step);
        let (Some(d), Some(s), true) = (it.department, it.steps.get(usize::from(step)), still)
        else {
            return;
        };
        let Some(name) = s.signers.get(usize::from(signer)) else {
            return;
        };
        let actor = Actor::Reviewer {
            department: plan.departments[d].id.clone(),
            reviewer: name.clone(),
        };
        let cmd = Command::Sign {
            item: it.id.clone(),
            opinion: "simulated".into(),
        };
        if self.command(p, &actor, cmd).is_none() {
            return;
        }
        let moved = self.live[p as usize]
            .project
            .as_ref()
            .is_some_and(|x| x.tasks()[i as usize].step != step);
        if moved {
            let since = self.live[p as usize].signing_since[i as usize];
            self.depts[d].out.signing += self.now - since;
            self.run_steps(p, i);
        }
    }

    /// With the department's `returns` chance (once per task), the review returns the
    /// project to an earlier, approved review item it depends on, drawn at random.
    /// Whether it did.
    pub(super) fn maybe_return(&mut self, p: u32, i: u32, d: usize) -> bool {
        let pr = self.set.items[i as usize].returns;
        if pr <= 0.0 || self.live[p as usize].returned[i as usize] {
            return false;
        }
        if self.rng.random::<f64>() >= pr {
            return false;
        }
        self.live[p as usize].returned[i as usize] = true;
        let plan = self.plan;
        let Some(project) = self.live[p as usize].project.as_ref() else {
            return false;
        };
        let upstream: Vec<usize> = (0..plan.items.len())
            .filter(|&j| {
                plan.items[j].kind == ItemKind::Review
                    && project.tasks()[j].state == TaskState::Approved
                    && plan.dependents(j).contains(&(i as usize))
            })
            .collect();
        if upstream.is_empty() {
            return false;
        }
        let to = upstream[self.rng.random_range(0..upstream.len())];
        let actor = Actor::Department(plan.departments[d].id.clone());
        let cmd = Command::ReturnTo {
            item: plan.items[i as usize].id.clone(),
            to: plan.items[to].id.clone(),
            reason: "simulated".into(),
        };
        if self.command(p, &actor, cmd).is_some() {
            self.depts[d].out.returns += 1;
            return true;
        }
        false
    }
}
