//! [`Engine`]: many projects and the workflow versions they pin, in memory, without a
//! store. The reference host of the engine for tests, examples and benchmarks; it runs
//! commands through the same [`super::execute`] as the durable service and the simulator.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDateTime;

use onewindow_core::form::Value;
use onewindow_core::plan::Plan;

use super::*;

/// Many projects and the workflow versions they run on, in memory, with no store: the
/// engine's simplest host, for tests, examples and the engine benchmark.
#[derive(Debug)]
pub struct Engine {
    plans: BTreeMap<String, Arc<Plan>>,
    /// Every slot holds a project: a slot is made only when a submission fills it, so
    /// a refused command for an unknown project leaves nothing behind. (Slots rather than
    /// projects, so that [`execute`] runs on the state in place.)
    projects: BTreeMap<String, Option<Project>>,
    log: BTreeMap<String, Vec<Envelope>>,
    /// The registers of document numbers (department and year → the last drawn), as the
    /// service keeps them in the store: an approval without a number draws from its
    /// department's pattern here too.
    registers: BTreeMap<String, u64>,
    /// Supervision thresholds.
    pub policy: Policy,
    /// Keep every project's events in memory (timelines, assessment). The throughput
    /// benchmark turns it off.
    pub keep_log: bool,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(Policy::default())
    }
}

impl Engine {
    /// An engine that keeps its events (what everything but benchmarks wants).
    pub fn new(policy: Policy) -> Engine {
        Engine {
            plans: BTreeMap::new(),
            projects: BTreeMap::new(),
            log: BTreeMap::new(),
            registers: BTreeMap::new(),
            policy,
            keep_log: true,
        }
    }

    /// Makes a compiled workflow available; returns its version. Deploying the same text
    /// twice is harmless.
    pub fn deploy(&mut self, plan: Plan) -> String {
        let version = plan.version.clone();
        self.plans
            .entry(version.clone())
            .or_insert_with(|| Arc::new(plan));
        version
    }

    /// Deploys a new edition of a working-day calendar (a new year's schedule): every
    /// deployed plan counting on a calendar with its id counts on this one from now on,
    /// and every active project on such a plan has its running tasks' due dates derived
    /// again ([`Command::Rederive`]). Returns every project's outcome together.
    ///
    /// # Errors
    /// A [`Refusal`] from a project (none is expected: the system may always rederive).
    pub fn deploy_calendar(
        &mut self,
        calendar: &onewindow_core::calendar::Calendar,
        reason: &str,
        now: NaiveDateTime,
    ) -> Result<Outcome, Refusal> {
        let mut changed = Vec::new();
        for (version, plan) in &mut self.plans {
            if plan.calendar.id() == calendar.id() {
                let mut p = Plan::clone(plan);
                p.calendar = calendar.clone();
                *plan = Arc::new(p);
                changed.push(version.clone());
            }
        }
        let ids: Vec<String> = self
            .projects
            .iter()
            .filter(|(_, p)| {
                p.as_ref()
                    .is_some_and(|p| p.status == Status::Active && changed.contains(&p.version))
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut all = Outcome::default();
        for id in ids {
            let out = self.execute(
                &id,
                &Actor::System,
                Command::Rederive {
                    reason: reason.to_string(),
                },
                now,
            )?;
            all.events.extend(out.events);
            all.effects.extend(out.effects);
        }
        Ok(all)
    }

    /// A deployed plan by version.
    pub fn plan(&self, version: &str) -> Option<&Arc<Plan>> {
        self.plans.get(version)
    }

    /// A project's state.
    pub fn project(&self, id: &str) -> Option<ProjectView<'_>> {
        let p = self.projects.get(id)?.as_ref()?;
        Some(ProjectView {
            project: p,
            plan: self.plans.get(&p.version)?,
        })
    }

    /// All projects, by id.
    pub fn projects(&self) -> impl Iterator<Item = ProjectView<'_>> {
        self.projects.values().flatten().filter_map(|p| {
            Some(ProjectView {
                project: p,
                plan: self.plans.get(&p.version)?,
            })
        })
    }

    /// A project's events (empty unless `keep_log`).
    pub fn events(&self, id: &str) -> &[Envelope] {
        self.log.get(id).map_or(&[], Vec::as_slice)
    }

    /// Every project's events, project by project.
    pub fn all_events(&self) -> impl Iterator<Item = &Envelope> {
        self.log.values().flatten()
    }

    /// Runs a command for a project. `Submit` creates it; `Tick` with project `"*"`
    /// supervises every active project.
    ///
    /// # Errors
    /// A [`Refusal`]; nothing changes.
    pub fn execute(
        &mut self,
        project: &str,
        actor: &Actor,
        command: Command,
        now: NaiveDateTime,
    ) -> Result<Outcome, Refusal> {
        if let (Command::Tick, "*") = (&command, project) {
            let mut all = Outcome::default();
            let ids: Vec<String> = self
                .projects
                .iter()
                .filter(|(_, p)| p.as_ref().is_some_and(|p| p.status == Status::Active))
                .map(|(id, _)| id.clone())
                .collect();
            for id in ids {
                let out = self.execute(&id, actor, Command::Tick, now)?;
                all.events.extend(out.events);
                all.effects.extend(out.effects);
            }
            return Ok(all);
        }
        let mut command = command;
        let mut drawn = None;
        if let (Command::Approve { item, numbers }, Some(Some(p))) =
            (&mut command, self.projects.get(project))
        {
            let plan = self.plans.get(&p.version);
            if let Some((department, pattern, documents)) =
                plan.and_then(|plan| onewindow_core::plan::numbering::to_draw(plan, item, numbers))
            {
                let year = chrono::Datelike::year(&now.date());
                let register = onewindow_core::plan::numbering::register(department, year);
                let from = self.registers.get(&register).copied().unwrap_or(0);
                let to =
                    onewindow_core::plan::numbering::fill(pattern, year, from, &documents, numbers);
                drawn = Some((register, to));
            }
        }
        let mut fresh = None;
        let slot = match self.projects.get_mut(project) {
            Some(slot) => slot,
            None => &mut fresh,
        };
        let plans = &self.plans;
        let decided = execute(
            slot,
            project,
            |v| plans.get(v).map(|p| &**p),
            &self.policy,
            actor,
            command,
            now,
        );
        if fresh.is_some() {
            self.projects.insert(project.to_string(), fresh);
        }
        let (out, _) = decided?;
        if let Some((register, to)) = drawn {
            self.registers.insert(register, to);
        }
        if self.keep_log {
            self.log
                .entry(project.to_string())
                .or_default()
                .extend(out.events.iter().cloned());
        }
        Ok(out)
    }

    /// Pre-reviews an application against a deployed version.
    ///
    /// # Errors
    /// [`Refusal::UnknownVersion`].
    pub fn pre_review(
        &self,
        version: &str,
        form: &BTreeMap<String, Value>,
        materials: &[MaterialRef],
    ) -> Result<Notice, Refusal> {
        let plan = self
            .plans
            .get(version)
            .ok_or_else(|| Refusal::UnknownVersion(version.to_string()))?;
        Ok(notice::pre_review(
            plan,
            form,
            materials,
            notice::SUBMISSION_STAGES,
        ))
    }
}
