//! Signed checkpoints: where every project's log ended at one moment, signed with the
//! server's Ed25519 key, so that an outside party holding a checkpoint can later show
//! that the record was not rewritten — not even by whoever holds the database.
//!
//! A checkpoint's *statement* is a short text (number, time, the previous checkpoint's
//! digest, counts, the hash over every project's head, the public key); the signature is
//! over its bytes, and the next checkpoint names its digest, so the checkpoints form a
//! chain of their own and one removed shows. The heads themselves (project, last event,
//! chain value) are kept with the checkpoint in the store; the statement commits to them.

use chrono::NaiveDateTime;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use onewindow_engine::ChainHash;

/// Where one project's log ended when the checkpoint was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Project id.
    pub project: String,
    /// Its last event.
    pub seq: u64,
    /// The audit chain after that event.
    pub chain: ChainHash,
}

/// A signed checkpoint as stored and exported (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// From 1, without a gap.
    pub number: u64,
    /// When it was taken (the server's clock).
    pub at: NaiveDateTime,
    /// The digest of the previous checkpoint's statement (zeros for the first).
    pub previous: ChainHash,
    /// How many projects it covers.
    pub projects: u64,
    /// How many events it covers.
    pub events: u64,
    /// SHA-256 over every head, in project order ([`heads_hash`]).
    pub heads_hash: ChainHash,
    /// The signer's public key (Ed25519, 64 hex digits).
    pub key: String,
    /// The signature over the statement (128 hex digits).
    pub signature: String,
    /// The heads (left out of an export unless asked for: the statement commits to them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub heads: Vec<Head>,
}

/// Why a key file or a checkpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key file cannot be read, written or parsed.
    #[error("{0}")]
    Key(String),
    /// The checkpoint's signature does not hold.
    #[error("checkpoint {number}: {what}")]
    Signature {
        /// The checkpoint.
        number: u64,
        /// What is wrong.
        what: String,
    },
}

/// The hash every checkpoint commits to: each head as its id's length (8 bytes,
/// big-endian), the id, the sequence number (8 bytes, big-endian) and the chain value.
pub fn heads_hash(heads: &[Head]) -> ChainHash {
    let mut h = Sha256::new();
    for head in heads {
        h.update((head.project.len() as u64).to_be_bytes());
        h.update(head.project.as_bytes());
        h.update(head.seq.to_be_bytes());
        h.update(head.chain.0);
    }
    ChainHash(h.finalize().into())
}

impl Checkpoint {
    /// Takes and signs checkpoint `number` over `heads` (in project order).
    pub fn sign(
        key: &SigningKey,
        number: u64,
        at: NaiveDateTime,
        previous: ChainHash,
        heads: Vec<Head>,
    ) -> Checkpoint {
        let mut c = Checkpoint {
            number,
            at,
            previous,
            projects: heads.len() as u64,
            events: heads.iter().map(|h| h.seq).sum(),
            heads_hash: heads_hash(&heads),
            key: ChainHash(key.verifying_key().to_bytes()).hex(),
            signature: String::new(),
            heads,
        };
        c.signature = hex(&key.sign(c.statement().as_bytes()).to_bytes());
        c
    }

    /// The text the signature is over: one field per line, nothing left to interpret.
    pub fn statement(&self) -> String {
        format!(
            "onewindow audit checkpoint 1\nnumber {}\nat {}\nprevious {}\nprojects {}\nevents {}\nheads {}\nkey {}\n",
            self.number,
            self.at.format("%Y-%m-%dT%H:%M:%S%.f"),
            self.previous,
            self.projects,
            self.events,
            self.heads_hash,
            self.key
        )
    }

    /// The statement's SHA-256: what the next checkpoint names as `previous`.
    pub fn digest(&self) -> ChainHash {
        ChainHash(Sha256::digest(self.statement().as_bytes()).into())
    }

    /// Checks the signature, by `trusted` when given (else by the key the checkpoint
    /// names, which shows only that it was not changed since it was signed), and, when
    /// the heads are present, that the statement commits to them.
    ///
    /// # Errors
    /// [`Error::Signature`] saying what does not hold.
    pub fn check(&self, trusted: Option<&VerifyingKey>) -> Result<(), Error> {
        let bad = |what: String| Error::Signature {
            number: self.number,
            what,
        };
        let named = ChainHash::from_hex(&self.key)
            .and_then(|k| VerifyingKey::from_bytes(&k.0).ok())
            .ok_or_else(|| bad("names no valid Ed25519 key".into()))?;
        let key = match trusted {
            Some(t) if t.to_bytes() != named.to_bytes() => {
                return Err(bad(format!(
                    "signed by key {}, not by the trusted key {}",
                    self.key,
                    ChainHash(t.to_bytes()).hex()
                )))
            }
            Some(t) => *t,
            None => named,
        };
        let signature = unhex(&self.signature)
            .and_then(|b| <[u8; 64]>::try_from(b.as_slice()).ok())
            .map(|b| ed25519_dalek::Signature::from_bytes(&b))
            .ok_or_else(|| bad("the signature is not 128 hex digits".into()))?;
        key.verify(self.statement().as_bytes(), &signature)
            .map_err(|_| bad("the signature does not match the statement".into()))?;
        if !self.heads.is_empty() {
            if heads_hash(&self.heads) != self.heads_hash {
                return Err(bad("its heads are not those it signed".into()));
            }
            if self.heads.len() as u64 != self.projects {
                return Err(bad("its heads are not as many as it signed".into()));
            }
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|k| u8::from_str_radix(text.get(k..k + 2)?, 16).ok())
        .collect()
}

/// The server's signing key from its file (PKCS#8 PEM), made — owner-only — when the
/// file does not exist yet. Returns the key and whether it was made now.
///
/// # Errors
/// [`Error::Key`]: the file cannot be read, parsed or written.
pub fn load_or_create_key(path: &std::path::Path) -> Result<(SigningKey, bool), Error> {
    match std::fs::read_to_string(path) {
        Ok(pem) => Ok((read_key(path, &pem)?, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
            let pem = key
                .to_pkcs8_pem(Default::default())
                .map_err(|e| Error::Key(format!("{}: {e}", path.display())))?;
            onewindow_core::textfile::write_private(path, &pem)
                .map_err(|e| Error::Key(e.to_string()))?;
            Ok((key, true))
        }
        Err(e) => Err(Error::Key(format!("{}: {e}", path.display()))),
    }
}

/// The signing key in a file (PKCS#8 PEM, as `openssl genpkey -algorithm ed25519` writes).
///
/// # Errors
/// [`Error::Key`].
pub fn load_key(path: &std::path::Path) -> Result<SigningKey, Error> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| Error::Key(format!("{}: {e}", path.display())))?;
    read_key(path, &pem)
}

