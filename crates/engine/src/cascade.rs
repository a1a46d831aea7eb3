//! What follows from an event within the same command: documents issued make waiting
//! tasks ready, a finished stage opens the next, acceptance completes the project; and
//! supervision's warnings and overdue flags. Every step emits events through the
//! [`Emitter`], so the cascade is on record.

use chrono::NaiveDate;

use onewindow_core::plan::{Plan, Stage};
use onewindow_core::spec::{ItemKind, StepKind};

use super::apply::*;
use super::clock::*;
use super::*;

impl Project {
    /// Opens what can open: ready tasks whose documents are all there, the next stage when
    /// the current one is done, completion after acceptance.
    pub(super) fn advance(&mut self, em: &mut Emitter<'_>) {
        let plan = em.plan;
        let today = em.at.date();
        loop {
            let Some(stage) = self.stage else { return };
            // Waiting tasks of the stage (or of an earlier one, re-opened by a return)
            // whose documents have all arrived become ready.
            for i in 0..self.tasks.len() {
                if self.tasks[i].state == TaskState::Waiting
                    && plan.items[i].stage <= stage
                    && self.inputs_ready(plan, i)
                {
                    self.make_ready(em, i, today);
                }
            }
            let done = plan
                .items
                .iter()
                .enumerate()
                .filter(|(_, it)| it.stage <= stage)
                .all(|(i, _)| {
                    matches!(
                        self.tasks[i].state,
                        TaskState::Approved | TaskState::NotApplicable
                    )
                });
            if !done {
                return;
            }
            em.emit(self, Event::StageCompleted { stage });
            match Stage::ALL.get(stage.index() + 1) {
                Some(&next) => {
                    em.emit(self, Event::StageOpened { stage: next });
                    self.open_stage(em, next);
                }
                None => {
                    em.emit(self, Event::Completed);
                    em.effect(|| Effect::NotifyWindow {
                        project: self.id.to_string(),
                        message: "completed".into(),
                    });
                    return;
                }
            }
        }
    }

    pub(super) fn open_stage(&mut self, em: &mut Emitter<'_>, stage: Stage) {
        let plan = em.plan;
        let today = em.at.date();
        for i in 0..self.tasks.len() {
            if plan.items[i].stage != stage || self.tasks[i].state != TaskState::Pending {
                continue;
            }
            if self.inputs_ready(plan, i) {
                self.make_ready(em, i, today);
            } else {
                em.emit(
                    self,
                    Event::TaskOpened {
                        item: plan.items[i].id.clone(),
                    },
                );
            }
        }
    }

    /// Everything the item requires is there: its documents (issued, supplied or waived)
    /// and its materials (on file), and every item it waits for with `after` is done.
    pub(super) fn inputs_ready(&self, plan: &Plan, i: usize) -> bool {
        let it = &plan.items[i];
        it.after.iter().all(|&j| self.waited_for_done(plan, j, 0))
            && it.requires.documents.iter().all(|&d| self.available[d])
            && it
                .requires
                .materials
                .iter()
                .all(|&m| self.has_material(&plan.materials[m].id))
    }

    /// An item waited for with `after` is done when approved; one that does not apply to
    /// this project is done when what *it* waited for is (as the plan's analysis counts
    /// it: a serial chain stays a chain when a link of it does not apply). `depth` stops
    /// a runaway on a plan the compiler would have refused (`after` cycles).
    pub(super) fn waited_for_done(&self, plan: &Plan, j: usize, depth: usize) -> bool {
        match self.tasks[j].state {
            TaskState::Approved => true,
            TaskState::NotApplicable if depth < plan.items.len() => plan.items[j]
                .after
                .iter()
                .all(|&k| self.waited_for_done(plan, k, depth + 1)),
            _ => false,
        }
    }

    pub(super) fn make_ready(&mut self, em: &mut Emitter<'_>, i: usize, today: NaiveDate) {
        let plan = em.plan;
        let it = &plan.items[i];
        let (limit, due, provisional) = match it.kind {
            ItemKind::Milestone => (0, None, false),
            ItemKind::Review => {
                let limit = it.limit.days(plan.default_limits);
                let (d, p) = Clock::of(plan, i).due(today, limit);
                (limit, Some(d), p)
            }
        };
        let step_due = Self::step_due(plan, i, 0, today);
        em.emit(
            self,
            Event::TaskReady {
                item: it.id.clone(),
                limit,
                due,
                provisional,
                step_due,
            },
        );
        match (it.department, due) {
            (Some(_), Some(due)) if it.kind == ItemKind::Review => self.dispatch(em, i, due),
            _ => em.effect(|| Effect::NotifyWindow {
                project: self.id.to_string(),
                message: format!("milestone {} to report", it.id),
            }),
        }
    }

