//! `onewindow tasks …`: a department's queue — list it, claim, approve, reject, ask for a
//! supplement. Each verb has its own arguments, so each offers only what it uses.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use onewindow::server::pb;

use super::{print_response, rt, Conn, RequestId};

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
    /// Take a ready task (签收).
    Claim(ItemArgs),
    /// Approve a task, issuing the documents it produces.
    Approve(ItemArgs),
    /// Reject a task with a reason.
    Reject {
        #[command(flatten)]
        task: ItemArgs,
        /// Why (required: the applicant is told).
        #[arg(long)]
        reason: String,
    },
    /// Ask the applicant for a supplement (补正); the task's clock stops.
    Supplement {
        #[command(flatten)]
        task: ItemArgs,
        /// Material ids needed, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        needed: Vec<String>,
        /// An explanation for the applicant (`--reason` is accepted for this too).
        #[arg(long, alias = "reason", default_value = "")]
        note: String,
    },
}

/// One task of one project.
#[derive(Args)]
pub struct ItemArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    request_id: RequestId,
    /// The project.
    #[arg(long)]
    project: String,
    /// The item.
    #[arg(long)]
    item: String,
}

/// Runs a `tasks` command.
pub fn run(cmd: TasksCommand) -> Result<ExitCode> {
    rt()?.block_on(async move {
        let out = match cmd {
            TasksCommand::List { conn, state } => return list(&conn, state).await,
            TasksCommand::Claim(a) => {
                let req = pb::ItemCommand {
                    request_id: a.request_id.take(),
                    project: a.project.clone(),
                    item: a.item.clone(),
                    at: String::new(),
                };
                let out = a.department().await?.claim(a.conn.request(req)?).await?;
                out
            }
            TasksCommand::Approve(a) => {
                let req = pb::ApproveRequest {
                    request_id: a.request_id.take(),
                    project: a.project.clone(),
                    item: a.item.clone(),
                    numbers: HashMap::new(),
                    at: String::new(),
                };
                let out = a.department().await?.approve(a.conn.request(req)?).await?;
                out
            }
            TasksCommand::Reject { task: a, reason } => {
                let req = pb::ReasonForItem {
                    request_id: a.request_id.take(),
                    project: a.project.clone(),
                    item: a.item.clone(),
                    reason,
                    at: String::new(),
                };
                let out = a.department().await?.reject(a.conn.request(req)?).await?;
                out
            }
            TasksCommand::Supplement {
                task: a,
                needed,
                note,
            } => {
                let req = pb::SupplementRequest {
                    request_id: a.request_id.take(),
                    project: a.project.clone(),
                    item: a.item.clone(),
                    needed: needed.into_iter().map(|m| m.trim().to_string()).collect(),
                    note,
                    at: String::new(),
                };
                let out = a
                    .department()
                    .await?
                    .request_supplement(a.conn.request(req)?)
                    .await?;
                out
            }
        };
        print_response(&out.into_inner());
        Ok(ExitCode::SUCCESS)
    })
}

impl ItemArgs {
    async fn department(
        &self,
    ) -> Result<pb::department_client::DepartmentClient<tonic::transport::Channel>> {
        Ok(pb::department_client::DepartmentClient::new(
            self.conn.channel().await?,
        ))
    }
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
