//! The development tokens every test server is given, one per role, and the request
//! that carries one.

use std::path::PathBuf;

use tonic::Request;

/// The development tokens `write_tokens` gives each role (the window, two of the
/// parallel workflow's departments, the supervisor, the administrator, the analyst, the
/// complaint workflow's two departments); this one the window's.
pub const WINDOW: &str = "0000000000000000000000000000window";

/// The development and reform commission (parallel workflow).
pub const NDRC: &str = "00000000000000000000000000000ndrc";

/// Natural resources and planning (parallel workflow).
pub const NRP: &str = "000000000000000000000000000000nrp";

/// The supervisor.
pub const SUPERVISOR: &str = "000000000000000000000000supervisor";

/// The administrator.
pub const ADMIN: &str = "0000000000000000000000000000admin";

/// The analyst.
pub const ANALYST: &str = "00000000000000000000000000analyst";

/// The complaint workflow's bureau.
pub const BUREAU: &str = "0000000000000000000000000000bureau";

/// The complaint workflow's respondent.
pub const RESPONDENT: &str = "000000000000000000000000respondent";

/// The parallel construction workflow's departments, each with a token `dept-<id>-…`.
pub const DEPARTMENTS: [&str; 8] = [
    "ndrc",
    "nrp",
    "registry",
    "env",
    "water",
    "civil_defence",
    "drawing_review",
    "housing",
];

/// The token of department `d` (one of [`DEPARTMENTS`]).
pub fn dept_token(d: &str) -> String {
    format!("dept-{d}-00000000000000000000")
}

/// Reviewers of the office workflow's departments (`department:<d>/<r>`), each with a
/// token `rev-<d>-<r>-…` ([`reviewer_token`]).
pub const REVIEWERS: [(&str, &str); 6] = [
    ("plan", "zhang"),
    ("plan", "li"),
    ("plan", "wang"),
    ("review", "a"),
    ("review", "b"),
    ("housing", "zhou"),
];

/// Agents (代办员), each with a token `agent-<id>-…` ([`agent_token`]).
pub const AGENTS: [&str; 2] = ["li", "zhao"];

/// The token of reviewer `r` of department `d` (one of [`REVIEWERS`]).
pub fn reviewer_token(d: &str, r: &str) -> String {
    format!("rev-{d}-{r}-0000000000000000000")
}

/// The token of agent `a` (one of [`AGENTS`]).
pub fn agent_token(a: &str) -> String {
    format!("agent-{a}-0000000000000000000")
}

/// A gRPC request carrying `token` as its bearer.
pub fn with<T>(token: &str, msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

/// Writes the tests' tokens file (one fixed token per role) into `dir`.
pub fn write_tokens(dir: &std::path::Path) -> PathBuf {
    let tokens = dir.join("tokens.yaml");
    let mut text = format!("tokens:\n  {WINDOW}: window\n  {NDRC}: department:ndrc\n  {NRP}: department:nrp\n  {SUPERVISOR}: supervisor\n  {ADMIN}: admin\n  {ANALYST}: analyst\n  {BUREAU}: department:supervision\n  {RESPONDENT}: department:respondent\n");
    for d in DEPARTMENTS.iter().chain(&["plan", "review", "housing"]) {
        text.push_str(&format!("  {}: department:{d}\n", dept_token(d)));
    }
    for (d, r) in REVIEWERS {
        text.push_str(&format!("  {}: department:{d}/{r}\n", reviewer_token(d, r)));
    }
    for a in AGENTS {
        text.push_str(&format!("  {}: agent:{a}\n", agent_token(a)));
    }
    std::fs::write(&tokens, text).unwrap();
    tokens
}
