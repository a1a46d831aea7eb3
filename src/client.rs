//! `onewindow project …` and `onewindow tasks …`: a clerk's or a tester's hands on a running
//! server, through the same gRPC API as any other system.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use onewindow::server::pb;
use tonic::Request;

/// Where the server is and who we are.
#[derive(Args, Clone)]
pub struct Conn {
    /// The server's address.
    #[arg(
        long,
        env = "ONEWINDOW_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    server: String,
    /// A bearer token from the server's tokens file.
    #[arg(long, env = "ONEWINDOW_TOKEN")]
    token: String,
    /// Idempotency key; a fresh one when not given (retry with the printed one).
    #[arg(long)]
    request_id: Option<String>,
}

impl Conn {
    fn request<T>(&self, msg: T) -> Result<Request<T>> {
        let mut r = Request::new(msg);
        r.metadata_mut()
            .insert("authorization", format!("Bearer {}", self.token).parse()?);
        Ok(r)
    }

    fn request_id(&self) -> String {
        self.request_id.clone().unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("cli-{}-{nanos:x}", std::process::id())
        })
    }
}

/// Projects, as the window sees them.
#[derive(Subcommand)]
pub enum ProjectCommand {
    /// Submit a project: one form, one set of materials.
    Submit {
        #[command(flatten)]
        conn: Conn,
        /// The new project's id.
        #[arg(long)]
        project: String,
        /// The workflow id (its latest deployed version) or a version hash.
        #[arg(long)]
        workflow: String,
        /// The form: a YAML file of field values.
        #[arg(long)]
        form: PathBuf,
        /// Material ids handed in, comma-separated.
        #[arg(long)]
        materials: String,
        /// The applicant.
        #[arg(long, default_value = "applicant")]
        applicant: String,
        /// An assigned agent.
        #[arg(long)]
        agent: Option<String>,
    },
    /// A project's state and tasks.
    Get {
        #[command(flatten)]
        conn: Conn,
        /// The project.
        #[arg(long)]
        project: String,
    },
    /// Print a project's events as they happen (from `--after`).
    Watch {
        #[command(flatten)]
        conn: Conn,
        /// The project.
        #[arg(long)]
        project: String,
        /// Start after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
    },
}

/// A department's tasks.
#[derive(Subcommand)]
pub enum TasksCommand {
    /// The caller's department's open tasks.
    List {
        #[command(flatten)]
        conn: Conn,
        /// Only this state.
        #[arg(long, default_value = "")]
        state: String,
    },
    /// Take a ready task.
    Claim(ItemArgs),
    /// Approve a task.
    Approve(ItemArgs),
    /// Reject a task (`--reason` required).
    Reject(ItemArgs),
    /// Ask for a supplement (`--needed` material ids, `--reason` as the note).
    Supplement(ItemArgs),
}

/// A command on one task.
#[derive(Args)]
pub struct ItemArgs {
    #[command(flatten)]
    conn: Conn,
    /// The project.
    #[arg(long)]
    project: String,
    /// The item.
    #[arg(long)]
    item: String,
    /// The reason or note.
    #[arg(long, default_value = "")]
    reason: String,
    /// Material ids needed (supplement), comma-separated.
    #[arg(long, default_value = "")]
    needed: String,
}

fn print_response(r: &pb::CommandResponse) {
    if r.replayed {
        println!("(a retry: the first answer)");
    }
    for e in &r.events {
        println!("#{} {}", e.seq, e.summary);
    }
}

fn field_value(v: &serde_yaml::Value) -> Option<pb::FieldValue> {
    use pb::field_value::Value as V;
    let value = match v {
        serde_yaml::Value::Bool(b) => V::Flag(*b),
        serde_yaml::Value::Number(n) => V::Number(n.as_f64()?),
        serde_yaml::Value::String(s) => V::Text(s.clone()),
        _ => return None,
    };
    Some(pb::FieldValue { value: Some(value) })
}

