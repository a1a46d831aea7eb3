//! End to end with the real binary: `onewindow serve` on port 0 with a temporary sled
//! data directory — what only a process shows: restarts, kill -9 under load, signals,
//! TLS, the command-line clients and the Python example worker.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::common::*;
use onewindow::engine::Actor;
use onewindow::server::pb;
use onewindow::store::service::request_key;
use pb::department_client::DepartmentClient;
use pb::window_client::WindowClient;
use pb::workflows_client::WorkflowsClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// kill -9 after an acknowledged submission: the event is on disk as acknowledged, and
/// the server started again serves it and answers the same request as before.
async fn acknowledged_commands_survive_a_restart_of_the_server() {
    let server = start_binary();
    let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut workflows, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let f = complaint_form();
    let materials = refs(&["complaint_letter", "evidence"]);
    let req = pb::SubmitRequest {
        request_id: "c1".into(),
        project: "C1".into(),
        version,
        form: f,
        materials,
        ..Default::default()
    };
    let first = window
        .submit(with(WINDOW, req.clone()))
        .await
        .unwrap()
        .into_inner();
    let dir = server.kill();
    let data = dir.path().join("data");
    assert!(data.exists());
    let store = std::sync::Arc::new(
        onewindow::store::disk::SledStore::open(&data, onewindow::store::disk::Flush::Group)
            .unwrap(),
    );
    let (svc, _) =
        onewindow::store::service::Service::open(store, onewindow::engine::Policy::default())
            .unwrap();
    let p = svc
        .project("C1")
        .expect("the acknowledged submission is on disk");
    // Every acknowledged event, as acknowledged (a supervision run may have added more).
    let stored = onewindow::store::ReadStore::events(svc.store(), "C1", 0).unwrap();
    let acknowledged: Vec<(u64, String)> = first
        .events
        .iter()
        .map(|e| (e.seq, e.summary.clone()))
        .collect();
    let on_disk: Vec<(u64, String)> = stored
        .iter()
        .take(acknowledged.len())
        .map(|e| (e.seq, e.event.summary()))
        .collect();
    assert_eq!(on_disk, acknowledged);
    assert!(p.seq() >= first.events.last().unwrap().seq);
    // The server started again on the same directory serves the project, and the same
    // request sent again gets the answer it got before the kill.
    drop(svc);
    let server = start_binary_in(dir, &[]);
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let again = window.submit(with(WINDOW, req)).await.unwrap().into_inner();
    assert!(
        again.replayed,
        "answered from the record, not decided again"
    );
    assert_eq!(
        again.events, first.events,
        "the recorded answer, after the restart"
    );
    let got = window_project(&mut window, "C1").await;
    assert!(got.seq >= first.events.last().unwrap().seq, "{got:?}");
}

/// A clerk at the command line: `onewindow project submit|get` and `onewindow tasks
/// list|approve` against the running server.
#[test]
fn the_command_line_clients_drive_a_project() {
    let server = start_binary();
    let dir = tempfile::tempdir().unwrap();
    let form = dir.path().join("form.yaml");
    std::fs::write(
        &form,
        "complainant: 张三\nsubject: fees\ndepartment_named: 某局\n",
    )
    .unwrap();
    let run = |token: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_onewindow"))
            .args(args)
            .args(["--server", &server.addr, "--token", token])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let f = form.to_str().unwrap();
    let submit = [
        "project",
        "submit",
        "--project",
        "K1",
        "--workflow",
        "complaint",
        "--form",
        f,
        "--materials",
        "complaint_letter,evidence",
        "--request-id",
        "k1",
    ];
    let (code, out, err) = run(WINDOW, &submit);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("task-ready C01"), "{out}");
    // The same request again: answered as a retry.
    let (_, again, _) = run(WINDOW, &submit);
    assert!(again.contains("a retry"), "{again}");
    // ndrc acting on the supervision bureau's task: the engine refuses it.
    let (code, _, err) = run(
        NDRC,
        &["tasks", "approve", "--project", "K1", "--item", "C01"],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("not-your-task"), "{err}");
    let (code, out, _) = run(WINDOW, &["project", "get", "--project", "K1"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("C01    supervision    ready"), "{out}");
    // Watching for one type of event: the first line printed is the task becoming
    // ready, not the submission before it.
    let mut watch = Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .args([
            "project",
            "watch",
            "--project",
            "K1",
            "--type",
            "task_ready",
        ])
        .args(["--server", &server.addr, "--token", WINDOW])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(watch.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(first.contains("task-ready C01"), "{first}");
}

/// Another language's system, from the .proto alone: the Python department worker in
/// `examples/python/` receives the supervision bureau's ready task and approves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_department_worker_approves_over_grpc() {
    let server = start_binary();
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut wf, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let f = complaint_form();
    let materials = refs(&["complaint_letter", "evidence"]);
    let req = pb::SubmitRequest {
        request_id: "py1".into(),
        project: "PY".into(),
        version,
        form: f,
        materials,
        ..Default::default()
    };
    window.submit(with(WINDOW, req)).await.unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let addr = server.addr.trim_start_matches("http://").to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python_venv(
            "python-example",
            "examples/python/requirements.txt",
        ))
        .arg(root.join("examples/python/department_worker.py"))
        .args(["--server", &addr, "--token", BUREAU, "--limit", "1"])
        .output()
        .expect("the example's Python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ready: PY/C01"), "{stdout}");
    assert!(stdout.contains("approved C01 [registration]"), "{stdout}");
}

