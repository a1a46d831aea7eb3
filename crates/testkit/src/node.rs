//! What the server tests share: the tokens, the forms and materials of the shipped
//! workflows, and two ways to start a server — in process on the memory store
//! ([`start`], the default: fast, stderr visible, debuggable) and the real binary on
//! sled ([`start_binary`], for what only a process shows: restarts, kill -9, signals,
//! TLS, the CLI); waiting for a condition instead of a fixed time ([`eventually`]);
//! what a test needs from the machine (a Debian program, a Python environment).
//!
//! The binary is the `onewindow` package's: found beside the test binary that runs
//! (`target/<profile>/onewindow`, as cargo lays them out), since only that package's
//! own tests are told its path.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use onewindow_server::pb;
use pb::window_client::WindowClient;
use pb::workflows_client::WorkflowsClient;
use tonic::Request;

/// The checkout: the shipped workflows, the test data, the examples.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `onewindow` binary of this build: `target/<profile>/onewindow`, beside the
/// `deps/` directory the running test binary is in.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let bin = profile.join("onewindow");
    assert!(bin.exists(), "no {} (cargo test builds it)", bin.display());
    bin
}

/// A directory for what tests keep between runs (`target/tmp`, as cargo's own
/// `CARGO_TARGET_TMPDIR`).
pub fn target_tmp() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let target = exe
        .ancestors()
        .nth(3)
        .expect("target/<profile>/deps/<test>");
    let dir = target.join("tmp");
    std::fs::create_dir_all(&dir).expect("target/tmp");
    dir
}

/// The development tokens `write_tokens` gives each role (the window, two of the
/// parallel workflow's departments, the supervisor, the administrator, the analyst, the
/// complaint workflow's two departments); this one the window's.
pub const WINDOW: &str = "0000000000000000000000000000window";
/// The development and reform commission (parallel workflow).
pub const NDRC: &str = "00000000000000000000000000000ndrc";
/// Natural resources and planning (parallel workflow).
pub const NRP: &str = "000000000000000000000000000000nrp";
/// The supervisor.
pub const SUPERVISOR: &str = "000000000000000000000000supervisor";
/// The administrator.
pub const ADMIN: &str = "0000000000000000000000000000admin";
/// The analyst.
pub const ANALYST: &str = "00000000000000000000000000analyst";
/// The complaint workflow's bureau.
pub const BUREAU: &str = "0000000000000000000000000000bureau";
/// The complaint workflow's respondent.
pub const RESPONDENT: &str = "000000000000000000000000respondent";
/// The parallel construction workflow's departments, each with a token `dept-<id>-…`.
pub const DEPARTMENTS: [&str; 8] = [
    "ndrc",
    "nrp",
    "registry",
    "env",
    "water",
    "civil_defence",
    "drawing_review",
    "housing",
];

/// The token of department `d` (one of [`DEPARTMENTS`]).
pub fn dept_token(d: &str) -> String {
    format!("dept-{d}-00000000000000000000")
}

/// Reviewers of the office workflow's departments (`department:<d>/<r>`), each with a
/// token `rev-<d>-<r>-…` ([`reviewer_token`]).
pub const REVIEWERS: [(&str, &str); 6] = [
    ("plan", "zhang"),
    ("plan", "li"),
    ("plan", "wang"),
    ("review", "a"),
    ("review", "b"),
    ("housing", "zhou"),
];
/// Agents (代办员), each with a token `agent-<id>-…` ([`agent_token`]).
pub const AGENTS: [&str; 2] = ["li", "zhao"];

/// The token of reviewer `r` of department `d` (one of [`REVIEWERS`]).
pub fn reviewer_token(d: &str, r: &str) -> String {
    format!("rev-{d}-{r}-0000000000000000000")
}

/// The token of agent `a` (one of [`AGENTS`]).
pub fn agent_token(a: &str) -> String {
    format!("agent-{a}-0000000000000000000")
}

