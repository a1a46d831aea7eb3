//! `onewindow loadgen`: window clients submitting projects and every department's workers
//! claiming and approving over push streams, against a running server; reports projects
//! per second, task completions per second and approval latency.

use std::collections::HashMap;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use onewindow::server::pb;
use tonic::Request;

use super::field_value;

/// What `onewindow loadgen` drives.
#[derive(Args)]
pub struct LoadgenArgs {
    /// The server's address, or several nodes' addresses, comma-separated (the load is
    /// spread over the nodes that answer).
    #[arg(
        long,
        env = "ONEWINDOW_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    server: String,
    #[command(flatten)]
    work: super::WorkloadArgs,
    /// Window clients submitting concurrently.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Concurrent workers per department.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// A prefix for project ids (runs with the same prefix collide).
    #[arg(long, default_value = "lg")]
    prefix: String,
    /// Who claims a task: the push stream before it sends it (`push`), or the worker with
    /// a `Claim` request of its own (`request`). Either way every task is claimed and
    /// approved, two durable commands.
    #[arg(long, value_enum, default_value_t = ClaimBy::Push)]
    claim: ClaimBy,
    /// Department streams held open over the HTTP side while the load runs (server-sent
    /// events of `/api/v1/tasks/ready`, not claiming, spread over the departments, each
    /// read and discarded by this process): what fanning tasks out to many listening
    /// systems costs the commands. Needs `--http`.
    #[arg(long, default_value_t = 0, requires = "http")]
    sse_streams: usize,
    /// Be every department's callback receiver while the load runs: listen on this
    /// `host:port`, register one callback per department to it, and report the events
    /// delivered per second and their delay from commit to arrival (the server allows it
    /// with `--callback-allow HOST:PORT --callback-allow-http`).
    #[arg(long, value_name = "HOST:PORT")]
    callbacks: Option<String>,
    /// The server's HTTP side (`http://host:port`), for `--sse-streams`.
    #[arg(long)]
    http: Option<String>,
}

/// Opens `n` ready streams on the HTTP side at `http` with the departments' tokens, in
/// turn, and reads them until the process ends; waits until every one has answered.
async fn hold_sse_streams(http: &str, n: usize, departments: &[(String, String)]) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = http
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let mut opened = tokio::task::JoinSet::new();
    for (_, token) in departments.iter().cycle().take(n) {
        let (addr, token) = (addr.clone(), token.clone());
        opened.spawn(async move {
            let mut s = tokio::net::TcpStream::connect(&addr).await?;
            s.write_all(format!("GET /api/v1/tasks/ready HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").as_bytes()).await?;
            let mut first = [0u8; 12];
            s.read_exact(&mut first).await?;
            anyhow::ensure!(first.starts_with(b"HTTP/1.1 200"), "a stream was refused: {}", String::from_utf8_lossy(&first));
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
            });
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(r) = opened.join_next().await {
        r??;
    }
    Ok(())
}

/// Who claims the tasks `loadgen`'s workers approve.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClaimBy {
    /// `StreamReady` with `claim`: the server claims each task as it pushes it.
    Push,
    /// The worker calls `Claim`, then `Approve`.
    Request,
}

