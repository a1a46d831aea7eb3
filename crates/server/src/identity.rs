//! The identity file: who may call, as hashes of their bearer tokens, never the tokens.
//!
//! ```yaml
//! # onewindow identities: SHA-256 of each token, never the token itself.
//! tokens:
//!   - id: 7c1e0a9b                  # public: what `tokens list` shows and `revoke` takes
//!     sha256: 3b4c…                 # of the token
//!     role: department:nrp
//!     created: 2026-12-02T09:00:00
//!     expires: 2027-12-31T23:59:59  # optional
//!     revoked: 2026-12-05T10:00:00  # once revoked
//! ```
//!
//! Tokens are 32 random hex digits (128 bits), so a fast hash suffices: nobody can guess
//! one from its hash, and a lookup by hash compares no secret byte by byte. The file is
//! written owner-only (0600, its directory 0700), replaced atomically. The first start
//! writes the development tokens once, in clear, to a separate owner-only
//! `<name>.initial.yaml` for the person who started the server (to copy, then delete).
//! Changes hold an advisory lock on `<name>.lock`, so two at the same instant keep both.
//!
//! A file in the older form `tokens: {token: role}` is still read (tests, existing
//! installations); the first change through `onewindow tokens` rewrites it hashed.
//!
//! [`Tokens`] is the server's view: it looks at the file's size and modification time at
//! most once a second and reads it again when it changed, so tokens added or revoked take
//! effect without a restart; a file that no longer reads keeps the last good table (and
//! says why in the log).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::auth::{Error, Role};

/// How often the server looks at the identity file.
const RECHECK: Duration = Duration::from_secs(1);

/// One identity as the file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Public id.
    pub id: String,
    /// SHA-256 of the token, hex.
    pub sha256: String,
    /// The role, as `Role::parse` reads it.
    pub role: String,
    /// When it was made.
    pub created: NaiveDateTime,
    /// When it stops working, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<NaiveDateTime>,
    /// When it was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<NaiveDateTime>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum AnyFile {
    Hashed { tokens: Vec<Identity> },
    Clear { tokens: BTreeMap<String, String> },
}

#[derive(Serialize)]
struct HashedFile<'a> {
    tokens: &'a [Identity],
}

/// SHA-256 of a token.
fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Bytes as lower-case hex digits (token digests, callback ids, secrets and signatures).
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn invalid(path: &Path, message: String) -> Error {
    Error::Invalid {
        path: path.to_path_buf(),
        message,
    }
}

/// 32 random hex digits from the system's random source.
fn random_hex(bytes: usize) -> Result<String, Error> {
    let urandom = Path::new("/dev/urandom");
    let mut random = std::fs::File::open(urandom).map_err(io(urandom))?;
    let mut buf = vec![0u8; bytes];
    std::io::Read::read_exact(&mut random, &mut buf).map_err(io(urandom))?;
    Ok(hex(&buf))
}

/// Clear tokens and their roles, as an older-form file gives them.
pub type Clear = Vec<(String, Role)>;

/// The identities of a file, in the file's order; a file in the older clear form comes
/// back hashed (its tokens keep working), with the clear tokens beside it.
///
/// # Errors
/// An unreadable file, YAML of neither form, an unknown role, a short clear token.
pub fn read(path: &Path) -> Result<(Vec<Identity>, Clear), Error> {
    let text = onewindow_core::textfile::read(path).map_err(|e| invalid(path, e.reason()))?;
    let file: AnyFile = serde_yaml::from_str(&text).map_err(|e| {
        invalid(
            path,
            format!("not an identity file (`tokens:` a list of id, sha256, role, created): {e}"),
        )
    })?;
    match file {
        AnyFile::Hashed { tokens } => {
            for t in &tokens {
                Role::parse(&t.role)
                    .ok_or_else(|| invalid(path, format!("{}: unknown role `{}`", t.id, t.role)))?;
                if t.sha256.len() != 64 || !t.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(invalid(
                        path,
                        format!("{}: sha256 is not 64 hex digits", t.id),
                    ));
                }
            }
            Ok((tokens, Vec::new()))
        }
        AnyFile::Clear { tokens } => {
            let epoch = NaiveDateTime::default();
            let mut ids = Vec::new();
            let mut clear = Vec::new();
            for (token, role) in tokens {
                let r = Role::parse(&role)
                    .ok_or_else(|| invalid(path, format!("unknown role `{role}`")))?;
                if token.len() < 16 {
                    return Err(invalid(
                        path,
                        "a token must have at least 16 characters".into(),
                    ));
                }
                let sha = hex(&digest(&token));
                ids.push(Identity {
                    id: sha[..8].to_string(),
                    sha256: sha,
                    role,
                    created: epoch,
                    expires: None,
                    revoked: None,
                });
                clear.push((token, r));
            }
            Ok((ids, clear))
        }
    }
}

