//! `onewindow project …`: the window's projects — submit one, read one, watch events —
//! and every verb the window has, one subcommand per row of the server's verb table
//! ([`super::verbs`]): hand in a supplement, resubmit, report a milestone, urge, hand in
//! later materials, assign an agent, withdraw.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;
use onewindow::server::pb;

use super::verbs::{VerbCommand, Window};
use super::{field_value, print_response, rt, Conn, RequestId};

/// Projects, as the window sees them.
#[derive(Subcommand)]
pub enum ProjectCommand {
    /// Submit a project: one form, one set of materials.
    Submit {
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        request_id: RequestId,
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
        /// The site (用地红线) as a GeoJSON file, checked against the workflow's blueprint.
        #[arg(long)]
        site: Option<PathBuf>,
    },
    /// A project's state and tasks.
    Get {
        #[command(flatten)]
        conn: Conn,
        /// The project.
        #[arg(long)]
        project: String,
    },
    /// Print a project's events as they happen (from `--after`), or every project's.
    Watch {
        #[command(flatten)]
        conn: Conn,
        /// The project (every project when left out).
        #[arg(long)]
        project: Option<String>,
        /// Start after this sequence number (one project).
        #[arg(long, default_value_t = 0, requires = "project")]
        after: u64,
        /// Every project: only events from now on, nothing already stored.
        #[arg(long, conflicts_with = "project")]
        live: bool,
        /// Only events of these types (`task_ready,completed`, …), comma-separated.
        #[arg(long = "type", value_delimiter = ',')]
        types: Vec<String>,
    },
    /// The window's verbs (supplement, resubmit, milestone, urge, materials,
    /// assign-agent, withdraw), one subcommand each, from the server's table.
    #[command(flatten)]
    Verb(VerbCommand<Window>),
}

/// Runs a `project` command.
pub fn run(cmd: ProjectCommand) -> Result<ExitCode> {
    rt()?.block_on(async move {
        match cmd {
            ProjectCommand::Submit {
                conn,
                request_id,
                project,
                workflow,
                form,
                materials,
                applicant,
                agent,
                site,
            } => {
                let site = match site {
                    Some(path) => {
                        onewindow::textfile::read(&path).map_err(|e| anyhow::anyhow!("{e}"))?
                    }
                    None => String::new(),
                };
                let mut wf = pb::workflows_client::WorkflowsClient::new(conn.channel().await?);
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
                let request_id = request_id.take();
                let mut window = pb::window_client::WindowClient::new(conn.channel().await?);
                let req = pb::SubmitRequest {
                    request_id: request_id.clone(),
                    project,
                    version: chosen.version,
                    applicant,
                    agent: agent.unwrap_or_default(),
                    form,
                    materials,
                    at: String::new(),
                    site,
                };
                print_response(&window.submit(conn.request(req)?).await?.into_inner());
            }
            ProjectCommand::Get { conn, project } => {
                let mut window = pb::window_client::WindowClient::new(conn.channel().await?);
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
                live,
                types,
            } => {
                let mut window = pb::window_client::WindowClient::new(conn.channel().await?);
                let every = project.is_none();
                let req = pb::WatchRequest {
                    project: project.unwrap_or_default(),
                    after,
                    cursors: HashMap::new(),
                    live,
                    types,
                };
                let mut stream = window.watch(conn.request(req)?).await?.into_inner();
                while let Some(e) = stream.message().await? {
                    if every {
                        println!(
                            "{} #{} {} {} {}",
                            e.project, e.seq, e.at, e.actor, e.summary
                        );
                    } else {
                        println!("#{} {} {} {}", e.seq, e.at, e.actor, e.summary);
                    }
                }
            }
            ProjectCommand::Verb(verb) => verb.run().await?,
        }
        Ok(ExitCode::SUCCESS)
    })
}
