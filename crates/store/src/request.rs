//! What identifies a request and when it happens: the key its answer is kept under (the
//! caller's scope and its id), the fingerprint that binds the id to its command, and the
//! time of record — given, or read from a clock under the project's lock.

use chrono::{NaiveDateTime, Offset};

use onewindow_engine::{Actor, Command};

/// What separates the caller's scope from its request id in a request key (the unit
/// separator: no id the API accepts contains it).
pub const SCOPE_SEPARATOR: char = '\u{1f}';

/// The key a request's answer is kept under: the caller's scope (the window, one
/// department, a supervisor, the system) and its request id. One caller's ids never meet
/// another's: the same id from two callers is two requests.
pub fn request_key(actor: &Actor, request: &str) -> String {
    format!("{}{SCOPE_SEPARATOR}{request}", actor.id())
}

/// What a request asked, as 32 hex digits of SHA-256 over the project and the command
/// (its kind, item and payload, as JSON): a retry of the same command has the same
/// fingerprint, any other command another.
pub fn fingerprint(project: &str, command: &Command) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(project.as_bytes());
    h.update([0]);
    // A command always serializes (strings, numbers, dates).
    h.update(serde_json::to_vec(command).unwrap_or_default());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// When a command happens.
#[derive(Clone, Copy)]
pub enum When<'a> {
    /// At this time: tests, the simulator's drivers, load generators.
    At(NaiveDateTime),
    /// The clock, read under the project's lock once the command's turn has come: the
    /// server's time of record. (Read before the lock, two commands racing on one
    /// project could be stamped out of the order they were decided in.)
    /// It reads an absolute instant; the service turns it into civil time in the zone of
    /// the project's calendar (what the engine counts days by) and records the offset,
    /// so the instant stays absolute.
    Clock(&'a (dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync)),
}

impl From<NaiveDateTime> for When<'_> {
    fn from(t: NaiveDateTime) -> Self {
        When::At(t)
    }
}

impl When<'_> {
    /// The time, as civil time in the default city zone
    /// ([`onewindow_core::calendar::DEFAULT_ZONE`]).
    pub fn now(&self) -> NaiveDateTime {
        self.read(onewindow_core::calendar::DEFAULT_ZONE).0
    }

    /// The time read once, as civil time in `zone`, with its offset from UTC in seconds
    /// when it came from a clock (a given civil time has none).
    pub fn read(&self, zone: onewindow_core::calendar::Tz) -> (NaiveDateTime, Option<i32>) {
        match self {
            When::At(t) => (*t, None),
            When::Clock(clock) => {
                let at = clock().with_timezone(&zone);
                (at.naive_local(), Some(at.offset().fix().local_minus_utc()))
            }
        }
    }
}
