//! The supervision dashboard of a busy city: 10,000 projects holding 100,000 open tasks
//! (`benches/data/wide.yaml`: ten items ready at submission), on the sled store, the
//! server in process with a clock the benchmark moves. Measured over HTTP on loopback:
//!
//! - the dashboard's first paint (the page as a browser receives it), the very first one
//!   after start (the board taken then) and the usual one (criterion);
//! - a `/metrics` scrape (criterion);
//! - how long a new red card takes to reach an open dashboard's event stream: the clock
//!   is moved past one item's due date and the time to the first card is taken, five
//!   times (each step makes another item of every project overdue).
//!
//! Run with `cargo bench --bench console`; figures in BENCHMARKS.md.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use criterion::Criterion;
use onewindow::server::pb;
use onewindow::store::disk::{Flush, SledStore};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PROJECTS: usize = 10_000;
const WINDOW: &str = "0000000000000000000000000000window";
const SUPERVISOR: &str = "000000000000000000000000supervisor";
const ANALYST: &str = "00000000000000000000000000analyst";
const D1: &str = "dept-d1-00000000000000000000";
const AGENT: &str = "agent-li-0000000000000000000";
/// How often supervision runs in the benchmark (a city runs it every minute).
const TICK: Duration = Duration::from_millis(200);

/// One HTTP/1.1 request on its own connection: the status and the whole answer.
fn http(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).to_string();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, raw)
}

fn get(addr: SocketAddr, path: &str, cookie: &str) -> (u16, String) {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: b\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"),
    )
}

