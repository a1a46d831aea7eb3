//! `onewindow audit verify|checkpoint|export|public-key`: the audit trail from the
//! command line. On sled the data directory must not be open by a server (sled holds it
//! alone: stop the server, or verify a copy); on PostgreSQL any node's database will do,
//! while the nodes run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use onewindow::audit::{self, checkpoint, Checkpoint};

use crate::args::{Output, StoreArgs};
use crate::launch::open_store;

/// The audit trail.
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute every project's hash chain and check it against each event's link, the
    /// snapshots, the heads and every signed checkpoint; name the first broken link of
    /// each project. Exit 1 when anything is broken.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// The key checkpoints must be signed by: a public key (PEM) or the server's key
        /// file (default: `audit.key` in the data directory, when it is there).
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// Checkpoints exported earlier (`audit export`), held by someone outside: each
        /// must be in the store unchanged.
        #[arg(long)]
        against: Option<PathBuf>,
        #[command(flatten)]
        out: Output,
    },
    /// The same verification on a running server (`Supervision.VerifyAudit`, a
    /// supervisor's token): for a sled server, without stopping it. Exit 1 when anything
    /// is broken.
    VerifyLive {
        #[command(flatten)]
        conn: crate::client::Conn,
        #[command(flatten)]
        out: Output,
    },
    /// Take a signed checkpoint now (a running server takes one every
    /// `--checkpoint-every`).
    Checkpoint {
        #[command(flatten)]
        store: StoreArgs,
        /// The signing key (made, owner-only, if missing; default: `audit.key` in the
        /// data directory).
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Write the checkpoints for an outside party (JSON, one per line): the signed
    /// statements, without the heads unless asked.
    Export {
        #[command(flatten)]
        store: StoreArgs,
        /// Include every project's head (large; what `verify --against` needs only to
        /// compare, not to check).
        #[arg(long)]
        heads: bool,
    },
    /// The server's public key (SubjectPublicKeyInfo PEM), for whoever checks its
    /// checkpoints and documents.
    PublicKey {
        /// The key file (default: `data/audit.key`).
        #[arg(long, default_value = "data/audit.key")]
        key: PathBuf,
    },
}

fn default_key(store: &StoreArgs, key: Option<PathBuf>) -> PathBuf {
    key.unwrap_or_else(|| store.data.join("audit.key"))
}

