//! Deciding a command: [`Project::submit`] and [`Project::handle`] check everything first
//! (actor, item, task state, reasons, references) and refuse with a [`Refusal`] before
//! the first event is emitted; then they emit the command's own events and let the
//! cascade ([`super::cascade`]) follow.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};

use onewindow_core::plan::{Plan, Stage};
use onewindow_core::spec::ItemKind;

use super::apply::*;
use super::clock::*;
use super::*;

impl Project {
    /// One submission at the window: pre-review, then the project with its first events.
    ///
    /// # Errors
    /// [`Refusal::Incomplete`] with the one-time notice, or [`Refusal::NotAllowed`] for
    /// anyone but the window.
    pub(crate) fn submit(
        plan: &Plan,
        id: &str,
        actor: &Actor,
        submission: Submission,
        now: NaiveDateTime,
        effects: bool,
    ) -> Result<(Project, Outcome), Refusal> {
        let Submission {
            applicant,
            agent,
            form,
            materials,
            site,
        } = submission;
        if *actor != Actor::Window {
            return Err(not_allowed(actor, "submit a project"));
        }
        // Pre-review lists a material the workflow does not know; a submission that
        // still names one is refused, so the record only holds the workflow's materials.
        check_materials(plan, &materials)?;
        let mut notice = notice::pre_review(plan, &form, &materials, notice::SUBMISSION_STAGES);
        if let Some(site) = &site {
            notice.add_site(site);
        }
        if !notice.complete {
            return Err(Refusal::Incomplete(Box::new(notice)));
        }
        let env = Envelope {
            v: EVENT_VERSION,
            project: id.into(),
            seq: 1,
            at: now,
            offset: None,
            prev: None,
            actor: actor.clone(),
            event: Event::Submitted {
                workflow: plan.id.clone(),
                version: plan.version.clone(),
                applicant,
                agent,
                form,
                materials,
            },
        };
        let mut project = Project::from_submitted(plan, &env);
        let mut em = Emitter {
            plan,
            at: now,
            actor,
            out: Outcome {
                events: vec![env],
                effects: Vec::new(),
            },
            effects,
        };
        if let Some(site) = site {
            em.emit(
                &mut project,
                Event::SiteChecked {
                    blueprint: site.blueprint,
                    site_m2: site.site_m2,
                    findings: site.findings,
                },
            );
        }
        em.emit(
            &mut project,
            Event::StageOpened {
                stage: Stage::Attraction,
            },
        );
        project.open_stage(&mut em, Stage::Attraction);
        project.advance(&mut em);
        Ok((project, em.out))
    }

