//! Several `onewindow serve` nodes on one PostgreSQL database (a throwaway server each
//! test starts itself): every node serves every RPC, sees what the others commit, claims
//! a task once and answers a request id once; and nothing acknowledged is lost when a
//! node is killed or the database restarts under load.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::common::*;
use onewindow::engine::Actor;
use onewindow::server::pb;
use onewindow::store::postgres::{Options, PgStore};
use onewindow::store::service::{request_key, Service};
use onewindow::store::{ReadStore, Shared};
use onewindow_testkit::scratch::Scratch;
use pb::department_client::DepartmentClient;
use pb::window_client::WindowClient;
use pb::workflows_client::WorkflowsClient;
use tonic::Code;

fn database(name: &str) -> (Scratch, String) {
    let server = Scratch::start().expect("a throwaway PostgreSQL");
    let url = server.create_database(name).unwrap();
    (server, url)
}

/// Opens the database as a node would and checks every log; returns the service.
fn verified(url: &str) -> Service<PgStore> {
    let store = Arc::new(PgStore::open(url, &Options::default()).unwrap());
    let (svc, _) = Service::open(store, onewindow::engine::Policy::default()).unwrap();
    svc.verify().unwrap_or_else(|e| panic!("the logs: {e}"));
    svc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_serves_the_city_and_sees_what_the_others_commit() {
    let (_db, url) = database("city");
    let dir = tempfile::tempdir().unwrap();
    let tokens = write_tokens(dir.path());
    let a = start_node(&url, &tokens, &[]);
    let b = start_node(&url, &tokens, &[]);

    let mut wf = WorkflowsClient::connect(a.addr.clone()).await.unwrap();
    let version = version_of(&mut wf, "construction-parallel").await;
    let mut window_a = WindowClient::connect(a.addr.clone()).await.unwrap();
    let mut window_b = WindowClient::connect(b.addr.clone()).await.unwrap();
    let mut dept_a = DepartmentClient::connect(a.addr.clone()).await.unwrap();
    let mut dept_b = DepartmentClient::connect(b.addr.clone()).await.unwrap();

    // Node B watches every project live, and ndrc's stream is open on node B.
    let mut watch_b = window_b
        .watch(with(
            WINDOW,
            pb::WatchRequest {
                live: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let mut ndrc_b = dept_b
        .stream_ready(with(NDRC, pb::StreamReadyRequest::default()))
        .await
        .unwrap()
        .into_inner();

    // Everything happens through node A.
    let submit = pb::SubmitRequest {
        request_id: "w1".into(),
        project: "W1".into(),
        version,
        applicant: "a".into(),
        form: form(),
        materials: refs(&APPROVAL_MATERIALS),
        ..Default::default()
    };
    let submitted = window_a
        .submit(with(WINDOW, submit.clone()))
        .await
        .unwrap()
        .into_inner();
    report_early_milestones(&mut window_a, "W1").await;

    // Node B pushes the task node A made ready to ndrc's stream...
    let pushed = tokio::time::timeout(std::time::Duration::from_secs(10), ndrc_b.message())
        .await
        .expect("node B pushes within 10 s")
        .unwrap()
        .unwrap();
    assert_eq!(
        (pushed.project.as_str(), pushed.item.as_str()),
        ("W1", "I01")
    );
    // ...and its watcher gets every event node A committed, in order, once.
    let timeline = window_project(&mut window_a, "W1").await.seq;
    let seen = next_events(&mut watch_b, timeline as usize).await;
    let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=timeline).collect::<Vec<_>>(), "in order, no gap");
    assert_eq!(seen[0].r#type, "submitted");
    assert_eq!(
        submitted.events.len() as u64,
        submitted.events.last().unwrap().seq
    );

    // A request id answered on node A is answered again on node B, not applied again.
    let again = window_b
        .submit(with(WINDOW, submit))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed, "a retry on another node is a replay");
    assert_eq!(again.events, submitted.events);

    // Two clerks of ndrc claim I01 at once, one on each node: one wins.
    let claim = |rid: &str| pb::ItemCommand {
        request_id: rid.into(),
        project: "W1".into(),
        item: "I01".into(),
        ..Default::default()
    };
    let (ra, rb) = tokio::join!(
        dept_a.claim(with(NDRC, claim("claim-a"))),
        dept_b.claim(with(NDRC, claim("claim-b")))
    );
    let outcomes = [ra.map(|_| ()), rb.map(|_| ())];
    assert_eq!(
        outcomes.iter().filter(|r| r.is_ok()).count(),
        1,
        "exactly one claim wins: {outcomes:?}"
    );
    let lost = outcomes.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(lost.code(), Code::FailedPrecondition, "{lost:?}");

    // Node B reads the claim whichever node made it.
    let state = window_project(&mut window_b, "W1").await;
    let i01 = state.tasks.iter().find(|t| t.item == "I01").unwrap();
    assert_eq!(i01.state, "claimed");

    drop((a, b));
    let svc = verified(&url);
    let claims = svc
        .store()
        .events("W1", 0)
        .unwrap()
        .iter()
        .filter(|e| e.event.kind() == "task_claimed")
        .count();
    assert_eq!(claims, 1, "claimed once across nodes");
}

#[test]
fn supervision_runs_on_one_node_and_moves_when_it_dies() {
    let (_db, url) = database("lease");
    let first = PgStore::open(&url, &Options::default()).unwrap();
    let second = PgStore::open(&url, &Options::default()).unwrap();
    assert!(
        first.lead("supervision").unwrap(),
        "the first node takes it"
    );
    assert!(first.lead("supervision").unwrap(), "and keeps it");
    assert!(!second.lead("supervision").unwrap(), "only one holds it");
    assert!(second.lead("other").unwrap(), "leases are by role");
    // The holder dies (its connections close): the next node that asks takes it.
    drop(first);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !second.lead("supervision").unwrap() {
        assert!(
            std::time::Instant::now() < deadline,
            "the lease passes on when its holder dies"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Drives complaints through whichever node answers: on an unavailable node the client
/// moves to the next address and sends the same request again (same id: answered once).
async fn client(
    addrs: Arc<Vec<String>>,
    version: String,
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    name: String,
) {
    let mut node = name.len() % addrs.len();
    let mut n = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let project = format!("{name}n{n}");
        n += 1;
        let mut steps: Vec<(String, Actor, Step)> =
            vec![(format!("{project}/submit"), Actor::Window, Step::Submit)];
        for (item, by) in [
            ("C01", "supervision"),
            ("C02", "respondent"),
            ("C04", "supervision"),
        ] {
            steps.push((
                format!("{project}/{item}"),
                Actor::Department(by.into()),
                Step::Approve(item),
            ));
        }
        for (rid, actor, step) in steps {
            // The same request until it is answered (bounded: the test has a deadline).
            for _ in 0..200 {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                let addr = addrs[node].clone();
                let sent = send(&addr, &version, &project, &rid, &step).await;
                match sent {
                    Ok(()) => {
                        acked.lock().unwrap().push(request_key(&actor, &rid));
                        break;
                    }
                    Err(Code::FailedPrecondition) => break,
                    Err(_) => {
                        node = (node + 1) % addrs.len();
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                }
            }
        }
    }
}

enum Step {
    Submit,
    Approve(&'static str),
}

async fn send(
    addr: &str,
    version: &str,
    project: &str,
    rid: &str,
    step: &Step,
) -> Result<(), Code> {
    let channel = tonic::transport::Endpoint::from_shared(addr.to_string())
        .unwrap()
        .connect_timeout(std::time::Duration::from_secs(1))
        .timeout(std::time::Duration::from_secs(10))
        .connect()
        .await
        .map_err(|_| Code::Unavailable)?;
    let result = match step {
        Step::Submit => WindowClient::new(channel)
            .submit(with(
                WINDOW,
                pb::SubmitRequest {
                    request_id: rid.into(),
                    project: project.into(),
                    version: version.into(),
                    form: complaint_form(),
                    materials: refs(&["complaint_letter", "evidence"]),
                    ..Default::default()
                },
            ))
            .await
            .map(|_| ()),
        Step::Approve(item) => DepartmentClient::new(channel)
            .approve(with(
                if *item == "C02" { RESPONDENT } else { BUREAU },
                pb::ApproveRequest {
                    request_id: rid.into(),
                    project: project.into(),
                    item: (*item).into(),
                    numbers: HashMap::new(),
                    ..Default::default()
                },
            ))
            .await
            .map(|_| ()),
    };
    result.map_err(|s| s.code())
}

/// Checks the database after a run: every log verified, every acknowledged request
/// answered, no item approved twice (the verification's own rule).
fn check_after(url: &str, acked: &Mutex<Vec<String>>, label: &str) {
    let svc = verified(url);
    let acked = acked.lock().unwrap();
    for id in acked.iter() {
        assert!(
            svc.store().answer(id).unwrap().is_some(),
            "{label}: acknowledged {id:?} is missing"
        );
    }
    assert!(
        acked.len() > 50,
        "{label}: the clients got work done ({})",
        acked.len()
    );
    eprintln!(
        "{label}: {} acknowledged commands, all in the database",
        acked.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_nodes_under_load_loses_nothing_acknowledged() {
    let (_db, url) = database("failover");
    let dir = tempfile::tempdir().unwrap();
    let tokens = write_tokens(dir.path());
    let mut nodes: Vec<Server> = (0..3).map(|_| start_node(&url, &tokens, &[])).collect();
    let mut wf = WorkflowsClient::connect(nodes[0].addr.clone())
        .await
        .unwrap();
    let version = version_of(&mut wf, "complaint").await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    for round in 0..4 {
        let addrs = Arc::new(nodes.iter().map(|n| n.addr.clone()).collect::<Vec<_>>());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut clients = tokio::task::JoinSet::new();
        for c in 0..6 {
            clients.spawn(client(
                addrs.clone(),
                version.clone(),
                acked.clone(),
                stop.clone(),
                format!("r{round}c{c}"),
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(400 + 150 * round)).await;
        // kill -9 one node under load; the survivors keep serving.
        let victim = round as usize % nodes.len();
        let before = acked.lock().unwrap().len();
        let _ = nodes.remove(victim).kill();
        eventually(
            &format!("round {round}: the surviving nodes keep serving"),
            60,
            || async { (acked.lock().unwrap().len() > before).then_some(()) },
        )
        .await;
        // The command line, given every address, gets its answer from a node that is up.
        let dead = format!("http://127.0.0.1:{}", free_port());
        let servers = std::iter::once(dead)
            .chain(nodes.iter().map(|n| n.addr.clone()))
            .collect::<Vec<_>>()
            .join(",");
        let project = format!("r{round}c0n0");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_onewindow"))
            .args([
                "project",
                "get",
                "--project",
                &project,
                "--server",
                &servers,
            ])
            .args(["--token", WINDOW])
            .output()
            .unwrap();
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains(&project),
            "round {round}: the CLI fails over: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        while clients.join_next().await.is_some() {}
        // A new node takes the dead one's place.
        nodes.insert(victim, start_node(&url, &tokens, &[]));
    }
    drop(nodes);
    check_after(&url, &acked, "after the kills");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_of_the_database_under_load_loses_nothing_acknowledged() {
    let (db, url) = database("restart");
    let dir = tempfile::tempdir().unwrap();
    let tokens = write_tokens(dir.path());
    let nodes: Vec<Server> = (0..2).map(|_| start_node(&url, &tokens, &[])).collect();
    let mut wf = WorkflowsClient::connect(nodes[0].addr.clone())
        .await
        .unwrap();
    let version = version_of(&mut wf, "complaint").await;
    let acked = Arc::new(Mutex::new(Vec::new()));
    let addrs = Arc::new(nodes.iter().map(|n| n.addr.clone()).collect::<Vec<_>>());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..6 {
        clients.spawn(client(
            addrs.clone(),
            version.clone(),
            acked.clone(),
            stop.clone(),
            format!("c{c}"),
        ));
    }
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    // The database crashes (no checkpoint) and comes back.
    let db = Arc::new(db);
    let restarted = db.clone();
    tokio::task::spawn_blocking(move || {
        restarted.kill().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        restarted.restart().unwrap();
    })
    .await
    .unwrap();
    let before = acked.lock().unwrap().len();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while acked.lock().unwrap().len() < before + 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "the nodes serve again after the database restarts"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    while clients.join_next().await.is_some() {}
    drop(nodes);
    check_after(&url, &acked, "after the database restart");
    drop(db);
}

/// `loadgen` given both nodes' addresses finishes its projects when one node is killed
/// under it: its connections move to the survivor, a command cut off is sent again with
/// its request id, and tasks claimed for a department whose push died with the node are
/// finished too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_fails_over_when_a_node_dies() {
    let (_db, url) = database("loadgen");
    let dir = tempfile::tempdir().unwrap();
    let tokens = write_tokens(dir.path());
    let a = start_node(&url, &tokens, &[]);
    let b = start_node(&url, &tokens, &[]);
    let servers = format!("{},{}", a.addr, b.addr);
    let mut load = std::process::Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .args(["loadgen", "--server", &servers, "--tokens"])
        .arg(&tokens)
        .args(["--projects", "300", "--clients", "4", "--workers", "2"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    let _ = b.kill();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(s) = load.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = load.kill();
            panic!("loadgen did not finish within 120 s of a node's death");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let out = load.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.success() && stdout.contains("300 projects in"),
        "loadgen: {stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("again"),
        "the node died while loadgen was connected to it: {stderr}"
    );
    drop(a);
    let svc = verified(&url);
    assert_eq!(svc.project_ids().len(), 300);
}

/// Console sessions live in PostgreSQL: a clerk logged in on one node is served by the
/// other (no sticky sessions needed), keeps working when the first node dies, and a
/// logout on any node ends the session on every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sessions_are_the_citys_not_a_nodes() {
    let (_db, url) = database("sessions");
    let dir = tempfile::tempdir().unwrap();
    let tokens = write_tokens(dir.path());
    let a = start_node(&url, &tokens, &[]);
    let b = start_node(&url, &tokens, &[]);
    let cookie = login_at(a.http, WINDOW).await;
    let on = |addr| {
        let cookie = cookie.clone();
        async move { http(addr, "GET", "/console/window", &[("cookie", &cookie)], "").await }
    };
    assert_eq!(on(a.http).await.status, 200);
    let at_b = on(b.http).await;
    assert_eq!(
        at_b.status, 200,
        "node B serves node A's session: {}",
        at_b.body
    );

    // Node A dies; the clerk goes on through node B.
    let b_http = b.http;
    drop(a.kill());
    let page = on(b_http).await;
    assert_eq!(page.status, 200);

    // A third node joins; a logout there ends the session on node B too.
    let c = start_node(&url, &tokens, &[]);
    assert_eq!(on(c.http).await.status, 200);
    let csrf = page
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let out = http(
        c.http,
        "POST",
        "/console/logout",
        &[
            ("cookie", &cookie),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(out.status, 303, "{}", out.body);
    let after = on(b_http).await;
    assert_eq!(after.status, 303, "ended on every node");
    assert_eq!(after.header("location"), Some("/console/login"));
}

/// Callbacks on PostgreSQL: one node delivers (the `callbacks` lease); killed while
/// deliveries are under way, the survivor takes the lease and delivers the rest from the
/// cursors in the database — every event arrives, once after de-duplication, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_go_on_from_the_survivor_when_the_delivering_node_dies() {
    use crate::callbacks::{delivered, seen_at};
    use std::collections::BTreeSet;
    use std::time::Duration;
    let (_db, url) = database("callbacks");
    let dir = tempfile::tempdir().unwrap();
    let tokens = write_tokens(dir.path());
    let receiver = Receiver::start().await;
    // Slow: a delivery is in flight, unanswered, when the node dies.
    receiver.delay(Duration::from_millis(1500));
    let host = receiver.host();
    let flags = [
        "--callback-allow",
        host.as_str(),
        "--callback-allow-http",
        "--callback-backoff-ms",
        "50",
        "--callback-backoff-max-ms",
        "300",
    ];
    let a = start_node(&url, &tokens, &flags);
    let leads = |addr| async move {
        (metric(addr, "onewindow_callback_leader").await == Some(1.0)).then_some(())
    };
    eventually("node A delivers", 20, || leads(a.http)).await;
    let b = start_node(&url, &tokens, &flags);
    let auth = bearer(NDRC);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let body = serde_json::json!({"url": receiver.url()}).to_string();
    let r = http(b.http, "POST", "/api/v1/callbacks", &headers, &body).await;
    assert_eq!(r.status, 200, "registered through node B: {}", r.body);
    let secret = r.json()["secret"].as_str().unwrap().to_string();

    let mut wf = WorkflowsClient::connect(b.addr.clone()).await.unwrap();
    let version = version_of(&mut wf, "construction-parallel").await;
    let mut window = WindowClient::connect(b.addr.clone()).await.unwrap();
    let mut dept = DepartmentClient::connect(b.addr.clone()).await.unwrap();
    let mut projects = Vec::new();
    let mut go = async |n: usize| {
        let p = format!("K{n}");
        submit_for_approval(&mut window, &version, &p).await;
        let approve = pb::ApproveRequest {
            request_id: format!("k{n}/I01"),
            project: p.clone(),
            item: "I01".into(),
            ..Default::default()
        };
        dept.approve(with(NDRC, approve)).await.unwrap();
        p
    };
    for n in 0..6 {
        projects.push(go(n).await);
    }
    // Node A is delivering, and its receiver has not answered: kill it mid-way.
    eventually("a delivery under way", 20, || {
        let n = receiver.started();
        async move { (n >= 1).then_some(()) }
    })
    .await;
    drop(a.kill());
    for n in 6..10 {
        projects.push(go(n).await);
    }
    eventually("node B delivers", 20, || leads(b.http)).await;
    let mut expected = BTreeSet::new();
    for p in &projects {
        expected.extend(seen_at(b.http, "ndrc", p, &[]).await);
    }
    let got = delivered(
        &receiver,
        &secret,
        expected.len(),
        "every event delivered",
        60,
    )
    .await;
    assert_eq!(
        got, expected,
        "every event of ndrc, none lost, none foreign"
    );
}
