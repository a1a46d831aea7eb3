//! Signed documents (电子证照): a permit or opinion an approval issues carries a signature
//! by the issuing department's Ed25519 key over {project, document, number, issued at,
//! department}, in a compact form that fits a QR code on the printed permit, so that a
//! bank or another city can check it offline with the department's public key.
//!
//! The compact form is `OW1.<payload>.<signature>`, both base64url without padding; the
//! payload is the five fields, one per line, in that order (UTF-8). Ed25519 signatures
//! are deterministic: the same document always carries the same seal, so it is computed
//! when shown, never stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::NaiveDateTime;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

/// What a seal vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The project (its code at the window).
    pub project: String,
    /// The document's id in the workflow (e.g. `land_use_permit`).
    pub document: String,
    /// Its number (文号/证号).
    pub number: String,
    /// When it was issued (the time of record of the approval).
    pub issued_at: NaiveDateTime,
    /// The issuing department's id.
    pub department: String,
}

/// Why a seal does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not the compact form (or longer than any seal).
    #[error("not a onewindow document seal (`OW1.<payload>.<signature>`): {0}")]
    Malformed(String),
    /// The signature is not the key's over these fields: changed, or another key.
    #[error("the signature does not match: the document was changed, or another key signed it")]
    Signature,
}

/// The longest seal read: five ids of at most 128 characters and a time fit well within.
pub const MAX_SEAL: usize = 4096;

const PREFIX: &str = "OW1.";

impl Sealed {
    fn payload(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}",
            self.project,
            self.document,
            self.number,
            self.issued_at.format("%Y-%m-%dT%H:%M:%S"),
            self.department
        )
    }

    /// The compact, signed form.
    pub fn seal(&self, key: &SigningKey) -> String {
        let payload = self.payload();
        let signature = key.sign(payload.as_bytes());
        format!(
            "{PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(payload.as_bytes()),
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    /// Reads a seal's fields without checking its signature (to say whose key to check
    /// it with).
    ///
    /// # Errors
    /// [`Error::Malformed`].
    pub fn read(seal: &str) -> Result<(Sealed, [u8; 64], Vec<u8>), Error> {
        let bad = |m: &str| Error::Malformed(m.to_string());
        if seal.len() > MAX_SEAL {
            return Err(bad("too long"));
        }
        let rest = seal
            .trim()
            .strip_prefix(PREFIX)
            .ok_or_else(|| bad("no `OW1.` prefix"))?;
        let (payload, signature) = rest.split_once('.').ok_or_else(|| bad("no signature"))?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| bad("the payload is not base64url"))?;
        let signature: [u8; 64] = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| bad("the signature is not 64 bytes of base64url"))?;
        let text = std::str::from_utf8(&payload).map_err(|_| bad("the payload is not UTF-8"))?;
        let fields: Vec<&str> = text.split('\n').collect();
        let [project, document, number, at, department] = fields[..] else {
            return Err(bad("the payload is not five lines"));
        };
        let issued_at = NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S")
            .map_err(|_| bad("the issue time is not YYYY-MM-DDTHH:MM:SS"))?;
        let sealed = Sealed {
            project: project.to_string(),
            document: document.to_string(),
            number: number.to_string(),
            issued_at,
            department: department.to_string(),
        };
        Ok((sealed, signature, payload))
    }

    /// Checks a seal with the issuing department's public key; its fields when it holds.
    ///
    /// # Errors
    /// [`Error::Malformed`] or [`Error::Signature`].
    pub fn verify(seal: &str, key: &VerifyingKey) -> Result<Sealed, Error> {
        let (sealed, signature, payload) = Sealed::read(seal)?;
        key.verify(&payload, &ed25519_dalek::Signature::from_bytes(&signature))
            .map_err(|_| Error::Signature)?;
        Ok(sealed)
    }
}

/// The departments' signing keys, one file each in a directory (owner-only, made when a
/// department first signs); several nodes share the directory, as they share the tokens.
#[derive(Debug)]
pub struct Keys {
    dir: std::path::PathBuf,
    loaded: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<SigningKey>>>,
}

impl Keys {
    /// The keys in `dir`.
    pub fn new(dir: std::path::PathBuf) -> Keys {
        Keys {
            dir,
            loaded: Default::default(),
        }
    }

    /// Where a department's key is: `<id>.key`, the id hex-encoded when it holds anything
    /// but letters, digits, `-` and `_` (an id may hold `/`, which must not make a path).
    pub fn path(dir: &std::path::Path, department: &str) -> std::path::PathBuf {
        let plain = !department.is_empty()
            && department
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let name = match plain {
            true => department.to_string(),
            false => format!(
                "x{}",
                department
                    .bytes()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            ),
        };
        dir.join(format!("{name}.key"))
    }

    /// A department's key, made if it has none yet.
    ///
    /// # Errors
    /// The key file cannot be read or written.
    pub fn key(
        &self,
        department: &str,
    ) -> Result<std::sync::Arc<SigningKey>, super::checkpoint::Error> {
        let mut loaded = self
            .loaded
            .lock()
            .map_err(|_| super::checkpoint::Error::Key("the key cache is unusable".into()))?;
        if let Some(k) = loaded.get(department) {
            return Ok(k.clone());
        }
        let path = Keys::path(&self.dir, department);
        let (key, made) = super::checkpoint::load_or_create_key(&path)?;
        if made {
            tracing::info!(
                department,
                "made the department's document signing key {}",
                path.display()
            );
        }
        let key = std::sync::Arc::new(key);
        loaded.insert(department.to_string(), key.clone());
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permit() -> Sealed {
        Sealed {
            project: "2026-0412".into(),
            document: "land_use_permit".into(),
            number: "地字第440300202600123号".into(),
            issued_at: "2026-11-30T15:04:05".parse().unwrap(),
            department: "nrp".into(),
        }
    }

    #[test]
    fn a_seal_checks_with_its_key_and_not_otherwise() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let seal = permit().seal(&key);
        assert!(seal.starts_with("OW1.") && seal.len() < 300, "{seal}");
        assert_eq!(
            Sealed::verify(&seal, &key.verifying_key()).unwrap(),
            permit()
        );
        let other = SigningKey::from_bytes(&[6; 32]);
        assert_eq!(
            Sealed::verify(&seal, &other.verifying_key()),
            Err(Error::Signature)
        );
        // A changed field (here the number) under the original signature.
        let mut changed = permit();
        changed.number = "地字第440300202600124号".into();
        let forged = format!(
            "OW1.{}.{}",
            changed.seal(&key).split('.').nth(1).unwrap(),
            seal.split('.').nth(2).unwrap()
        );
        assert_eq!(
            Sealed::verify(&forged, &key.verifying_key()),
            Err(Error::Signature)
        );
        for bad in ["", "OW1.", "OW1.x.y", "OW2.a.b", &"A".repeat(MAX_SEAL + 1)] {
            assert!(
                matches!(
                    Sealed::verify(bad, &key.verifying_key()),
                    Err(Error::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn key_files_never_leave_their_directory() {
        let dir = std::path::Path::new("keys");
        assert_eq!(Keys::path(dir, "nrp"), dir.join("nrp.key"));
        assert_eq!(Keys::path(dir, "../x"), dir.join("x2e2e2f78.key"));
    }
}
