//! Callbacks (webhooks) as the store keeps them: the subscriptions, each one's delivery
//! cursors and its dead letters. Together they are the outbox.
//!
//! Why cursors and not a queue of copies: the event log already holds every event in
//! order per project, durably, on every backend. A subscription's outbox is therefore
//! "what of each project's log lies beyond the subscription's cursor for it" — nothing is
//! written on a command's path (a receiver never slows the city's commands), nothing is
//! copied per subscriber, and the outbox survives a restart or a node's loss because
//! both halves (the log and the cursors) are in the store. A project without a cursor
//! was submitted after the subscription was made and is delivered from its first event;
//! registering writes a cursor at the head of every project that existed then.
//!
//! Cursors are advanced after the receiver answered 2xx. Their writes need not be
//! flushed one by one: a cursor lost in a crash only means the receiver gets those events
//! again, which at-least-once delivery allows (receivers de-duplicate by event id).
//! Subscriptions and dead letters are durable when the call returns: they are what an
//! administrator was told.

use serde::{Deserialize, Serialize};

use crate::Error;

/// A callback subscription: a department's (or an administrator's for it) URL to which
/// every event the department would see on its stream is POSTed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The subscription's id (`cb-` and random hex).
    pub id: String,
    /// The department whose events are delivered.
    pub department: String,
    /// Where they are POSTed (checked against the operator's allow-list when made).
    pub url: String,
    /// The HMAC-SHA256 key the deliveries are signed with (shown once, when made).
    pub secret: String,
    /// Only events of these types (empty: every type).
    pub types: Vec<String>,
    /// Who made it (`Actor::id`).
    pub created_by: String,
    /// When (the server's clock, Unix milliseconds).
    pub created_ms: i64,
    /// What it is for, in the registrant's words.
    pub description: String,
}

/// Events a subscription could not deliver after every attempt: kept until an
/// administrator asks for them again (redelivery) or drops them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The letter's id within its subscription (`{project}:{first}`).
    pub id: String,
    /// The subscription.
    pub subscription: String,
    /// The project whose events these are.
    pub project: String,
    /// Its first event.
    pub first: u64,
    /// Its last event.
    pub last: u64,
    /// How many times delivery was tried.
    pub attempts: u32,
    /// What the last attempt met (the receiver's status, a timeout, a refused connection).
    pub error: String,
    /// When it was given up (Unix milliseconds).
    pub failed_ms: i64,
}

impl DeadLetter {
    /// The id of the letter holding `project`'s events from `first`.
    pub fn id_of(project: &str, first: u64) -> String {
        format!("{project}:{first}")
    }
}

/// Where a store keeps callbacks. Every backend keeps them (the outbox must survive a
/// restart), each in its own tables or keys.
pub trait CallbackStore: Send + Sync {
    /// Keeps a new subscription with its starting cursors (the head of every project
    /// that exists now); durable when it returns.
    ///
    /// # Errors
    /// The store cannot be written.
    fn put_subscription(&self, s: &Subscription, cursors: &[(String, u64)]) -> Result<(), Error>;

    /// Every subscription, by id.
    ///
    /// # Errors
    /// The store cannot be read.
    fn subscriptions(&self) -> Result<Vec<Subscription>, Error>;

    /// Removes a subscription with its cursors and dead letters; `false` when there was
    /// none. Durable when it returns.
    ///
    /// # Errors
    /// The store cannot be written.
    fn remove_subscription(&self, id: &str) -> Result<bool, Error>;

    /// A subscription's cursors: (project, last event delivered or passed over).
    ///
    /// # Errors
    /// The store cannot be read.
    fn cursors(&self, subscription: &str) -> Result<Vec<(String, u64)>, Error>;

    /// Moves cursors forward (a cursor never goes back, whatever the order of calls).
    /// Not necessarily durable at once (see the module's comment).
    ///
    /// # Errors
    /// The store cannot be written.
    fn advance(&self, subscription: &str, cursors: &[(String, u64)]) -> Result<(), Error>;

    /// Keeps a dead letter (replacing one of the same id); durable when it returns.
    ///
    /// # Errors
    /// The store cannot be written.
    fn put_dead_letter(&self, letter: &DeadLetter) -> Result<(), Error>;

    /// A subscription's dead letters, by id.
    ///
    /// # Errors
    /// The store cannot be read.
    fn dead_letters(&self, subscription: &str) -> Result<Vec<DeadLetter>, Error>;

    /// Drops a dead letter (delivered again, or given up on); `false` when there was none.
    ///
    /// # Errors
    /// The store cannot be written.
    fn remove_dead_letter(&self, subscription: &str, id: &str) -> Result<bool, Error>;
}