    /// Handles a command for this project.
    ///
    /// # Errors
    /// A [`Refusal`] when the command is not allowed now; the project is then unchanged.
    pub(crate) fn handle(
        &mut self,
        plan: &Plan,
        policy: &Policy,
        actor: &Actor,
        command: Command,
        now: NaiveDateTime,
        effects: bool,
    ) -> Result<Outcome, Refusal> {
        match self.status {
            Status::Active => {}
            Status::Completed => return Err(Refusal::Closed("completed".into())),
            Status::Withdrawn => return Err(Refusal::Closed("withdrawn".into())),
        }
        let today = now.date();
        let mut em = Emitter {
            plan,
            at: now,
            actor,
            out: Outcome::default(),
            effects,
        };
        match command {
            Command::Submit { .. } => return Err(Refusal::ProjectExists(self.id.to_string())),
            Command::Claim { item } => {
                let i = self.review_task(plan, actor, &item)?;
                self.expect(i, &item, &[TaskState::Ready], "claim")?;
                self.check_holder(i, &item, actor)?;
                em.emit(self, Event::TaskClaimed { item });
            }
            Command::Approve { item, numbers } => {
                let i = self.review_task(plan, actor, &item)?;
                self.expect(i, &item, &[TaskState::Ready, TaskState::Claimed], "approve")?;
                self.check_holder(i, &item, actor)?;
                self.check_decision(plan, i, &item)?;
                let documents = self.issue(plan, i, numbers)?;
                let used = self.used_now(plan, i, today);
                em.emit(
                    self,
                    Event::TaskApproved {
                        item,
                        documents,
                        used,
                    },
                );
                if let Some(step) = plan.items[i].steps.last() {
                    self.copy(&mut em, i, step, "approved");
                }
                self.advance(&mut em);
            }
            Command::ReportMilestone { item, numbers } => {
                self.for_applicant(actor, "report a milestone")?;
                let i = self.item(plan, &item)?;
                if plan.items[i].kind != ItemKind::Milestone {
                    return Err(not_allowed(
                        actor,
                        &format!("report review item `{item}` as a milestone"),
                    ));
                }
                self.expect(i, &item, &[TaskState::Ready], "report")?;
                let documents = self.issue(plan, i, numbers)?;
                em.emit(
                    self,
                    Event::TaskApproved {
                        item,
                        documents,
                        used: 0,
                    },
                );
                self.advance(&mut em);
            }
            Command::Reject { item, reason } => {
                let i = self.review_task(plan, actor, &item)?;
                if reason.trim().is_empty() {
                    return Err(Refusal::ReasonRequired);
                }
                self.expect(i, &item, &[TaskState::Ready, TaskState::Claimed], "reject")?;
                if !self.reject_vote(&mut em, actor, i, &reason)? {
                    self.check_holder(i, &item, actor)?;
                    self.reject_task(&mut em, i, reason);
                }
            }
            Command::RequestSupplement { item, needed, note } => {
                let i = self.review_task(plan, actor, &item)?;
                self.expect(
                    i,
                    &item,
                    &[TaskState::Ready, TaskState::Claimed],
                    "ask for a supplement",
                )?;
                self.check_holder(i, &item, actor)?;
                if let Some(m) = needed.iter().find(|m| plan.material_index(m).is_none()) {
                    return Err(Refusal::UnknownReference {
                        kind: "material".to_string(),
                        id: m.clone(),
                    });
                }
                let used = self.used_now(plan, i, today);
                em.effect(|| Effect::NotifyWindow {
                    project: self.id.to_string(),
                    message: format!("supplement-requested {item} [{}]", needed.join(", ")),
                });
                em.emit(
                    self,
                    Event::SupplementRequested {
                        item,
                        needed,
                        note,
                        used,
                    },
                );
            }
            Command::ProvideSupplement { item, materials } => {
                self.for_applicant(actor, "provide a supplement")?;
                let i = self.item(plan, &item)?;
                self.expect_suspended(i, &item, true)?;
                check_materials(plan, &materials)?;
                let (suspended, due, provisional, step_due) = self.resume_figures(plan, i, today);
                em.emit(
                    self,
                    Event::SupplementProvided {
                        item,
                        materials,
                        suspended,
                        due,
                        provisional,
                        step_due,
                    },
                );
            }
            Command::StartSpecial { item, kind } => {
                let i = self.review_task(plan, actor, &item)?;
                self.expect(
                    i,
                    &item,
                    &[TaskState::Ready, TaskState::Claimed],
                    "start a special procedure",
                )?;
                self.check_holder(i, &item, actor)?;
                if kind.trim().is_empty() {
                    return Err(Refusal::ReasonRequired);
                }
                let used = self.used_now(plan, i, today);
                em.emit(self, Event::SpecialStarted { item, kind, used });
            }
            Command::EndSpecial { item } => {
                let i = self.review_task(plan, actor, &item)?;
                self.expect_suspended(i, &item, false)?;
                self.check_holder(i, &item, actor)?;
                let (suspended, due, provisional, step_due) = self.resume_figures(plan, i, today);
                em.emit(
                    self,
                    Event::SpecialEnded {
                        item,
                        suspended,
                        due,
                        provisional,
                        step_due,
                    },
                );
            }
            Command::Extend { item, reason } => {
                let i = self.review_task(plan, actor, &item)?;
                if reason.trim().is_empty() {
                    return Err(Refusal::ReasonRequired);
                }
                self.expect(
                    i,
                    &item,
                    &[TaskState::Ready, TaskState::Claimed, TaskState::Suspended],
                    "extend",
                )?;
                self.check_holder(i, &item, actor)?;
                let days = plan.items[i].extension;
                if days == 0 {
                    return Err(Refusal::NoExtension(item));
                }
                if self.tasks[i].extended {
                    return Err(Refusal::AlreadyExtended(item));
                }
                let t = &self.tasks[i];
                let (due, provisional) = match t.clock_from {
                    Some(from) if t.running() => {
                        let (d, p) = Clock::of(plan, i)
                            .due(from, t.limit.saturating_add(days).saturating_sub(t.used));
                        (Some(d), p)
                    }
                    _ => (None, false),
                };
                em.emit(
                    self,
                    Event::Extended {
                        item,
                        days,
                        reason,
                        due,
                        provisional,
                    },
                );
            }
            Command::Resubmit { item, materials } => {
                self.for_applicant(actor, "resubmit")?;
                let i = self.item(plan, &item)?;
                self.expect(i, &item, &[TaskState::Rejected], "resubmit")?;
                check_materials(plan, &materials)?;
                let limit = plan.items[i].limit.days(plan.default_limits);
                let (due, provisional) = Clock::of(plan, i).due(today, limit);
                let step_due = Self::step_due(plan, i, 0, today);
                em.emit(
                    self,
                    Event::Resubmitted {
                        item,
                        materials,
                        limit,
                        due,
                        provisional,
                        step_due,
                    },
                );
                self.dispatch(&mut em, i, due);
            }
            Command::ProvideMaterials { materials } => {
                self.for_applicant(actor, "hand in materials")?;
                check_materials(plan, &materials)?;
                em.emit(self, Event::MaterialsProvided { materials });
                self.advance(&mut em);
            }
            Command::Withdraw { reason } => {
                if *actor != Actor::Window {
                    return Err(not_allowed(actor, "withdraw a project"));
                }
                em.emit(self, Event::Withdrawn { reason });
            }
            Command::Tick => {
                if !matches!(actor, Actor::System | Actor::Supervisor) {
                    return Err(not_allowed(actor, "run supervision"));
                }
                self.supervise(plan, policy, today, &mut em);
            }
            Command::Sign { item, opinion } => self.sign(&mut em, actor, item, opinion)?,
            Command::Transfer { item, to } => self.transfer(&mut em, actor, item, to)?,
            Command::Delegate { item, to } => self.delegate(&mut em, actor, item, to)?,
            Command::AddSigner {
                item,
                reviewer,
                before,
            } => self.add_signer(&mut em, actor, item, reviewer, before)?,
            Command::Recall { item } => self.recall(&mut em, actor, item)?,
            Command::ReturnTo { item, to, reason } => {
                self.return_to(&mut em, actor, item, to, reason)?;
            }
            Command::Urge { item, note } => self.urge(&mut em, actor, item, note)?,
            Command::AssignAgent { agent } => self.assign_agent(&mut em, actor, agent)?,
            // Needs the version moved to as well: `engine::execute` decides it.
            Command::Migrate { version } => {
                return Err(Refusal::UnknownVersion(version));
            }
            Command::Rederive { reason } => {
                if *actor != Actor::System {
                    return Err(not_allowed(actor, "derive due dates again"));
                }
                self.rederive(plan, policy, reason, &mut em);
            }
        }
        Ok(em.out)
    }

