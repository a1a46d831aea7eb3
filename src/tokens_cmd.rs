//! `onewindow tokens add|revoke|list`: the identity file, managed by whoever runs the
//! server (the file is theirs, owner-only); a running server reads each change within a
//! second. A new token is printed once, on stdout, and kept only as its hash.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{NaiveDate, NaiveDateTime};
use clap::Subcommand;
use onewindow::server::identity;

/// The identity file.
#[derive(Subcommand)]
pub enum TokensCommand {
    /// Make a token for a role; the token is printed once (stdout), its hash kept.
    Add {
        /// The identity file.
        #[arg(long, default_value = "data/tokens.yaml")]
        tokens: PathBuf,
        /// `window`, `department:<id>`, `department:<id>/<reviewer>`, `agent:<id>`,
        /// `supervisor`, `analyst` or `admin`.
        #[arg(long)]
        role: String,
        /// When it stops working: `YYYY-MM-DD` (the end of that day) or
        /// `YYYY-MM-DDTHH:MM:SS`.
        #[arg(long, value_parser = expiry)]
        expires: Option<NaiveDateTime>,
    },
    /// Revoke a token by its id (as `list` shows it).
    Revoke {
        /// The identity file.
        #[arg(long, default_value = "data/tokens.yaml")]
        tokens: PathBuf,
        /// The token's id.
        id: String,
    },
    /// The identities: id, role, created, expires, state — never a token.
    List {
        /// The identity file.
        #[arg(long, default_value = "data/tokens.yaml")]
        tokens: PathBuf,
    },
}

fn expiry(s: &str) -> Result<NaiveDateTime, String> {
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S") {
        return Ok(t);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .ok_or_else(|| format!("`{s}`: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS"))
}

/// Runs a `tokens` command.
pub fn run(cmd: TokensCommand) -> Result<ExitCode> {
    let now = onewindow::calendar::city_now();
    match cmd {
        TokensCommand::Add {
            tokens,
            role,
            expires,
        } => {
            let (token, id) = identity::add(&tokens, &role, expires, now)?;
            println!("{token}");
            eprintln!(
                "id {} for {}{} — the token above is shown once; {} keeps only its hash",
                id.id,
                id.role,
                id.expires.map_or(String::new(), |e| format!(", until {e}")),
                tokens.display()
            );
        }
        TokensCommand::Revoke { tokens, id } => {
            let r = identity::revoke(&tokens, &id, now)?;
            eprintln!("revoked {} ({})", r.id, r.role);
        }
        TokensCommand::List { tokens } => {
            let (ids, _) = identity::read(&tokens)?;
            println!(
                "{:<10} {:<32} {:<20} {:<20} state",
                "id", "role", "created", "expires"
            );
            for i in ids {
                let state = match (i.revoked, i.expires) {
                    (Some(r), _) => format!("revoked {r}"),
                    (None, Some(e)) if now >= e => "expired".to_string(),
                    _ => "active".to_string(),
                };
                println!(
                    "{:<10} {:<32} {:<20} {:<20} {state}",
                    i.id,
                    i.role,
                    i.created.to_string(),
                    i.expires.map_or("-".into(), |e| e.to_string()),
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
