//! Who is calling: bearer tokens mapped to roles by the identity file
//! ([`super::identity`]: hashes only, read again when it changes), checked in one place.
//! Roles: `window`, `department:<id>`, `department:<id>/<reviewer>`, `agent:<id>`,
//! `supervisor`, `analyst`, `admin`.
//!
//! Each gRPC service is wrapped in [`admit`] with the roles it serves; the caller's
//! [`Caller`] goes into the request's extensions, and the handlers pass
//! [`Caller::actor`] to the engine, whose own check keeps a department to its own tasks.

use std::sync::Arc;

use tonic::{Request, Status};

use onewindow_engine::Actor;

/// A caller's role: the engine's [`Actor`], one type for who may call and who acted
/// (`Actor::parse` reads it, `Actor::id` writes it, as the identity file spells it).
pub use onewindow_engine::Actor as Role;

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Its role.
    pub role: Role,
    /// What it authenticated with: a session or a stream asks again whether this still
    /// holds for as long as it lasts.
    pub credential: Credential,
}

pub use super::identity::Credential;

impl Caller {
    /// The engine actor the caller acts as ([`Actor::acting`]).
    pub fn actor(&self) -> Actor {
        self.role.acting()
    }
}

/// Why an identity file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an identity file.
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
}

pub use super::identity::Tokens;

/// Which roles a service admits.
pub type Admit = fn(&Role) -> bool;

/// Any authenticated caller.
pub const ANY: Admit = |_| true;
/// The window, and supervisors and administrators (who read).
pub const WINDOW: Admit = |r| {
    matches!(
        r,
        Role::Window | Role::Agent(_) | Role::Supervisor | Role::Admin
    )
};
/// Departments.
pub const DEPARTMENT: Admit = |r| r.department().is_some();
/// Supervisors and administrators.
pub const SUPERVISOR: Admit = |r| matches!(r, Role::Supervisor | Role::Admin);
/// Analysts, and supervisors and administrators (who may do what analysts do): the
/// plan and the comparison of versions, which cost CPU and tell nothing about a project.
pub const ANALYST: Admit = |r| matches!(r, Role::Analyst | Role::Supervisor | Role::Admin);
/// Administrators (deploy workflows).
pub const ADMIN: Admit = |r| matches!(r, Role::Admin);

/// The token of an `authorization` header's `Bearer` credentials. The scheme is matched
/// without regard to case (RFC 7235 §2.1: `bearer`, `Bearer` and `BEARER` are one).
///
/// # Errors
/// No header, or a header that is not `Bearer <token>`.
pub fn bearer_token(header: Option<&str>) -> Result<&str, Status> {
    let header = header.ok_or_else(|| {
        Status::unauthenticated("no bearer token (`authorization: Bearer <token>`)")
    })?;
    let (scheme, token) = header
        .trim_start()
        .split_once(' ')
        .ok_or_else(|| Status::unauthenticated("authorization must be `Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Status::unauthenticated(
            "authorization must be `Bearer <token>`",
        ));
    }
    Ok(token.trim())
}

/// The caller of an `authorization` header's bearer token (gRPC metadata or an HTTP
/// header), or UNAUTHENTICATED saying what is wrong.
///
/// # Errors
/// No header, a header that is not `Bearer <token>`, or an unknown token.
pub fn authenticate(tokens: &Tokens, header: Option<&str>) -> Result<Caller, Status> {
    let token = bearer_token(header)?;
    tokens
        .identify(token)
        .map(|(role, credential)| Caller { role, credential })
        .ok_or_else(|| Status::unauthenticated("unknown, expired or revoked token"))
}

/// Who a request is: the role of its client certificate when the certificate is mapped
/// ([`super::certs`]; a bearer token sent with it must name the same role), else the
/// caller of its bearer token.
///
/// # Errors
/// UNAUTHENTICATED without a usable certificate or token; PERMISSION_DENIED for a token
/// of another role than the certificate's.
pub fn identify(
    tokens: &Tokens,
    certs: &super::certs::CertRoles,
    leaf: Option<&[u8]>,
    header: Option<&str>,
) -> Result<Caller, Status> {
    match (certs.role_of(leaf)?, header) {
        (Some(by_cert), None) => Ok(Caller {
            role: by_cert,
            credential: Credential::Certificate,
        }),
        (Some(by_cert), header) => {
            // The token must hold too: revoking it ends what it was used for.
            let by_token = authenticate(tokens, header)?;
            if by_token.role != by_cert {
                return Err(Status::permission_denied(format!(
                    "the client certificate is {}'s; a token of {} cannot be used with it",
                    by_cert.id(),
                    by_token.role.id()
                )));
            }
            Ok(by_token)
        }
        (None, header) => authenticate(tokens, header),
    }
}

/// An interceptor that authenticates the caller (client certificate or bearer token,
/// [`identify`]) and admits only `allowed` roles. A failed authentication is counted in
/// `failures` (`onewindow_auth_failures_total`) and logged with the peer's address, so
/// that an operator can alert on token guessing.
pub fn admit(
    tokens: Arc<Tokens>,
    certs: Arc<super::certs::CertRoles>,
    allowed: Admit,
    failures: prometheus_client::metrics::counter::Counter,
    limits: Arc<super::limits::Limits>,
) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
    move |mut req: Request<()>| {
        let header = req
            .metadata()
            .get("authorization")
            .map(|h| h.to_str().unwrap_or(""));
        let peer_certs = req.peer_certs();
        let leaf = peer_certs
            .as_ref()
            .and_then(|c| c.first())
            .map(|c| c.as_ref());
        let caller = match identify(&tokens, &certs, leaf, header) {
            Ok(caller) => caller,
            Err(status) => {
                failures.inc();
                let peer = req
                    .remote_addr()
                    .map_or_else(|| "unknown".to_string(), |a| a.to_string());
                tracing::warn!(peer, "gRPC: authentication failed: {}", status.message());
                return Err(status);
            }
        };
        if !allowed(&caller.role) {
            return Err(Status::permission_denied(format!(
                "{} may not use this service",
                caller.role.id()
            )));
        }
        limits.check(&caller.role)?;
        req.extensions_mut().insert(caller);
        Ok(req)
    }
}
