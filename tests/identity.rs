//! The identity file against the real binary: created owner-only with hashes only, the
//! first start's tokens shown once in a file of their own, and `onewindow tokens
//! add|revoke|list` taking effect on a running server without a restart (issue 18, point
//! 1: secrets at rest).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::*;
use onewindow::server::pb;
use pb::department_client::DepartmentClient;
use pb::workflows_client::WorkflowsClient;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn cli(args: &[&str], tokens: &Path) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .arg("tokens")
        .args(args)
        .arg("--tokens")
        .arg(tokens)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Calls ListTasks with `token` until the answer's code is `want` (the server reads the
/// identity file again within a second of a change), at most 5 s.
async fn until(addr: &str, token: &str, want: tonic::Code) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut d = DepartmentClient::connect(addr.to_string()).await.unwrap();
    loop {
        let got = match d
            .list_tasks(with(token, pb::ListTasksRequest::default()))
            .await
        {
            Ok(_) => tonic::Code::Ok,
            Err(s) => s.code(),
        };
        if got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {got:?}, expected {want:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_are_hashes_owner_only_and_change_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tokens = data.join("tokens.yaml");
    let server = serve(dir, &tokens, &[]);
    // The server answers once it has opened the store and written the tokens.
    let initial = data.join("tokens.initial.yaml");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !initial.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first start writes its tokens"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Owner-only: the data directory, the identity file, the first start's tokens.
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&tokens), 0o600);
    assert_eq!(mode(&initial), 0o600);
    // The initial file has the tokens in clear; the identity file none of them.
    let clear: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        serde_yaml::from_str(&std::fs::read_to_string(&initial).unwrap()).unwrap();
    let identity = std::fs::read_to_string(&tokens).unwrap();
    let admin = clear["tokens"]
        .iter()
        .find(|(_, r)| r.as_str() == "admin")
        .map(|(t, _)| t.clone())
        .unwrap();
    for t in clear["tokens"].keys() {
        assert!(
            !identity.contains(t.as_str()),
            "a token in clear in {identity}"
        );
    }
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    wf.list(with(&admin, pb::ListWorkflowsRequest {}))
        .await
        .expect("a first-start token works");

    // A token added while the server runs works within a second or so.
    let (ok, token, said) = cli(&["add", "--role", "department:nrp"], &tokens);
    assert!(ok, "{said}");
    let token = token.trim().to_string();
    assert_eq!(token.len(), 32);
    until(&server.addr, &token, tonic::Code::Ok).await;
    let id = said.split_whitespace().nth(1).unwrap().to_string();

    // Listed by id and role, never by token.
    let (ok, listed, _) = cli(&["list"], &tokens);
    assert!(ok);
    assert!(
        listed.contains(&id) && listed.contains("department:nrp"),
        "{listed}"
    );
    assert!(!listed.contains(&token) && !listed.contains(&admin));

    // Revoked: refused as unknown, expired or revoked.
    let (ok, _, said) = cli(&["revoke", &id], &tokens);
    assert!(ok, "{said}");
    until(&server.addr, &token, tonic::Code::Unauthenticated).await;
    let (_, listed, _) = cli(&["list"], &tokens);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("revoked")),
        "{listed}"
    );

    // Expired: a token whose time is past never works.
    let (ok, old, _) = cli(
        &["add", "--role", "department:nrp", "--expires", "2000-01-01"],
        &tokens,
    );
    assert!(ok);
    let (ok, fresh, _) = cli(&["add", "--role", "department:nrp"], &tokens);
    assert!(ok);
    until(&server.addr, fresh.trim(), tonic::Code::Ok).await;
    until(&server.addr, old.trim(), tonic::Code::Unauthenticated).await;
    assert_eq!(mode(&tokens), 0o600, "still owner-only after the changes");

    // A role the server does not know is refused by the command, and changes nothing.
    let before = std::fs::read_to_string(&tokens).unwrap();
    let (ok, _, said) = cli(&["add", "--role", "king"], &tokens);
    assert!(!ok && said.contains("unknown role"), "{said}");
    assert_eq!(std::fs::read_to_string(&tokens).unwrap(), before);
}

