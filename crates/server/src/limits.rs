//! Limits per caller: requests per second and streams open at once per identity (a
//! token's role), so that one caller — a runaway department system, a stolen token —
//! cannot take the whole node. A caller over a limit gets RESOURCE_EXHAUSTED with a
//! `google.rpc.RetryInfo` saying when to try again. The same limit holds over gRPC and
//! the JSON API (the console's sessions are people, and not limited here).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tonic::Status;

use super::auth::Role;

/// The default: far above what one department's system sends at a city's peak (the load
/// generator's busiest token makes about 2,000 requests a second), far below what would
/// starve the other callers.
pub const DEFAULT_PER_SECOND: u32 = 10_000;

/// The default bound on one identity's open streams (watches and department queues):
/// a department runs a few workers, each with a stream or two; hundreds would be a
/// leak, or an attack holding the node's memory.
pub const DEFAULT_STREAMS: u32 = 64;

/// Open streams by identity.
type OpenStreams = Arc<Mutex<HashMap<String, u32>>>;

/// A stream counted against its identity until dropped.
#[derive(Debug)]
pub struct StreamSlot(Option<(OpenStreams, String)>);

impl StreamSlot {
    /// A slot counted nowhere (the limit is off).
    pub(crate) fn unlimited() -> StreamSlot {
        StreamSlot(None)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        if let Some((open, key)) = self.0.take() {
            if let Ok(mut open) = open.lock() {
                if let Some(n) = open.get_mut(&key) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        open.remove(&key);
                    }
                }
            }
        }
    }
}

/// Requests per second per identity (governor's keyed GCRA limiter, a burst of one
/// second's worth).
pub struct Limits {
    per_second: u32,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
    streams: u32,
    open: OpenStreams,
}

impl Limits {
    /// `per_second` requests a second and `streams` open streams per identity; 0 turns
    /// either limit off.
    pub fn new(per_second: u32, streams: u32) -> Limits {
        Limits {
            per_second,
            limiter: NonZeroU32::new(per_second)
                .map(|n| governor::RateLimiter::keyed(Quota::per_second(n))),
            clock: DefaultClock::default(),
            streams,
            open: Arc::default(),
        }
    }

    /// Counts a stream `role` opens, until the slot is dropped (when the stream ends).
    ///
    /// # Errors
    /// RESOURCE_EXHAUSTED with a retry hint when the identity has as many open already.
    pub fn open_stream(&self, role: &Role) -> Result<StreamSlot, Status> {
        if self.streams == 0 {
            return Ok(StreamSlot::unlimited());
        }
        let key = role.id();
        let mut open = self
            .open
            .lock()
            .map_err(|_| Status::internal("the stream count is unusable"))?;
        let n = open.entry(key.clone()).or_insert(0);
        if *n >= self.streams {
            use tonic_types::{ErrorDetails, StatusExt};
            // When one ends is not known: a few seconds is what a reconnecting client
            // should wait.
            let details = ErrorDetails::with_retry_info(Some(Duration::from_secs(5)));
            return Err(Status::with_error_details(
                tonic::Code::ResourceExhausted,
                format!(
                    "too many streams: {key} has {} open (at most {}); close one, or retry in 5 s",
                    *n, self.streams
                ),
                details,
            ));
        }
        *n += 1;
        Ok(StreamSlot(Some((self.open.clone(), key))))
    }

    /// Counts one request of `role`.
    ///
    /// # Errors
    /// RESOURCE_EXHAUSTED with a retry hint when the identity is over its rate.
    pub fn check(&self, role: &Role) -> Result<(), Status> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let key = role.id();
        match limiter.check_key(&key) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                use tonic_types::{ErrorDetails, StatusExt};
                let wait = not_until.wait_time_from(self.clock.now());
                let details = ErrorDetails::with_retry_info(Some(wait));
                Err(Status::with_error_details(
                    tonic::Code::ResourceExhausted,
                    format!(
                        "rate-limited: {key} is over {} requests a second; retry in {} ms",
                        self.per_second,
                        wait.as_millis().max(1)
                    ),
                    details,
                ))
            }
        }
    }
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Limits({} per second, {} streams per identity)",
            self.per_second, self.streams
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_counted_per_identity_and_given_back() {
        let limits = Limits::new(0, 2);
        let a = Role::Department("planning".into());
        let b = Role::Department("fire".into());
        let one = limits.open_stream(&a).unwrap();
        let _two = limits.open_stream(&a).unwrap();
        let over = limits.open_stream(&a).unwrap_err();
        assert_eq!(over.code(), tonic::Code::ResourceExhausted);
        assert!(over.message().contains("department:planning has 2 open"));
        // Another identity has its own count.
        let _other = limits.open_stream(&b).unwrap();
        drop(one);
        let _three = limits.open_stream(&a).unwrap();
        // Off: never refused.
        let off = Limits::new(0, 0);
        let kept: Vec<_> = (0..100).map(|_| off.open_stream(&a).unwrap()).collect();
        assert_eq!(kept.len(), 100);
    }
}
