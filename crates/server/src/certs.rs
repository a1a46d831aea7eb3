//! Client certificates for department systems: with `serve --tls-client-ca FILE` every
//! connection must present a certificate that chains to that CA and is within its
//! validity (rustls refuses the handshake otherwise), and a configured mapping turns a
//! certificate's subject common name or one of its DNS names into a role — one department
//! per certificate, as government inter-system links are usually set up.
//!
//! A request on a mapped certificate acts as the certificate's role; a bearer token sent
//! with it must name the same role (a department's certificate cannot carry another's
//! token). A certificate that is not in the mapping (a window terminal's, say) still
//! needs a bearer token: tokens remain possible where the mapping does not speak.
//!
//! The mapping file (YAML), one entry per certificate name:
//!
//! ```yaml
//! certificates:
//!   - name: nrp-gateway.gov.example     # the subject's CN, or a DNS subjectAltName
//!     role: department:nrp
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use tonic::Status;

use super::auth::{Error, Role};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    certificates: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    role: String,
}

/// Certificate names and the roles they act as.
#[derive(Debug, Default, Clone)]
pub struct CertRoles(HashMap<String, Role>);

impl CertRoles {
    /// No mapping: every request authenticates with its bearer token.
    pub fn none() -> CertRoles {
        CertRoles::default()
    }

    /// The mapping in a YAML file (see the module's documentation).
    ///
    /// # Errors
    /// The file cannot be read, is not the format, names a role that does not parse, or
    /// names one certificate twice.
    pub fn load(path: &Path) -> Result<CertRoles, Error> {
        let bad = |message: String| Error::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let text = onewindow_core::textfile::read(path).map_err(|e| bad(e.to_string()))?;
        let file: File = serde_yaml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let mut map = HashMap::new();
        for (k, e) in file.certificates.into_iter().enumerate() {
            let role = Role::parse(&e.role)
                .ok_or_else(|| bad(format!("certificates[{k}]: `{}` is not a role", e.role)))?;
            if e.name.is_empty() || map.insert(e.name.clone(), role).is_some() {
                return Err(bad(format!(
                    "certificates[{k}]: the name `{}` is empty or given twice",
                    e.name
                )));
            }
        }
        Ok(CertRoles(map))
    }

    /// Whether any certificate is mapped.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The role of the client's certificate (its first, the leaf), if it is mapped: by
    /// the subject's common name, else by the first of its DNS names that is.
    ///
    /// # Errors
    /// UNAUTHENTICATED for a certificate that does not parse (rustls has verified it,
    /// so this does not happen with a well-formed chain).
    pub fn role_of(&self, leaf: Option<&[u8]>) -> Result<Option<Role>, Status> {
        let Some(der) = leaf.filter(|_| !self.is_empty()) else {
            return Ok(None);
        };
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| Status::unauthenticated(format!("client certificate: {e}")))?;
        let cn = cert
            .subject()
            .iter_common_name()
            .filter_map(|n| n.as_str().ok())
            .find_map(|n| self.0.get(n));
        if let Some(r) = cn {
            return Ok(Some(r.clone()));
        }
        let san = cert.subject_alternative_name().ok().flatten();
        let dns = san.iter().flat_map(|s| s.value.general_names.iter());
        for name in dns {
            if let x509_parser::extensions::GeneralName::DNSName(d) = name {
                if let Some(r) = self.0.get(*d) {
                    return Ok(Some(r.clone()));
                }
            }
        }
        Ok(None)
    }
}
