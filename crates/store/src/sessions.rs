//! Console sessions kept in a store shared by the nodes of a city, so that any node serves
//! any clerk: behind a load balancer without sticky sessions, a node that goes takes no
//! one's login with it. A store one process owns (sled, memory) keeps none: that node's
//! sessions live in its memory, as before, and end with it.
//!
//! Times are the server's clock in Unix milliseconds (the nodes' clocks are the city's
//! time of record, kept in step by NTP); the server checks a session's idle and absolute
//! limits and its credential on every request, and ends what has expired.

use crate::Error;

/// A console session as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The session's id (the cookie's value: 256 random bits as hex).
    pub id: String,
    /// The credential of the token it was opened with (asked again on every request).
    pub credential: String,
    /// The token's role, as `Actor::id` writes it.
    pub role: String,
    /// The token every form of the session must carry.
    pub csrf: String,
    /// When it was opened.
    pub started_ms: i64,
    /// When it was last used.
    pub seen_ms: i64,
}

/// Where a shared store keeps console sessions.
pub trait SessionStore: Send + Sync {
    /// Keeps a new session.
    ///
    /// # Errors
    /// The store cannot be reached.
    fn put_session(&self, session: &StoredSession) -> Result<(), Error>;

    /// The session of an id, if it is kept.
    ///
    /// # Errors
    /// The store cannot be reached.
    fn session(&self, id: &str) -> Result<Option<StoredSession>, Error>;

    /// Records that a session was used at `seen_ms`.
    ///
    /// # Errors
    /// The store cannot be reached.
    fn session_seen(&self, id: &str, seen_ms: i64) -> Result<(), Error>;

    /// Ends a session.
    ///
    /// # Errors
    /// The store cannot be reached.
    fn end_session(&self, id: &str) -> Result<(), Error>;

    /// The sessions of one credential: (id, opened), oldest first.
    ///
    /// # Errors
    /// The store cannot be reached.
    fn sessions_of(&self, credential: &str) -> Result<Vec<(String, i64)>, Error>;

    /// Ends every session last used before `seen_before_ms` or opened before
    /// `started_before_ms`: how many.
    ///
    /// # Errors
    /// The store cannot be reached.
    fn expire_sessions(&self, seen_before_ms: i64, started_before_ms: i64) -> Result<u64, Error>;
}
