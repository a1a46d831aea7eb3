//! The audit chain: every event of a project linked to the log before it by SHA-256, so
//! that a changed, removed or reordered event shows (`onewindow audit verify`).
//!
//! The chain's value after event *i* is `h(i) = SHA-256(h(i-1) ‖ canonical(event i))`,
//! with `h(0)` = [`ChainHash::GENESIS`]; *canonical* is the event's MessagePack encoding
//! with field names ([`codec::MSGPACK`], without the format tag). When the service writes
//! an event it sets the envelope's `prev` to `h(i-1)` first ([`seal`]), so each stored
//! event carries the link to what came before it: a copy of a log (a backup, an export)
//! checks on its own, and the first broken link says where a change was made.
//!
//! Why the canonical encoding rather than the stored bytes: sled keeps a command's events
//! in one record, so one event has no bytes of its own, and hashing what the value *is*
//! lets every backend (and a record format upgrade) agree. The rule that makes it hold
//! across versions is the one the event types already follow: a field added later is
//! skipped when it has its default (`skip_serializing_if`), so an old event encodes as it
//! did when it was sealed. `tests/data/audit/` holds a sealed log this rule is checked
//! against.
//!
//! Events written before the chain began (no `prev`) are hashed all the same: the first
//! sealed event's `prev` commits to the whole log before it.

use sha2::{Digest, Sha256};

use super::Error;
use onewindow_engine::{ChainHash, Envelope};

/// The chain's value after `event`, given its value before it.
///
/// # Errors
/// The event cannot be encoded (a bug, reported rather than panicking).
pub fn link(before: &ChainHash, event: &Envelope) -> Result<ChainHash, Error> {
    let mut bytes = Vec::with_capacity(256);
    rmp_serde::encode::write_named(&mut bytes, event).map_err(|e| Error::Corrupt(e.to_string()))?;
    Ok(link_bytes(before, &bytes))
}

/// The chain's value after an event whose canonical encoding is `bytes`.
pub fn link_bytes(before: &ChainHash, bytes: &[u8]) -> ChainHash {
    let mut h = Sha256::new();
    h.update(before.0);
    h.update(bytes);
    ChainHash(h.finalize().into())
}

/// Seals new events before they are written: each one's `prev` is the chain before it,
/// and `chain` ends as the value after the last.
///
/// # Errors
/// As [`link`].
pub fn seal(chain: &mut ChainHash, events: &mut [Envelope]) -> Result<(), Error> {
    for e in events {
        e.prev = Some(Box::new(*chain));
        *chain = link(chain, e)?;
    }
    Ok(())
}

/// The chain's value after a log read from the store (a log with events written before
/// the chain began included).
///
/// # Errors
/// As [`link`].
pub fn replay<'a>(
    mut chain: ChainHash,
    events: impl IntoIterator<Item = &'a Envelope>,
) -> Result<ChainHash, Error> {
    for e in events {
        chain = link(&chain, e)?;
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;
    use crate::fixtures::event;

    #[test]
    fn sealed_events_link_and_decode_to_what_was_hashed() {
        let mut events = vec![event("p", 1), event("p", 2), event("p", 3)];
        let mut chain = ChainHash::GENESIS;
        seal(&mut chain, &mut events).unwrap();
        assert_eq!(events[0].prev.as_deref(), Some(&ChainHash::GENESIS));
        assert_eq!(
            events[1].prev.as_deref(),
            Some(&link(&ChainHash::GENESIS, &events[0]).unwrap())
        );
        // Stored and read back (either format), an event hashes as it did when sealed.
        for format in [codec::JSON, codec::MSGPACK] {
            let back: Vec<Envelope> = events
                .iter()
                .map(|e| codec::decode(&codec::encode_as(format, e).unwrap()).unwrap())
                .collect();
            assert_eq!(replay(ChainHash::GENESIS, &back).unwrap(), chain);
        }
    }

    #[test]
    fn any_change_to_an_earlier_event_changes_the_chain() {
        let mut events = vec![event("p", 1), event("p", 2)];
        let mut chain = ChainHash::GENESIS;
        seal(&mut chain, &mut events).unwrap();
        let mut changed = events.clone();
        changed[0].at += chrono::Duration::seconds(1);
        assert_ne!(replay(ChainHash::GENESIS, &changed).unwrap(), chain);
        changed = events.clone();
        changed.swap(0, 1);
        assert_ne!(replay(ChainHash::GENESIS, &changed).unwrap(), chain);
    }

    #[test]
    fn hashes_read_back_in_both_spellings() {
        let h = link_bytes(&ChainHash::GENESIS, b"x");
        assert_eq!(ChainHash::from_hex(&h.hex()), Some(h));
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json.len(), 66);
        assert_eq!(serde_json::from_str::<ChainHash>(&json).unwrap(), h);
        let bin = rmp_serde::to_vec(&h).unwrap();
        assert_eq!(bin.len(), 34, "bin8: tag, length, 32 bytes");
        assert_eq!(rmp_serde::from_slice::<ChainHash>(&bin).unwrap(), h);
        assert!(ChainHash::from_hex("zz").is_none());
    }
}
