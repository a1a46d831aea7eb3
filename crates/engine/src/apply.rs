//! Events change the state, and only here: [`Project::apply`] folds one event,
//! [`Project::from_submitted`] starts a project's state from its first event, and the
//! [`Emitter`] applies each event as the engine emits it, so the state the engine reports
//! is by construction the fold of its events.

use chrono::{NaiveDate, NaiveDateTime};

use onewindow_core::plan::Plan;

use super::*;

/// Collects events, applying each to the project as it is emitted, so that the state the
/// engine reports is by construction the fold of its events.
pub(super) struct Emitter<'a> {
    pub(super) plan: &'a Plan,
    pub(super) at: NaiveDateTime,
    pub(super) actor: &'a Actor,
    pub(super) out: Outcome,
    /// Whether the host will run the effects. The server's edge does (it dispatches and
    /// notifies once the events are durable); the simulator has no one to tell, and
    /// building what it would throw away (strings cloned and formatted for every
    /// notification) was a tenth of a simulated command's work.
    pub(super) effects: bool,
}

impl Emitter<'_> {
    /// Records an effect, built only when the host will run it.
    #[inline]
    pub(super) fn effect(&mut self, make: impl FnOnce() -> Effect) {
        if self.effects {
            self.out.effects.push(make());
        }
    }

    #[inline]
    pub(super) fn emit(&mut self, project: &mut Project, event: Event) {
        let env = Envelope {
            v: EVENT_VERSION,
            project: project.id.clone(),
            seq: project.seq + 1,
            at: self.at,
            offset: None,
            actor: self.actor.clone(),
            event,
            prev: None,
        };
        project.apply(self.plan, &env);
        self.out.events.push(env);
    }
}

impl Project {
    /// The state right after a `Submitted` event (the first event of every project).
    ///
    /// # Panics
    /// If `env` is not a `Submitted` event: a log that does not start with one is not a
    /// project's log.
    pub fn from_submitted(plan: &Plan, env: &Envelope) -> Project {
        let Event::Submitted {
            workflow,
            version,
            applicant,
            agent,
            form,
            materials,
        } = &env.event
        else {
            panic!(
                "a project's log starts with Submitted, found {}",
                env.event.summary()
            );
        };
        let (form, _) = notice::check_form(&plan.fields, form);
        let applies = notice::applicable(plan, &form);
        let mut project = Project {
            id: env.project.clone(),
            workflow: workflow.clone(),
            version: version.clone(),
            applicant: applicant.clone(),
            agent: agent.clone(),
            form: std::sync::Arc::new(form),
            materials: std::sync::Arc::default(),
            status: Status::Active,
            stage: None,
            tasks: applies.iter().map(|&a| Task::new(a)).collect(),
            documents: vec![None; plan.documents.len()],
            available: vec![false; plan.documents.len()],
            seq: env.seq,
            submitted: env.at,
            last_at: env.at,
            chain: None,
        };
        for d in 0..plan.documents.len() {
            // A document only an inapplicable item would issue is not waited for.
            project.available[d] = plan.producer[d].is_some_and(|p| !applies[p]);
        }
        project.add_materials(plan, materials);
        project
    }

    pub(super) fn has_material(&self, id: &str) -> bool {
        self.materials.iter().any(|m| m.material == id)
    }

    /// Files materials (latest per material id) and makes the documents they stand in
    /// for available.
    pub(super) fn add_materials(&mut self, plan: &Plan, materials: &[MaterialRef]) {
        for m in materials {
            let filed = std::sync::Arc::make_mut(&mut self.materials);
            match filed.iter_mut().find(|x| x.material == m.material) {
                Some(x) => *x = m.clone(),
                None => filed.push(m.clone()),
            }
            if let Some(mi) = plan.material_index(&m.material) {
                for &d in &plan.materials[mi].supplies {
                    self.available[d] = true;
                }
            }
        }
    }