/// N window clients submit projects of a workflow and report their milestones; every
/// department's workers take the tasks pushed to them and claim and approve them. Reports
/// projects per second, task completions per second and approval latency.
pub fn run(a: LoadgenArgs) -> Result<ExitCode> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let super::Workload {
        plan,
        window: window_token,
        departments,
        form: raw,
        projects,
    } = a.work.read()?;
    let form: HashMap<String, pb::FieldValue> = raw
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), field_value(v)?)))
        .collect();
    let materials: Vec<pb::MaterialRef> = plan
        .materials
        .iter()
        .map(|m| pb::MaterialRef {
            material: m.id.clone(),
            ..Default::default()
        })
        .collect();
    let milestones: Vec<String> = plan
        .items
        .iter()
        .filter(|i| i.kind == onewindow::spec::ItemKind::Milestone)
        .map(|i| i.id.clone())
        .collect();
    let version = plan.version.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let auth = |token: &str| {
            let t: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse().expect("a token is ASCII");
            move |mut r: Request<()>| {
                r.metadata_mut().insert("authorization", t.clone());
                Ok(r)
            }
        };
        // One connection per department and one for the window, as separate systems
        // would have: a single HTTP/2 connection serializes all framing through one task.
        let latencies = Arc::new(Mutex::new(Vec::<std::time::Duration>::new()));
        let completions = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        // Departments: one push stream each, `workers` tasks (claiming and) approving.
        let push_claims = a.claim == ClaimBy::Push;
        if let (Some(http), true) = (&a.http, a.sse_streams > 0) {
            hold_sse_streams(http, a.sse_streams, &departments).await?;
            eprintln!("{} department streams open over HTTP", a.sse_streams);
        }
        let callbacks = match &a.callbacks {
            Some(at) => {
                let received = super::loadgen_callbacks::receive(at, plan.calendar.zone()).await?;
                let made = super::loadgen_callbacks::register(&a.server, &departments, &format!("http://{at}/callbacks")).await?;
                eprintln!("receiving every department's callbacks at {at}");
                Some((received, made))
            }
            None => None,
        };
        let load_started = std::time::Instant::now();
        // With several nodes (`--server a,b`), each connection goes to a node that is up;
        // when its node dies it moves to another, and every command is sent again with
        // its request id until a node answers it (answered once, whichever node).
        let servers = a.server.clone();
        for (dept, token) in departments {
            let first = pb::department_client::DepartmentClient::with_interceptor(super::channel(&servers).await?, auth(&token));
            let client = Arc::new(tokio::sync::RwLock::new(first));
            let mut stream = client.read().await.clone().stream_ready(pb::StreamReadyRequest { claim: push_claims }).await?.into_inner();
            let (tx, rx) = tokio::sync::mpsc::channel::<pb::Task>(4096);
            let rx = Arc::new(tokio::sync::Mutex::new(rx));
            let (shared, servers) = (client.clone(), servers.clone());
            tasks.spawn(async move {
                loop {
                    while let Ok(Some(t)) = stream.message().await {
                        if tx.send(t).await.is_err() {
                            return;
                        }
                    }
                    // The node went away: open the stream again on a node that answers.
                    // It starts with the tasks ready now, so none made ready meanwhile is
                    // missed (one pushed twice is approved once: the same request id).
                    eprintln!("a department's stream ended; opening it again");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    let Ok(channel) = super::channel(&servers).await else { continue };
                    let mut next = pb::department_client::DepartmentClient::with_interceptor(channel, auth(&token));
                    if let Ok(s) = next.stream_ready(pb::StreamReadyRequest { claim: push_claims }).await {
                        stream = s.into_inner();
                        *shared.write().await = next.clone();
                        // Tasks claimed for this department whose push died with the node
                        // are the department's to finish: hand them to the workers too.
                        let mut page_token = String::new();
                        loop {
                            let Ok(page) = next.list_tasks(pb::ListTasksRequest { state: "claimed".into(), page_size: 1000, page_token }).await else { break };
                            let page = page.into_inner();
                            for t in page.tasks {
                                if tx.send(t).await.is_err() {
                                    return;
                                }
                            }
                            if page.next_page_token.is_empty() {
                                break;
                            }
                            page_token = page.next_page_token;
                        }
                    }
                }
            });
            for _ in 0..a.workers {
                let (rx, shared, lat, done) = (rx.clone(), client.clone(), latencies.clone(), completions.clone());
                let dept = dept.clone();
                tasks.spawn(async move {
                    loop {
                        let Some(t) = rx.lock().await.recv().await else { break };
                        let rid = |x: &str| format!("{}/{}/{x}", t.project, t.item);
                        let answered = until_answered(|| async {
                            let mut client = shared.read().await.clone();
                            if !push_claims {
                                let claim = pb::ItemCommand { request_id: rid("claim"), project: t.project.clone(), item: t.item.clone(), at: String::new() };
                                let _ = client.claim(claim).await;
                            }
                            let approve = pb::ApproveRequest { request_id: rid("approve"), project: t.project.clone(), item: t.item.clone(), numbers: HashMap::new(), at: String::new() };
                            let started = std::time::Instant::now();
                            client.approve(approve).await.map(|r| (r.into_inner().replayed, started.elapsed()))
                        })
                        .await;
                        match answered {
                            Ok((false, took)) => {
                                lat.lock().map(|mut l| l.push(took)).ok();
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok((true, _)) => {}
                            Err(s) => eprintln!("{dept}: approving {}/{} failed: {}", t.project, t.item, s.message()),
                        }
                    }
                });
            }
        }
        // The window: a watcher over every project reports milestones and counts completions.
        let window = Arc::new(tokio::sync::RwLock::new(pb::window_client::WindowClient::with_interceptor(super::channel(&servers).await?, auth(&window_token))));
        // Only what the window acts on: milestones becoming ready, projects completing.
        let types = vec!["task_ready".to_string(), "completed".to_string()];
        let mut watch = window.read().await.clone().watch(pb::WatchRequest { live: true, types: types.clone(), ..Default::default() }).await?.into_inner();
        let ours = format!("{}-", a.prefix);
        let started = std::time::Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        for _ in 0..a.clients {
            let (window, next, form, materials, version, prefix) =
                (window.clone(), next.clone(), form.clone(), materials.clone(), version.clone(), a.prefix.clone());
            let total = projects;
            tasks.spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let project = format!("{prefix}-{n}");
                    let req = pb::SubmitRequest {
                        request_id: format!("{project}/submit"),
                        project,
                        version: version.clone(),
                        applicant: "loadgen".into(),
                        form: form.clone(),
                        materials: materials.clone(),
                        ..Default::default()
                    };
                    let submitted = until_answered(|| async { window.read().await.clone().submit(req.clone()).await }).await;
                    if let Err(e) = submitted {
                        eprintln!("submit: {e}");
                    }
                }
            });
        }
        let mut completed = std::collections::HashSet::new();
        // Milestone reports in flight: the last one's answer may arrive after the watcher
        // has seen its project complete, and it counts.
        let mut reports = tokio::task::JoinSet::new();
        while completed.len() < projects {
            let e = match watch.message().await {
                Ok(Some(e)) => e,
                ended => {
                    eprintln!("the window's watch ended ({ended:?}); watching again on a node that answers");
                    // The node went away: watch again on a node that answers, from the
                    // start of every log (events seen before are harmless: a milestone is
                    // reported again with the same request id, a completion is counted
                    // once per project).
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    let Ok(channel) = super::channel(&servers).await else { continue };
                    let mut next = pb::window_client::WindowClient::with_interceptor(channel, auth(&window_token));
                    if let Ok(w) = next.watch(pb::WatchRequest { types: types.clone(), ..Default::default() }).await {
                        watch = w.into_inner();
                        *window.write().await = next;
                    }
                    continue;
                }
            };
            if !e.project.starts_with(&ours) {
                continue;
            }
            if !e.item.is_empty() && e.r#type == "task_ready" && milestones.contains(&e.item) {
                let project = e.project.clone();
                let cmd = pb::ItemCommand { request_id: format!("{project}/{}/report", e.item), project, item: e.item.clone(), at: String::new() };
                // Reported concurrently, as many clerks would: the watch loop only reads.
                let (shared, done) = (window.clone(), completions.clone());
                reports.spawn(async move {
                    let reported = until_answered(|| async { shared.read().await.clone().report_milestone(cmd.clone()).await }).await;
                    if reported.is_ok_and(|r| !r.get_ref().replayed) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            if e.r#type == "completed" {
                completed.insert(e.project);
            }
        }
        while reports.join_next().await.is_some() {}
        let seconds = started.elapsed().as_secs_f64();
        let completed = completed.len();
        tasks.abort_all();
        let mut lat = latencies.lock().map(|l| l.clone()).unwrap_or_default();
        lat.sort_unstable();
        let pct = |q: f64| onewindow::stats::nearest_rank(&lat, q).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let done = completions.load(Ordering::Relaxed);
        println!(
            "{completed} projects in {seconds:.2} s: {:.1} projects/s, {done} task completions ({:.0}/s), approve latency p50 {:.2} ms, p99 {:.2} ms ({} window clients, {} workers per department)",
            completed as f64 / seconds,
            done as f64 / seconds,
            pct(0.5),
            pct(0.99),
            a.clients,
            a.workers
        );
        if let Some((received, made)) = callbacks {
            // Deliveries go on after the last command: wait until a second passes quiet.
            let mut seen = received.count();
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let now = received.count();
                if now == seen {
                    break;
                }
                seen = now;
            }
            let (events, rate, p50, p99) = received.summary(load_started);
            println!("callbacks: {events} events delivered ({rate:.0}/s from the load's start to the last arrival), delay from commit p50 {p50:.1} ms, p99 {p99:.1} ms");
            super::loadgen_callbacks::remove(&a.server, &made).await?;
        }
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Sends a command until a node answers it. A failure that says nothing about the
/// command (its node went away, the connection broke) is followed by the same request
/// again after a pause, on whichever node the shared client now points at — answered
/// once, whichever node — at most 100 times.
async fn until_answered<T, F, Fut>(mut send: F) -> Result<T, tonic::Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, tonic::Status>>,
{
    let mut attempts = 1;
    loop {
        match send().await {
            Err(s) if retryable(&s) && attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            answered => return answered,
        }
    }
}

/// A failure that says nothing about the command (its node went away, the connection
/// broke): the same request again, on whichever node answers, is answered once.
fn retryable(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
    )
}