fn read_key(path: &std::path::Path, pem: &str) -> Result<SigningKey, Error> {
    SigningKey::from_pkcs8_pem(pem).map_err(|e| {
        Error::Key(format!(
            "{}: not an Ed25519 private key in PKCS#8 PEM: {e}",
            path.display()
        ))
    })
}

/// A public key from a file: SubjectPublicKeyInfo PEM (as `onewindow audit public-key`
/// and `openssl pkey -pubout` write), or a private key file, whose public half is taken.
///
/// # Errors
/// [`Error::Key`].
pub fn load_public_key(path: &std::path::Path) -> Result<VerifyingKey, Error> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| Error::Key(format!("{}: {e}", path.display())))?;
    if let Ok(k) = VerifyingKey::from_public_key_pem(&pem) {
        return Ok(k);
    }
    read_key(path, &pem).map(|k| k.verifying_key())
}

/// A public key as SubjectPublicKeyInfo PEM, for an outside party.
///
/// # Errors
/// [`Error::Key`] (only if the encoder fails).
pub fn public_key_pem(key: &VerifyingKey) -> Result<String, Error> {
    key.to_public_key_pem(Default::default())
        .map_err(|e| Error::Key(e.to_string()))
}

/// Checkpoints 1, 2, … of one project `p`, chained and signed by `key`, the k-th covering
/// its log up to event `seqs[k]` (for tests of the chain of checkpoints and the witness).
#[cfg(test)]
pub(crate) fn chained_for_tests(key: &SigningKey, seqs: &[u64]) -> Vec<Checkpoint> {
    let at: NaiveDateTime = "2026-12-01T10:00:00".parse().expect("a time");
    let mut previous = ChainHash::GENESIS;
    let mut out = Vec::new();
    for (k, &seq) in seqs.iter().enumerate() {
        let head = Head {
            project: "p".into(),
            seq,
            chain: ChainHash([seq as u8; 32]),
        };
        let c = Checkpoint::sign(key, k as u64 + 1, at, previous, vec![head]);
        previous = c.digest();
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads() -> Vec<Head> {
        vec![
            Head {
                project: "a".into(),
                seq: 3,
                chain: ChainHash([1; 32]),
            },
            Head {
                project: "b".into(),
                seq: 5,
                chain: ChainHash([2; 32]),
            },
        ]
    }

    #[test]
    fn a_signed_checkpoint_checks_and_any_change_does_not() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let at = "2026-12-02T10:00:00".parse().unwrap();
        let c = Checkpoint::sign(&key, 1, at, ChainHash::GENESIS, heads());
        assert_eq!(c.events, 8);
        c.check(Some(&key.verifying_key())).unwrap();
        c.check(None).unwrap();
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(c.check(Some(&other.verifying_key())).is_err());
        let mut changed = c.clone();
        changed.events = 9;
        assert!(changed.check(None).is_err());
        let mut changed = c.clone();
        changed.heads[1].seq = 4;
        assert!(changed.check(None).is_err());
        let mut forged = Checkpoint::sign(&other, 1, at, ChainHash::GENESIS, heads());
        forged.key = c.key.clone();
        assert!(forged.check(None).is_err());
        // The export without heads still checks.
        let mut bare = c.clone();
        bare.heads.clear();
        bare.check(Some(&key.verifying_key())).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Checkpoint>(&json).unwrap(), c);
    }

    #[test]
    fn keys_round_trip_through_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.key");
        let (key, made) = load_or_create_key(&path).unwrap();
        assert!(made);
        let (again, made) = load_or_create_key(&path).unwrap();
        assert!(!made);
        assert_eq!(key.to_bytes(), again.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let public = dir.path().join("audit.pub");
        std::fs::write(&public, public_key_pem(&key.verifying_key()).unwrap()).unwrap();
        assert_eq!(load_public_key(&public).unwrap(), key.verifying_key());
        assert_eq!(load_public_key(&path).unwrap(), key.verifying_key());
        std::fs::write(&public, "not a key").unwrap();
        assert!(load_public_key(&public).is_err());
    }
}