    /// Applies one event: the only way a project's state changes.
    pub fn apply(&mut self, plan: &Plan, env: &Envelope) {
        self.seq = env.seq;
        self.last_at = env.at;
        let today = env.at.date();
        let ix = |item: &str| plan.item_index(item);
        match &env.event {
            Event::Submitted { .. } => {}
            Event::StageOpened { stage } => {
                self.stage = Some(*stage);
            }
            Event::StageCompleted { .. } => {}
            // The record of the site check: nothing in the state depends on it.
            Event::SiteChecked { .. } => {}
            Event::TaskOpened { item } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].state = TaskState::Waiting;
                }
            }
            Event::TaskReady {
                item,
                limit,
                due,
                provisional,
                step_due,
            } => {
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    t.new_round(today, *limit, *due, *provisional, *step_due);
                    t.ready_on = Some(today);
                }
            }
            Event::TaskClaimed { item } => {
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    t.state = TaskState::Claimed;
                    t.claimed = true;
                    if let Actor::Reviewer { reviewer, .. } = &env.actor {
                        t.assignee = Some(reviewer.clone());
                    }
                }
            }
            Event::TaskApproved {
                item,
                documents,
                used,
            } => {
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    t.state = TaskState::Approved;
                    t.used = *used;
                    t.decided_on = Some(today);
                    t.clock_from = None;
                    for d in documents {
                        if let Some(di) = plan.document_index(&d.document) {
                            self.documents[di] = Some(IssuedDocument {
                                issued_at: Some(env.at),
                                ..d.clone()
                            });
                            self.available[di] = true;
                        }
                    }
                }
            }
            Event::TaskRejected { item, reason, used } => {
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    t.state = TaskState::Rejected;
                    t.used = *used;
                    t.decided_on = Some(today);
                    t.clock_from = None;
                    t.rejection = Some(reason.clone());
                }
            }
            Event::SupplementRequested {
                item, needed, used, ..
            } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].suspend(
                        Suspension::Supplement {
                            needed: needed.clone(),
                        },
                        today,
                        *used,
                    );
                }
            }
            Event::SpecialStarted { item, kind, used } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].suspend(Suspension::Special { kind: kind.clone() }, today, *used);
                }
            }
            Event::SupplementProvided {
                item,
                materials,
                suspended,
                due,
                provisional,
                step_due,
            } => {
                self.add_materials(plan, materials);
                if let Some(i) = ix(item) {
                    self.tasks[i].resume(today, *suspended, *due, *provisional, *step_due);
                }
            }
            Event::SpecialEnded {
                item,
                suspended,
                due,
                provisional,
                step_due,
            } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].resume(today, *suspended, *due, *provisional, *step_due);
                }
            }
            Event::Extended {
                item,
                days,
                due,
                provisional,
                ..
            } => {
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    t.limit = t.limit.saturating_add(*days);
                    t.extended = true;
                    if t.running() {
                        t.due = *due;
                        t.provisional = *provisional;
                    }
                }
            }
            Event::Resubmitted {
                item,
                materials,
                limit,
                due,
                provisional,
                step_due,
            } => {
                self.add_materials(plan, materials);
                if let Some(i) = ix(item) {
                    self.tasks[i].new_round(today, *limit, Some(*due), *provisional, *step_due);
                }
            }
            Event::Warned { item, .. } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].warned = true;
                }
            }
            Event::Overdue { item, .. } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].overdue = true;
                    self.tasks[i].warned = true;
                }
            }
            Event::MaterialsProvided { materials } => self.add_materials(plan, materials),
            Event::Withdrawn { .. } => {
                self.status = Status::Withdrawn;
                for t in &mut self.tasks {
                    if matches!(
                        t.state,
                        TaskState::Waiting
                            | TaskState::Ready
                            | TaskState::Claimed
                            | TaskState::Suspended
                            | TaskState::Rejected
                    ) {
                        t.state = TaskState::Closed;
                        t.clock_from = None;
                        t.due = None;
                    }
                }
            }
            Event::Completed => {
                self.status = Status::Completed;
                self.stage = None;
            }
            Event::StepSigned {
                item,
                reviewer,
                pass,
                on_behalf,
                ..
            } => {
                if let Some(i) = ix(item) {
                    let desk = self.tasks[i].desk_mut();
                    if on_behalf.is_some() {
                        // The delegate's opinion: the task is back with the delegator.
                        desk.delegated = None;
                    }
                    desk.signed.push(Signature {
                        reviewer: reviewer.clone(),
                        pass: *pass,
                        on_behalf: on_behalf.clone(),
                    });
                }
            }
            Event::StepCompleted { item, next_due, .. } => {
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    t.step = t.step.saturating_add(1);
                    t.step_due = *next_due;
                    t.step_overdue = false;
                    t.desk = None;
                }
            }
            Event::StepOverdue { item, .. } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].step_overdue = true;
                }
            }
            Event::Transferred { item, to, .. } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].assignee = Some(to.clone());
                }
            }
            Event::Delegated { item, from, to } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].desk_mut().delegated = Some((from.clone(), to.clone()));
                }
            }
            Event::SignerAdded {
                item,
                reviewer,
                by,
                before,
                ..
            } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].desk_mut().added.push(AddedSigner {
                        reviewer: reviewer.clone(),
                        by: by.clone(),
                        before: *before,
                    });
                }
            }
            Event::Recalled {
                item,
                due,
                provisional,
            } => {
                if let Some(i) = ix(item) {
                    self.revoke(plan, i);
                    let t = &mut self.tasks[i];
                    t.state = TaskState::Claimed;
                    t.claimed = true;
                    t.clock_from = Some(today);
                    t.due = Some(*due);
                    t.provisional = *provisional;
                    t.decided_on = None;
                    t.rejection = None;
                }
            }
            Event::Returned {
                item,
                limit,
                due,
                provisional,
                step_due,
                ..
            } => {
                if let Some(i) = ix(item) {
                    self.revoke(plan, i);
                    self.tasks[i].new_round(today, *limit, Some(*due), *provisional, *step_due);
                }
            }
            Event::Reopened { item, .. } => {
                if let Some(i) = ix(item) {
                    self.revoke(plan, i);
                    let t = &mut self.tasks[i];
                    *t = Task {
                        state: TaskState::Waiting,
                        round: t.round,
                        ready_on: t.ready_on,
                        ..Task::new(true)
                    };
                }
            }
            Event::Urged { item, .. } => {
                if let Some(i) = ix(item) {
                    self.tasks[i].urged_on = Some(today);
                }
            }
            Event::Copied { .. } => {}
            Event::Migrated {
                to,
                items,
                documents,
                available,
                ..
            } => self.apply_migrated(to, items, documents, available),
            Event::AgentAssigned { agent } => self.agent = Some(agent.clone()),
            Event::DueRederived {
                item,
                new,
                provisional,
                ..
            } => {
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    t.due = Some(*new);
                    t.provisional = *provisional;
                    // The flags follow the new date: supervision decides them again in
                    // the same command.
                    t.warned = false;
                    t.overdue = false;
                    t.yellow = None;
                    t.red = false;
                }
            }
            Event::Carded {
                item,
                card,
                deadline,
            } => {
                if let Some(i) = ix(item) {
                    let t = &mut self.tasks[i];
                    match card {
                        Card::Yellow => t.yellow = *deadline,
                        Card::Red => t.red = true,
                    }
                }
            }
        }
    }

    /// Voids what item `i` issued: its documents are no longer on file, and available
    /// only where a material on file supplies them.
    fn revoke(&mut self, plan: &Plan, i: usize) {
        for &d in &plan.items[i].produces {
            self.documents[d] = None;
            self.available[d] =
                plan.supplier[d].is_some_and(|m| self.has_material(&plan.materials[m].id));
        }
    }
}

