//! A stream's right to go on: a watch, a department's queue or the dashboard's live
//! cards is opened by a caller whose credential (a token, a console session) may be
//! revoked, expire or be logged out while the stream is open. A [`Lease`] is what the
//! stream holds: its place in the caller's stream count ([`super::limits::StreamSlot`])
//! and the check of its right, asked again every [`RECHECK`]; the stream's task selects
//! on [`Lease::ended`] and ends the stream when it resolves.
//!
//! Why polling and not a signal from the identity file: a right also ends by time (a
//! token's expiry, a session's idle and absolute limits), and the identity file is
//! itself looked at about once a second ([`super::identity`]); a check costs one hash
//! lookup, so a few thousand streams asking four times a second cost nothing, and a
//! revocation ends every stream within about a second and a quarter.

use std::sync::Arc;
use std::time::Duration;

use tonic::Status;

use super::auth::{Caller, Tokens};
use super::limits::StreamSlot;

/// How often a stream asks again whether its right holds.
pub(crate) const RECHECK: Duration = Duration::from_millis(250);

/// What a stream holds while it is open.
pub(crate) struct Lease {
    _slot: StreamSlot,
    holds: Box<dyn Fn() -> bool + Send + Sync>,
}

impl Lease {
    /// A lease on `slot` that lasts while `holds` says so.
    pub(crate) fn new(slot: StreamSlot, holds: impl Fn() -> bool + Send + Sync + 'static) -> Lease {
        Lease {
            _slot: slot,
            holds: Box::new(holds),
        }
    }

    /// A lease that lasts while `caller`'s credential holds in `tokens`.
    pub(crate) fn of_caller(slot: StreamSlot, tokens: Arc<Tokens>, caller: &Caller) -> Lease {
        let credential = caller.credential.clone();
        Lease::new(slot, move || tokens.holds(&credential))
    }

    /// Whether the right holds now.
    pub(crate) fn holds(&self) -> bool {
        (self.holds)()
    }

    /// Resolves once the right no longer holds (never while it does).
    pub(crate) async fn ended(&self) {
        let mut every = tokio::time::interval(RECHECK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if !self.holds() {
                return;
            }
        }
    }
}

/// What a gRPC stream ends with when its right ends.
pub(crate) fn ended_status() -> Status {
    Status::unauthenticated(
        "the stream's token was revoked or has expired: the stream is closed; authenticate again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_lease_ends_soon_after_its_right() {
        let right = Arc::new(AtomicBool::new(true));
        let r = right.clone();
        let lease = Lease::new(StreamSlot::unlimited(), move || r.load(Ordering::SeqCst));
        let ended = lease.ended();
        tokio::pin!(ended);
        tokio::select! {
            () = &mut ended => panic!("ended while its right holds"),
            () = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        right.store(false, Ordering::SeqCst);
        let started = tokio::time::Instant::now();
        ended.await;
        assert!(started.elapsed() <= RECHECK, "{:?}", started.elapsed());
    }
}
