//! `onewindow loadgen-http`: the JSON/HTTP API under load, for systems without gRPC.
//! Each client takes projects from submission to completion the way a department system
//! polling over HTTP would — submit as the window, read the project, report the window's
//! milestones, claim and approve each ready task as its department — and the run reports
//! task completions per second, to set beside `onewindow loadgen` over gRPC.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

/// What `onewindow loadgen-http` drives.
#[derive(Args)]
pub struct LoadgenHttpArgs {
    /// The server's HTTP side.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    http: String,
    #[command(flatten)]
    work: super::WorkloadArgs,
    /// Clients, each taking one project at a time to completion.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// A prefix for project ids (runs with the same prefix collide).
    #[arg(long, default_value = "lh")]
    prefix: String,
}

type Http = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// One call: the JSON answer, or the API's error.
async fn call(
    client: &Http,
    base: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value> {
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            body.map(Value::to_string).unwrap_or_default(),
        )))?;
    let response = client.request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{method} {path}: {status} {}", value["error"]["message"]);
    }
    Ok(value)
}

/// Runs the load and prints what it measured.
pub fn run(a: LoadgenHttpArgs) -> Result<ExitCode> {
    let super::Workload {
        plan,
        window,
        departments,
        form: raw,
        projects,
    } = a.work.read()?;
    let departments: HashMap<String, String> = departments.into_iter().collect();
    let form: serde_json::Map<String, Value> = raw
        .into_iter()
        .filter_map(|(k, v)| Some((k, serde_json::to_value(v).ok()?)))
        .collect();
    let materials: Vec<Value> = plan
        .materials
        .iter()
        .map(|m| json!({"material": m.id}))
        .collect();
    let version = plan.version.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let client: Http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(a.clients * 2)
            .build_http();
        let (base, next, done) = (
            Arc::new(a.http.trim_end_matches('/').to_string()),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
        let (window, departments) = (Arc::new(window), Arc::new(departments));
        let submit = Arc::new(json!({
            "version": version, "applicant": "loadgen", "form": form, "materials": materials
        }));
        let started = Instant::now();
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..a.clients {
            let (client, base, next, done, lat) = (
                client.clone(),
                base.clone(),
                next.clone(),
                done.clone(),
                latencies.clone(),
            );
            let (window, departments, submit, prefix, total) = (
                window.clone(),
                departments.clone(),
                submit.clone(),
                a.prefix.clone(),
                projects,
            );
            clients.spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return Ok::<(), anyhow::Error>(());
                    }
                    let project = format!("{prefix}-{n}");
                    let mut body = (*submit).clone();
                    body["request_id"] = json!(format!("{project}/submit"));
                    body["project"] = json!(project);
                    call(&client, &base, &window, "POST", "/api/v1/projects", Some(&body)).await?;
                    loop {
                        let p = call(&client, &base, &window, "GET", &format!("/api/v1/projects/{project}"), None).await?;
                        if p["status"] == "completed" {
                            break;
                        }
                        let tasks = p["tasks"].as_array().cloned().unwrap_or_default();
                        for t in tasks.iter().filter(|t| t["state"] == "ready" || t["state"] == "claimed") {
                            let (item, dept) = (t["item"].as_str().unwrap_or(""), t["department"].as_str().unwrap_or(""));
                            let at = |verb: &str| format!("/api/v1/projects/{project}/items/{item}/{verb}");
                            let rid = |verb: &str| json!({"request_id": format!("{project}/{item}/{verb}")});
                            if dept == "window" {
                                call(&client, &base, &window, "POST", &at("milestone"), Some(&rid("report"))).await?;
                            } else {
                                let token = departments.get(dept).with_context(|| format!("no token for {dept}"))?;
                                if t["state"] == "ready" {
                                    call(&client, &base, token, "POST", &at("claim"), Some(&rid("claim"))).await?;
                                }
                                let approve = Instant::now();
                                call(&client, &base, token, "POST", &at("approve"), Some(&rid("approve"))).await?;
                                lat.lock().map(|mut l| l.push(approve.elapsed())).ok();
                            }
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        while let Some(r) = clients.join_next().await {
            r??;
        }
        let seconds = started.elapsed().as_secs_f64();
        let mut lat = latencies.lock().map(|l| l.clone()).unwrap_or_default();
        lat.sort_unstable();
        let pct = |q: f64| onewindow::stats::nearest_rank(&lat, q).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let done = done.load(Ordering::Relaxed);
        println!(
            "{} projects in {seconds:.2} s over HTTP/JSON: {:.1} projects/s, {done} task completions ({:.0}/s), approve latency p50 {:.2} ms, p99 {:.2} ms ({} clients)",
            projects,
            projects as f64 / seconds,
            done as f64 / seconds,
            pct(0.5),
            pct(0.99),
            a.clients
        );
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
