//! The command-line clients: a clerk's, a department's or a tester's hands on a running
//! server, through the same gRPC API as any other system. [`project`] for the window's
//! projects, [`tasks`] for a department's queue, [`loadgen`] for load.

pub mod calendar;
pub mod callbacks;
pub mod loadgen;
mod loadgen_callbacks;
pub mod loadgen_http;
pub mod migrate;
pub mod project;
pub mod tasks;
pub mod verbs;

use anyhow::Result;
use clap::Args;
use onewindow::server::pb;
use tonic::Request;

/// Where the server is and who we are.
#[derive(Args, Clone)]
pub struct Conn {
    /// The server's address, or the addresses of several nodes of one city,
    /// comma-separated: requests go to the nodes that answer.
    #[arg(
        long,
        env = "ONEWINDOW_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    server: String,
    /// A bearer token from the server's tokens file.
    #[arg(long, env = "ONEWINDOW_TOKEN")]
    token: String,
}

/// The idempotency key of a command that changes something.
#[derive(Args, Clone)]
pub struct RequestId {
    /// Idempotency key; a fresh one when not given (retry with the printed one).
    #[arg(long)]
    request_id: Option<String>,
}

/// A channel to a server, or to one of several nodes of a city (`a,b,c`): the first node
/// that accepts the connection, trying them in turn from a place that differs from one
/// process to the next (so that many clients spread over the nodes). A node that is down
/// is passed over; a command whose node dies mid-request reports UNAVAILABLE with its
/// request id, and the same command again (same id) gets the answer once, from any node.
///
/// # Errors
/// No address, a malformed one, or no node reachable.
pub(crate) async fn channel(servers: &str) -> Result<tonic::transport::Channel> {
    let endpoints = servers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            Ok(tonic::transport::Endpoint::from_shared(s.to_string())?
                .tcp_nodelay(true)
                .connect_timeout(std::time::Duration::from_secs(3)))
        })
        .collect::<Result<Vec<_>>>()?;
    if endpoints.is_empty() {
        anyhow::bail!("--server: no address");
    }
    static TURN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let start =
        std::process::id() as usize + TURN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut failures = Vec::new();
    for k in 0..endpoints.len() {
        let e = &endpoints[(start + k) % endpoints.len()];
        match e.connect().await {
            Ok(c) => return Ok(c),
            Err(err) => failures.push(format!("{}: {err}", e.uri())),
        }
    }
    anyhow::bail!("no server reachable ({})", failures.join("; "))
}

impl Conn {
    /// A channel to the server (or the city's nodes).
    pub(crate) async fn channel(&self) -> Result<tonic::transport::Channel> {
        channel(&self.server).await
    }

    /// A request carrying the bearer token.
    pub(crate) fn request<T>(&self, msg: T) -> Result<Request<T>> {
        let mut r = Request::new(msg);
        r.metadata_mut()
            .insert("authorization", format!("Bearer {}", self.token).parse()?);
        Ok(r)
    }
}

impl RequestId {
    /// The given key, or a fresh one, announced on stderr so that a retry can reuse it.
    fn take(&self) -> String {
        let id = self.request_id.clone().unwrap_or_else(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            format!("cli-{}-{nanos:x}", std::process::id())
        });
        eprintln!("request id {id}");
        id
    }
}

pub(crate) fn print_response(r: &pb::CommandResponse) {
    if r.replayed {
        println!("(a retry: the first answer)");
    }
    for e in &r.events {
        println!("#{} {}", e.seq, e.summary);
    }
}

pub(crate) fn field_value(v: &serde_yaml::Value) -> Option<pb::FieldValue> {
    use pb::field_value::Value as V;
    let value = match v {
        serde_yaml::Value::Bool(b) => V::Flag(*b),
        serde_yaml::Value::Number(n) => V::Number(n.as_f64()?),
        serde_yaml::Value::String(s) => V::Text(s.clone()),
        _ => return None,
    };
    Some(pb::FieldValue { value: Some(value) })
}

pub(crate) fn rt() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// What both load generators drive (`onewindow loadgen` over gRPC, `loadgen-http` over
/// the JSON API): the workflow, the form and the server's tokens.
#[derive(clap::Args)]
pub struct WorkloadArgs {
    /// Tokens in clear (the window's and every department's are used): the first
    /// start's `tokens.initial.yaml`, or a file `tokens: {token: role}`.
    #[arg(long, default_value = "data/tokens.initial.yaml")]
    tokens: std::path::PathBuf,
    /// The workflow file (deployed on the server: the same text is the same version).
    #[arg(long, default_value = "workflows/construction-parallel.yaml")]
    workflow: std::path::PathBuf,
    /// The form every project submits.
    #[arg(long, default_value = "workflows/forms/industrial-project.yaml")]
    form: std::path::PathBuf,
    /// Projects to take to completion.
    #[arg(long, default_value_t = 200)]
    projects: usize,
}

/// A workload, read: the compiled workflow, the window's token, each department's token
/// (in the workflow's order) and the form's values as written.
pub(crate) struct Workload {
    pub(crate) plan: onewindow::plan::Plan,
    pub(crate) window: String,
    pub(crate) departments: Vec<(String, String)>,
    pub(crate) form: std::collections::HashMap<String, serde_yaml::Value>,
    pub(crate) projects: usize,
}

impl WorkloadArgs {
    /// Reads the workflow, the form and the tokens (a file of clear tokens, read the way
    /// the server reads it).
    pub(crate) fn read(&self) -> Result<Workload> {
        use anyhow::Context;
        use onewindow::server::auth::{Role, Tokens};
        let (plan, _) =
            onewindow::plan::compile_file(&self.workflow).map_err(|d| anyhow::anyhow!("{d}"))?;
        let tokens = Tokens::load(&self.tokens)?;
        let window = tokens
            .token_of(&Role::Window)
            .context("no window token in clear in this file (the server's identity file keeps only hashes: give the first start's tokens.initial.yaml, or a file `tokens: {token: role}`)")?
            .to_string();
        let departments = plan
            .departments
            .iter()
            .map(|d| {
                let token = tokens
                    .token_of(&Role::Department(d.id.clone()))
                    .with_context(|| format!("no token for {}", d.id))?;
                Ok((d.id.clone(), token.to_string()))
            })
            .collect::<Result<_>>()?;
        let form = serde_yaml::from_str(&std::fs::read_to_string(&self.form)?)?;
        Ok(Workload {
            plan,
            window,
            departments,
            form,
            projects: self.projects,
        })
    }
}
