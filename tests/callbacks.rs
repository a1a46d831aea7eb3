//! Callbacks (webhooks) end to end: a department's receiver registered over the JSON API
//! gets every event its department sees, signed, once after de-duplication by event id
//! and in order per project, also across a time it was down; what fails every attempt
//! waits in the dead letters until redelivered; a hanging receiver holds back neither
//! commands nor other receivers; bad URLs and other departments' callbacks are refused.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, UNIX_EPOCH};

use crate::common::*;
use crate::console::parallel_project;
use onewindow::server::callbacks::{sign, Policy};
use serde_json::{json, Value};

/// A server whose operator allows callbacks to these local receivers over plain HTTP,
/// retrying quickly (a test cannot wait minutes).
async fn server_for(hosts: &[String], attempts: u32, timeout: Duration) -> InProcess {
    let hosts = hosts.to_vec();
    start_configured(move |c| {
        c.callbacks = Policy {
            allow: hosts,
            allow_http: true,
            attempts,
            backoff: Duration::from_millis(50),
            backoff_max: Duration::from_millis(300),
            timeout,
            ..Policy::default()
        };
    })
    .await
}

async fn register(server: &InProcess, token: &str, body: Value) -> HttpReply {
    api(server, token, "POST", "/api/v1/callbacks", body).await
}

/// Approves `item` of `project` as its department.
async fn approve(server: &InProcess, department: &str, project: &str, item: &str) {
    let r = api(
        server,
        &dept_token(department),
        "POST",
        &format!("/api/v1/projects/{project}/items/{item}/approve"),
        json!({"request_id": format!("a-{project}-{item}")}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The ids of the events `department` sees in `project`, from the record itself: the
/// events of its items, and a withdrawal or completion.
async fn seen_by(server: &InProcess, department: &str, project: &str) -> Vec<String> {
    seen_at(server.http, department, project, &[]).await
}

/// [`seen_by`], only events of `types` (none: every type).
async fn seen_by_of(
    server: &InProcess,
    department: &str,
    project: &str,
    types: &[&str],
) -> Vec<String> {
    seen_at(server.http, department, project, types).await
}

/// [`seen_by_of`], asked of the node at `addr` (its HTTP side).
pub(crate) async fn seen_at(
    addr: std::net::SocketAddr,
    department: &str,
    project: &str,
    types: &[&str],
) -> Vec<String> {
    let get = |token: &'static str, path: String| async move {
        let auth = bearer(token);
        http(addr, "GET", &path, &[("authorization", auth.as_str())], "").await
    };
    let p = get(WINDOW, format!("/api/v1/projects/{project}")).await;
    let theirs: BTreeSet<String> = p.json()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["department"] == department)
        .map(|t| t["item"].as_str().unwrap().to_string())
        .collect();
    let t = get(SUPERVISOR, format!("/api/v1/projects/{project}/timeline")).await;
    t.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let item = e["item"].as_str().unwrap_or_default();
            (types.is_empty() || types.contains(&e["type"].as_str().unwrap()))
                && (theirs.contains(item)
                    || (item.is_empty()
                        && ["withdrawn", "completed"].contains(&e["type"].as_str().unwrap())))
        })
        .map(|e| format!("{project}:{}", e["seq"]))
        .collect()
}

/// Every delivery verified with the secret; the events once each (by id), checking that
/// each project's arrive in order.
pub(crate) fn verified_events(deliveries: &[Delivery], secret: &str) -> BTreeMap<String, Vec<u64>> {
    let mut seen = BTreeSet::new();
    let mut per_project: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for d in deliveries.iter().filter(|d| d.answered == 200) {
        let now = d.received.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        sign::verify(secret, &d.timestamp, &d.signature, &d.body, now)
            .unwrap_or_else(|e| panic!("delivery {} does not verify: {e}", d.delivery));
        for e in d.json()["events"].as_array().unwrap() {
            let id = e["id"].as_str().unwrap().to_string();
            if !seen.insert(id) {
                continue; // a redelivery: the receiver drops it
            }
            let project = e["project"].as_str().unwrap().to_string();
            let seq = e["seq"].as_u64().unwrap();
            let order = per_project.entry(project.clone()).or_default();
            assert!(
                order.last().is_none_or(|l| *l < seq),
                "{project}'s events out of order: {order:?} then {seq}"
            );
            order.push(seq);
        }
    }
    per_project
}