/// A console session for `token`: its cookie. As a browser logs in: the login form first
/// (its CSRF token, also in its own cookie), then the post.
fn login(web: SocketAddr, token: &str) -> String {
    let (_, form) = http(
        web,
        "GET /console/login HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n",
    );
    let csrf = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let login_cookie = form
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let body = format!("token={token}&csrf={csrf}");
    let (status, raw) = http(
        web,
        &format!(
            "POST /console/login HTTP/1.1\r\nHost: b\r\nCookie: {login_cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert_eq!(status, 303, "{raw}");
    raw.lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string()
}

/// Every kind of console page, each read `n` times with its role's session among 10,000
/// projects: the median and the slowest (server and loopback, the page read to the end).
fn every_page(web: SocketAddr, supervisor: &str) {
    let window = login(web, WINDOW);
    let d1 = login(web, D1);
    let analyst = login(web, ANALYST);
    let agent = login(web, AGENT);
    let (_, list) = get(web, "/console/analysis", &analyst);
    let version = list
        .split("name=\"v\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let pages: Vec<(&str, String, &str, usize)> = vec![
        (
            "counter home",
            "/console/window".into(),
            window.as_str(),
            30,
        ),
        (
            "project (window)",
            "/console/window/projects/B05000".into(),
            &window,
            30,
        ),
        (
            "receipt",
            "/console/window/projects/B05000/receipt".into(),
            &window,
            30,
        ),
        (
            "inbox (10,000 open tasks, 1,000 shown)",
            "/console/inbox".into(),
            &d1,
            10,
        ),
        (
            "task (reviewer's desk)",
            "/console/inbox/B05000/I1".into(),
            &d1,
            30,
        ),
        (
            "supervision: a project",
            "/console/supervision/projects/B05000".into(),
            supervisor,
            30,
        ),
        ("agent's portal", "/console/agent".into(), &agent, 30),
        ("analysis", "/console/analysis".into(), &analyst, 30),
        (
            "analysis: a schedule",
            format!("/console/analysis/versions/{version}"),
            &analyst,
            30,
        ),
        ("public progress", "/public/projects/B05000".into(), "", 15),
    ];
    for (name, path, cookie, n) in pages {
        let mut times: Vec<f64> = (0..n)
            .map(|_| {
                let t = Instant::now();
                let (status, page) = get(web, &path, cookie);
                assert_eq!(status, 200, "{path}: {}", &page[..page.len().min(500)]);
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        times.sort_by(f64::total_cmp);
        eprintln!(
            "page {name} ({path}): median {:.1} ms, slowest {:.1} ms ({n} reads)",
            times[n / 2],
            times[n - 1]
        );
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let workflows = dir.path().join("workflows");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::copy(
        root.join("benches/data/wide.yaml"),
        workflows.join("wide.yaml"),
    )
    .unwrap();
    let tokens = dir.path().join("tokens.yaml");
    std::fs::write(
        &tokens,
        format!(
            "tokens:\n  {WINDOW}: window\n  {SUPERVISOR}: supervisor\n  {ANALYST}: analyst\n  {D1}: department:d1\n  {AGENT}: agent:li\n"
        ),
    )
    .unwrap();
    let now: Arc<Mutex<NaiveDateTime>> =
        Arc::new(Mutex::new("2025-03-03T09:00:00".parse().unwrap()));
    let clock = now.clone();
    let mut config = onewindow::server::Config::new(workflows, tokens);
    // The civil times the bench sets are Beijing time (the shipped calendar's zone).
    config.clock = Arc::new(move || {
        let civil = *clock.lock().unwrap();
        civil
            .and_local_timezone(onewindow::calendar::DEFAULT_ZONE)
            .earliest()
            .expect("a Beijing time")
            .to_utc()
    });
    config.tick = TICK;
    config.cache_projects = PROJECTS * 2;
    let http_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let web = http_listener.local_addr().unwrap();
    config.http = Some(http_listener);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = Arc::new(SledStore::open(&dir.path().join("data"), Flush::Group).unwrap());
    let grpc = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(onewindow::server::run(
            config,
            store,
            listener,
            std::future::pending(),
        ));
        addr
    });

    // 10,000 projects, 64 submissions at a time.
    let started = Instant::now();
    rt.block_on(async {
        use pb::window_client::WindowClient;
        use pb::workflows_client::WorkflowsClient;
        fn auth<T>(msg: T) -> tonic::Request<T> {
            let mut r = tonic::Request::new(msg);
            r.metadata_mut()
                .insert("authorization", format!("Bearer {WINDOW}").parse().unwrap());
            r
        }
        let version = loop {
            if let Ok(mut c) = WorkflowsClient::connect(grpc.clone()).await {
                if let Ok(list) = c.list(auth(pb::ListWorkflowsRequest {})).await {
                    break list.into_inner().workflows[0].version.clone();
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let window = WindowClient::connect(grpc.clone()).await.unwrap();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let (mut window, next, version) = (window.clone(), next.clone(), version.clone());
            clients.spawn(async move {
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= PROJECTS {
                        break;
                    }
                    let form = [(
                        "name".to_string(),
                        pb::FieldValue {
                            value: Some(pb::field_value::Value::Text(format!("项目{n}"))),
                        },
                    )]
                    .into();
                    let submit = pb::SubmitRequest {
                        request_id: format!("b{n}"),
                        project: format!("B{n:05}"),
                        version: version.clone(),
                        applicant: "bench".into(),
                        form,
                        materials: vec![pb::MaterialRef {
                            material: "application".into(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    };
                    window.submit(auth(submit)).await.unwrap();
                }
            });
        }
        while clients.join_next().await.is_some() {}
    });
    eprintln!(
        "{PROJECTS} projects ({} open tasks) submitted in {:.1} s",
        PROJECTS * 10,
        started.elapsed().as_secs_f64()
    );

    // The supervisor's session.
    let cookie = login(web, SUPERVISOR);

    let cold = Instant::now();
    let (status, page) = get(web, "/console/supervision", &cookie);
    let cold = cold.elapsed();
    assert_eq!(status, 200);
    assert!(
        page.contains("yellow-count"),
        "{}",
        &page[..page.len().min(2000)]
    );
    eprintln!(
        "dashboard, first paint after start (board taken): {:.1} ms, {} KiB",
        cold.as_secs_f64() * 1000.0,
        page.len() / 1024
    );
    let cold_metrics = Instant::now();
    let (_, metrics) = get(web, "/metrics", "");
    eprintln!(
        "/metrics, first scrape after start (tasks counted): {:.1} ms; {}",
        cold_metrics.elapsed().as_secs_f64() * 1000.0,
        metrics
            .lines()
            .find(|l| l.starts_with("onewindow_open_tasks{department=\"d1\"}"))
            .unwrap_or("")
    );

    every_page(web, &cookie);

    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(30)
        .measurement_time(Duration::from_secs(10));
    c.bench_function(
        "dashboard first paint (10,000 projects, 100,000 open tasks)",
        |b| {
            b.iter(|| {
                let (status, _) = get(web, "/console/supervision", &cookie);
                assert_eq!(status, 200);
            });
        },
    );
    c.bench_function("/metrics scrape (100,000 open tasks)", |b| {
        b.iter(|| {
            let (status, _) = get(web, "/metrics", "");
            assert_eq!(status, 200);
        });
    });

    // Red cards: an open event stream, the clock moved past one item's due date.
    let mut stream = TcpStream::connect(web).unwrap();
    stream
        .write_all(
            format!(
                "GET /console/supervision/live HTTP/1.1\r\nHost: b\r\nCookie: {cookie}\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let (cards, arrived) = std::sync::mpsc::channel::<Instant>();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("event: card") && cards.send(Instant::now()).is_err() {
                break;
            }
        }
    });
    let mut latencies = Vec::new();
    // Item k of every project is due k working days after Monday 3 March 2025.
    for (k, day) in [
        "2025-03-05",
        "2025-03-06",
        "2025-03-07",
        "2025-03-10",
        "2025-03-11",
    ]
    .iter()
    .enumerate()
    {
        // Drain what the last step raised (every project's card) before the next.
        while arrived.recv_timeout(Duration::from_millis(1500)).is_ok() {}
        let moved = Instant::now();
        *now.lock().unwrap() = format!("{day}T09:00:00").parse().unwrap();
        let first = arrived
            .recv_timeout(Duration::from_secs(60))
            .expect("a red card within a minute");
        let took = first.duration_since(moved);
        eprintln!(
            "step {}: clock moved → first red card on the open dashboard's stream: {:.0} ms",
            k + 1,
            took.as_secs_f64() * 1000.0
        );
        latencies.push(took);
    }
    latencies.sort_unstable();
    eprintln!(
        "red card latency over 5 steps: median {:.0} ms (tick every {} ms: the wait for the next tick is included)",
        latencies[2].as_secs_f64() * 1000.0,
        TICK.as_millis()
    );
    c.final_summary();
}