impl Task {
    pub(super) fn suspend(&mut self, why: Suspension, today: NaiveDate, used: u32) {
        self.state = TaskState::Suspended;
        self.suspension = Some((why, today));
        self.used = used;
        self.clock_from = None;
        self.due = None;
    }

    /// A fresh review round (ready, resubmitted, returned): ready today with a new limit
    /// (and, for a milestone, no due date); when the first round was ready is kept.
    fn new_round(
        &mut self,
        today: NaiveDate,
        limit: u32,
        due: Option<NaiveDate>,
        provisional: bool,
        step_due: Option<NaiveDate>,
    ) {
        *self = Task {
            state: TaskState::Ready,
            round: self.round + 1,
            ready_on: self.ready_on,
            ..Task::new(true)
        };
        self.limit = limit;
        self.clock_from = Some(today);
        self.due = due;
        self.provisional = provisional;
        self.step_due = step_due;
    }

    pub(super) fn resume(
        &mut self,
        today: NaiveDate,
        suspended: u32,
        due: NaiveDate,
        provisional: bool,
        step_due: Option<NaiveDate>,
    ) {
        if step_due.is_some() {
            self.step_due = step_due;
        }
        self.state = if self.claimed {
            TaskState::Claimed
        } else {
            TaskState::Ready
        };
        self.suspension = None;
        self.suspended_days = self.suspended_days.saturating_add(suspended);
        self.clock_from = Some(today);
        self.due = Some(due);
        self.provisional = provisional;
    }
}
