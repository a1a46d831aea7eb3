//! The server's signed checkpoints of the audit trail (`audit::take`), one every
//! `Config::checkpoint_every` when anything happened since the last, taken by one node of
//! a cluster (the `audit` lease), on a blocking thread: it reads and hashes every log.
//!
//! Every node keeps a [`Witness`] beside its key: the newest checkpoint it signed or saw.
//! It looks at the store's checkpoints when it starts and at every round (the nodes that
//! do not sign too), so that a store whose newest checkpoint was removed or replaced is
//! refused — logged at error level, counted in `onewindow_audit_broken_links`, never
//! signed over.

use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::SigningKey;

use super::Api;
use onewindow_audit::{Break, Taken, Witness};

/// What one round found: a checkpoint taken (or not, by this node), or the witness's
/// breaks.
enum Round {
    Taken(Box<Taken>),
    Seen(Vec<Break>),
}

/// Takes a checkpoint every `every` until the server shuts down; looks first.
pub(super) fn spawn_checkpoints(api: Api, key: Arc<SigningKey>, witness: Witness, every: Duration) {
    api.clone().spawn_until_shutdown(async move {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut first = true;
        loop {
            if !first {
                interval.tick().await;
            }
            let (svc, now, key, witness) =
                (api.svc.clone(), api.now(), key.clone(), witness.clone());
            let look_only = std::mem::take(&mut first);
            let round = tokio::task::spawn_blocking(move || {
                if look_only || !svc.store().lead("audit")? {
                    return witness.see(svc.store()).map(Round::Seen);
                }
                onewindow_audit::take(svc.store(), &key, now, Some(&witness))
                    .map(|t| Round::Taken(Box::new(t)))
            })
            .await;
            match round {
                Ok(Ok(round)) => report(&api, round),
                Ok(Err(e)) => tracing::error!("audit checkpoint: {e}"),
                Err(e) => tracing::error!("audit checkpoint: {e}"),
            }
        }
    });
}

/// Logs and counts what a round found.
fn report(api: &Api, round: Round) {
    match round {
        Round::Seen(breaks) => {
            api.metrics.audit_broken.set(breaks.len() as i64);
            if let Some(first) = breaks.first() {
                tracing::error!(
                    broken = breaks.len(),
                    %first,
                    "audit: the store's checkpoints are not what this node signed or saw"
                );
            }
        }
        Round::Taken(taken) => {
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
                // A record that does not verify is exactly what an operator must hear
                // of; it is never signed.
                (None, Some(first)) => tracing::error!(
                    broken,
                    %first,
                    "audit: the record does not verify; no checkpoint signed"
                ),
                (None, None) => {}
            }
        }
    }
}
