//! `onewindow.v1.Workflows`: deploy (administrators), get, list, plan and compare
//! workflow versions.

use tonic::{Request, Response, Status};

use super::convert::*;
use super::status::*;
use super::*;
use onewindow_core::plan::Plan;

#[tonic::async_trait]
impl pb::workflows_server::Workflows for Api {
    async fn deploy(
        &self,
        req: Request<pb::DeployRequest>,
    ) -> Result<Response<pb::Workflow>, Status> {
        if !auth::ADMIN(&caller(&req)?.role) {
            return Err(Status::permission_denied(
                "only an administrator deploys workflows",
            ));
        }
        let r = req.into_inner();
        let name = std::path::Path::new(&r.file_name);
        if r.file_name.is_empty()
            || name.components().count() != 1
            || name.extension().is_none_or(|x| x != "yaml")
        {
            return Err(invalid_argument("file_name: a plain `name.yaml`"));
        }
        let path = self.workflows_dir.join(name);
        let compiled = onewindow_core::spec::load_str(&path, &r.yaml)
            .and_then(|l| onewindow_core::plan::compile(&l));
        let plan = match compiled {
            Ok((plan, _)) => plan,
            Err(diags) => {
                return Err(invalid_argument(format!(
                    "yaml: {} error(s): {}",
                    diags.errors().count(),
                    serde_json::to_string(&diags).unwrap_or_default()
                )))
            }
        };
        let out = workflow_pb(&plan);
        let svc = self.svc.clone();
        tokio::task::spawn_blocking(move || svc.deploy(plan))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| store_status(&e))?;
        tracing::info!(workflow = %out.id, version = %out.version, "deployed");
        Ok(Response::new(out))
    }

    async fn deploy_calendar(
        &self,
        req: Request<pb::DeployCalendarRequest>,
    ) -> Result<Response<pb::DeployCalendarResponse>, Status> {
        self.deploy_calendar_edition(req).await
    }

    async fn preview_migration(
        &self,
        req: Request<pb::PreviewMigrationRequest>,
    ) -> Result<Response<pb::PreviewMigrationResponse>, Status> {
        self.preview_migration_of(req).await
    }

    async fn migrate(
        &self,
        req: Request<pb::MigrateRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.migrate_project(req).await
    }

    async fn get(
        &self,
        req: Request<pb::GetWorkflowRequest>,
    ) -> Result<Response<pb::Workflow>, Status> {
        let version = req.into_inner().version;
        let plan = self.plan(&version)?;
        let mut w = workflow_pb(&plan);
        w.yaml = onewindow_store::service::stored_workflow(&plan)
            .map(|s| s.yaml)
            .unwrap_or_default();
        Ok(Response::new(w))
    }

    async fn compare(
        &self,
        req: Request<pb::CompareRequest>,
    ) -> Result<Response<pb::CompareResponse>, Status> {
        analysts_only(&req, "compares versions")?;
        let r = req.into_inner();
        if r.versions.len() < 2 {
            return Err(invalid_argument("versions: at least two"));
        }
        // Each version is a schedule computed and a plan copied into the answer: a
        // comparison is read by a person, side by side, and a few columns are all one reads.
        if r.versions.len() > input::MAX_COMPARE {
            return Err(invalid_argument(format!(
                "versions: {} entries; at most {}",
                r.versions.len(),
                input::MAX_COMPARE
            )));
        }
        for (i, v) in r.versions.iter().enumerate() {
            input::id("versions", v)?;
            if r.versions[..i].contains(v) {
                return Err(invalid_argument(format!(
                    "versions: {} is named twice",
                    input::quoted(v)
                )));
            }
        }
        let limits = limits_arg(&r.limits)?;
        let start = date_arg("start_date", &r.start_date)?;
        let mut rows = Vec::new();
        for v in &r.versions {
            let plan = self.plan(v)?;
            let s = plan.schedule(&onewindow_core::plan::Options {
                limits: limits.unwrap_or(plan.default_limits),
                form: None,
                start,
            });
            rows.push((Plan::clone(&plan), s));
        }
        Ok(Response::new(pb::CompareResponse {
            json: onewindow_core::report::compare_json(&rows).to_string(),
        }))
    }

    async fn list(
        &self,
        _req: Request<pb::ListWorkflowsRequest>,
    ) -> Result<Response<pb::ListWorkflowsResponse>, Status> {
        let mut workflows: Vec<pb::Workflow> = self
            .svc
            .versions()
            .into_iter()
            .filter_map(|v| self.svc.plan(&v))
            .map(|p| workflow_pb(&p))
            .collect();
        workflows.sort_by(|a, b| (&a.id, &a.version).cmp(&(&b.id, &b.version)));
        Ok(Response::new(pb::ListWorkflowsResponse { workflows }))
    }

    async fn plan(
        &self,
        req: Request<pb::PlanRequest>,
    ) -> Result<Response<pb::PlanResponse>, Status> {
        analysts_only(&req, "plans versions")?;
        let r = req.into_inner();
        let plan = self.plan(&r.version)?;
        let limits = limits_arg(&r.limits)?.unwrap_or(plan.default_limits);
        let start = date_arg("start_date", &r.start_date)?;
        let s = plan.schedule(&onewindow_core::plan::Options {
            limits,
            form: None,
            start,
        });
        Ok(Response::new(pb::PlanResponse {
            json: onewindow_core::report::plan_json(&plan, &s).to_string(),
            total_working_days: s.total,
            critical_path: s
                .critical_path
                .iter()
                .map(|&i| plan.items[i].id.clone())
                .collect(),
        }))
    }

    async fn check_site(
        &self,
        req: Request<pb::CheckSiteRequest>,
    ) -> Result<Response<pb::CheckSiteResponse>, Status> {
        let r = req.into_inner();
        let plan = self.plan(&r.version)?;
        let form = form_values(&plan, r.form.into_iter().collect())?;
        if r.site.trim().is_empty() {
            return Err(super::status::invalid_argument("site: empty"));
        }
        let checked = self
            .site_check(&plan, &r.site, &form)
            .await?
            .ok_or_else(|| super::status::invalid_argument("site: empty"))?;
        use onewindow_engine::notice::SiteConflict;
        Ok(Response::new(pb::CheckSiteResponse {
            findings: checked
                .findings
                .iter()
                .map(|f| site_conflict_pb(SiteConflict::from(f)))
                .collect(),
            blueprint: checked.blueprint,
            site_m2: checked.site_m2,
            blocking: checked.blocking,
        }))
    }
}

/// PERMISSION_DENIED unless the caller is an analyst, a supervisor or an administrator
/// (the proto's "analysts and above").
fn analysts_only<T>(req: &Request<T>, what: &str) -> Result<(), Status> {
    let who = caller(req)?;
    if auth::ANALYST(&who.role) {
        Ok(())
    } else {
        Err(Status::permission_denied(format!(
            "only an analyst, a supervisor or an administrator {what} ({} may not)",
            who.role.id()
        )))
    }
}
