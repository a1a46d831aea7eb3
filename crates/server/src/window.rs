//! `onewindow.v1.Window`: the single window's RPCs — pre-review, submit, supplements,
//! materials, resubmission, milestones, withdrawal, urging, assigning an agent, and
//! reading projects. Agents (代办员) come through here too: the engine decides what they
//! may do on a project, and the reads here show them only the projects assigned to them.
//! `Watch` is in [`super::watch`].

use std::collections::BTreeMap;

use tonic::{Request, Response, Status};

use super::convert::*;
use super::*;
use crate::verbs::{verbs, Field, Kind};
use onewindow_engine::{self, Command, Submission};

verbs! {
    impl pb::window_server::Window, client pb::window_client::WindowClient<tonic::transport::Channel>, family Window {
    async fn pre_review(
        &self,
        req: Request<pb::PreReviewRequest>,
    ) -> Result<Response<pb::Notice>, Status> {
        let r = req.into_inner();
        let plan = self.plan(&r.version)?;
        let form = form_values(&plan, r.form.into_iter().collect())?;
        let mut n = engine::notice::pre_review(
            &plan,
            &form,
            &materials("materials", r.materials)?,
            engine::notice::SUBMISSION_STAGES,
        );
        if let Some(site) = self.site_check(&plan, &r.site, &form).await? {
            n.add_site(&site);
        }
        Ok(Response::new(notice_pb(n)))
    }

    async fn submit(
        &self,
        mut req: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        // The site is checked first (it needs the blueprint, which may have to be
        // loaded), after the request's address: a bad id is reported as such.
        let text = std::mem::take(&mut req.get_mut().site);
        let site = if text.trim().is_empty() {
            None
        } else {
            let r = req.get_ref();
            input::id("request_id", &r.request_id)?;
            input::id("project", &r.project)?;
            let plan = self.plan(&r.version)?;
            let form = form_values(&plan, r.form.clone().into_iter().collect())?;
            self.site_check(&plan, &text, &form).await?
        };
        self.act(req, |r| {
            let plan = self.plan(&r.version)?;
            let submission = Submission {
                site,
                applicant: checked_text("applicant", r.applicant)?,
                agent: (!r.agent.is_empty())
                    .then(|| checked_text("agent", r.agent))
                    .transpose()?,
                form: form_values(&plan, r.form.into_iter().collect())?,
                materials: materials("materials", r.materials)?,
            };
            Ok(Command::Submit {
                version: r.version,
                submission,
            })
        })
        .await
    }

    async fn get_project(
        &self,
        req: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::Project>, Status> {
        let agent = agent_of(&req)?;
        let r = req.into_inner();
        input::id("project", &r.project)?;
        // An agent sees only the projects assigned to them; another is as unknown to
        // them as one that does not exist.
        let p = self
            .svc
            .project(&r.project)
            .filter(|p| agent.is_none() || p.agent() == agent.as_deref())
            .ok_or_else(|| Status::not_found(format!("project {}", input::quoted(&r.project))))?;
        Ok(Response::new(self.project_pb(&p)?))
    }

    async fn list_projects(
        &self,
        req: Request<pb::ListProjectsRequest>,
    ) -> Result<Response<pb::ListProjectsResponse>, Status> {
        let agent = agent_of(&req)?;
        let r = req.into_inner();
        input::one_of(
            "status",
            &r.status,
            &["active", "completed", "withdrawn"],
            true,
        )?;
        let stages: Vec<&str> = onewindow_core::plan::Stage::ALL
            .iter()
            .map(|s| s.id())
            .collect();
        input::one_of("stage", &r.stage, &stages, true)?;
        // The token is the last project id of the page before.
        input::optional_id("page_token", &r.page_token)?;
        let size = if r.page_size == 0 {
            100
        } else {
            r.page_size.min(1000)
        } as usize;
        let mut projects: Vec<pb::Project> = Vec::new();
        let mut next = String::new();
        // Ids come from the store a chunk at a time after the token, so a page reads
        // about a page of projects (more when filters skip many), not every id.
        let mut cursor = r.page_token.clone();
        let mut chunk: std::vec::IntoIter<String> = Vec::new().into_iter();
        loop {
            let Some(id) = chunk.next() else {
                let more = self
                    .svc
                    .store()
                    .projects_after(&cursor, size + 1)
                    .map_err(|e| status::store_status(&e))?;
                if more.is_empty() {
                    break;
                }
                chunk = more.into_iter();
                continue;
            };
            cursor.clone_from(&id);
            let Some(p) = self.svc.project(&id) else {
                continue;
            };
            let status = format!("{:?}", p.status()).to_lowercase();
            let stage = p.stage().map(|s| s.id()).unwrap_or_default();
            if (!r.status.is_empty() && r.status != status)
                || (!r.stage.is_empty() && r.stage != stage)
                || (agent.is_some() && p.agent() != agent.as_deref())
            {
                continue;
            }
            if projects.len() == size {
                next = projects.last().map(|p| p.id.clone()).unwrap_or_default();
                break;
            }
            projects.push(self.project_pb(&p)?);
        }
        Ok(Response::new(pb::ListProjectsResponse {
            projects,
            next_page_token: next,
        }))
    }

    type WatchStream = EventStream;

    async fn watch(&self, req: Request<pb::WatchRequest>) -> Result<Response<EventStream>, Status> {
        if let Some(agent) = agent_of(&req)? {
            // An agent watches one project of theirs at a time.
            let r = req.get_ref();
            input::id("project", &r.project)?;
            if self
                .svc
                .with_project(&r.project, |p| p.agent() == Some(agent.as_str()))
                != Some(true)
            {
                return Err(Status::not_found(format!(
                    "project {}",
                    input::quoted(&r.project)
                )));
            }
        }
        let lease = self.lease(&caller(&req)?)?;
        self.watch_events(req.into_inner(), lease)
    }
    }

    provide_supplement(MaterialsForItem) "Window.ProvideSupplement" "supplement"
        "/api/v1/projects/{project}/items/{item}/supplement" true
        "提交补正材料" "Hand in the supplement" when awaiting_supplement, WINDOW W:
        "Hand in the supplement a department asked for (补正); its clock runs again"
        [Field::new("materials", Kind::Materials, "补正材料", "Materials handed in").required()]
        |r| Ok(Command::ProvideSupplement { item: item_id(r.item)?, materials: materials("materials", r.materials)? });
    resubmit(MaterialsForItem) "Window.Resubmit" "resubmit"
        "/api/v1/projects/{project}/items/{item}/resubmit" true
        "重新申请" "Resubmit" when rejected, WINDOW W:
        "Resubmit a rejected item with new materials"
        [Field::new("materials", Kind::Materials, "新材料", "New materials")]
        |r| Ok(Command::Resubmit { item: item_id(r.item)?, materials: materials("materials", r.materials)? });
    report_milestone(ItemCommand) "Window.ReportMilestone" "milestone"
        "/api/v1/projects/{project}/items/{item}/milestone" true
        "登记节点" "Report the milestone" when milestone, WINDOW W:
        "Report a milestone the window records itself"
        [] |r| Ok(Command::ReportMilestone { item: item_id(r.item)?, numbers: BTreeMap::new() });
    urge(ReasonForItem) "Window.Urge" "urge"
        "/api/v1/projects/{project}/items/{item}/urge" true
        "催办" "Urge" when urgeable, WINDOW W:
        "Urge the department on an open task (催办), once a day per task"
        [Field::new("reason", Kind::Text, "催办说明", "Note").flag("note").required()]
        |r| Ok(Command::Urge { item: item_id(r.item)?, note: checked_text("reason", r.reason)? });
    provide_materials(ProvideMaterialsRequest) "Window.ProvideMaterials" "materials"
        "/api/v1/projects/{project}/materials" false
        "补交后续材料" "Hand in later materials" when running, WINDOW W:
        "Hand in later-stage materials"
        [Field::new("materials", Kind::Materials, "材料", "Materials handed in").required()]
        |r| Ok(Command::ProvideMaterials { materials: materials("materials", r.materials)? });
    assign_agent(AssignAgentRequest) "Window.AssignAgent" "assign-agent"
        "/api/v1/projects/{project}/agent" false
        "指派代办员" "Assign an agent" when running, WINDOW W:
        "Assign an agent (代办员) to the project"
        [Field::new("agent", Kind::Person, "代办员", "Agent").required()]
        |r| {
            input::id("agent", &r.agent)?;
            Ok(Command::AssignAgent { agent: r.agent })
        };
    withdraw(WithdrawRequest) "Window.Withdraw" "withdraw"
        "/api/v1/projects/{project}/withdraw" false
        "撤回申请" "Withdraw the application" when running, WINDOW W:
        "Withdraw the application (撤回申请)"
        [Field::new("reason", Kind::Text, "撤回理由", "Reason")]
        |r| Ok(Command::Withdraw { reason: checked_text("reason", r.reason)? });
}

/// Who calls the window's verbs, for the document.
const W: &str = "window, agent (their projects only), supervisor, admin";

/// The agent a request comes from, if it comes from one: what they may read is limited
/// to the projects assigned to them.
fn agent_of<T>(req: &Request<T>) -> Result<Option<String>, Status> {
    Ok(match caller(req)?.role {
        auth::Role::Agent(a) => Some(a),
        _ => None,
    })
}
