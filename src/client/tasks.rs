//! `onewindow tasks …`: a department's queue — list it, claim, approve, reject, ask for a
//! supplement — and the office's verbs inside a task: sign a step, transfer, delegate,
//! add a signer, recall a decision, return to an earlier item. Each verb has its own
//! arguments, so each offers only what it uses.

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
    /// Sign the task's current step with an opinion (受理, 审查).
    Sign {
        #[command(flatten)]
        task: ItemArgs,
        /// The opinion (required).
        #[arg(long)]
        opinion: String,
    },
    /// Hand the task to another reviewer of the department (转办).
    Transfer {
        #[command(flatten)]
        task: ItemArgs,
        /// The reviewer who takes it.
        #[arg(long)]
        to: String,
    },
    /// Ask another reviewer for an opinion; the task comes back (委派).
    Delegate {
        #[command(flatten)]
        task: ItemArgs,
        /// The reviewer asked.
        #[arg(long)]
        to: String,
    },
    /// Add a signer to the current step (加签), after the caller unless `--before`.
    AddSigner {
        #[command(flatten)]
        task: ItemArgs,
        /// The reviewer added.
        #[arg(long)]
        reviewer: String,
        /// Before the caller (the caller then signs after them).
        #[arg(long)]
        before: bool,
    },
    /// Withdraw the department's own decision (撤回).
    Recall(ItemArgs),
    /// Return the project to an earlier, approved item (退回).
    Return {
        #[command(flatten)]
        task: ItemArgs,
        /// The earlier item whose document must change.
        #[arg(long)]
        to: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
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
            TasksCommand::Sign { task: a, opinion } => {
                let req = pb::ReasonForItem {
                    request_id: a.request_id.take(),
                    project: a.project.clone(),
                    item: a.item.clone(),
                    reason: opinion,
                    at: String::new(),
                };
                let out = a.department().await?.sign(a.conn.request(req)?).await?;
                out
            }
            TasksCommand::Transfer { task: a, to } => {
                let req = a.hand_over(to);
                let out = a.department().await?.transfer(a.conn.request(req)?).await?;
                out
            }
            TasksCommand::Delegate { task: a, to } => {
                let req = a.hand_over(to);
                let out = a.department().await?.delegate(a.conn.request(req)?).await?;
                out
            }
            TasksCommand::AddSigner {
                task: a,
                reviewer,
                before,
            } => {
                let req = pb::AddSignerRequest {
                    request_id: a.request_id.take(),
                    project: a.project.clone(),
                    item: a.item.clone(),
                    reviewer,
                    before,
                    at: String::new(),
                };
                let out = a
                    .department()
                    .await?
                    .add_signer(a.conn.request(req)?)
                    .await?;
                out
            }
            TasksCommand::Recall(a) => {
                let req = pb::ItemCommand {
                    request_id: a.request_id.take(),
                    project: a.project.clone(),
                    item: a.item.clone(),
                    at: String::new(),
                };
                let out = a.department().await?.recall(a.conn.request(req)?).await?;
                out
            }
            TasksCommand::Return {
                task: a,
                to,
                reason,
            } => {
                let req = pb::ReturnRequest {
                    request_id: a.request_id.take(),
                    project: a.project.clone(),
                    item: a.item.clone(),
                    to,
                    reason,
                    at: String::new(),
                };
                let out = a
                    .department()
                    .await?
                    .return_to(a.conn.request(req)?)
                    .await?;
                out
            }
        };
        print_response(&out.into_inner());
        Ok(ExitCode::SUCCESS)
    })
}

impl ItemArgs {
    fn hand_over(&self, to: String) -> pb::HandOverRequest {
        pb::HandOverRequest {
            request_id: self.request_id.take(),
            project: self.project.clone(),
            item: self.item.clone(),
            to,
            at: String::new(),
        }
    }

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