/// Writes identities owner-only and atomically (a temporary file renamed over the old).
///
/// # Errors
/// The file or its directory cannot be written.
pub fn write(path: &Path, identities: &[Identity]) -> Result<(), Error> {
    let text = format!(
        "# onewindow identities: the SHA-256 of each token, never the token itself.\n# Manage with `onewindow tokens add|revoke|list`; the server reads changes within a second.\n{}",
        serde_yaml::to_string(&HashedFile {
            tokens: identities
        })
        .map_err(|e| invalid(path, e.to_string()))?
    );
    write_private(path, &text)
}

/// The directory of `path`, created owner-only if it does not exist.
fn private_dir(path: &Path) -> Result<&Path, Error> {
    onewindow_core::textfile::private_dir(path).map_err(io(path))
}

/// Writes a file only its owner can read, atomically, creating its directory owner-only.
fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    onewindow_core::textfile::write_private(path, text).map_err(io(path))
}

/// Holds the identity file's lock (`<name>.lock` beside it, an exclusive advisory lock
/// released when dropped), so that two changes at the same instant do not lose one.
fn lock(path: &Path) -> Result<std::fs::File, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    private_dir(path)?;
    let lock = path.with_extension("lock");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock)
        .map_err(io(&lock))?;
    f.lock().map_err(io(&lock))?;
    Ok(f)
}

/// Adds an identity for `role` to the file (created if missing): the new token, shown
/// once, and its public id.
///
/// # Errors
/// An unknown role, an unreadable file, or one that cannot be written.
pub fn add(
    path: &Path,
    role: &str,
    expires: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<(String, Identity), Error> {
    Role::parse(role).ok_or_else(|| invalid(path, format!("unknown role `{role}`")))?;
    let _lock = lock(path)?;
    let mut ids = if path.exists() {
        read(path)?.0
    } else {
        Vec::new()
    };
    let token = random_hex(16)?;
    let sha = hex(&digest(&token));
    let id = loop {
        let id = random_hex(4)?;
        if !ids.iter().any(|i| i.id == id) {
            break id;
        }
    };
    let identity = Identity {
        id,
        sha256: sha,
        role: role.to_string(),
        created: now,
        expires,
        revoked: None,
    };
    ids.push(identity.clone());
    write(path, &ids)?;
    Ok((token, identity))
}

/// Revokes the identity with public id `id` (it stays in the file, marked).
///
/// # Errors
/// No such id, or the file cannot be read or written.
pub fn revoke(path: &Path, id: &str, now: NaiveDateTime) -> Result<Identity, Error> {
    let _lock = lock(path)?;
    let mut ids = read(path)?.0;
    let found = ids
        .iter_mut()
        .find(|i| i.id == id)
        .ok_or_else(|| invalid(path, format!("no identity `{id}`")))?;
    found.revoked.get_or_insert(now);
    let out = found.clone();
    write(path, &ids)?;
    Ok(out)
}

/// One identity the table admits.
#[derive(Debug, Clone)]
struct Entry {
    /// The identity's public id (what `tokens list` shows): the account it is.
    id: Arc<str>,
    role: Role,
    expires: Option<NaiveDateTime>,
    revoked: bool,
}

impl Entry {
    fn holds_at(&self, now: NaiveDateTime) -> bool {
        !self.revoked && self.expires.is_none_or(|x| now < x)
    }
}

/// What a caller proved who they are with, kept by a session or a stream so that it can
/// be asked again whether it still holds: revoking or expiring it ends them at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A bearer token, by its SHA-256 (never the token itself).
    Token {
        /// The token's hash: the key of its identity in the file.
        sha256: [u8; 32],
        /// The identity's public id: the account, for limits and the log.
        identity: Arc<str>,
    },
    /// A client certificate, verified in the TLS handshake of its connection.
    Certificate,
}

impl Credential {
    /// The account a credential is: the identity's public id, or `certificate`.
    pub fn account(&self) -> &str {
        match self {
            Credential::Token { identity, .. } => identity,
            Credential::Certificate => "certificate",
        }
    }
}

/// A table read from the file.
#[derive(Debug, Default)]
struct Table {
    by_hash: HashMap<[u8; 32], Entry>,
    /// Clear tokens of an older-form file (what the load generators read).
    clear: Clear,
}