    /// Tells the edge to push a task that became ready (anew) to its department.
    pub(super) fn dispatch(&self, em: &mut Emitter<'_>, i: usize, due: NaiveDate) {
        let plan = em.plan;
        if let Some(d) = plan.items[i].department {
            em.effect(|| Effect::Dispatch {
                department: plan.departments[d].id.clone(),
                project: self.id.to_string(),
                item: plan.items[i].id.clone(),
                due,
            });
        }
    }

    pub(super) fn supervise(
        &mut self,
        plan: &Plan,
        policy: &Policy,
        today: NaiveDate,
        em: &mut Emitter<'_>,
    ) {
        for i in 0..self.tasks.len() {
            let t = &self.tasks[i];
            let (Some(due), true) = (t.due, t.running()) else {
                continue;
            };
            self.supervise_step(plan, i, today, em);
            let t = &self.tasks[i];
            let item = plan.items[i].id.clone();
            if t.overdue {
                // Over the limit: the yellow card's deadline passed → a red card.
                match t.yellow {
                    Some(deadline) if today > deadline && !t.red => {
                        self.card(em, i, Card::Red, None);
                    }
                    None => {
                        // Flagged overdue before cards existed: the yellow card now.
                        let (deadline, _) = Clock::of(plan, i).due(today, policy.rectify_days);
                        self.card(em, i, Card::Yellow, Some(deadline));
                    }
                    _ => {}
                }
                continue;
            }
            if today > due {
                em.emit(self, Event::Overdue { item, due });
                let (deadline, _) = Clock::of(plan, i).due(today, policy.rectify_days);
                self.card(em, i, Card::Yellow, Some(deadline));
            } else if !t.warned {
                let remaining = Clock::of(plan, i).between(today, due);
                if policy.warns(remaining, t.limit) {
                    let message = || format!("warned {item} due {due} ({remaining} left)");
                    self.notify_department(em, i, message);
                    em.emit(
                        self,
                        Event::Warned {
                            item,
                            due,
                            remaining,
                        },
                    );
                }
            }
        }
    }

    /// A step's own clock: art. 32's deemed acceptance once acceptance's five working
    /// days pass in silence; a step over its own limit while the item is not (环节超时).
    fn supervise_step(&mut self, plan: &Plan, i: usize, today: NaiveDate, em: &mut Emitter<'_>) {
        let t = &self.tasks[i];
        let (Some(step_due), Some(step)) = (t.step_due, self.current_step(plan, i)) else {
            return;
        };
        if today <= step_due {
            return;
        }
        if step.kind == StepKind::Accept {
            self.complete_step(em, i, true);
        } else if !t.step_overdue && !t.overdue {
            em.emit(
                self,
                Event::StepOverdue {
                    item: plan.items[i].id.clone(),
                    step: step.id.clone(),
                    due: step_due,
                },
            );
        }
    }

    /// Gives a card and tells the department.
    fn card(&mut self, em: &mut Emitter<'_>, i: usize, card: Card, deadline: Option<NaiveDate>) {
        let item = em.plan.items[i].id.clone();
        let event = Event::Carded {
            item,
            card,
            deadline,
        };
        self.notify_department(em, i, || event.summary());
        em.emit(self, event);
    }

    /// Tells item `i`'s department (and its head) something about the task.
    fn notify_department(&self, em: &mut Emitter<'_>, i: usize, message: impl FnOnce() -> String) {
        let plan = em.plan;
        if plan.items[i].department.is_some() {
            em.effect(|| Effect::NotifyDepartment {
                department: plan.department_of(i).to_string(),
                project: self.id.to_string(),
                item: plan.items[i].id.clone(),
                message: message(),
            });
        }
    }

    /// A new calendar: every running task's due date derived again from where its clock
    /// counts from and the days it has left; each one that changed (or stopped being
    /// provisional) is on record, and supervision decides its flags again at once.
    pub(super) fn rederive(
        &mut self,
        plan: &Plan,
        policy: &Policy,
        reason: String,
        em: &mut Emitter<'_>,
    ) {
        for i in 0..self.tasks.len() {
            let t = &self.tasks[i];
            let (Some(old), Some(from), true) = (t.due, t.clock_from, t.running()) else {
                continue;
            };
            let (new, provisional) = Clock::of(plan, i).due(from, t.limit.saturating_sub(t.used));
            if new == old && provisional == t.provisional {
                continue;
            }
            let event = Event::DueRederived {
                item: plan.items[i].id.clone(),
                old,
                old_provisional: t.provisional,
                new,
                provisional,
                reason: reason.clone(),
            };
            self.notify_department(em, i, || event.summary());
            em.emit(self, event);
        }
        self.supervise(plan, policy, em.at.date(), em);
    }
}