/// The crash test through the server: concurrent gRPC clients submit and approve while
/// the server is killed with SIGKILL at a random moment, 12 times over one data
/// directory; after each kill every acknowledged request is in the store, nothing is
/// applied twice, and the restarted server answers a retry with the first answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_grpc_load_loses_nothing_acknowledged() {
    use std::sync::{Arc, Mutex};
    let mut dir = tempfile::tempdir().unwrap();
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for round in 0..12 {
        let server = start_binary_in(dir, &[]);
        let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
        let version = version_of(&mut wf, "complaint").await;
        // A retry of something acknowledged before the last crash gets its first answer.
        let old = acked
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.ends_with("/submit"))
            .cloned();
        if let Some(key) = old {
            let old = key
                .split_once(onewindow::store::service::SCOPE_SEPARATOR)
                .map_or(key.as_str(), |(_, id)| id)
                .to_string();
            let project = old.trim_end_matches("/submit").to_string();
            let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
            // The same command exactly: a request id is bound to its command.
            let req = pb::SubmitRequest {
                request_id: old.clone(),
                project,
                version: version.clone(),
                form: complaint_form(),
                materials: refs(&["complaint_letter", "evidence"]),
                ..Default::default()
            };
            let again = window.submit(with(WINDOW, req)).await.unwrap().into_inner();
            assert!(
                again.replayed,
                "round {round}: {old} answered again, not applied again"
            );
        }
        let mut clients = tokio::task::JoinSet::new();
        for c in 0..6 {
            let (addr, version, acked) = (server.addr.clone(), version.clone(), acked.clone());
            clients.spawn(async move {
                let Ok(mut window) = WindowClient::connect(addr.clone()).await else {
                    return;
                };
                let Ok(mut dept) = DepartmentClient::connect(addr).await else {
                    return;
                };
                for n in 0.. {
                    let project = format!("r{round}c{c}n{n}");
                    let f = complaint_form();
                    let materials = refs(&["complaint_letter", "evidence"]);
                    let rid = format!("{project}/submit");
                    let req = pb::SubmitRequest {
                        request_id: rid.clone(),
                        project: project.clone(),
                        version: version.clone(),
                        form: f,
                        materials,
                        ..Default::default()
                    };
                    if window.submit(with(WINDOW, req)).await.is_err() {
                        return;
                    }
                    acked
                        .lock()
                        .unwrap()
                        .push(request_key(&Actor::Window, &rid));
                    for (item, token, by) in [
                        ("C01", BUREAU, "supervision"),
                        ("C02", RESPONDENT, "respondent"),
                        ("C04", BUREAU, "supervision"),
                    ] {
                        let rid = format!("{project}/{item}");
                        let req = pb::ApproveRequest {
                            request_id: rid.clone(),
                            project: project.clone(),
                            item: item.into(),
                            numbers: HashMap::new(),
                            ..Default::default()
                        };
                        if dept.approve(with(token, req)).await.is_err() {
                            return;
                        }
                        let by = Actor::Department(by.to_string());
                        acked.lock().unwrap().push(request_key(&by, &rid));
                    }
                }
            });
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(std::time::Duration::from_millis(150 + seed % 450)).await;
        dir = server.kill();
        while clients.join_next().await.is_some() {}
        let store = Arc::new(
            onewindow::store::disk::SledStore::open(
                &dir.path().join("data"),
                onewindow::store::disk::Flush::Group,
            )
            .unwrap(),
        );
        let (svc, report) = onewindow::store::service::Service::open(
            store.clone(),
            onewindow::engine::Policy::default(),
        )
        .unwrap();
        assert!(!report.index_rebuilt, "round {round}");
        svc.verify()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        for id in acked.lock().unwrap().iter() {
            assert!(
                onewindow::store::ReadStore::answer(&*store, id)
                    .unwrap()
                    .is_some(),
                "round {round}: acknowledged {id:?} is missing"
            );
        }
    }
    assert!(
        acked.lock().unwrap().len() > 100,
        "the clients got work done"
    );
}