impl Table {
    fn of(identities: &[Identity], clear: Clear) -> Table {
        let mut by_hash = HashMap::new();
        for i in identities {
            let mut h = [0u8; 32];
            for (k, b) in h.iter_mut().enumerate() {
                *b = u8::from_str_radix(&i.sha256[2 * k..2 * k + 2], 16).unwrap_or(0);
            }
            if let Some(role) = Role::parse(&i.role) {
                by_hash.insert(
                    h,
                    Entry {
                        id: Arc::from(i.id.as_str()),
                        role,
                        expires: i.expires,
                        revoked: i.revoked.is_some(),
                    },
                );
            }
        }
        Table { by_hash, clear }
    }
}

/// The size and modification time of the file when it was read.
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// The server's tokens: token → role, from the identity file, read again when it changes.
#[derive(Debug)]
pub struct Tokens {
    path: Option<PathBuf>,
    table: RwLock<Arc<Table>>,
    seen: Mutex<(Instant, Stamp)>,
}

impl Tokens {
    /// Reads an identity file (either form).
    ///
    /// # Errors
    /// As [`read`].
    pub fn load(path: &Path) -> Result<Tokens, Error> {
        let before = stamp(path);
        let (ids, clear) = read(path)?;
        Ok(Tokens {
            path: Some(path.to_path_buf()),
            table: RwLock::new(Arc::new(Table::of(&ids, clear))),
            seen: Mutex::new((Instant::now(), before)),
        })
    }

    /// First start: one development token per role (the window, each department, a
    /// supervisor, an analyst, an administrator) — hashed into `path`, and in clear,
    /// once, into `<stem>.initial.yaml` beside it, both owner-only. Returns the tokens and
    /// the clear file's path.
    ///
    /// # Errors
    /// The files cannot be written or the system has no random source.
    pub fn generate(
        path: &Path,
        departments: &[String],
        now: NaiveDateTime,
    ) -> Result<(Tokens, PathBuf), Error> {
        let mut roles: Vec<Role> = vec![Role::Window, Role::Supervisor, Role::Analyst, Role::Admin];
        roles.extend(departments.iter().map(|d| Role::Department(d.clone())));
        let mut ids = Vec::new();
        let mut clear = BTreeMap::new();
        for r in &roles {
            let token = random_hex(16)?;
            let sha = hex(&digest(&token));
            ids.push(Identity {
                id: sha[..8].to_string(),
                sha256: sha,
                role: r.id(),
                created: now,
                expires: None,
                revoked: None,
            });
            clear.insert(token, r.id());
        }
        write(path, &ids)?;
        let initial = initial_path(path);
        let text = format!(
            "# Development tokens of the first start, in clear, shown once: copy what you\n# need, then delete this file. The server keeps only their hashes ({}).\n{}",
            path.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned()),
            serde_yaml::to_string(&BTreeMap::from([("tokens", clear)]))
                .map_err(|e| invalid(&initial, e.to_string()))?
        );
        write_private(&initial, &text)?;
        Ok((Tokens::load(path)?, initial))
    }

    /// The table now, read again first if the file changed since it was last looked at
    /// (at most once a second).
    fn table(&self) -> Arc<Table> {
        if let Some(path) = &self.path {
            let due = self
                .seen
                .lock()
                .map(|mut s| {
                    if s.0.elapsed() < RECHECK {
                        return None;
                    }
                    s.0 = Instant::now();
                    let now = stamp(path);
                    (now != s.1).then(|| {
                        s.1 = now;
                    })
                })
                .ok()
                .flatten();
            if due.is_some() {
                match read(path) {
                    Ok((ids, clear)) => {
                        if let Ok(mut t) = self.table.write() {
                            *t = Arc::new(Table::of(&ids, clear));
                        }
                        tracing::info!("identity file {} read again", path.display());
                    }
                    Err(e) => {
                        tracing::warn!("identity file not read again, the last one stays: {e}")
                    }
                }
            }
        }
        self.table.read().map(|t| t.clone()).unwrap_or_default()
    }

    /// The role of a token, if it is known, not revoked and not expired at `now`.
    pub fn role_at(&self, token: &str, now: NaiveDateTime) -> Option<Role> {
        self.identify_at(token, now).map(|(role, _)| role)
    }

    /// The role of a token now (the system's clock).
    pub fn role(&self, token: &str) -> Option<Role> {
        self.role_at(token, Self::now())
    }

    /// The role of a token and the credential it is, if it is known, not revoked and not
    /// expired at `now`. The credential keeps the token's hash, never the token, so that
    /// a session or a stream can ask again, for as long as it lasts, whether it still holds.
    pub fn identify_at(&self, token: &str, now: NaiveDateTime) -> Option<(Role, Credential)> {
        let sha256 = digest(token);
        let table = self.table();
        let e = table.by_hash.get(&sha256)?;
        if !e.holds_at(now) {
            return None;
        }
        Some((
            e.role.clone(),
            Credential::Token {
                sha256,
                identity: e.id.clone(),
            },
        ))
    }

    /// [`Tokens::identify_at`] now (the system's clock).
    pub fn identify(&self, token: &str) -> Option<(Role, Credential)> {
        self.identify_at(token, Self::now())
    }

    /// Whether a credential still holds at `now`: its token is in the file (read again
    /// if it changed), not revoked and not expired. A client certificate was verified in
    /// its connection's handshake and holds for that connection.
    pub fn holds_at(&self, credential: &Credential, now: NaiveDateTime) -> bool {
        match credential {
            Credential::Token { sha256, .. } => self
                .table()
                .by_hash
                .get(sha256)
                .is_some_and(|e| e.holds_at(now)),
            Credential::Certificate => true,
        }
    }

    /// [`Tokens::holds_at`] now (the system's clock).
    pub fn holds(&self, credential: &Credential) -> bool {
        self.holds_at(credential, Self::now())
    }

    /// The clock identities expire by.
    fn now() -> NaiveDateTime {
        onewindow_core::calendar::city_now()
    }

    /// The first clear token of a role, for the load generators: only a file in the
    /// older clear form (or a first start's initial file) has any.
    pub fn token_of(&self, role: &Role) -> Option<String> {
        self.table()
            .clear
            .iter()
            .find(|(_, r)| r == role)
            .map(|(t, _)| t.clone())
    }
}

