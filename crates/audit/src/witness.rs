//! What a node remembers of the checkpoints, outside the database: the newest one it
//! signed or saw, in a small file beside its audit key.
//!
//! Why: each checkpoint names the one before, so removing one from the middle shows —
//! but not removing the newest. With database access alone (no key) an insider could
//! rewrite a project's log, recompute its hash links (the algorithm is public) and
//! delete the newest checkpoint, which alone covered the rewritten events; the store
//! would then verify, and the next checkpoint would sign the rewritten record. A node
//! that remembers the newest checkpoint it signed or saw refuses that: when the store's
//! newest is older than what it remembers, or the one it remembers says something else,
//! the record is broken and nothing is signed.
//!
//! The file is JSON (`{"number": 12, "digest": "…"}`), owner-only, replaced atomically,
//! beside the key (`audit.key` → `audit.seen`). Nodes of a cluster each keep their own
//! (or share it with the key); a node that never saw a checkpoint remembers nothing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Break, Checkpoint, Error};
use onewindow_engine::ChainHash;

/// The newest checkpoint a node signed or saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Its number.
    pub number: u64,
    /// Its statement's digest.
    pub digest: ChainHash,
}

/// The file a node keeps what it saw in.
#[derive(Debug, Clone)]
pub struct Witness {
    path: PathBuf,
}

impl Witness {
    /// The witness kept beside the audit key `key` (`audit.key` → `audit.seen`).
    pub fn beside(key: &Path) -> Witness {
        Witness {
            path: key.with_extension("seen"),
        }
    }

    /// The witness kept in `path`.
    pub fn at(path: &Path) -> Witness {
        Witness {
            path: path.to_path_buf(),
        }
    }

    /// Its file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What it remembers (nothing when the file does not exist yet).
    ///
    /// # Errors
    /// The file exists but cannot be read or is not a witness file.
    pub fn seen(&self) -> Result<Option<Seen>, Error> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::Inconsistent(format!(
                    "{}: not a witness of checkpoints ({e})",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Inconsistent(format!("{}: {e}", self.path.display()))),
        }
    }

    /// The breaks of a store whose checkpoints (in number order) do not hold what this
    /// witness remembers: the one it remembers missing, or saying something else.
    ///
    /// # Errors
    /// The witness file cannot be read.
    pub fn check(&self, stored: &[Checkpoint]) -> Result<Vec<Break>, Error> {
        let Some(seen) = self.seen()? else {
            return Ok(Vec::new());
        };
        let what = match stored.iter().find(|c| c.number == seen.number) {
            None => format!(
                "checkpoint {} was signed or seen by this node ({}), but the store's newest is {}: checkpoints were removed",
                seen.number,
                self.path.display(),
                stored
                    .last()
                    .map_or_else(|| "none".to_string(), |c| c.number.to_string())
            ),
            Some(c) if c.digest() != seen.digest => format!(
                "the store's checkpoint {} is not the one this node signed or saw ({} where {} was): it was replaced",
                c.number,
                c.digest(),
                seen.digest
            ),
            Some(_) => return Ok(Vec::new()),
        };
        Ok(vec![Break {
            project: format!("checkpoint {}", seen.number),
            seq: 0,
            what,
        }])
    }

    /// Looks at a store's checkpoints as a node that does not sign them (another node of
    /// the cluster holds the `audit` lease) or before it signs: the breaks when the store
    /// no longer holds what this witness remembers; otherwise it now remembers the
    /// store's newest, so that a later removal shows here too.
    ///
    /// # Errors
    /// The store cannot be read, or the witness file cannot be read or written.
    pub fn see(
        &self,
        store: &(impl onewindow_store::ReadStore + ?Sized),
    ) -> Result<Vec<Break>, Error> {
        let mut breaks = Vec::new();
        let stored = super::stored_checkpoints(store, &mut breaks)?;
        breaks.extend(self.check(&stored)?);
        if breaks.is_empty() {
            if let Some(newest) = stored.last() {
                self.remember(newest)?;
            }
        }
        Ok(breaks)
    }

    /// Remembers `c` when it is newer than what the witness holds.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn remember(&self, c: &Checkpoint) -> Result<(), Error> {
        if self.seen()?.is_some_and(|s| s.number >= c.number) {
            return Ok(());
        }
        let seen = Seen {
            number: c.number,
            digest: c.digest(),
        };
        let text = serde_json::to_string(&seen).map_err(|e| Error::Corrupt(e.to_string()))?;
        onewindow_core::textfile::write_private(&self.path, &text)
            .map_err(|e| Error::Inconsistent(format!("{}: {e}", self.path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Head;
    use chrono::NaiveDateTime;
    use ed25519_dalek::SigningKey;

    #[test]
    fn the_newest_removed_or_replaced_shows() {
        let dir = tempfile::tempdir().unwrap();
        let witness = Witness::beside(&dir.path().join("audit.key"));
        assert_eq!(witness.path(), dir.path().join("audit.seen"));
        let key = SigningKey::from_bytes(&[5; 32]);
        let [one, two]: [Checkpoint; 2] = crate::checkpoint::chained_for_tests(&key, &[3, 5])
            .try_into()
            .unwrap();
        let at: NaiveDateTime = "2026-12-01T10:00:00".parse().unwrap();
        let head = |seq| Head {
            project: "p".into(),
            seq,
            chain: ChainHash([seq as u8; 32]),
        };
        assert!(
            witness
                .check(std::slice::from_ref(&one))
                .unwrap()
                .is_empty(),
            "nothing seen yet"
        );
        witness.remember(&two).unwrap();
        witness.remember(&one).unwrap(); // older: kept what it had
        assert_eq!(witness.seen().unwrap().map(|s| s.number), Some(2));
        assert!(witness
            .check(&[one.clone(), two.clone()])
            .unwrap()
            .is_empty());
        // The newest removed: the store's chain of checkpoints is whole, yet it shows.
        let removed = witness.check(std::slice::from_ref(&one)).unwrap();
        assert_eq!(removed.len(), 1);
        assert!(
            removed[0].what.contains("checkpoints were removed"),
            "{removed:?}"
        );
        // Replaced by another statement with the same number.
        let other = Checkpoint::sign(&key, 2, at, one.digest(), vec![head(6)]);
        let replaced = witness.check(&[one, other]).unwrap();
        assert!(replaced[0].what.contains("replaced"), "{replaced:?}");
        // A file that is not a witness is an error, not "nothing seen".
        std::fs::write(witness.path(), "{").unwrap();
        assert!(witness.seen().is_err());
    }
}