/// TLS is one switch away: with `--tls-cert` and `--tls-key` the same server speaks TLS
/// (rustls), and a client that trusts the certificate works as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_speaks_tls_with_a_certificate() {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    let server = start_binary_with(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(server.addr.starts_with("https://"), "{}", server.addr);
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(cert.pem()))
        .domain_name("localhost");
    let channel = tonic::transport::Channel::from_shared(server.addr.clone())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut wf = WorkflowsClient::new(channel);
    let list = wf
        .list(with(WINDOW, pb::ListWorkflowsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(list
        .workflows
        .iter()
        .any(|w| w.id == "construction-parallel"));
    // Plain HTTP/2 to a TLS server gets nowhere.
    let plain = server.addr.replace("https://", "http://");
    if let Ok(mut c) = WorkflowsClient::connect(plain).await {
        assert!(c
            .list(with(WINDOW, pb::ListWorkflowsRequest {}))
            .await
            .is_err());
    }
}

/// SIGTERM with a watcher connected and the window still submitting: the watch stream
/// ends at once (it does not keep the server waiting for the client to hang up), the
/// process exits cleanly within seconds, and every submission acknowledged before the
/// signal is in the store when the server starts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_a_watcher_connected_ends_promptly_and_loses_nothing() {
    let mut server = start_binary();
    let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut workflows, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let mut watch = window
        .watch(with(WINDOW, pb::WatchRequest::default()))
        .await
        .unwrap()
        .into_inner();
    // The window submits project after project until the server stops answering.
    let submitting = {
        let mut window = window.clone();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0..10_000 {
                let req = pb::SubmitRequest {
                    request_id: format!("t{n}"),
                    project: format!("T{n}"),
                    version: version.clone(),
                    form: complaint_form(),
                    materials: refs(&["complaint_letter", "evidence"]),
                    ..Default::default()
                };
                match window.submit(with(WINDOW, req)).await {
                    Ok(_) => acknowledged.push(format!("T{n}")),
                    Err(_) => break,
                }
            }
            acknowledged
        })
    };
    // The watcher sees the first events, then the signal comes.
    next_events(&mut watch, 3).await;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let signalled = std::time::Instant::now();
    // The stream ends (end of stream or an error), promptly.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Ok(Some(_)) = watch.message().await {}
    })
    .await;
    assert!(ended.is_ok(), "the watch stream ends after SIGTERM");
    let status = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            signalled.elapsed() < std::time::Duration::from_secs(10),
            "the server exits within 10 s of SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert!(status.success(), "a clean exit: {status}");
    let acknowledged = submitting.await.unwrap();
    assert!(!acknowledged.is_empty());
    // Nothing acknowledged is lost.
    let dir = server.dir.take().unwrap();
    let store = std::sync::Arc::new(
        onewindow::store::disk::SledStore::open(
            &dir.path().join("data"),
            onewindow::store::disk::Flush::Group,
        )
        .unwrap(),
    );
    let (svc, _) =
        onewindow::store::service::Service::open(store, onewindow::engine::Policy::default())
            .unwrap();
    for p in &acknowledged {
        assert!(svc.project(p).is_some(), "acknowledged {p} is in the store");
    }
}

/// The server's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS in /proc")
}

/// Commands for projects that do not exist, each with a new request id, leave nothing
/// behind: after a warm-up, two more floods of 10,000 such commands leave the server's
/// memory flat (before, each left an empty slot in memory and a refusal on disk).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_commands_for_unknown_projects_leaves_memory_flat() {
    // The per-caller rate is not what this measures: off, so a fast build's flood is not
    // refused for its speed (RESOURCE_EXHAUSTED instead of NOT_FOUND).
    let server = start_binary_with(&["--per-caller-rps", "0"]);
    let pid = server.child.id();
    let flood = |round: usize, n: usize| {
        let addr = server.addr.clone();
        async move {
            let mut clients = tokio::task::JoinSet::new();
            for c in 0..8 {
                let addr = addr.clone();
                clients.spawn(async move {
                    let mut dept = DepartmentClient::connect(addr).await.unwrap();
                    for k in (c..n).step_by(8) {
                        let req = pb::ApproveRequest {
                            request_id: format!("flood-{round}-{k}"),
                            project: format!("NOPE-{round}-{k}"),
                            item: "C01".into(),
                            ..Default::default()
                        };
                        let err = dept.approve(with(BUREAU, req)).await.unwrap_err();
                        assert_eq!(err.code(), tonic::Code::NotFound);
                    }
                });
            }
            while let Some(r) = clients.join_next().await {
                r.unwrap();
            }
        }
    };
    flood(0, 5_000).await;
    let warm = rss_kib(pid);
    flood(1, 10_000).await;
    let one = rss_kib(pid);
    flood(2, 10_000).await;
    let two = rss_kib(pid);
    eprintln!("RSS after warm-up {warm} KiB, after 10,000 more {one} KiB, after 20,000 {two} KiB");
    // Growth is what fails: the second round above the highest of the rounds before it
    // (the allocator may give pages back in between, so `one` can dip below `warm`).
    assert!(
        two <= warm + 4 * 1024 && two <= warm.max(one) + 2 * 1024,
        "memory grows with bad traffic: {warm} → {one} → {two} KiB"
    );
}