/// The real binary serving: its process, its gRPC address, its directory.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:port` of its gRPC side.
    pub addr: String,
    /// Its HTTP side (console, JSON API, `/metrics`).
    pub http: std::net::SocketAddr,
    /// Its directory (data in `data/`), kept when it is killed.
    pub dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Kills the server (SIGKILL) and keeps its directory.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.take().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// [`start_binary_with`] no extra arguments.
pub fn start_binary() -> Server {
    start_binary_with(&[])
}

/// The binary on a fresh directory, with `extra` arguments to `serve`.
pub fn start_binary_with(extra: &[&str]) -> Server {
    start_binary_in(tempfile::tempdir().unwrap(), extra)
}

/// Starts the real binary on a directory of the caller's (its data in `data/`, sled).
pub fn start_binary_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
    let tokens = write_tokens(dir.path());
    serve(dir, &tokens, extra)
}

/// Starts the real binary as one node of a city on a PostgreSQL database, with the
/// tokens file the nodes share (its own sled directory stays unused).
pub fn start_node(store: &str, tokens: &std::path::Path, extra: &[&str]) -> Server {
    let mut args = vec!["--store", store];
    args.extend_from_slice(extra);
    serve(tempfile::tempdir().unwrap(), tokens, &args)
}

/// `onewindow serve` on port 0 with its data in `dir/data`, once it prints its address.
pub fn serve(dir: tempfile::TempDir, tokens: &std::path::Path, extra: &[&str]) -> Server {
    serve_env(dir, tokens, extra, &[])
}

