//! The audit chain's hash value, as events carry it (`Envelope::prev`) and projects keep
//! it (`Project::chain`). The engine only holds it: the durable store computes it
//! (`store::chain`), so the engine's hot path never hashes.

use serde::{Deserialize, Serialize};

/// A SHA-256 hash in the audit chain. Stored as 32 raw bytes (MessagePack `bin`), shown
/// and written in JSON as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The hash before a project's first event: 32 zero bytes.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// Lower-case hex.
    pub fn hex(&self) -> String {
        use std::fmt::Write;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// From 64 hex digits.
    pub fn from_hex(text: &str) -> Option<ChainHash> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (k, pair) in bytes.chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).ok()?;
            out[k] = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(ChainHash(out))
    }
}

impl std::fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.hex())
    }
}

impl std::fmt::Display for ChainHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

impl Serialize for ChainHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.hex())
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for ChainHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ChainHash, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = ChainHash;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a SHA-256 hash (32 bytes or 64 hex digits)")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ChainHash, E> {
                <[u8; 32]>::try_from(v)
                    .map(ChainHash)
                    .map_err(|_| E::invalid_length(v.len(), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ChainHash, E> {
                ChainHash::from_hex(v)
                    .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
            }
        }
        if d.is_human_readable() {
            d.deserialize_str(Visit)
        } else {
            d.deserialize_bytes(Visit)
        }
    }
}