    pub(super) fn item(&self, plan: &Plan, item: &str) -> Result<usize, Refusal> {
        let i = plan
            .item_index(item)
            .ok_or_else(|| Refusal::UnknownItem(item.to_string()))?;
        if self.tasks[i].state == TaskState::NotApplicable {
            return Err(Refusal::NotApplicable(item.to_string()));
        }
        Ok(i)
    }

    /// The task of a review item the actor's department owns.
    pub(super) fn review_task(
        &self,
        plan: &Plan,
        actor: &Actor,
        item: &str,
    ) -> Result<usize, Refusal> {
        let Some(dept) = actor.department() else {
            return Err(not_allowed(actor, "act on a department's task"));
        };
        let i = self.item(plan, item)?;
        let it = &plan.items[i];
        if it.kind == ItemKind::Milestone {
            return Err(not_allowed(
                actor,
                &format!("act on milestone `{item}` (the window reports it)"),
            ));
        }
        let owner = it
            .department
            .map_or("", |d| plan.departments[d].id.as_str());
        if owner != dept {
            return Err(Refusal::NotYourTask {
                item: item.to_string(),
                owner: owner.to_string(),
                actor: dept.to_string(),
            });
        }
        Ok(i)
    }

    pub(super) fn expect(
        &self,
        i: usize,
        item: &str,
        allowed: &[TaskState],
        action: &'static str,
    ) -> Result<(), Refusal> {
        let state = self.tasks[i].state;
        if allowed.contains(&state) {
            Ok(())
        } else {
            Err(Refusal::IllegalTransition {
                item: item.to_string(),
                state,
                action: action.to_string(),
            })
        }
    }