/// Where the first start writes the development tokens in clear: `<stem>.initial.yaml`.
pub fn initial_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or("tokens".into(), |s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{stem}.initial.yaml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    #[test]
    fn hashed_tokens_are_looked_up_expire_and_are_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.yaml");
        let now = at("2026-12-02T09:00:00");
        let (a, ia) = add(&path, "department:nrp", None, now).unwrap();
        let (b, _) = add(&path, "window", Some(at("2027-01-01T00:00:00")), now).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains(&a) && !text.contains(&b),
            "no token in clear"
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let t = Tokens::load(&path).unwrap();
        assert_eq!(t.role_at(&a, now), Some(Role::Department("nrp".into())));
        assert_eq!(t.role_at(&b, now), Some(Role::Window));
        assert_eq!(t.role_at(&b, at("2027-01-01T00:00:00")), None, "expired");
        assert_eq!(t.role_at("0000000000000000", now), None);
        assert_eq!(
            t.token_of(&Role::Window),
            None,
            "no clear token in a hashed file"
        );
        revoke(&path, &ia.id, now).unwrap();
        let t = Tokens::load(&path).unwrap();
        assert_eq!(t.role_at(&a, now), None, "revoked");
        assert!(revoke(&path, "nope", now).is_err());
    }

    #[test]
    fn an_older_clear_file_still_reads_and_converts_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.yaml");
        let old = "0123456789abcdef0123";
        std::fs::write(&path, format!("tokens:\n  {old}: supervisor\n")).unwrap();
        let t = Tokens::load(&path).unwrap();
        assert_eq!(t.role(old), Some(Role::Supervisor));
        assert_eq!(t.token_of(&Role::Supervisor).as_deref(), Some(old));
        add(&path, "admin", None, at("2026-12-02T09:00:00")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(old), "rewritten hashed");
        assert_eq!(
            Tokens::load(&path).unwrap().role(old),
            Some(Role::Supervisor)
        );
    }

    #[test]
    fn changes_at_the_same_instant_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.yaml");
        let now = at("2026-12-02T09:00:00");
        let tokens: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| add(&path, "window", None, now).unwrap().0))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let t = Tokens::load(&path).unwrap();
        assert_eq!(read(&path).unwrap().0.len(), 8);
        for token in tokens {
            assert_eq!(t.role_at(&token, now), Some(Role::Window));
        }
    }

    #[test]
    fn a_bad_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.yaml");
        for text in [
            "tokens: [{id: a, sha256: xyz, role: window, created: 2026-12-02T09:00:00}]",
            "tokens: [{id: a, sha256: 00, role: king, created: 2026-12-02T09:00:00}]",
            "tokens:\n  short: window\n",
            "nothing: here",
        ] {
            std::fs::write(&path, text).unwrap();
            assert!(Tokens::load(&path).is_err(), "{text}");
        }
    }
}