fn rt() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Runs a `project` command.
pub fn project(cmd: ProjectCommand) -> Result<ExitCode> {
    rt()?.block_on(async move {
        match cmd {
            ProjectCommand::Submit {
                conn,
                project,
                workflow,
                form,
                materials,
                applicant,
                agent,
            } => {
                let mut wf =
                    pb::workflows_client::WorkflowsClient::connect(conn.server.clone()).await?;
                let list = wf
                    .list(conn.request(pb::ListWorkflowsRequest {})?)
                    .await?
                    .into_inner();
                let chosen = list
                    .workflows
                    .iter()
                    .find(|w| w.version == workflow)
                    .or_else(|| list.workflows.iter().rev().find(|w| w.id == workflow))
                    .with_context(|| format!("no deployed workflow `{workflow}`"))?
                    .clone();
                let text = std::fs::read_to_string(&form)
                    .with_context(|| format!("cannot read {}", form.display()))?;
                let raw: HashMap<String, serde_yaml::Value> = serde_yaml::from_str(&text)?;
                let form = raw
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), field_value(v)?)))
                    .collect();
                let materials = materials
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(|m| pb::MaterialRef {
                        material: m.trim().to_string(),
                        ..Default::default()
                    })
                    .collect();
                let request_id = conn.request_id();
                let mut window =
                    pb::window_client::WindowClient::connect(conn.server.clone()).await?;
                let req = pb::SubmitRequest {
                    request_id: request_id.clone(),
                    project,
                    version: chosen.version,
                    applicant,
                    agent: agent.unwrap_or_default(),
                    form,
                    materials,
                    at: String::new(),
                };
                eprintln!("request id {request_id}");
                print_response(&window.submit(conn.request(req)?).await?.into_inner());
            }
            ProjectCommand::Get { conn, project } => {
                let mut window =
                    pb::window_client::WindowClient::connect(conn.server.clone()).await?;
                let p = window
                    .get_project(conn.request(pb::GetProjectRequest { project })?)
                    .await?
                    .into_inner();
                println!(
                    "{} — {} ({}), {} in {}, {} events",
                    p.id, p.workflow, p.version, p.status, p.stage, p.seq
                );
                for t in p
                    .tasks
                    .iter()
                    .filter(|t| t.state != "pending" && t.state != "not_applicable")
                {
                    println!(
                        "  {:<6} {:<14} {:<10} {}",
                        t.item, t.department, t.state, t.due
                    );
                }
            }
            ProjectCommand::Watch {
                conn,
                project,
                after,
            } => {
                let mut window =
                    pb::window_client::WindowClient::connect(conn.server.clone()).await?;
                let req = pb::WatchRequest {
                    project,
                    after,
                    cursors: HashMap::new(),
                };
                let mut stream = window.watch(conn.request(req)?).await?.into_inner();
                while let Some(e) = stream.message().await? {
                    println!("#{} {} {} {}", e.seq, e.at, e.actor, e.summary);
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs a `tasks` command.
pub fn tasks(cmd: TasksCommand) -> Result<ExitCode> {
    rt()?.block_on(async move {
        let (conn, call) = match cmd {
            TasksCommand::List { conn, state } => {
                let mut d =
                    pb::department_client::DepartmentClient::connect(conn.server.clone()).await?;
                let list = d
                    .list_tasks(conn.request(pb::ListTasksRequest { state })?)
                    .await?
                    .into_inner();
                for t in list.tasks {
                    println!("{:<12} {:<6} {:<10} {}", t.project, t.item, t.state, t.due);
                }
                return Ok(ExitCode::SUCCESS);
            }
            TasksCommand::Claim(a) => (a.conn.clone(), ("claim", a)),
            TasksCommand::Approve(a) => (a.conn.clone(), ("approve", a)),
            TasksCommand::Reject(a) => (a.conn.clone(), ("reject", a)),
            TasksCommand::Supplement(a) => (a.conn.clone(), ("supplement", a)),
        };
        let (verb, a) = call;
        let mut d = pb::department_client::DepartmentClient::connect(conn.server.clone()).await?;
        let request_id = conn.request_id();
        eprintln!("request id {request_id}");
        let (project, item) = (a.project.clone(), a.item.clone());
        let out = match verb {
            "claim" => {
                let req = pb::ItemCommand {
                    request_id,
                    project,
                    item,
                    at: String::new(),
                };
                d.claim(conn.request(req)?).await?
            }
            "approve" => {
                let req = pb::ApproveRequest {
                    request_id,
                    project,
                    item,
                    numbers: HashMap::new(),
                    at: String::new(),
                };
                d.approve(conn.request(req)?).await?
            }
            "reject" => {
                let req = pb::ReasonForItem {
                    request_id,
                    project,
                    item,
                    reason: a.reason.clone(),
                    at: String::new(),
                };
                d.reject(conn.request(req)?).await?
            }
            _ => {
                let needed = a
                    .needed
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(|m| m.trim().to_string())
                    .collect();
                let req = pb::SupplementRequest {
                    request_id,
                    project,
                    item,
                    needed,
                    note: a.reason.clone(),
                    at: String::new(),
                };
                d.request_supplement(conn.request(req)?).await?
            }
        };
        print_response(&out.into_inner());
        Ok(ExitCode::SUCCESS)
    })
}
