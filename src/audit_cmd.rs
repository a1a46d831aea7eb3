//! `onewindow audit verify|checkpoint|export|public-key`: the audit trail from the
//! command line. On sled the data directory must not be open by a server (sled holds it
//! alone: stop the server, or ask it with `verify-live`); `verify` and `export` read a
//! private copy of it and never write the directory itself (`store::readonly`). On
//! PostgreSQL any node's database will do, while the nodes run.

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
        /// What a node remembers of the newest checkpoint it signed or saw (default:
        /// `audit.seen` in the data directory, when it is there): the store must still
        /// hold it.
        #[arg(long)]
        witness: Option<PathBuf>,
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
            witness,
            out,
        } => {
            let key_file = public_key
                .clone()
                .unwrap_or_else(|| store.data.join("audit.key"));
            let trusted = match (public_key.is_some(), key_file.exists()) {
                (true, _) | (false, true) => Some(checkpoint::load_public_key(&key_file)?),
                (false, false) => None,
            };
            let held = match &against {
                Some(file) => read_held(file)?,
                None => Vec::new(),
            };
            let opened = open_read_only(&store)?;
            let started = std::time::Instant::now();
            let mut report = audit::verify_against(&*opened, trusted.as_ref(), &held)?;
            // One that does not decode is already among the report's breaks.
            let stored = audit::stored_checkpoints(&*opened, &mut Vec::new())?;
            if against.is_some() {
                report
                    .breaks
                    .extend(compare(&held, &stored, trusted.as_ref()));
            }
            let witness = witness.map_or_else(
                || audit::Witness::beside(&store.data.join("audit.key")),
                |file| audit::Witness::at(&file),
            );
            report.breaks.extend(witness.check(&stored)?);
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
            let now = onewindow::calendar::city_now();
            let now = chrono::Timelike::with_nanosecond(&now, 0).unwrap_or(now);
            let taken = audit::take(&*opened, &key, now, Some(&audit::Witness::beside(&path)))?;
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
            let opened = open_read_only(&store)?;
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

/// The store, for reading only: on sled a private copy (the directory is not written),
/// on PostgreSQL the database itself.
fn open_read_only(store: &StoreArgs) -> Result<std::sync::Arc<dyn onewindow::store::Store>> {
    match &store.store {
        Some(_) => Ok(open_store(store, onewindow::store::disk::Flush::Group)?.0),
        None => Ok(std::sync::Arc::new(
            onewindow::store::readonly::open_read_only(&store.data)
                .with_context(|| format!("cannot read {}", store.describe()))?,
        )),
    }
}

/// The checkpoints exported earlier (`audit export`, one JSON statement per line).
fn read_held(file: &Path) -> Result<Vec<Checkpoint>> {
    let text = onewindow::textfile::read(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).with_context(|| {
                format!("{}:{}: not an exported checkpoint", file.display(), n + 1)
            })
        })
        .collect()
}

/// Checkpoints held outside against the store's: each must be there, with the same
/// statement, and signed. (Their heads, when exported with them, were checked against
/// every project's log by `verify_against`, which names the projects.)
fn compare(
    held: &[Checkpoint],
    stored: &[Checkpoint],
    trusted: Option<&ed25519_dalek::VerifyingKey>,
) -> Vec<audit::Break> {
    let mut breaks = Vec::new();
    for held in held {
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
    breaks
}