/// Waits (up to `secs`) until at least `want` distinct events have been delivered to
/// `receiver`, every delivery verified and each project's in order
/// ([`verified_events`]); their ids, `project:seq`.
pub(crate) async fn delivered(
    receiver: &Receiver,
    secret: &str,
    want: usize,
    what: &str,
    secs: u64,
) -> BTreeSet<String> {
    eventually(what, secs, || {
        let ids: BTreeSet<String> = verified_events(&receiver.deliveries(), secret)
            .iter()
            .flat_map(|(p, seqs)| seqs.iter().map(move |s| format!("{p}:{s}")))
            .collect();
        async move { (ids.len() >= want).then_some(ids) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_a_while_gets_every_event_once_in_order() {
    let mut receiver = Receiver::start().await;
    let server = server_for(&[receiver.host()], 1000, Duration::from_secs(2)).await;
    let r = register(
        &server,
        &dept_token("ndrc"),
        json!({"url": receiver.url(), "description": "发改委审批系统"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let cb = r.json();
    let (id, secret) = (
        cb["id"].as_str().unwrap().to_string(),
        cb["secret"].as_str().unwrap().to_string(),
    );
    assert_eq!(cb["department"], "ndrc");
    assert_eq!(secret.len(), 64, "{cb}");
    // The secret is shown once: listings never carry it.
    let list = api(
        &server,
        &dept_token("ndrc"),
        "GET",
        "/api/v1/callbacks",
        Value::Null,
    )
    .await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(!list.body.contains(&secret), "{}", list.body);
    assert_eq!(list.json()["callbacks"][0]["id"], id.as_str());

    // Up: two projects, the first one's ndrc item approved.
    for p in ["CB1", "CB2"] {
        parallel_project(&server, p).await;
    }
    approve(&server, "ndrc", "CB1", "I01").await;
    let early =
        seen_by(&server, "ndrc", "CB1").await.len() + seen_by(&server, "ndrc", "CB2").await.len();
    eventually("the first events delivered", 20, || {
        let got = verified_events(&receiver.deliveries(), &secret);
        let n: usize = got.values().map(Vec::len).sum();
        async move { (n >= early).then_some(()) }
    })
    .await;

    // Down: nothing listens; the server keeps trying.
    receiver.down().await;
    let before = receiver.deliveries().len();
    parallel_project(&server, "CB3").await;
    approve(&server, "ndrc", "CB2", "I01").await;
    approve(&server, "ndrc", "CB3", "I01").await;
    eventually("failures reported", 20, || {
        let server = &server;
        async move {
            let l = api(
                server,
                ADMIN,
                "GET",
                "/api/v1/callbacks?department=ndrc",
                Value::Null,
            )
            .await;
            let c = &l.json()["callbacks"][0];
            (c["failures"].as_u64().unwrap_or(0) >= 2
                && !c["last_error"].as_str().unwrap().is_empty())
            .then_some(())
        }
    })
    .await;
    assert_eq!(
        receiver.deliveries().len(),
        before,
        "nothing arrives while it is down"
    );

    // Back: everything arrives, once each after de-duplication, in order per project.
    receiver.up().await;
    let mut expected = BTreeSet::new();
    for p in ["CB1", "CB2", "CB3"] {
        expected.extend(seen_by(&server, "ndrc", p).await);
    }
    assert!(expected.len() >= 9, "{expected:?}");
    let got = delivered(
        &receiver,
        &secret,
        expected.len(),
        "every event delivered",
        30,
    )
    .await;
    assert_eq!(got, expected, "exactly the department's events");
    // Other departments' items never go to ndrc.
    for d in receiver.deliveries() {
        for e in d.json()["events"].as_array().unwrap() {
            let item = e["item"].as_str().unwrap_or_default();
            assert!(item.is_empty() || ["I01", "I07"].contains(&item), "{e}");
        }
    }

    // A tampered or replayed delivery fails its check.
    let d = &receiver.deliveries()[0];
    let now = d.received.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut tampered = d.body.clone();
    let at = tampered.iter().position(|b| *b == b'I').unwrap();
    tampered[at] = b'X';
    assert_eq!(
        sign::verify(&secret, &d.timestamp, &d.signature, &tampered, now),
        Err(sign::Rejected::Mismatch)
    );
    let later: i64 = d.timestamp.parse::<i64>().unwrap() + 600;
    assert_eq!(
        sign::verify(&secret, &later.to_string(), &d.signature, &d.body, later),
        Err(sign::Rejected::Mismatch),
        "a new timestamp on an old signature"
    );
    assert_eq!(
        sign::verify(&secret, &d.timestamp, &d.signature, &d.body, later),
        Err(sign::Rejected::Stale),
        "the same delivery sent again ten minutes later"
    );
    assert!(sign::verify("another secret", &d.timestamp, &d.signature, &d.body, now).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_wait_until_redelivered_and_bad_registrations_are_refused() {
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let server = server_for(&[receiver.host()], 2, Duration::from_secs(2)).await;
    let ndrc = dept_token("ndrc");

    // Refused, with what is wrong, and nothing kept.
    let refusals = [
        (json!({"url": "http://127.0.0.1:1/x"}), 400, "allow-list"),
        (
            json!({"url": format!("http://u:pw@{}/x", receiver.host())}),
            400,
            "user or password",
        ),
        (
            json!({"url": format!("ftp://{}/x", receiver.host())}),
            400,
            "scheme",
        ),
        (json!({"url": "not a url"}), 400, "not a URL"),
        (
            json!({"url": receiver.url(), "types": ["no_such_type"]}),
            400,
            "not an event type",
        ),
        (
            json!({"url": receiver.url(), "department": "env"}),
            403,
            "its own callbacks",
        ),
    ];
    for (body, status, says) in refusals {
        let r = register(&server, &ndrc, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert!(r.body.contains(says), "{body}: {}", r.body);
    }
    for token in [
        WINDOW.to_string(),
        reviewer_token("housing", "zhou"),
        SUPERVISOR.to_string(),
    ] {
        let r = register(
            &server,
            &token,
            json!({"url": receiver.url(), "department": "housing"}),
        )
        .await;
        assert_eq!(r.status, 403, "{}", r.body);
    }
    let r = register(
        &server,
        ADMIN,
        json!({"url": receiver.url(), "department": "nobody"}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = register(&server, ADMIN, json!({"url": receiver.url()})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let list = api(&server, ADMIN, "GET", "/api/v1/callbacks", Value::Null).await;
    assert_eq!(
        list.json()["callbacks"].as_array().map_or(0, Vec::len),
        0,
        "{}",
        list.body
    );

    // An administrator registers for ndrc; the receiver fails every attempt.
    let r = register(&server, ADMIN, json!({"url": receiver.url(), "department": "ndrc", "types": ["task_ready", "task_approved"]})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (id, secret) = (
        r.json()["id"].as_str().unwrap().to_string(),
        r.json()["secret"].as_str().unwrap().to_string(),
    );
    let again = register(&server, &ndrc, json!({"url": receiver.url()})).await;
    assert_eq!(
        again.status, 409,
        "one subscription per URL: {}",
        again.body
    );
    parallel_project(&server, "DL1").await;
    approve(&server, "ndrc", "DL1", "I01").await;
    let letters_path = format!("/api/v1/callbacks/{id}/dead-letters");
    let letters = eventually("dead letters after two attempts", 20, || {
        let (server, ndrc, path) = (&server, &ndrc, &letters_path);
        async move {
            let l = api(server, ndrc, "GET", path, Value::Null).await;
            assert_eq!(l.status, 200, "{}", l.body);
            let letters = l.json()["letters"].as_array().cloned().unwrap_or_default();
            let covered: u64 = letters
                .iter()
                .map(|d| d["last"].as_u64().unwrap())
                .max()
                .unwrap_or(0);
            (covered > 0 && letters.iter().all(|d| d["attempts"] == 2)).then_some(letters)
        }
    })
    .await;
    assert!(
        letters[0]["error"].as_str().unwrap().contains("500"),
        "{letters:?}"
    );
    assert_eq!(letters[0]["project"], "DL1");
    // The CLI shows them too.
    let out = std::process::Command::new(binary())
        .args([
            "callbacks",
            "dead-letters",
            &id,
            "--server",
            &server.addr,
            "--token",
            &ndrc,
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("DL1:"),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another department cannot see or redeliver them.
    let other = api(
        &server,
        &dept_token("env"),
        "GET",
        &letters_path,
        Value::Null,
    )
    .await;
    assert_eq!(other.status, 403, "{}", other.body);

    // Fixed, and redelivered: the letters go, the events arrive (only the types asked for).
    receiver.answer(200);
    let r = api(
        &server,
        &ndrc,
        "POST",
        &format!("/api/v1/callbacks/{id}/redeliver"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["queued"].as_u64().unwrap() as usize, letters.len());
    eventually("the letters delivered", 20, || {
        let (server, ndrc, path) = (&server, &ndrc, &letters_path);
        async move {
            let l = api(server, ndrc, "GET", path, Value::Null).await;
            l.json()["letters"]
                .as_array()
                .is_none_or(Vec::is_empty)
                .then_some(())
        }
    })
    .await;
    let got = verified_events(&receiver.deliveries(), &secret);
    let types: BTreeSet<String> = receiver
        .deliveries()
        .iter()
        .filter(|d| d.answered == 200)
        .flat_map(|d| d.json()["events"].as_array().unwrap().clone())
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        BTreeSet::from(["task_ready".to_string(), "task_approved".to_string()])
    );
    let want = seen_by_of(&server, "ndrc", "DL1", &["task_ready", "task_approved"]).await;
    assert_eq!(
        got["DL1"]
            .iter()
            .map(|s| format!("DL1:{s}"))
            .collect::<Vec<_>>(),
        want,
        "every letter's events, in order"
    );

    // Removed: nothing more is sent.
    let r = api(
        &server,
        &ndrc,
        "DELETE",
        &format!("/api/v1/callbacks/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let n = receiver.deliveries().len();
    parallel_project(&server, "DL2").await;
    approve(&server, "ndrc", "DL2", "I01").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.deliveries().len(),
        n,
        "a removed callback gets nothing"
    );
    let r = api(
        &server,
        &ndrc,
        "DELETE",
        &format!("/api/v1/callbacks/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_holds_back_neither_commands_nor_other_receivers() {
    let hanging = Receiver::start().await;
    hanging.delay(Duration::from_secs(30));
    let fine = Receiver::start().await;
    let server = server_for(
        &[hanging.host(), fine.host()],
        1000,
        Duration::from_millis(300),
    )
    .await;
    let r = register(&server, &dept_token("ndrc"), json!({"url": hanging.url()})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = register(&server, &dept_token("nrp"), json!({"url": fine.url()})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let nrp_secret = r.json()["secret"].as_str().unwrap().to_string();
    let mut slowest = Duration::ZERO;
    for k in 0..4 {
        let p = format!("H{k}");
        let started = std::time::Instant::now();
        parallel_project(&server, &p).await;
        approve(&server, "ndrc", &p, "I01").await;
        slowest = slowest.max(started.elapsed());
    }
    // Commands answered while every delivery to ndrc hangs until its timeout.
    assert!(
        slowest < Duration::from_secs(5),
        "a project's commands took {slowest:?}"
    );
    let mut expected = BTreeSet::new();
    for k in 0..4 {
        expected.extend(seen_by(&server, "nrp", &format!("H{k}")).await);
    }
    assert!(!expected.is_empty());
    eventually("the other receiver served", 20, || {
        let got: usize = verified_events(&fine.deliveries(), &nrp_secret)
            .values()
            .map(Vec::len)
            .sum();
        let want = expected.len();
        async move { (got >= want).then_some(()) }
    })
    .await;
    // The hanging one is reported as such.
    let ndrc = eventually("the timeout reported", 20, || {
        let server = &server;
        async move {
            let l = api(server, ADMIN, "GET", "/api/v1/callbacks", Value::Null).await;
            let by_dept: HashMap<String, Value> = l.json()["callbacks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c["department"].as_str().unwrap().to_string(), c.clone()))
                .collect();
            let ndrc = by_dept["ndrc"].clone();
            (ndrc["last_error"].as_str().unwrap().contains("timeout")
                && ndrc["pending"].as_u64().unwrap() > 0)
                .then_some(ndrc)
        }
    })
    .await;
    assert_eq!(
        ndrc["last_delivered_at"], "",
        "nothing ever reached it: {ndrc}"
    );
}

/// The outbox survives a restart on sled: events committed while the receiver was down
/// and the node then stopped are delivered by the node started again on the same data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_survives_a_restart() {
    use onewindow::server::pb;
    let mut receiver = Receiver::start().await;
    receiver.down().await;
    let host = receiver.host();
    let flags = [
        "--callback-allow",
        host.as_str(),
        "--callback-allow-http",
        "--callback-backoff-ms",
        "50",
        "--callback-backoff-max-ms",
        "200",
    ];
    let dir = tempfile::tempdir().unwrap();
    let tokens = write_tokens(dir.path());
    let node = serve(tempfile::tempdir().unwrap(), &tokens, &flags);
    let auth = bearer(NDRC);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let r = http(
        node.http,
        "POST",
        "/api/v1/callbacks",
        &headers,
        &json!({"url": receiver.url()}).to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    let mut wf = pb::workflows_client::WorkflowsClient::connect(node.addr.clone())
        .await
        .unwrap();
    let version = version_of(&mut wf, "construction-parallel").await;
    let mut window = pb::window_client::WindowClient::connect(node.addr.clone())
        .await
        .unwrap();
    submit_for_approval(&mut window, &version, "R1").await;
    let expected: BTreeSet<String> = seen_at(node.http, "ndrc", "R1", &[])
        .await
        .into_iter()
        .collect();
    assert!(!expected.is_empty());
    // Stopped (killed) with everything undelivered; the receiver comes back; so does the node.
    let data = node.kill();
    receiver.up().await;
    let node = serve(data, &tokens, &flags);
    let got = delivered(
        &receiver,
        &secret,
        expected.len(),
        "delivered after the restart",
        30,
    )
    .await;
    assert_eq!(got, expected);
    drop(node);
}