/// A wrong token over gRPC is refused, counted for `/metrics` like a failed console login,
/// and logged with the caller's address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_grpc_authentications_are_counted() {
    let server = start().await;
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    for guess in ["guess-guess-guess-guess", "another-guess-another"] {
        let e = wf
            .list(with(guess, pb::ListWorkflowsRequest {}))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
    }
    let e = wf
        .list(tonic::Request::new(pb::ListWorkflowsRequest {}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    assert!(wf
        .list(with(WINDOW, pb::ListWorkflowsRequest {}))
        .await
        .is_ok());
    let metrics = http(server.http, "GET", "/metrics", &[], "").await;
    assert!(
        metrics.body.contains("onewindow_auth_failures_total 3"),
        "{}",
        metrics.body
    );
}

/// Each identity has its own rate (here 3 requests a second): the fourth request within
/// the second is RESOURCE_EXHAUSTED with a retry hint, over gRPC and the JSON API alike,
/// while another identity is served; after the hint, the caller is served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_identity_has_its_own_rate() {
    use tonic_types::StatusExt;
    let server = start_configured(|c| c.per_caller_rps = 3).await;
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    // The start-up probe spent some of the window's second: wait it out.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let list = || with(ADMIN, pb::ListWorkflowsRequest {});
    for _ in 0..3 {
        wf.list(list()).await.expect("within the rate");
    }
    let e = wf.list(list()).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
    let wait = e
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay)
        .expect("a retry hint");
    assert!(wait <= std::time::Duration::from_secs(1), "{wait:?}");
    // The JSON API counts the same identity.
    let r = api(
        &server,
        ADMIN,
        "GET",
        "/api/v1/workflows",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    // Another identity is served meanwhile.
    assert!(wf
        .list(with(SUPERVISOR, pb::ListWorkflowsRequest {}))
        .await
        .is_ok());
    // After the hint, served again.
    tokio::time::sleep(wait + std::time::Duration::from_millis(50)).await;
    assert!(wf.list(list()).await.is_ok());
}

/// Each identity holds at most so many streams (here 2): the third watch, or department
/// queue, is RESOURCE_EXHAUSTED with a retry hint while another identity opens its own;
/// a stream closed by its client gives its place back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_identity_has_its_own_streams() {
    use pb::window_client::WindowClient;
    use tonic_types::StatusExt;
    let server = start_configured(|c| c.streams_per_caller = 2).await;
    let mut w = WindowClient::connect(server.addr.clone()).await.unwrap();
    let watch = || {
        with(
            WINDOW,
            pb::WatchRequest {
                live: true,
                ..Default::default()
            },
        )
    };
    let first = w.watch(watch()).await.expect("one stream");
    let _second = w.watch(watch()).await.expect("two streams");
    let e = w.watch(watch()).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("window has 2 open"), "{e:?}");
    assert!(e.get_error_details().retry_info().is_some());
    // A department's queue counts against the department, not the window.
    let mut d = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let queue = || with(NDRC, pb::StreamReadyRequest::default());
    let _q1 = d
        .stream_ready(queue())
        .await
        .expect("the department's first");
    let _q2 = d
        .stream_ready(queue())
        .await
        .expect("the department's second");
    assert_eq!(
        d.stream_ready(queue()).await.unwrap_err().code(),
        tonic::Code::ResourceExhausted
    );
    // The window closes one stream: its place comes back (once the server notices).
    drop(first);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match w.watch(watch()).await {
            Ok(_) => break,
            Err(e) => {
                assert_eq!(e.code(), tonic::Code::ResourceExhausted);
                assert!(
                    std::time::Instant::now() < deadline,
                    "the place never came back"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}
