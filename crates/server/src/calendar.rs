//! `Workflows.DeployCalendar`: an administrator deploys a new edition of a working-day
//! calendar (the next year's holiday schedule, published around November). The edition
//! is checked and kept (`Service::deploy_calendar`), then every active project on a
//! version counting on it has its due dates derived again — one `Rederive` command per
//! project as the system, run like supervision's tick (concurrently, each published to
//! watchers and department streams as soon as it is durable).

use tonic::{Request, Response, Status};

use super::convert::*;
use super::status::*;
use super::*;
use onewindow_engine::{Actor, Command};
use onewindow_store::StoredCalendar;

/// At most this many files in an edition: `calendar.yaml` and a century of years.
pub(crate) const MAX_FILES: usize = 101;
/// At most this many bytes in one file (a year's notice is about 2 KiB).
const MAX_FILE_BYTES: usize = 256 * 1024;
/// Projects derived again at once.
const CONCURRENCY: usize = 64;

impl Api {
    pub(super) async fn deploy_calendar_edition(
        &self,
        req: Request<pb::DeployCalendarRequest>,
    ) -> Result<Response<pb::DeployCalendarResponse>, Status> {
        use futures_util::StreamExt;
        if !auth::ADMIN(&caller(&req)?.role) {
            return Err(Status::permission_denied(
                "only an administrator deploys calendars",
            ));
        }
        let r = req.into_inner();
        let reason = checked_text("reason", r.reason)?;
        if reason.trim().is_empty() {
            return Err(invalid_argument(
                "reason: required (e.g. the notice that published the schedule)",
            ));
        }
        let files = calendar_files(r.files)?;
        let cal = onewindow_store::restore::calendar_of(&files)
            .map_err(|e| invalid_argument(format!("files: {e}")))?;
        let edition = StoredCalendar {
            id: cal.id().to_string(),
            files,
            deployed_at: self.now(),
            reason: reason.clone(),
        };
        let svc = self.svc.clone();
        let (deployed, projects) = tokio::task::spawn_blocking(move || {
            let deployed = svc.deploy_calendar(&edition)?;
            let projects = svc.projects_on(&deployed.versions);
            Ok::<_, onewindow_store::Error>((deployed, projects))
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(|e| store_status(&e))?;
        tracing::info!(calendar = %deployed.id, versions = deployed.versions.len(), projects = projects.len(), "calendar deployed");
        // Each deployment's commands are its own (a deployment sent twice derives twice;
        // the second finds nothing to change).
        static DEPLOYS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = DEPLOYS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stamp = format!("{:x}/{n}", *super::command::BOOT);
        let results: Vec<(String, Result<u32, Status>)> = futures_util::stream::iter(projects)
            .map(|p| {
                let (reason, id, stamp) = (reason.clone(), deployed.id.clone(), stamp.clone());
                async move {
                    let request = format!("calendar/{id}/{stamp}/{p}");
                    let done = self
                        .run(&request, &p, &Actor::System, Command::Rederive { reason })
                        .await
                        .map(|r| {
                            r.get_ref()
                                .events
                                .iter()
                                .filter(|e| e.r#type == "due_rederived")
                                .count() as u32
                        });
                    (p, done)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut out = pb::DeployCalendarResponse {
            calendar: deployed.id,
            versions: deployed.versions,
            ..Default::default()
        };
        for (p, done) in results {
            match done {
                Ok(n) => {
                    out.projects += 1;
                    out.rederived += n;
                }
                Err(s) => {
                    tracing::warn!(project = p, "due dates not derived again: {}", s.message());
                    out.failed.push(p);
                }
            }
        }
        out.failed.sort();
        Ok(Response::new(out))
    }
}

/// The edition's files, bounded: `calendar.yaml` first, then `<year>.yaml` files.
fn calendar_files(files: Vec<pb::CalendarFile>) -> Result<Vec<(String, String)>, Status> {
    if files.is_empty() || files.len() > MAX_FILES {
        return Err(invalid_argument(format!(
            "files: calendar.yaml and one file per year, 1 to {MAX_FILES} files"
        )));
    }
    let mut out = Vec::with_capacity(files.len());
    for (k, f) in files.into_iter().enumerate() {
        let year = f
            .name
            .strip_suffix(".yaml")
            .is_some_and(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()));
        let ok = if k == 0 {
            f.name == "calendar.yaml"
        } else {
            year
        };
        if !ok {
            return Err(invalid_argument(format!(
                "files: file {} must be {}",
                k + 1,
                if k == 0 {
                    "calendar.yaml"
                } else {
                    "<year>.yaml"
                }
            )));
        }
        if f.text.len() > MAX_FILE_BYTES {
            return Err(invalid_argument(format!(
                "files: {} is over {MAX_FILE_BYTES} bytes",
                f.name
            )));
        }
        out.push((f.name, f.text));
    }
    Ok(out)
}
