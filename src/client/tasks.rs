//! `onewindow tasks …`: a department's queue — list it — and every verb a department
//! has (claim, approve, reject, ask for a supplement, extend, special procedures, sign a
//! step, transfer, delegate, add a signer, recall, return), one subcommand per row of
//! the server's verb table ([`super::verbs`]), each with only the flags it uses.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use onewindow::server::pb;

use super::verbs::{Department, VerbCommand};
use super::{rt, Conn};

/// A department's tasks.
#[derive(Subcommand)]
pub enum TasksCommand {
    /// The caller's department's open tasks (ready, claimed, suspended), every page.
    List {
        #[command(flatten)]
        conn: Conn,
        /// Only tasks in this state (`ready`, `claimed`, `suspended`, `approved`, …).
        #[arg(long, default_value = "")]
        state: String,
    },
    /// The department's verbs, one subcommand each, from the server's table.
    #[command(flatten)]
    Verb(VerbCommand<Department>),
}

/// Runs a `tasks` command.
pub fn run(cmd: TasksCommand) -> Result<ExitCode> {
    rt()?.block_on(async move {
        match cmd {
            TasksCommand::List { conn, state } => list(&conn, state).await,
            TasksCommand::Verb(verb) => {
                verb.run().await?;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

/// Every page of the department's tasks, in order.
async fn list(conn: &Conn, state: String) -> Result<ExitCode> {
    let mut d = pb::department_client::DepartmentClient::new(conn.channel().await?);
    let mut page_token = String::new();
    loop {
        let req = pb::ListTasksRequest {
            state: state.clone(),
            page_size: 100,
            page_token,
        };
        let list = d.list_tasks(conn.request(req)?).await?.into_inner();
        for t in list.tasks {
            println!("{:<12} {:<6} {:<10} {}", t.project, t.item, t.state, t.due);
        }
        if list.next_page_token.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
        page_token = list.next_page_token;
    }
}
