//! `onewindow callbacks`: a department (or an administrator for it) registers the URL its
//! system is told at, lists its callbacks with how delivery goes, looks at and redelivers
//! dead letters, removes a callback — through `onewindow.v1.Callbacks`, as any system
//! would.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use onewindow::server::pb;

use super::{rt, Conn};

/// Callbacks (webhooks) on a running server.
#[derive(Subcommand)]
pub enum CallbacksCommand {
    /// Register a URL: every event the department sees is POSTed there, signed. Prints
    /// the secret once: the receiver verifies signatures with it.
    Register {
        #[command(flatten)]
        conn: Conn,
        /// Where to POST (`https://…`, a host the operator allows).
        url: String,
        /// The department (administrators; a department's token registers its own).
        #[arg(long, default_value = "")]
        department: String,
        /// Only these event types (repeat; default every type).
        #[arg(long = "type", value_name = "TYPE")]
        types: Vec<String>,
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// The callbacks (of one department, for an administrator) and how delivery goes.
    List {
        #[command(flatten)]
        conn: Conn,
        /// One department (administrators).
        #[arg(long, default_value = "")]
        department: String,
    },
    /// Remove a callback: nothing more is sent to it.
    Remove {
        #[command(flatten)]
        conn: Conn,
        /// The callback's id (`cb-…`).
        id: String,
    },
    /// What a callback could not deliver after every attempt.
    DeadLetters {
        #[command(flatten)]
        conn: Conn,
        /// The callback's id.
        id: String,
    },
    /// Deliver dead letters again (every one, or those named).
    Redeliver {
        #[command(flatten)]
        conn: Conn,
        /// The callback's id.
        id: String,
        /// Letters to send again (`<project>:<first>`; default every one).
        letters: Vec<String>,
    },
}

fn client(
    channel: tonic::transport::Channel,
) -> pb::callbacks_client::CallbacksClient<tonic::transport::Channel> {
    pb::callbacks_client::CallbacksClient::new(channel)
}

/// Runs a `callbacks` command.
pub fn run(cmd: CallbacksCommand) -> Result<ExitCode> {
    rt()?.block_on(async move {
        match cmd {
            CallbacksCommand::Register {
                conn,
                url,
                department,
                types,
                description,
            } => {
                let c = client(conn.channel().await?)
                    .register(conn.request(pb::RegisterCallbackRequest {
                        department,
                        url,
                        types,
                        description,
                    })?)
                    .await?
                    .into_inner();
                println!("registered {} for {}: {}", c.id, c.department, c.url);
                println!("secret (shown once; the receiver verifies signatures with it):");
                println!("{}", c.secret);
            }
            CallbacksCommand::List { conn, department } => {
                let list = client(conn.channel().await?)
                    .list(conn.request(pb::ListCallbacksRequest { department })?)
                    .await?
                    .into_inner();
                if list.callbacks.is_empty() {
                    println!("no callbacks");
                }
                for c in list.callbacks {
                    let types = if c.types.is_empty() {
                        "every event".to_string()
                    } else {
                        c.types.join(",")
                    };
                    println!(
                        "{}  {}  {}  ({types}; by {} at {})",
                        c.id, c.department, c.url, c.created_by, c.created_at
                    );
                    println!(
                        "    pending {}, dead letters {}, last delivered {}{}",
                        c.pending,
                        c.dead_letters,
                        if c.last_delivered_at.is_empty() {
                            "-"
                        } else {
                            &c.last_delivered_at
                        },
                        if c.last_error.is_empty() {
                            String::new()
                        } else {
                            format!(", {} failure(s) in a row: {}", c.failures, c.last_error)
                        }
                    );
                }
            }
            CallbacksCommand::Remove { conn, id } => {
                client(conn.channel().await?)
                    .remove(conn.request(pb::CallbackId { id: id.clone() })?)
                    .await?;
                println!("removed {id}");
            }
            CallbacksCommand::DeadLetters { conn, id } => {
                let out = client(conn.channel().await?)
                    .dead_letters(conn.request(pb::CallbackId { id })?)
                    .await?
                    .into_inner();
                if out.letters.is_empty() {
                    println!("no dead letters");
                }
                for d in out.letters {
                    println!(
                        "{}  events {}..={}  {} attempt(s), given up at {}: {}",
                        d.id, d.first, d.last, d.attempts, d.failed_at, d.error
                    );
                }
            }
            CallbacksCommand::Redeliver { conn, id, letters } => {
                let out = client(conn.channel().await?)
                    .redeliver(conn.request(pb::RedeliverRequest {
                        id: id.clone(),
                        letters,
                    })?)
                    .await?
                    .into_inner();
                println!(
                    "{} letter(s) of {id} queued: each goes once its receiver takes it (`callbacks dead-letters` shows what is left)",
                    out.queued
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