    pub(super) fn expect_suspended(
        &self,
        i: usize,
        item: &str,
        supplement: bool,
    ) -> Result<(), Refusal> {
        let t = &self.tasks[i];
        let ok = match &t.suspension {
            Some((Suspension::Supplement { .. }, _)) => supplement,
            Some((Suspension::Special { .. }, _)) => !supplement,
            None => false,
        };
        if ok {
            Ok(())
        } else {
            Err(Refusal::IllegalTransition {
                item: item.to_string(),
                state: t.state,
                action: if supplement {
                    "take a supplement (none was asked for)"
                } else {
                    "end a special procedure (none is running)"
                }
                .to_string(),
            })
        }
    }

    /// Days of the limit used by the end of `today`.
    pub(super) fn used_now(&self, plan: &Plan, i: usize, today: NaiveDate) -> u32 {
        let t = &self.tasks[i];
        t.used.saturating_add(
            t.clock_from
                .map_or(0, |from| Clock::of(plan, i).between(from, today)),
        )
    }

    /// When a suspended task resumes today: how many days stood still, the new due, and
    /// the step's new due (acceptance's five days begin again with the materials
    /// complete; a step's own limit moves by the days that stood still).
    pub(super) fn resume_figures(
        &self,
        plan: &Plan,
        i: usize,
        today: NaiveDate,
    ) -> (u32, NaiveDate, bool, Option<NaiveDate>) {
        let t = &self.tasks[i];
        let since = t.suspension.as_ref().map_or(today, |(_, d)| *d);
        let c = Clock::of(plan, i);
        let suspended = c.between(since, today);
        let (due, provisional) = c.due(today, t.limit.saturating_sub(t.used));
        let step_due = match self.current_step(plan, i) {
            Some(s) if s.kind == onewindow_core::spec::StepKind::Accept => {
                Self::step_due(plan, i, usize::from(t.step), today)
            }
            _ => t.step_due.map(|d| c.due(d, suspended).0),
        };
        (suspended, due, provisional, step_due)
    }

    pub(super) fn issue(
        &self,
        plan: &Plan,
        i: usize,
        mut numbers: BTreeMap<String, String>,
    ) -> Result<Vec<IssuedDocument>, Refusal> {
        if let Some(d) = numbers.keys().find(|d| {
            !plan.items[i]
                .produces
                .iter()
                .any(|&p| plan.documents[p].id == **d)
        }) {
            return Err(Refusal::UnknownReference {
                kind: "document".to_string(),
                id: d.clone(),
            });
        }
        let approval = plan.items[i].kind != ItemKind::Milestone;
        plan.items[i]
            .produces
            .iter()
            .map(|&d| {
                let doc = &plan.documents[d];
                let number = match numbers.remove(&doc.id) {
                    Some(n) => onewindow_core::plan::numbering::check_number(&n)
                        .map_err(|e| Refusal::BadNumber {
                            document: doc.id.clone(),
                            why: e.to_string(),
                        })?
                        .to_string(),
                    // An approval issues what its department numbers (the service draws
                    // the next number of a declared pattern before the engine runs);
                    // a milestone's document is the applicant's report, known by its
                    // reference.
                    None if approval => {
                        return Err(Refusal::NumberRequired {
                            document: doc.id.clone(),
                            name: doc.name.clone(),
                        })
                    }
                    None => format!("{}/{}", self.id, doc.id),
                };
                Ok(IssuedDocument {
                    document: doc.id.clone(),
                    number,
                    issued_at: None,
                })
            })
            .collect()
    }
}

pub(super) fn not_allowed(actor: &Actor, action: &str) -> Refusal {
    let who = match actor {
        Actor::Window => "the window".to_string(),
        Actor::Department(d) => format!("department `{d}`"),
        Actor::Reviewer {
            department,
            reviewer,
        } => format!("reviewer `{reviewer}` of `{department}`"),
        Actor::Agent(a) => format!("agent `{a}`"),
        Actor::Supervisor => "a supervisor".to_string(),
        Actor::Analyst => "an analyst".to_string(),
        Actor::Admin => "an administrator".to_string(),
        Actor::System => "the system".to_string(),
    };
    Refusal::NotAllowed {
        actor: who,
        action: action.to_string(),
    }
}

pub(super) fn check_materials(plan: &Plan, materials: &[MaterialRef]) -> Result<(), Refusal> {
    match materials
        .iter()
        .find(|m| plan.material_index(&m.material).is_none())
    {
        Some(m) => Err(Refusal::UnknownReference {
            kind: "material".to_string(),
            id: m.material.clone(),
        }),
        None => Ok(()),
    }
}
