//! The server's signed checkpoints of the audit trail (`audit::take`), one every
//! `Config::checkpoint_every` when anything happened since the last, taken by one node of
//! a cluster (the `audit` lease), on a blocking thread: it reads and hashes every log.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;

use super::Api;

/// Takes a checkpoint every `every` until the server shuts down.
pub(super) fn spawn_checkpoints(api: Api, key: Arc<SigningKey>, every: Duration) {
    api.clone().spawn_until_shutdown(async move {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            interval.tick().await;
            let (svc, clock, key) = (api.svc.clone(), api.clock.clone(), key.clone());
            let taken = tokio::task::spawn_blocking(move || {
                match svc.store().lead("audit") {
                    Ok(true) => {}
                    Ok(false) => return Ok(None),
                    Err(e) => return Err(e),
                }
                crate::audit::take(svc.store(), &key, clock()).map(Some)
            })
            .await;
            match taken {
                Ok(Ok(Some(taken))) => {
                    let broken = taken.report.breaks.len();
                    api.metrics.audit_broken.set(broken as i64);
                    match (taken.checkpoint, taken.report.breaks.first()) {
                        (Some(c), _) => {
                            api.metrics.audit_checkpoints.inc();
                            tracing::info!(
                                number = c.number,
                                projects = c.projects,
                                events = c.events,
                                heads = %c.heads_hash,
                                "audit checkpoint signed"
                            );
                        }
                        // A record that does not verify is exactly what an operator must
                        // hear of; it is never signed.
                        (None, Some(first)) => tracing::error!(
                            broken,
                            %first,
                            "audit: the record does not verify; no checkpoint signed"
                        ),
                        (None, None) => {}
                    }
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::error!("audit checkpoint: {e}"),
                Err(e) => tracing::error!("audit checkpoint: {e}"),
            }
        }
    });
}
