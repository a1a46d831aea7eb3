//! The callbacks' outbox on sled ([`crate::callbacks`]), under three key prefixes of the
//! one tree:
//!
//! | key | value |
//! | --- | --- |
//! | `b/s/{subscription}` | the [`Subscription`] (encoded) |
//! | `b/c/{subscription}\0{project}` | the project's cursor: the last event delivered or passed over (big-endian) |
//! | `b/d/{subscription}\0{letter}` | a [`DeadLetter`] (encoded) |
//!
//! Cursors are plain inserts, flushed with whatever flush comes next (a lost cursor only
//! means a redelivery); subscriptions and dead letters wait for a flush.

use super::{backend, codec, failed, key, SledStore};
use crate::callbacks::{CallbackStore, DeadLetter, Subscription};
use crate::{check_id, Error};

fn seq_of(raw: &[u8]) -> Result<u64, Error> {
    let bytes: [u8; 8] = raw
        .try_into()
        .map_err(|_| Error::Corrupt("a callback cursor is not 8 bytes".into()))?;
    Ok(u64::from_be_bytes(bytes))
}

/// The part of a key after `{subscription}\0`.
fn tail<'a>(k: &'a [u8], prefix: &[u8]) -> Result<&'a str, Error> {
    std::str::from_utf8(&k[prefix.len()..])
        .map_err(|_| Error::Corrupt("a callback key is not UTF-8".into()))
}

impl CallbackStore for SledStore {
    fn put_subscription(&self, s: &Subscription, cursors: &[(String, u64)]) -> Result<(), Error> {
        check_id(&s.id)?;
        let mut batch = sled::Batch::default();
        for (p, seq) in cursors {
            batch.insert(
                key(b"b/c/", &[s.id.as_bytes(), p.as_bytes()]),
                &seq.to_be_bytes(),
            );
        }
        // The subscription last: a subscription seen is one whose cursors are all there.
        batch.insert(key(b"b/s/", &[s.id.as_bytes()]), codec::encode(s)?);
        self.tree.apply_batch(batch).map_err(backend)?;
        self.durable()?.wait()
    }

    fn subscriptions(&self) -> Result<Vec<Subscription>, Error> {
        self.scan(b"b/s/", |_, v| codec::decode(v))
    }

    fn remove_subscription(&self, id: &str) -> Result<bool, Error> {
        check_id(id)?;
        let had = self
            .tree
            .remove(key(b"b/s/", &[id.as_bytes()]))
            .map_err(backend)?
            .is_some();
        for prefix in [b"b/c/", b"b/d/"] {
            let mut p = key(prefix, &[id.as_bytes()]);
            p.push(0);
            let keys: Vec<sled::IVec> = self
                .tree
                .scan_prefix(&p)
                .keys()
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            for k in keys {
                self.tree.remove(k).map_err(backend)?;
            }
        }
        self.durable()?.wait()?;
        Ok(had)
    }

    fn cursors(&self, subscription: &str) -> Result<Vec<(String, u64)>, Error> {
        let mut p = key(b"b/c/", &[subscription.as_bytes()]);
        p.push(0);
        self.scan(&p, |k, v| Ok((tail(k, &p)?.to_string(), seq_of(v)?)))
    }

    fn advance(&self, subscription: &str, cursors: &[(String, u64)]) -> Result<(), Error> {
        for (project, seq) in cursors {
            let k = key(b"b/c/", &[subscription.as_bytes(), project.as_bytes()]);
            let mut bad = false;
            self.tree
                .fetch_and_update(k, |old| {
                    let was = old.map_or(Ok(0), seq_of).unwrap_or_else(|_| {
                        bad = true;
                        0
                    });
                    Some(was.max(*seq).to_be_bytes().to_vec())
                })
                .map_err(backend)?;
            if bad {
                return Err(failed("a callback cursor was damaged (replaced)"));
            }
        }
        Ok(())
    }

    fn put_dead_letter(&self, letter: &DeadLetter) -> Result<(), Error> {
        let k = key(
            b"b/d/",
            &[letter.subscription.as_bytes(), letter.id.as_bytes()],
        );
        self.tree
            .insert(k, codec::encode(letter)?)
            .map_err(backend)?;
        self.durable()?.wait()
    }

    fn dead_letters(&self, subscription: &str) -> Result<Vec<DeadLetter>, Error> {
        let mut p = key(b"b/d/", &[subscription.as_bytes()]);
        p.push(0);
        self.scan(&p, |_, v| codec::decode(v))
    }

    fn remove_dead_letter(&self, subscription: &str, id: &str) -> Result<bool, Error> {
        let had = self
            .tree
            .remove(key(b"b/d/", &[subscription.as_bytes(), id.as_bytes()]))
            .map_err(backend)?
            .is_some();
        self.durable()?.wait()?;
        Ok(had)
    }
}