/// [`serve`] with environment variables set for the server (`TZ`, …).
pub fn serve_env(
    dir: tempfile::TempDir,
    tokens: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Server {
    let root = root();
    // The HTTP side on a port chosen here, so that a test can read its `/metrics` (the
    // server prints only its gRPC address).
    let http: std::net::SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let mut child = Command::new(binary())
        .envs(env.iter().copied())
        .args(["serve", "--listen", "127.0.0.1:0", "--http"])
        .arg(http.to_string())
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--tokens")
        .arg(tokens)
        .args(extra)
        .current_dir(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the server prints its address, not {line:?}"))
        .to_string();
    Server {
        child,
        addr,
        http,
        dir: Some(dir),
    }
}

/// A gRPC request carrying `token` as its bearer.
pub fn with<T>(token: &str, msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

/// A form's text value.
pub fn text(s: &str) -> pb::FieldValue {
    pb::FieldValue {
        value: Some(pb::field_value::Value::Text(s.into())),
    }
}

/// The deployed version of a workflow, by id.
pub async fn version_of(wf: &mut WorkflowsClient<tonic::transport::Channel>, id: &str) -> String {
    let list = wf
        .list(with(WINDOW, pb::ListWorkflowsRequest {}))
        .await
        .unwrap()
        .into_inner();
    list.workflows
        .into_iter()
        .find(|w| w.id == id)
        .unwrap_or_else(|| panic!("{id} is deployed"))
        .version
}

/// What the parallel construction workflow needs up to its construction stage.
pub const APPROVAL_MATERIALS: [&str; 16] = [
    "business_license",
    "project_info",
    "land_redline",
    "grant_payment",
    "cadastral_survey",
    "eia_report_form",
    "energy_report",
    "soil_plan",
    "design_scheme",
    "civil_defence_plan",
    "site_plan",
    "geotech_survey",
    "construction_drawings",
    "fire_design",
    "funding_commitment",
    "safety_measures",
];

/// References to materials by id.
pub fn refs(ids: &[&str]) -> Vec<pb::MaterialRef> {
    ids.iter()
        .map(|m| pb::MaterialRef {
            material: m.to_string(),
            ..Default::default()
        })
        .collect()
}

/// A filled-in complaint form.
pub fn complaint_form() -> HashMap<String, pb::FieldValue> {
    [
        ("complainant", "张三"),
        ("subject", "fees"),
        ("department_named", "某局"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), text(v)))
    .collect()
}

/// A complete form of the parallel construction workflow.
pub fn form() -> HashMap<String, pb::FieldValue> {
    let mut f = HashMap::new();
    for (k, v) in [
        ("project_name", "厂房"),
        ("enterprise", "某公司"),
        ("industry", "industrial"),
        ("land_supply", "grant"),
        ("eia_category", "report_form"),
    ] {
        f.insert(k.to_string(), text(v));
    }
    f.insert(
        "new_construction_land".into(),
        pb::FieldValue {
            value: Some(pb::field_value::Value::Flag(true)),
        },
    );
    f.insert(
        "special_fire".into(),
        pb::FieldValue {
            value: Some(pb::field_value::Value::Flag(true)),
        },
    );
    f.insert(
        "floor_area".into(),
        pb::FieldValue {
            value: Some(pb::field_value::Value::Number(32000.0)),
        },
    );
    f.insert(
        "investment".into(),
        pb::FieldValue {
            value: Some(pb::field_value::Value::Number(18000.0)),
        },
    );
    f
}

/// A project as the window sees it.
pub async fn window_project(
    window: &mut WindowClient<tonic::transport::Channel>,
    id: &str,
) -> pb::Project {
    window
        .get_project(with(WINDOW, pb::GetProjectRequest { project: id.into() }))
        .await
        .unwrap()
        .into_inner()
}

/// The window reports the milestones before approval (A01, R01): the approval stage opens.
pub async fn report_early_milestones(
    window: &mut WindowClient<tonic::transport::Channel>,
    project: &str,
) {
    for item in ["A01", "R01"] {
        let cmd = pb::ItemCommand {
            request_id: format!("{project}/{item}/report"),
            project: project.into(),
            item: item.into(),
            ..Default::default()
        };
        window.report_milestone(with(WINDOW, cmd)).await.unwrap();
    }
}

/// The next `n` events of a watch (panics after a generous wait).
pub async fn next_events(stream: &mut tonic::Streaming<pb::Event>, n: usize) -> Vec<pb::Event> {
    let mut out = Vec::new();
    while out.len() < n {
        let e = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        out.push(e);
    }
    out
}

/// Writes the tests' tokens file (one fixed token per role) into `dir`.
pub fn write_tokens(dir: &std::path::Path) -> PathBuf {
    let tokens = dir.join("tokens.yaml");
    let mut text = format!("tokens:\n  {WINDOW}: window\n  {NDRC}: department:ndrc\n  {NRP}: department:nrp\n  {SUPERVISOR}: supervisor\n  {ADMIN}: admin\n  {ANALYST}: analyst\n  {BUREAU}: department:supervision\n  {RESPONDENT}: department:respondent\n");
    for d in DEPARTMENTS.iter().chain(&["plan", "review", "housing"]) {
        text.push_str(&format!("  {}: department:{d}\n", dept_token(d)));
    }
    for (d, r) in REVIEWERS {
        text.push_str(&format!("  {}: department:{d}/{r}\n", reviewer_token(d, r)));
    }
    for a in AGENTS {
        text.push_str(&format!("  {}: agent:{a}\n", agent_token(a)));
    }
    std::fs::write(&tokens, text).unwrap();
    tokens
}

/// A server running in this process on the memory store, stopped when dropped.
pub struct InProcess {
    /// `http://127.0.0.1:port`.
    pub addr: String,
    /// The server's clock: the time of record of every command, moved by the test.
    pub clock: TestClock,
    /// The HTTP side (console, JSON API, metrics).
    pub http: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts `server::run` in process on a fresh memory store with the shipped workflows.
pub async fn start() -> InProcess {
    start_configured(|_| {}).await
}

/// [`start`], with the configuration changed by `configure` first (the tick, the policy).
/// The server's clock is a [`TestClock`] standing at 2025-03-03 09:00 until the test
/// moves it.
pub async fn start_configured(configure: impl FnOnce(&mut onewindow_server::Config)) -> InProcess {
    let root = root();
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        onewindow_server::Config::new(root.join("workflows"), write_tokens(dir.path()));
    let clock = TestClock::at("2025-03-03T09:00:00");
    config.clock = clock.clock();
    config.http = Some(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    configure(&mut config);
    let http = config
        .http
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .expect("the in-process server serves HTTP");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let store = std::sync::Arc::new(onewindow_store::memory::MemoryStore::new());
    tokio::spawn(onewindow_server::run(config, store, listener, async move {
        let _ = stopped.await;
    }));
    // Ready once it answers: restoring and deploying come before serving.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(mut c) = WorkflowsClient::connect(addr.clone()).await {
            // Serving once it answers at all: a test with identities of its own is
            // refused the fixed window token, which is an answer too.
            match c.list(with(WINDOW, pb::ListWorkflowsRequest {})).await {
                Ok(_) => break,
                Err(s) if s.code() == tonic::Code::Unauthenticated => break,
                Err(_) => {}
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the in-process server serves within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    InProcess {
        addr,
        clock,
        http,
        stop: Some(stop),
        _dir: dir,
    }
}

/// A clock the test moves: the server's time of record reads it. It stands still, or
/// moves on by a step at every read (like a real clock, so that commands racing on one
/// project read different times).
#[derive(Clone)]
pub struct TestClock(std::sync::Arc<std::sync::Mutex<(chrono::NaiveDateTime, chrono::Duration)>>);

impl TestClock {
    /// A clock standing at `at` (`YYYY-MM-DDTHH:MM:SS`, Beijing time).
    pub fn at(at: &str) -> TestClock {
        TestClock(std::sync::Arc::new(std::sync::Mutex::new((
            at.parse().unwrap(),
            chrono::Duration::zero(),
        ))))
    }

    /// Moves it to `at`.
    pub fn set(&self, at: &str) {
        self.0.lock().unwrap().0 = at.parse().unwrap();
    }

    /// From now on every read moves it on by `step`.
    pub fn step_every_read(&self, step: chrono::Duration) {
        self.0.lock().unwrap().1 = step;
    }

    /// The clock as the server takes it: the civil times the test gives are Beijing
    /// time (the shipped calendar's zone), the server reads them as instants.
    pub fn clock(&self) -> onewindow_server::Clock {
        let now = self.0.clone();
        std::sync::Arc::new(move || {
            let mut g = now.lock().unwrap();
            let (t, step) = *g;
            g.0 = t + step;
            t.and_local_timezone(onewindow_core::calendar::DEFAULT_ZONE)
                .earliest()
                .expect("a Beijing time")
                .to_utc()
        })
    }
}

/// An answer on the HTTP side.
#[derive(Debug)]
pub struct HttpReply {
    /// The HTTP status.
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl HttpReply {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("JSON body ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request, the raw way (one connection each, `Connection: close`), so that
/// the tests see exactly what the server sends.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpReply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&after[..n.min(after.len())]);
            rest = after.get(n + 2..).unwrap_or("");
        }
        out
    } else {
        body.to_string()
    };
    HttpReply {
        status,
        headers,
        body,
    }
}

// The HTTP side's helpers: the JSON API with a token, the console with a session.
use serde_json::{json, Value};

/// An `Authorization` header's value.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A JSON API call with `token`: the reply, its body parsed by [`HttpReply::json`].
pub async fn api(
    server: &InProcess,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
) -> HttpReply {
    let auth = bearer(token);
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    http(
        server.http,
        method,
        path,
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        &body,
    )
    .await
}

/// The deployed version of the complaint workflow, asked over the JSON API.
pub async fn complaint_version(server: &InProcess) -> String {
    let list = api(server, WINDOW, "GET", "/api/v1/workflows", Value::Null).await;
    assert_eq!(list.status, 200, "{}", list.body);
    list.json()["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "complaint")
        .unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A complete complaint submission as the JSON API takes it.
pub fn complaint(request_id: &str, project: &str, version: &str) -> Value {
    json!({
        "request_id": request_id,
        "project": project,
        "version": version,
        "applicant": "张三",
        "form": {"complainant": "张三", "subject": "fees", "department_named": "某局"},
        "materials": [{"material": "complaint_letter"}, {"material": "evidence"}]
    })
}

/// The login form's CSRF token and its cookie (`onewindow_login=…`), as a browser gets
/// them when it opens the login page.
pub async fn login_form(addr: std::net::SocketAddr) -> (String, String) {
    let form = http(addr, "GET", "/console/login", &[], "").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let csrf = form
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the login form carries a CSRF token")
        .to_string();
    let cookie = form
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("the login form sets its cookie")
        .to_string();
    (csrf, cookie)
}

/// Logs in to the console with a token, as a browser does (the form first, then the
/// post with its token and cookie): the session cookie.
pub async fn login(server: &InProcess, token: &str) -> String {
    let (csrf, cookie) = login_form(server.http).await;
    let r = http(
        server.http,
        "POST",
        "/console/login",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &cookie),
        ],
        &format!("token={token}&csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let cookie = r.header("set-cookie").unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().unwrap().to_string()
}

/// A console page, with the session cookie.
pub async fn page(server: &InProcess, cookie: &str, path: &str) -> HttpReply {
    http(server.http, "GET", path, &[("cookie", cookie)], "").await
}

/// Whether the tests run as root (then they may install the Debian packages they need).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A program from a Debian package (`program`, e.g. `/usr/bin/promtool` from
/// `prometheus`): there already, or installed now as root (serialised by a lock, so
/// parallel tests install once). Without root and without the program the test fails
/// saying what to install — it never skips itself.
pub fn debian_program(program: &str, package: &str) -> PathBuf {
    if std::path::Path::new(program).exists() {
        return PathBuf::from(program);
    }
    assert!(
        is_root() && std::path::Path::new("/usr/bin/apt-get").exists(),
        "this test needs {program}: sudo apt-get install -y {package}"
    );
    let lock = std::env::temp_dir().join(format!("onewindow-install-{package}.lock"));
    let out = Command::new("flock")
        .arg(&lock)
        .args(["sh", "-c"])
        .arg(format!(
            "test -x {program} || {{ DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {package} \
               || {{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {package}; }}; }}"
        ))
        .stdin(Stdio::null())
        .output()
        .expect("flock and sh");
    assert!(
        out.status.success() && std::path::Path::new(program).exists(),
        "installing {package} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(program)
}

/// A Python with the pinned requirements of `requirements` (relative to the checkout): a
/// virtual environment `name` under the build directory, made on first use with `python3
/// -m venv` and pip, and made again when the requirements change. Nothing is installed by
/// hand and nothing outside the build directory is touched; a machine that cannot make
/// it fails the test, saying why — the test never skips itself.
pub fn python_venv(name: &str, requirements: &str) -> PathBuf {
    let root = root();
    let file = root.join(requirements);
    let wanted = std::fs::read_to_string(&file).unwrap();
    let venv = target_tmp().join(name);
    let python = venv.join("bin/python3");
    let stamp = venv.join("requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let run = |cmd: &mut Command, what: &str| {
        let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed (python3 with venv and pip, and PyPI, are needed):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    );
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&file),
        &format!("pip install -r {requirements}"),
    );
    std::fs::write(&stamp, wanted).unwrap();
    python
}

/// Waits until `check` gives a value, asking every 100 ms, for at most `secs` seconds
/// (generous: the machine's speed decides how long a test takes, never whether it
/// passes), and panics naming `what` when it never does.
pub async fn eventually<T, F>(what: &str, secs: u64, mut check: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {secs} s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// One sample of a server's `/metrics` (`name` with its labels as written, e.g.
/// `onewindow_ticker_rounds_total`), if it is there.
pub async fn metric(server: std::net::SocketAddr, name: &str) -> Option<f64> {
    let body = http(server, "GET", "/metrics", &[], "").await.body;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The rounds of supervision a server's ticker has finished.
pub async fn ticker_rounds(server: std::net::SocketAddr) -> u64 {
    metric(server, "onewindow_ticker_rounds_total")
        .await
        .expect("the ticker's rounds on /metrics") as u64
}

/// Waits until the ticker of the server whose HTTP side is `server` has finished `n`
/// more rounds than it had when called.
pub async fn more_ticks(server: std::net::SocketAddr, n: u64) {
    let from = ticker_rounds(server).await;
    eventually("the ticker's rounds", 60, || async {
        (ticker_rounds(server).await >= from + n).then_some(())
    })
    .await
}
