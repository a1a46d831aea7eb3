//! Limits per caller: requests per second per identity (a token's role), so that one
//! caller — a runaway department system, a stolen token — cannot take the whole node. A
//! caller over its rate gets RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo` saying when
//! to try again. The same limit holds over gRPC and the JSON API (the console's sessions
//! are people, and not limited here).

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tonic::Status;

use super::auth::Role;

/// The default: far above what one department's system sends at a city's peak (the load
/// generator's busiest token makes about 2,000 requests a second), far below what would
/// starve the other callers.
pub const DEFAULT_PER_SECOND: u32 = 10_000;

/// Requests per second per identity (governor's keyed GCRA limiter, a burst of one
/// second's worth).
pub struct Limits {
    per_second: u32,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl Limits {
    /// `per_second` requests a second per identity; 0 turns the limit off.
    pub fn new(per_second: u32) -> Limits {
        Limits {
            per_second,
            limiter: NonZeroU32::new(per_second)
                .map(|n| governor::RateLimiter::keyed(Quota::per_second(n))),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of `role`.
    ///
    /// # Errors
    /// RESOURCE_EXHAUSTED with a retry hint when the identity is over its rate.
    pub fn check(&self, role: &Role) -> Result<(), Status> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let key = role.text();
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
        write!(f, "Limits({} per second per identity)", self.per_second)
    }
}
