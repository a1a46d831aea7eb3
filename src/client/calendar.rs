//! `onewindow calendar deploy DIR`: an administrator deploys a new edition of a
//! working-day calendar (the next year's holiday schedule) to a running server; every
//! running task whose due date it changes gets a `due_rederived` event.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use onewindow::server::pb;

use super::{rt, Conn};

/// Working-day calendars on a running server.
#[derive(Subcommand)]
pub enum CalendarCommand {
    /// Deploy a calendar directory (`calendar.yaml` and one file per year): every
    /// workflow counting on a calendar with its id counts on this one, and running tasks'
    /// due dates are derived again.
    Deploy {
        #[command(flatten)]
        conn: Conn,
        /// The calendar directory.
        dir: PathBuf,
        /// Why, for the record (e.g. the notice that published the schedule).
        #[arg(long)]
        reason: String,
    },
}

/// Runs a `calendar` command.
pub fn run(cmd: CalendarCommand) -> Result<ExitCode> {
    let CalendarCommand::Deploy { conn, dir, reason } = cmd;
    // Checked here first, so a mistake is reported with its file before anything is sent.
    onewindow::calendar::Calendar::load_dir(&dir).map_err(|e| anyhow::anyhow!("{e}"))?;
    let files = onewindow::store::restore::calendar_files(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .into_iter()
        .map(|(name, text)| pb::CalendarFile { name, text })
        .collect();
    rt()?.block_on(async move {
        let mut wf = pb::workflows_client::WorkflowsClient::new(conn.channel().await?);
        let out = wf
            .deploy_calendar(conn.request(pb::DeployCalendarRequest { files, reason })?)
            .await?
            .into_inner();
        println!(
            "calendar {}: {} version(s), {} project(s), {} due date(s) derived again",
            out.calendar,
            out.versions.len(),
            out.projects,
            out.rederived
        );
        if !out.failed.is_empty() {
            eprintln!(
                "not reached (deploy again to retry): {}",
                out.failed.join(", ")
            );
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    })
}
