//! The signature of a delivery, so that a receiver knows it came from this city's
//! platform and was not changed or replayed.
//!
//! The scheme (docs/integration.md shows a receiver verifying it):
//! - `Onewindow-Timestamp: <unix seconds>` — when the delivery was signed;
//! - `Onewindow-Signature: v1=<hex>` — HMAC-SHA256, keyed with the subscription's secret
//!   (the string as shown at registration, as UTF-8 bytes), over
//!   `<timestamp>.<body>`: the timestamp's decimal digits, a full stop, the raw body.
//!
//! A receiver recomputes the HMAC, compares in constant time, and refuses a timestamp
//! more than [`TOLERANCE_SECS`] from its own clock: a captured delivery sent again later
//! fails, and changing its timestamp breaks the signature. Deliveries also carry event
//! ids, so a replay within the tolerance is a duplicate the receiver already drops.
//! `v1=` names the scheme so that a later one can be sent beside it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a delivery's timestamp may be from the receiver's clock.
pub const TOLERANCE_SECS: i64 = 300;

/// The signature header's value for `body` signed at `timestamp` (Unix seconds).
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", crate::identity::hex(&mac.finalize().into_bytes()))
}

/// Why a delivery is not to be believed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// A header is missing or not in the scheme's form.
    #[error("malformed signature headers")]
    Malformed,
    /// The timestamp is too far from the receiver's clock (a replay, or a clock off).
    #[error("timestamp outside the tolerance")]
    Stale,
    /// No `v1` signature matches: the body or the timestamp was changed, or the secret is
    /// another's.
    #[error("signature does not match")]
    Mismatch,
}

/// Verifies a delivery as a receiver does: the headers' values, the raw body, the
/// receiver's clock (Unix seconds).
///
/// # Errors
/// [`Rejected`] saying why.
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), Rejected> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| Rejected::Malformed)?;
    if (now - ts).abs() > TOLERANCE_SECS {
        return Err(Rejected::Stale);
    }
    let mut any = false;
    for part in signature_header.split(',') {
        let Some(hex) = part.trim().strip_prefix("v1=") else {
            continue;
        };
        any = true;
        let Some(given) = decode_hex(hex) else {
            continue;
        };
        let mut mac = mac(secret);
        mac.update(ts.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&given).is_ok() {
            return Ok(());
        }
    }
    Err(if any {
        Rejected::Mismatch
    } else {
        Rejected::Malformed
    })
}

fn mac(secret: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length")
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_nothing_else_does() {
        let body = br#"{"events":[]}"#;
        let sig = signature("s3cret", 1_700_000_000, body);
        assert!(sig.starts_with("v1=") && sig.len() == 67, "{sig}");
        assert_eq!(
            verify("s3cret", "1700000000", &sig, body, 1_700_000_100),
            Ok(())
        );
        // Tampered body, timestamp or key; a replay later; garbage.
        assert_eq!(
            verify(
                "s3cret",
                "1700000000",
                &sig,
                br#"{"events":[1]}"#,
                1_700_000_000
            ),
            Err(Rejected::Mismatch)
        );
        assert_eq!(
            verify("s3cret", "1700000001", &sig, body, 1_700_000_000),
            Err(Rejected::Mismatch)
        );
        assert_eq!(
            verify("other", "1700000000", &sig, body, 1_700_000_000),
            Err(Rejected::Mismatch)
        );
        assert_eq!(
            verify("s3cret", "1700000000", &sig, body, 1_700_000_301),
            Err(Rejected::Stale)
        );
        assert_eq!(
            verify("s3cret", "x", &sig, body, 0),
            Err(Rejected::Malformed)
        );
        assert_eq!(
            verify("s3cret", "1700000000", "sha1=00", body, 1_700_000_000),
            Err(Rejected::Malformed)
        );
        // A second scheme's value beside ours is passed over.
        let both = format!("v0=zz,{sig}");
        assert_eq!(
            verify("s3cret", "1700000000", &both, body, 1_700_000_000),
            Ok(())
        );
    }
}
