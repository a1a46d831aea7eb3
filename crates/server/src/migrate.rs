//! `Workflows.PreviewMigration` and `Workflows.Migrate`: an administrator moves running
//! projects to another version of their workflow, project by project, after seeing what
//! it changes for each (the engine's own decision on a copy of the state).

use tonic::{Request, Response, Status};

use super::convert::*;
use super::status::*;
use super::*;
use onewindow_engine::{Command, Event};

/// At most this many projects in one preview.
const MAX_PREVIEW: usize = 1000;

impl Api {
    pub(super) async fn preview_migration_of(
        &self,
        req: Request<pb::PreviewMigrationRequest>,
    ) -> Result<Response<pb::PreviewMigrationResponse>, Status> {
        if !auth::ADMIN(&caller(&req)?.role) {
            return Err(Status::permission_denied(
                "only an administrator moves projects between versions",
            ));
        }
        let r = req.into_inner();
        input::id("version", &r.version)?;
        if r.projects.len() > MAX_PREVIEW {
            return Err(invalid_argument(format!("projects: at most {MAX_PREVIEW}")));
        }
        for p in &r.projects {
            input::id("projects", p)?;
        }
        let plan = self.plan(&r.version)?;
        let (svc, now) = (self.svc.clone(), self.now());
        let out = tokio::task::spawn_blocking(move || {
            let mut ids = if r.projects.is_empty() {
                svc.projects_to_migrate(&plan.id, &plan.version)
            } else {
                r.projects
            };
            let truncated = ids.len() > MAX_PREVIEW;
            ids.truncate(MAX_PREVIEW);
            let projects = ids
                .iter()
                .filter_map(|p| svc.preview_migration(p, &r.version, now))
                .map(project_migration_pb)
                .collect();
            pb::PreviewMigrationResponse {
                projects,
                truncated,
            }
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(out))
    }

    pub(super) async fn migrate_project(
        &self,
        req: Request<pb::MigrateRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        if !auth::ADMIN(&caller(&req)?.role) {
            return Err(Status::permission_denied(
                "only an administrator moves projects between versions",
            ));
        }
        self.act(req, |r| {
            input::id("version", &r.version)?;
            Ok(Command::Migrate { version: r.version })
        })
        .await
    }
}

fn project_migration_pb(p: onewindow_store::service::Preview) -> pb::ProjectMigration {
    let mut out = pb::ProjectMigration {
        project: p.project,
        from: p.from,
        ..Default::default()
    };
    match p.outcome {
        Err(refusal) => out.refused = format!("{}: {refusal}", refusal.code()),
        Ok(events) => {
            for e in &events {
                if let Event::Migrated { summary, .. } = e {
                    out.added.clone_from(&summary.added);
                    out.removed.clone_from(&summary.removed);
                    out.cancelled.clone_from(&summary.cancelled);
                    out.limits_changed.clone_from(&summary.limits_changed);
                }
            }
            out.events = events.iter().map(Event::summary).collect();
        }
    }
    out
}
