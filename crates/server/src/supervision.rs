//! `onewindow.v1.Supervision` (电子监察): overdue and warning lists, the assessment and
//! project timelines; and the ticker that runs supervision on the API's clock.

use std::collections::HashMap;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::*;
use super::status::*;
use super::*;
use onewindow_core::plan::Plan;
use onewindow_engine::{Actor, Command};

#[tonic::async_trait]
impl pb::supervision_server::Supervision for Api {
    async fn overdue(
        &self,
        _req: Request<pb::SupervisionRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let tasks = self.open_tasks(None, |_, t| t.is_overdue())?;
        Ok(Response::new(pb::ListTasksResponse {
            tasks,
            next_page_token: String::new(),
        }))
    }

    async fn warnings(
        &self,
        _req: Request<pb::SupervisionRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let tasks = self.open_tasks(None, |_, t| t.is_warned())?;
        Ok(Response::new(pb::ListTasksResponse {
            tasks,
            next_page_token: String::new(),
        }))
    }

    async fn cards(
        &self,
        _req: Request<pb::SupervisionRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let tasks = self.open_tasks(None, |_, t| t.red || t.yellow.is_some())?;
        Ok(Response::new(pb::ListTasksResponse {
            tasks,
            next_page_token: String::new(),
        }))
    }

    async fn assess(
        &self,
        req: Request<pb::AssessRequest>,
    ) -> Result<Response<pb::AssessResponse>, Status> {
        let r = req.into_inner();
        let from = date_arg("from", &r.from)?.ok_or_else(|| invalid_argument("from: required"))?;
        let to = date_arg("to", &r.to)?.ok_or_else(|| invalid_argument("to: required"))?;
        let svc = self.svc.clone();
        let rows = tokio::task::spawn_blocking(
            move || -> Result<Vec<onewindow_engine::supervision::Assessment>, onewindow_store::Error> {
                let mut events = Vec::new();
                for p in svc.store().projects()? {
                    events.extend(svc.store().events(&p, 0)?);
                }
                let plans: HashMap<String, Arc<Plan>> = svc
                    .versions()
                    .into_iter()
                    .filter_map(|v| Some((v.clone(), svc.plan(&v)?)))
                    .collect();
                let lookup = |v: &str| plans.get(v).map(|p| &**p);
                Ok(onewindow_engine::supervision::assess(
                    events.iter(),
                    &lookup,
                    from,
                    to,
                ))
            },
        )
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(|e| store_status(&e))?;
        let departments = rows
            .into_iter()
            .map(|a| pb::DepartmentAssessment {
                department: a.department,
                done: a.done as u32,
                mean_days: a.mean_days,
                p90_days: a.p90_days,
                on_time_rate: a.on_time_rate,
                overdue_now: a.overdue_now as u32,
                yellow_cards: a.yellow_cards as u32,
                red_cards: a.red_cards as u32,
            })
            .collect();
        Ok(Response::new(pb::AssessResponse { departments }))
    }

    async fn verify_audit(
        &self,
        _req: Request<pb::VerifyAuditRequest>,
    ) -> Result<Response<pb::VerifyAuditResponse>, Status> {
        // A whole read of the record: one at a time.
        let Ok(_turn) = self.audit_turn.clone().try_lock_owned() else {
            return Err(Status::resource_exhausted(
                "an audit verification is running; try again when it is done",
            ));
        };
        let (svc, key, witness) = (
            self.svc.clone(),
            self.audit_public,
            self.audit_witness.clone(),
        );
        let report = tokio::task::spawn_blocking(move || {
            let mut report = onewindow_audit::verify(svc.store(), key.as_ref())?;
            if let Some(w) = witness {
                let stored = onewindow_audit::stored_checkpoints(svc.store(), &mut Vec::new())?;
                report.breaks.extend(w.check(&stored)?);
            }
            Ok::<_, onewindow_store::Error>(report)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(|e| store_status(&e))?;
        self.metrics.audit_broken.set(report.breaks.len() as i64);
        if !report.intact() {
            tracing::error!(
                broken = report.breaks.len(),
                first = %report.breaks[0],
                "audit verification: the record does not hold"
            );
        }
        Ok(Response::new(pb::VerifyAuditResponse {
            intact: report.intact(),
            projects: report.projects,
            events: report.events,
            unsealed: report.unsealed,
            checkpoints: report.checkpoints,
            trusted_key: report.trusted,
            breaks: report
                .breaks
                .into_iter()
                .map(|b| pb::AuditBreak {
                    project: b.project,
                    seq: b.seq,
                    what: b.what,
                })
                .collect(),
        }))
    }

    async fn timeline(
        &self,
        req: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::TimelineResponse>, Status> {
        let project = req.into_inner().project;
        input::id("project", &project)?;
        let events = self
            .svc
            .store()
            .events(&project, 0)
            .map_err(|e| store_status(&e))?;
        if events.is_empty() {
            return Err(Status::not_found(format!(
                "project {}",
                input::quoted(&project)
            )));
        }
        Ok(Response::new(pb::TimelineResponse {
            events: events.iter().map(event_pb).collect(),
        }))
    }
}

/// Projects a tick runs at once: their commits share the store's flushes.
const TICK_CONCURRENCY: usize = 64;

impl Api {
    /// Runs supervision at the clock's time on every project with a deadline within the
    /// policy's horizon, and publishes each project's warnings and overdue flags to
    /// watchers (the dashboard's red cards) as soon as that project's are durable, not
    /// when the whole tick is done: a city's tick writes thousands of projects.
    ///
    /// On a store shared by several nodes, only the node holding the supervision lease
    /// runs it (once per city, not once per node); when that node dies the lease passes
    /// to the next node whose ticker asks.
    pub async fn tick(&self) {
        use futures_util::StreamExt;
        let (svc, api) = (self.svc.clone(), self.clone());
        let due = tokio::task::spawn_blocking(move || {
            match svc.store().lead("supervision") {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(e) => return Err(e),
            }
            let now = api.now();
            svc.due_for_tick(now)
                .map(|(_, projects)| Some((now, projects)))
        })
        .await;
        let (now, projects) = match due {
            Ok(Ok(Some(due))) => due,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => return tracing::warn!("supervision: {e}"),
            Err(e) => return tracing::warn!("supervision: {e}"),
        };
        futures_util::stream::iter(projects)
            .for_each_concurrent(TICK_CONCURRENCY, |p| async move {
                let request = onewindow_store::service::tick_request(&p, now);
                if let Err(s) = self.run(&request, &p, &Actor::System, Command::Tick).await {
                    tracing::debug!("supervision of {p}: {}", s.message());
                }
            })
            .await;
    }
}

/// Runs [`Api::tick`] every `every` until the server shuts down.
pub(super) fn spawn_ticker(api: Api, every: std::time::Duration) {
    api.clone().spawn_until_shutdown(async move {
        // The first run comes one period after start, not at once: a restarted server
        // serves before it supervises.
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            interval.tick().await;
            api.tick().await;
            api.metrics.ticker_rounds.inc();
        }
    });
}
