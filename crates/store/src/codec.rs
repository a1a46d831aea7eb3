//! The byte encoding of everything stored: a one-byte format tag, then the payload.
//!
//! | tag | format | written by |
//! | --- | --- | --- |
//! | 1 | JSON (serde_json) | the first encoding, kept readable forever |
//! | 2 | MessagePack with field names (rmp-serde) | the current encoding |
//!
//! Readers accept every tag ever written; writers use [`CURRENT`]. Field names are kept
//! in both, so adding a field with a default never breaks reading old data, and the
//! envelope's own `v` versions the meaning of events independently of their bytes.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::Error;

/// JSON.
pub const JSON: u8 = 1;
/// MessagePack with field names.
pub const MSGPACK: u8 = 2;
/// What writers use.
pub const CURRENT: u8 = MSGPACK;

/// The deepest nesting a record may have when decoded: ours nest under ten levels.
pub const MAX_DEPTH: usize = 64;

/// Encodes with the current format.
///
/// # Errors
/// A value serde cannot encode (a bug, reported rather than panicking).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
    encode_as(CURRENT, value)
}

/// Encodes with a given format (tests write old formats with it).
///
/// # Errors
/// An unknown format or a value that cannot be encoded.
pub fn encode_as<T: Serialize>(format: u8, value: &T) -> Result<Vec<u8>, Error> {
    let mut out = vec![format];
    match format {
        JSON => {
            serde_json::to_writer(&mut out, value).map_err(|e| Error::Corrupt(e.to_string()))?
        }
        MSGPACK => rmp_serde::encode::write_named(&mut out, value)
            .map_err(|e| Error::Corrupt(e.to_string()))?,
        other => return Err(Error::Corrupt(format!("no encoding format {other}"))),
    }
    Ok(out)
}

/// Decodes bytes written in any known format.
///
/// # Errors
/// [`Error::Corrupt`] for empty bytes, an unknown tag or a payload that does not decode.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let (tag, payload) = bytes
        .split_first()
        .ok_or_else(|| Error::Corrupt("empty record".into()))?;
    match *tag {
        JSON => {
            serde_json::from_slice(payload).map_err(|e| Error::Corrupt(format!("JSON record: {e}")))
        }
        MSGPACK => {
            // Records nest a handful of levels; rmp-serde's default of 1024 lets damaged
            // bytes recurse deep enough to overflow a thread's stack (found by fuzzing).
            let mut de = rmp_serde::Deserializer::from_read_ref(payload);
            de.set_max_depth(MAX_DEPTH);
            T::deserialize(&mut de).map_err(|e| Error::Corrupt(format!("MessagePack record: {e}")))
        }
        other => Err(Error::Corrupt(format!(
            "unknown record format {other} (written by a newer onewindow?)"
        ))),
    }
}