/// Runs one audit command.
pub fn run(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify {
            store,
            public_key,
            against,
            out,
        } => {
            let key_file = public_key
                .clone()
                .unwrap_or_else(|| store.data.join("audit.key"));
            let trusted = match (public_key.is_some(), key_file.exists()) {
                (true, _) | (false, true) => Some(checkpoint::load_public_key(&key_file)?),
                (false, false) => None,
            };
            let (opened, _) = open_store(&store, onewindow::store::disk::Flush::Group)?;
            let started = std::time::Instant::now();
            let mut report = audit::verify(&*opened, trusted.as_ref())?;
            if let Some(file) = &against {
                // One that does not decode is already among the report's breaks.
                let stored = audit::stored_checkpoints(&*opened, &mut Vec::new())?;
                report
                    .breaks
                    .extend(compare(file, &stored, trusted.as_ref())?);
            }
            Ok(print_report(&report, started.elapsed().as_secs_f64(), &out))
        }
        AuditCommand::VerifyLive { conn, out } => crate::client::rt()?.block_on(async move {
            use onewindow::server::pb;
            let mut s = pb::supervision_client::SupervisionClient::new(conn.channel().await?);
            let started = std::time::Instant::now();
            let r = s
                .verify_audit(conn.request(pb::VerifyAuditRequest {})?)
                .await?
                .into_inner();
            let report = audit::Report {
                projects: r.projects,
                events: r.events,
                unsealed: r.unsealed,
                checkpoints: r.checkpoints,
                trusted: r.trusted_key,
                breaks: r
                    .breaks
                    .into_iter()
                    .map(|b| audit::Break {
                        project: b.project,
                        seq: b.seq,
                        what: b.what,
                    })
                    .collect(),
                heads: Vec::new(),
            };
            Ok(print_report(&report, started.elapsed().as_secs_f64(), &out))
        }),
        AuditCommand::Checkpoint { store, key } => {
            let path = default_key(&store, key);
            let (key, made) = checkpoint::load_or_create_key(&path)?;
            if made {
                eprintln!("made a new signing key in {}", path.display());
            }
            let (opened, _) = open_store(&store, onewindow::store::disk::Flush::Group)?;
            // The time of record: this machine's clock, to the second.
            let now = chrono::Local::now().naive_local();
            let now = chrono::Timelike::with_nanosecond(&now, 0).unwrap_or(now);
            let taken = audit::take(&*opened, &key, now)?;
            match taken.checkpoint {
                Some(c) => println!(
                    "checkpoint {} at {}: {} projects, {} events, heads {}",
                    c.number, c.at, c.projects, c.events, c.heads_hash
                ),
                None if taken.report.intact() => println!("nothing new since the last checkpoint"),
                None => {
                    // A broken record is never signed: say where it breaks.
                    for b in &taken.report.breaks {
                        println!("broken: {b}");
                    }
                    println!("BROKEN: the record does not verify; no checkpoint taken");
                    return Ok(ExitCode::from(1));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export { store, heads } => {
            let (opened, _) = open_store(&store, onewindow::store::disk::Flush::Group)?;
            for body in opened.checkpoints()? {
                let mut c: Checkpoint =
                    serde_json::from_slice(&body).context("a stored checkpoint does not decode")?;
                if !heads {
                    c.heads.clear();
                }
                println!("{}", serde_json::to_string(&c)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::PublicKey { key } => {
            let key = checkpoint::load_key(&key)?;
            print!("{}", checkpoint::public_key_pem(&key.verifying_key())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Prints a verification's report (text or JSON); exit 1 when anything is broken.
fn print_report(report: &audit::Report, took: f64, out: &Output) -> ExitCode {
    if out.json() {
        let breaks: Vec<serde_json::Value> = report
            .breaks
            .iter()
            .map(|b| serde_json::json!({"project": b.project, "seq": b.seq, "what": b.what}))
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "intact": report.intact(),
                "projects": report.projects,
                "events": report.events,
                "unsealed": report.unsealed,
                "checkpoints": report.checkpoints,
                "trusted_key": report.trusted,
                "breaks": breaks,
                "seconds": took,
            })
        );
    } else {
        for b in &report.breaks {
            println!("broken: {b}");
        }
        println!(
            "{}: {} projects, {} events ({} from before the chain began), {} checkpoints{} in {took:.2} s",
            if report.intact() { "intact" } else { "BROKEN" },
            report.projects,
            report.events,
            report.unsealed,
            report.checkpoints,
            match report.trusted {
                true => " (signatures by the trusted key)",
                false => " (signatures by the key each names: give --public-key to trust one)",
            },
        );
    }
    match report.intact() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    }
}

/// Checkpoints held outside against the store's: each must be there, with the same
/// statement, and signed.
fn compare(
    file: &Path,
    stored: &[Checkpoint],
    trusted: Option<&ed25519_dalek::VerifyingKey>,
) -> Result<Vec<audit::Break>> {
    let text = onewindow::textfile::read(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut breaks = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let held: Checkpoint = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not an exported checkpoint", file.display(), n + 1))?;
        let name = format!("checkpoint {} (held outside)", held.number);
        let mut bad = |what: String| {
            breaks.push(audit::Break {
                project: name.clone(),
                seq: 0,
                what,
            })
        };
        if let Err(e) = held.check(trusted) {
            bad(format!("does not check: {e}"));
        }
        match stored.iter().find(|c| c.number == held.number) {
            None => bad("is not in the store".into()),
            Some(c) if c.digest() != held.digest() => bad(format!(
                "the store's checkpoint {} says something else (heads {} where {} was signed)",
                c.number, c.heads_hash, held.heads_hash
            )),
            Some(_) => {}
        }
    }
    Ok(breaks)
}
