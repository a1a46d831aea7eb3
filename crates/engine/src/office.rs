//! The approval office's own verbs, as a department works inside one task: the steps of
//! a review (受理 → 审查 → 决定, 行政许可法 art. 32–44) and their signatures under the
//! step's rule (会签 all, 或签 any, 票签 a share), who holds the task (签收, 转办), asking
//! another for an opinion (委派), adding a signer (加签), withdrawing one's own decision
//! (撤回), returning the project to an earlier item (退回), urging (催办) and copying
//! (抄送), and the agent (代办员) who acts for the applicant.
//!
//! Like every verb, each checks everything before its first event ([`super::decide`]);
//! the state changes only in [`super::apply`].

use chrono::NaiveDate;

use onewindow_core::plan::{Plan, Step};
use onewindow_core::spec::StepKind;

use super::apply::*;
use super::clock::*;
use super::decide::not_allowed;
use super::*;

/// Art. 32: a department that does not tell the applicant within five working days what
/// is missing is deemed to have accepted the application from the day it arrived.
pub const ACCEPT_DAYS: u32 = 5;

/// How a step's signatures stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tally {
    /// Complete by its rule.
    Done,
    /// Can no longer complete: rejected.
    Failed,
    /// Waiting for signatures.
    Open,
}

impl Project {
    /// The step task `i` is at, when its item declares steps.
    pub(super) fn current_step<'p>(&self, plan: &'p Plan, i: usize) -> Option<&'p Step> {
        plan.items[i].steps.get(usize::from(self.tasks[i].step))
    }

    /// The due date of step `k` of item `i` begun on `from`: acceptance's five working
    /// days, or the step's own limit in the item's unit.
    pub(super) fn step_due(plan: &Plan, i: usize, k: usize, from: NaiveDate) -> Option<NaiveDate> {
        let step = plan.items[i].steps.get(k)?;
        match (step.kind, step.limit) {
            (StepKind::Accept, _) => Some(plan.calendar.add_working_days(from, ACCEPT_DAYS).date),
            (_, Some(l)) => Some(Clock::of(plan, i).due(from, l).0),
            _ => None,
        }
    }

    /// Refuses a reviewer acting as the task's holder when another reviewer holds it, and
    /// anyone while it waits for a delegate's opinion. The department acting as a whole
    /// may always act.
    pub(super) fn check_holder(&self, i: usize, item: &str, actor: &Actor) -> Result<(), Refusal> {
        let t = &self.tasks[i];
        if let Some((_, to)) = t.delegated() {
            return Err(Refusal::Delegated {
                item: item.to_string(),
                to: to.clone(),
            });
        }
        if let (Actor::Reviewer { reviewer, .. }, Some(a)) = (actor, &t.assignee) {
            if reviewer != a {
                return Err(Refusal::NotAssignee {
                    item: item.to_string(),
                    assignee: a.clone(),
                });
            }
        }
        Ok(())
    }

    /// Refuses a decision (approve) while steps before the decision remain, or while a
    /// signer added before the decider has not signed.
    pub(super) fn check_decision(&self, plan: &Plan, i: usize, item: &str) -> Result<(), Refusal> {
        let Some(step) = self.current_step(plan, i) else {
            return Ok(());
        };
        let t = &self.tasks[i];
        if step.kind != StepKind::Decide {
            return Err(Refusal::IllegalTransition {
                item: item.to_string(),
                state: t.state,
                action: format!("decide before step `{}` is complete", step.id),
            });
        }
        if let Some(a) = t.added().iter().find(|a| !signed(t, &a.reviewer)) {
            return Err(Refusal::NotSigner {
                item: item.to_string(),
                step: step.id.clone(),
                signer: a.by.clone(),
                why: format!("`{}` was added to sign first", a.reviewer),
            });
        }
        Ok(())
    }

    /// Whether `who` takes part in the current step's signing as a counted signer: named
    /// by the step, or added to it.
    fn is_required(step: &Step, t: &Task, who: &str) -> bool {
        step.signers.iter().any(|s| s == who) || t.added().iter().any(|a| a.reviewer == who)
    }

    /// Whether `who` may sign the current step now, and if not, why.
    fn may_sign(&self, step: &Step, i: usize, who: &str) -> Result<(), String> {
        let t = &self.tasks[i];
        if t.signed()
            .iter()
            .any(|s| s.reviewer == who && s.on_behalf.is_none())
        {
            return Err("signed already".into());
        }
        let added = t.added().iter().find(|a| a.reviewer == who);
        if step.kind == StepKind::Decide && added.is_none() {
            return Err("the decision is taken by approve or reject".into());
        }
        if !Self::is_required(step, t, who) {
            if !step.signers.is_empty() {
                return Err("not a signer of this step".into());
            }
            // An open step (no named signers): the holder signs, or anyone while no one
            // holds the task; the department as a whole may always.
            if let Some(a) = &t.assignee {
                if a != who && who != DEPARTMENT_SIGNER {
                    return Err(format!("held by `{a}`"));
                }
            }
            if t.signed().iter().any(|s| {
                s.on_behalf.is_none() && !t.added().iter().any(|a| a.reviewer == s.reviewer)
            }) {
                return Err("signed already by another".into());
            }
        } else if who == DEPARTMENT_SIGNER {
            return Err("named signers sign with their own identity".into());
        }
        // 加签 order: an adder who put someone before them waits for them; someone added
        // after waits for the adder.
        if let Some(a) = t
            .added()
            .iter()
            .find(|a| a.by == who && a.before && !signed(t, &a.reviewer))
        {
            return Err(format!("waits for `{}`, added before", a.reviewer));
        }
        if let Some(a) = added.filter(|a| !a.before && !signed(t, &a.by)) {
            return Err(format!("added after `{}`, who has not signed", a.by));
        }
        Ok(())
    }

    /// How the current step's signatures stand.
    fn tally(&self, step: &Step, i: usize) -> Tally {
        let t = &self.tasks[i];
        let counted = t.signed().iter().filter(|s| s.on_behalf.is_none());
        let added = |r: &str| t.added().iter().any(|a| a.reviewer == r);
        let (base_ok, base_failed) = if step.signers.is_empty() {
            let base: Vec<&Signature> = counted.clone().filter(|s| !added(&s.reviewer)).collect();
            (base.iter().any(|s| s.pass), base.iter().any(|s| !s.pass))
        } else {
            let named = |s: &&Signature| step.signers.contains(&s.reviewer);
            let yes = counted.clone().filter(named).filter(|s| s.pass).count();
            let no = counted.clone().filter(named).filter(|s| !s.pass).count();
            let needed = step.needed(step.signers.len());
            let failed = match step.sign {
                onewindow_core::spec::SignMode::Any => no > 0,
                _ => step.signers.len() - no < needed,
            };
            (yes >= needed, failed)
        };
        let added_failed = t.added().iter().any(|a| {
            t.signed()
                .iter()
                .any(|s| s.reviewer == a.reviewer && s.on_behalf.is_none() && !s.pass)
        });
        let added_ok = t.added().iter().all(|a| {
            t.signed()
                .iter()
                .any(|s| s.reviewer == a.reviewer && s.on_behalf.is_none() && s.pass)
        });
        if base_failed || added_failed {
            Tally::Failed
        } else if base_ok && added_ok {
            Tally::Done
        } else {
            Tally::Open
        }
    }

    /// Completes the current step (its rule met, or deemed accepted): copies its outcome
    /// where the step says, and begins the next.
    pub(super) fn complete_step(&mut self, em: &mut Emitter<'_>, i: usize, deemed: bool) {
        let plan = em.plan;
        let today = em.at.date();
        let k = usize::from(self.tasks[i].step);
        let Some(step) = plan.items[i].steps.get(k) else {
            return;
        };
        let next_due = Self::step_due(plan, i, k + 1, today);
        let item = plan.items[i].id.clone();
        em.emit(
            self,
            Event::StepCompleted {
                item: item.clone(),
                step: step.id.clone(),
                deemed,
                next_due,
            },
        );
        self.copy(em, i, step, "completed");
    }

    /// 抄送: tells the step's copied departments its outcome (read-only).
    pub(super) fn copy(&mut self, em: &mut Emitter<'_>, i: usize, step: &Step, what: &str) {
        let plan = em.plan;
        if step.copy.is_empty() {
            return;
        }
        let item = plan.items[i].id.clone();
        let departments: Vec<String> = step
            .copy
            .iter()
            .map(|&d| plan.departments[d].id.clone())
            .collect();
        for d in &departments {
            em.effect(|| Effect::NotifyDepartment {
                department: d.clone(),
                project: self.id.to_string(),
                item: item.clone(),
                message: format!("copy: {item} step {} {what}", step.id),
            });
        }
        em.emit(
            self,
            Event::Copied {
                item,
                step: step.id.clone(),
                departments,
            },
        );
    }

    /// A reviewer signs the current step (or, as a delegate, gives the opinion asked for).
    pub(super) fn sign(
        &mut self,
        em: &mut Emitter<'_>,
        actor: &Actor,
        item: String,
        opinion: String,
    ) -> Result<(), Refusal> {
        let plan = em.plan;
        let i = self.review_task(plan, actor, &item)?;
        self.expect(i, &item, &[TaskState::Ready, TaskState::Claimed], "sign")?;
        if opinion.trim().is_empty() {
            return Err(Refusal::ReasonRequired);
        }
        let who = actor.signer().unwrap_or(DEPARTMENT_SIGNER).to_string();
        let Some(step) = self.current_step(plan, i) else {
            return Err(Refusal::IllegalTransition {
                item,
                state: self.tasks[i].state,
                action: "sign (the item is one decision: approve or reject it)".into(),
            });
        };
        if let Some((from, to)) = self.tasks[i].delegated().cloned() {
            if to != who {
                return Err(Refusal::Delegated { item, to });
            }
            em.emit(
                self,
                Event::StepSigned {
                    item,
                    step: step.id.clone(),
                    reviewer: who,
                    opinion,
                    pass: true,
                    on_behalf: Some(from),
                },
            );
            return Ok(());
        }
        self.may_sign(step, i, &who)
            .map_err(|why| Refusal::NotSigner {
                item: item.clone(),
                step: step.id.clone(),
                signer: who.clone(),
                why,
            })?;
        em.emit(
            self,
            Event::StepSigned {
                item,
                step: step.id.clone(),
                reviewer: who,
                opinion,
                pass: true,
                on_behalf: None,
            },
        );
        if step.kind != StepKind::Decide && self.tally(step, i) == Tally::Done {
            self.complete_step(em, i, false);
        }
        Ok(())
    }

    /// A rejection by a counted signer of the current step is their vote: it rejects the
    /// task once the step can no longer complete (at once under 会签 and 或签). Returns
    /// whether the rejection was taken as a vote; `false` leaves it to the holder's
    /// rejection of the whole task.
    pub(super) fn reject_vote(
        &mut self,
        em: &mut Emitter<'_>,
        actor: &Actor,
        i: usize,
        reason: &str,
    ) -> Result<bool, Refusal> {
        let plan = em.plan;
        let Some(step) = self.current_step(plan, i) else {
            return Ok(false);
        };
        let who = actor.signer().unwrap_or(DEPARTMENT_SIGNER).to_string();
        let t = &self.tasks[i];
        if !Self::is_required(step, t, &who) {
            return Ok(false);
        }
        let item = plan.items[i].id.clone();
        self.may_sign(step, i, &who)
            .map_err(|why| Refusal::NotSigner {
                item: item.clone(),
                step: step.id.clone(),
                signer: who.clone(),
                why,
            })?;
        em.emit(
            self,
            Event::StepSigned {
                item: item.clone(),
                step: step.id.clone(),
                reviewer: who,
                opinion: reason.to_string(),
                pass: false,
                on_behalf: None,
            },
        );
        if self.tally(step, i) == Tally::Failed {
            self.reject_task(em, i, reason.to_string());
        }
        Ok(true)
    }

    /// Emits the task's rejection and tells the window.
    pub(super) fn reject_task(&mut self, em: &mut Emitter<'_>, i: usize, reason: String) {
        let plan = em.plan;
        let item = plan.items[i].id.clone();
        let used = self.used_now(plan, i, em.at.date());
        em.emit(
            self,
            Event::TaskRejected {
                item: item.clone(),
                reason: reason.clone(),
                used,
            },
        );
        if let Some(step) = self.current_step(plan, i) {
            self.copy(em, i, step, "rejected");
        }
        em.effect(|| Effect::NotifyWindow {
            project: self.id.to_string(),
            message: format!("rejected {item}: {reason}"),
        });
    }

    /// 转办: the holder (or, while no one holds it, any reviewer; or the department) hands
    /// the task to another reviewer. The clock does not restart.
    pub(super) fn transfer(
        &mut self,
        em: &mut Emitter<'_>,
        actor: &Actor,
        item: String,
        to: String,
    ) -> Result<(), Refusal> {
        let plan = em.plan;
        let i = self.review_task(plan, actor, &item)?;
        self.expect(
            i,
            &item,
            &[TaskState::Ready, TaskState::Claimed, TaskState::Suspended],
            "transfer",
        )?;
        self.check_holder(i, &item, actor)?;
        check_reviewer(&to)?;
        let from = self.tasks[i].assignee.clone();
        if from.as_deref() == Some(to.as_str()) {
            return Err(Refusal::IllegalTransition {
                item,
                state: self.tasks[i].state,
                action: format!("transfer to `{to}`, who holds it already"),
            });
        }
        em.emit(self, Event::Transferred { item, from, to });
        Ok(())
    }

    /// 委派: the holder, or a counted signer of the current step, asks another reviewer
    /// for an opinion; the task waits for it and then comes back to them.
    pub(super) fn delegate(
        &mut self,
        em: &mut Emitter<'_>,
        actor: &Actor,
        item: String,
        to: String,
    ) -> Result<(), Refusal> {
        let plan = em.plan;
        let i = self.review_task(plan, actor, &item)?;
        self.expect(
            i,
            &item,
            &[TaskState::Ready, TaskState::Claimed],
            "delegate",
        )?;
        check_reviewer(&to)?;
        let who = actor.signer().unwrap_or(DEPARTMENT_SIGNER).to_string();
        let signer = self
            .current_step(plan, i)
            .is_some_and(|s| Self::is_required(s, &self.tasks[i], &who));
        if !signer {
            self.check_holder(i, &item, actor)?;
        } else if let Some((_, d)) = self.tasks[i].delegated() {
            return Err(Refusal::Delegated {
                item,
                to: d.clone(),
            });
        }
        if to == who {
            return Err(Refusal::IllegalTransition {
                item,
                state: self.tasks[i].state,
                action: "delegate to oneself".into(),
            });
        }
        em.emit(
            self,
            Event::Delegated {
                item,
                from: who,
                to,
            },
        );
        Ok(())
    }

    /// 加签: a signer of the current step (or the holder) adds a reviewer before or after
    /// themselves; the step then needs their signature too.
    pub(super) fn add_signer(
        &mut self,
        em: &mut Emitter<'_>,
        actor: &Actor,
        item: String,
        reviewer: String,
        before: bool,
    ) -> Result<(), Refusal> {
        let plan = em.plan;
        let i = self.review_task(plan, actor, &item)?;
        self.expect(
            i,
            &item,
            &[TaskState::Ready, TaskState::Claimed],
            "add a signer",
        )?;
        check_reviewer(&reviewer)?;
        let state = self.tasks[i].state;
        let Some(step) = self.current_step(plan, i) else {
            return Err(Refusal::IllegalTransition {
                item,
                state,
                action: "add a signer (the item declares no steps)".into(),
            });
        };
        let who = actor.signer().unwrap_or(DEPARTMENT_SIGNER).to_string();
        let t = &self.tasks[i];
        if !Self::is_required(step, t, &who) {
            self.check_holder(i, &item, actor)?;
        }
        if step.kind == StepKind::Decide && !before {
            return Err(Refusal::IllegalTransition {
                item,
                state,
                action: "add a signer after the decision (add them before it)".into(),
            });
        }
        if reviewer == who || Self::is_required(step, t, &reviewer) || signed(t, &reviewer) {
            return Err(Refusal::IllegalTransition {
                item,
                state,
                action: format!("add `{reviewer}`, who signs this step already"),
            });
        }
        em.emit(
            self,
            Event::SignerAdded {
                item,
                step: step.id.clone(),
                reviewer,
                by: who,
                before,
            },
        );
        Ok(())
    }

    /// 撤回: the department withdraws its own decision while nothing depending on it has
    /// started and its stage has not moved on. The task is theirs again, its clock
    /// running from the days it had used; tasks its documents had made ready wait again.
    pub(super) fn recall(
        &mut self,
        em: &mut Emitter<'_>,
        actor: &Actor,
        item: String,
    ) -> Result<(), Refusal> {
        let plan = em.plan;
        let i = self.review_task(plan, actor, &item)?;
        self.expect(
            i,
            &item,
            &[TaskState::Approved, TaskState::Rejected],
            "recall",
        )?;
        if self.stage != Some(plan.items[i].stage) {
            return Err(Refusal::DependentStarted {
                item,
                dependent: "its stage is complete".into(),
            });
        }
        let direct: Vec<usize> = plan
            .graph
            .neighbors(petgraph::graph::NodeIndex::new(i))
            .map(|n| n.index())
            .collect();
        if let Some(&j) = direct.iter().find(|&&j| started(&self.tasks[j])) {
            return Err(Refusal::DependentStarted {
                item,
                dependent: format!("`{}` has started", plan.items[j].id),
            });
        }
        let today = em.at.date();
        let t = &self.tasks[i];
        let (due, provisional) = Clock::of(plan, i).due(today, t.limit.saturating_sub(t.used));
        em.emit(
            self,
            Event::Recalled {
                item: item.clone(),
                due,
                provisional,
            },
        );
        let mut order = direct;
        order.sort_by_key(|&j| plan.topo.iter().position(|&x| x == j));
        for j in order {
            if self.tasks[j].state == TaskState::Ready {
                em.emit(
                    self,
                    Event::Reopened {
                        item: plan.items[j].id.clone(),
                        because: item.clone(),
                    },
                );
            }
        }
        Ok(())
    }

    /// 退回: the department of an open item returns the project to an earlier, approved
    /// item it depends on. That item gets a fresh round; every item depending on it that
    /// had started or been decided waits again (the DAG says which), each on record.
    pub(super) fn return_to(
        &mut self,
        em: &mut Emitter<'_>,
        actor: &Actor,
        item: String,
        to: String,
        reason: String,
    ) -> Result<(), Refusal> {
        let plan = em.plan;
        let i = self.review_task(plan, actor, &item)?;
        if reason.trim().is_empty() {
            return Err(Refusal::ReasonRequired);
        }
        self.expect(i, &item, &[TaskState::Ready, TaskState::Claimed], "return")?;
        self.check_holder(i, &item, actor)?;
        let target = self.item(plan, &to)?;
        let dependents = plan.dependents(target);
        let why = if !dependents.contains(&i) {
            Some(format!("`{item}` does not depend on it"))
        } else if self.tasks[target].state != TaskState::Approved {
            Some(format!("it is {}, not approved", self.tasks[target].state))
        } else if plan.items[target].kind == onewindow_core::spec::ItemKind::Milestone {
            Some("it is a milestone the window reports".into())
        } else {
            None
        };
        if let Some(why) = why {
            return Err(Refusal::NotUpstream { item, to, why });
        }
        let today = em.at.date();
        let limit = plan.items[target].limit.days(plan.default_limits);
        let (due, provisional) = Clock::of(plan, target).due(today, limit);
        let step_due = Self::step_due(plan, target, 0, today);
        em.emit(
            self,
            Event::Returned {
                item: to.clone(),
                by: item,
                reason: reason.clone(),
                limit,
                due,
                provisional,
                step_due,
            },
        );
        self.dispatch(em, target, due);
        for j in dependents {
            if matches!(
                self.tasks[j].state,
                TaskState::Ready
                    | TaskState::Claimed
                    | TaskState::Suspended
                    | TaskState::Approved
                    | TaskState::Rejected
            ) {
                em.emit(
                    self,
                    Event::Reopened {
                        item: plan.items[j].id.clone(),
                        because: to.clone(),
                    },
                );
            }
        }
        em.effect(|| Effect::NotifyWindow {
            project: self.id.to_string(),
            message: format!("returned to {to}: {reason}"),
        });
        Ok(())
    }

    /// 催办: the window, the project's agent or supervision urges the department on an
    /// open task, at most once a day per task.
    pub(super) fn urge(
        &mut self,
        em: &mut Emitter<'_>,
        actor: &Actor,
        item: String,
        note: String,
    ) -> Result<(), Refusal> {
        let plan = em.plan;
        match actor {
            Actor::Supervisor => {}
            _ => self.for_applicant(actor, "urge a department")?,
        }
        let i = self.item(plan, &item)?;
        if !self.tasks[i].is_open() || plan.items[i].department.is_none() {
            return Err(Refusal::IllegalTransition {
                item,
                state: self.tasks[i].state,
                action: "urge (only a department's open task)".into(),
            });
        }
        if self.tasks[i].urged_on == Some(em.at.date()) {
            return Err(Refusal::UrgedRecently(item));
        }
        em.effect(|| Effect::NotifyDepartment {
            department: plan.department_of(i).to_string(),
            project: self.id.to_string(),
            item: item.clone(),
            message: format!("urged {item}: {note}"),
        });
        em.emit(self, Event::Urged { item, note });
        Ok(())
    }

    /// The window acts for the applicant everywhere; an agent (代办员) only on the
    /// projects assigned to them.
    pub(super) fn for_applicant(&self, actor: &Actor, action: &str) -> Result<(), Refusal> {
        match actor {
            Actor::Window => Ok(()),
            Actor::Agent(a) if self.agent.as_deref() == Some(a.as_str()) => Ok(()),
            Actor::Agent(a) => Err(Refusal::NotAllowed {
                actor: format!("agent `{a}`"),
                action: format!("{action} (not assigned to project `{}`)", self.id),
            }),
            _ => Err(not_allowed(actor, action)),
        }
    }

    /// The window assigns an agent.
    pub(super) fn assign_agent(
        &mut self,
        em: &mut Emitter<'_>,
        actor: &Actor,
        agent: String,
    ) -> Result<(), Refusal> {
        if *actor != Actor::Window {
            return Err(not_allowed(actor, "assign an agent"));
        }
        check_reviewer(&agent)?;
        em.emit(self, Event::AgentAssigned { agent });
        Ok(())
    }
}

/// Whether `who` has a counted (not delegated) signature on the task's current step.
fn signed(t: &Task, who: &str) -> bool {
    t.signed()
        .iter()
        .any(|s| s.reviewer == who && s.on_behalf.is_none())
}

/// Whether a task has started: someone took it, signed it or decided it.
fn started(t: &Task) -> bool {
    t.claimed
        || !t.signed().is_empty()
        || t.step > 0
        || matches!(
            t.state,
            TaskState::Claimed | TaskState::Suspended | TaskState::Approved | TaskState::Rejected
        )
}

/// A reviewer or agent id named in a command: not empty, not the department's own name.
fn check_reviewer(id: &str) -> Result<(), Refusal> {
    if id.trim().is_empty() || id == DEPARTMENT_SIGNER {
        return Err(Refusal::UnknownReference {
            kind: "reviewer".into(),
            id: id.to_string(),
        });
    }
    Ok(())
}
