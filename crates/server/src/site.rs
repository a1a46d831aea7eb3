//! Sites against the blueprint (一张蓝图) at the window: a site handed in with a
//! pre-review, a submission or `Workflows.CheckSite` is parsed, bounded and checked here,
//! at the edge, against the blueprint the workflow names — loaded once per directory and
//! kept — and the result goes to the engine as data (`Submission::site`), which refuses a
//! blocking one and records the rest.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonic::Status;

use super::status::invalid_argument;
use super::*;
use onewindow_blueprint::check::{check_site, SiteCheck};
use onewindow_blueprint::Blueprint;
use onewindow_core::form::Value;

/// The largest site accepted, in bytes of GeoJSON.
pub const MAX_SITE_BYTES: usize = 1024 * 1024;

/// Blueprints loaded so far, by directory.
pub(super) type Blueprints = Arc<tokio::sync::Mutex<HashMap<PathBuf, Arc<Blueprint>>>>;

impl Api {
    /// Checks `site` (GeoJSON text; empty for none) against `plan`'s blueprint, the
    /// form's `industry` judging the zoning use.
    ///
    /// # Errors
    /// INVALID_ARGUMENT for a site that is too large, not GeoJSON, not an area, outside
    /// China or invalid; FAILED_PRECONDITION when the workflow names no blueprint or its
    /// blueprint cannot be loaded.
    pub(super) async fn site_check(
        &self,
        plan: &Plan,
        site: &str,
        form: &BTreeMap<String, Value>,
    ) -> Result<Option<SiteCheck>, Status> {
        if site.trim().is_empty() {
            return Ok(None);
        }
        if site.len() > MAX_SITE_BYTES {
            return Err(invalid_argument(format!(
                "site: {} bytes; at most {MAX_SITE_BYTES}",
                site.len()
            )));
        }
        let Some(dir) = plan.blueprint_dir.clone() else {
            return Err(Status::failed_precondition(format!(
                "workflow `{}` names no blueprint to check a site against",
                plan.id
            )));
        };
        let shape = onewindow_blueprint::site_from_geojson(site)
            .map_err(|e| invalid_argument(format!("site: {}", status::truncate(&e, 300))))?;
        let bp = self.blueprint(dir).await?;
        let industry = onewindow_blueprint::check::industry_of(form).map(str::to_string);
        tokio::task::spawn_blocking(move || check_site(&bp, &shape, industry.as_deref()))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map(Some)
            .map_err(|e| invalid_argument(format!("site: {e}")))
    }

    /// The blueprint in `dir`, loaded on first use.
    async fn blueprint(&self, dir: PathBuf) -> Result<Arc<Blueprint>, Status> {
        let mut loaded = self.blueprints.lock().await;
        if let Some(bp) = loaded.get(&dir) {
            return Ok(bp.clone());
        }
        let at = dir.clone();
        let bp = tokio::task::spawn_blocking(move || Blueprint::load(&at))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|problems| {
                tracing::error!(
                    "blueprint {}: {}",
                    dir.display(),
                    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
                );
                Status::failed_precondition(format!(
                    "the workflow's blueprint cannot be loaded ({} problem(s); see the server's log)",
                    problems.len()
                ))
            })?;
        let bp = Arc::new(bp);
        loaded.insert(dir, bp.clone());
        Ok(bp)
    }
}
