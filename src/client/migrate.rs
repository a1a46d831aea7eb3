//! `onewindow migrate preview|apply`: an administrator moves running projects to another
//! version of their workflow — first what it would change for each, then one project at
//! a time.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use onewindow::server::pb;

use super::{print_response, rt, Conn, RequestId};

/// Moving running projects between versions.
#[derive(Subcommand)]
pub enum MigrateCommand {
    /// What moving projects to a version would change, project by project (nothing is
    /// written).
    Preview {
        #[command(flatten)]
        conn: Conn,
        /// The version to move to.
        #[arg(long)]
        version: String,
        /// The projects (comma-separated); every active project of the workflow on
        /// another version when left out.
        #[arg(long, value_delimiter = ',')]
        projects: Vec<String>,
    },
    /// Move one project to a version, on record.
    Apply {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        request_id: RequestId,
        /// The project.
        #[arg(long)]
        project: String,
        /// The version to move to.
        #[arg(long)]
        version: String,
    },
}

/// Runs a `migrate` command.
pub fn run(cmd: MigrateCommand) -> Result<ExitCode> {
    rt()?.block_on(async move {
        match cmd {
            MigrateCommand::Preview {
                conn,
                version,
                projects,
            } => {
                let mut wf = pb::workflows_client::WorkflowsClient::new(conn.channel().await?);
                let out = wf
                    .preview_migration(
                        conn.request(pb::PreviewMigrationRequest { version, projects })?,
                    )
                    .await?
                    .into_inner();
                for p in &out.projects {
                    if p.refused.is_empty() {
                        println!("{} ({}):", p.project, p.from);
                        for e in &p.events {
                            println!("  {e}");
                        }
                    } else {
                        println!("{} ({}): cannot move — {}", p.project, p.from, p.refused);
                    }
                }
                if out.truncated {
                    eprintln!("more projects than one preview holds: name them with --projects");
                }
            }
            MigrateCommand::Apply {
                conn,
                request_id,
                project,
                version,
            } => {
                let mut wf = pb::workflows_client::WorkflowsClient::new(conn.channel().await?);
                let req = pb::MigrateRequest {
                    request_id: request_id.take(),
                    project,
                    version,
                    at: String::new(),
                };
                print_response(&wf.migrate(conn.request(req)?).await?.into_inner());
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
