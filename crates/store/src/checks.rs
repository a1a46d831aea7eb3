//! What every backend checks of a commit before it writes anything: its ids, its events
//! belonging to its project without a gap, the state it was decided on. One copy, so that
//! sled, PostgreSQL and memory refuse the same commits with the same words.

use super::{check_id, Commit, Error};

/// The checks a commit passes before any backend looks at what it holds: ids, and its
/// events belonging to its project and numbered without a gap among themselves.
pub(crate) fn check_shape(commit: &Commit) -> Result<(), Error> {
    check_id(&commit.project)?;
    if let Some((id, _)) = &commit.request {
        check_id(id)?;
    }
    for (k, e) in commit.events.iter().enumerate() {
        if *e.project != *commit.project {
            return Err(Error::Inconsistent(format!(
                "event of project `{}` in a commit for `{}`",
                e.project, commit.project
            )));
        }
        if k > 0 && e.seq != commit.events[k - 1].seq + 1 {
            return Err(Error::Inconsistent(format!(
                "project `{}`: event {} follows event {} in one commit",
                commit.project,
                e.seq,
                commit.events[k - 1].seq
            )));
        }
    }
    Ok(())
}

/// The checks every backend makes before a commit: [`check_shape`], the state it was
/// decided on ([`Commit::base`]) and the continuity of the log from its `head`.
pub(crate) fn check_commit(commit: &Commit, head: u64) -> Result<(), Error> {
    check_shape(commit)?;
    if let Some(base) = commit.base {
        if base != head {
            return Err(stale(&commit.project, base, head));
        }
    }
    for (k, e) in commit.events.iter().enumerate() {
        if e.seq != head + 1 + k as u64 {
            return Err(Error::Inconsistent(format!(
                "project `{}`: event {} would follow event {} (a gap or a duplicate)",
                commit.project,
                e.seq,
                head + k as u64
            )));
        }
    }
    Ok(())
}

/// A commit decided on a state that is no longer the project's.
pub(crate) fn stale(project: &str, base: u64, head: u64) -> Error {
    Error::Inconsistent(format!(
        "project `{project}`: decided on event {base}, but the log ends at {head} (another writer was first)"
    ))
}
