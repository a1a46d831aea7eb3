//! The doors, probed from outside as an attacker on the same network would (issue 25):
//! revocation reaches every session and stream, every request has a bound on its cost,
//! connections that do not speak are closed and cannot starve the server, staff can log
//! in whatever the public does, and the smaller guards (ids, headers, cookies, JSON,
//! materials, text, the auth scheme, messages). Each test failed on the code before.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::*;
use onewindow::server::pb;
use pb::department_client::DepartmentClient;
use pb::window_client::WindowClient;
use pb::workflows_client::WorkflowsClient;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "doors/guards.rs"]
mod guards;

/// Identities expire by the city's clock (the default zone), whatever this host's `TZ`.
fn now() -> chrono::NaiveDateTime {
    onewindow::calendar::city_now()
}

/// A hashed identity file with one token for each of `roles`: the file and the tokens.
fn identities(dir: &Path, roles: &[&str]) -> (PathBuf, Vec<(String, String)>) {
    let path = dir.join("identities.yaml");
    let tokens = roles
        .iter()
        .map(|r| {
            let (token, identity) =
                onewindow::server::identity::add(&path, r, None, now()).unwrap();
            (token, identity.id)
        })
        .collect();
    (path, tokens)
}

/// Revokes an identity as `onewindow tokens revoke` does.
fn revoke(path: &Path, id: &str) {
    onewindow::server::identity::revoke(path, id, now()).unwrap();
}

/// Opens a raw HTTP/1.1 request and reads its answer's head; the stream stays open for
/// a streaming body (server-sent events).
async fn open_stream(addr: std::net::SocketAddr, path: &str, cookie: &str) -> (u16, TcpStream) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\nCookie: {cookie}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).await.unwrap(), 1, "the head arrives");
        got.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&got)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, s)
}

/// Reads until the server closes the connection or ends a chunked body (a stream that
/// ended: the connection itself may stay open for the next request); the time it took,
/// at most `wait`.
async fn closed_within(s: &mut TcpStream, wait: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    loop {
        let left = wait.checked_sub(started.elapsed())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(n)) => {
                seen.extend_from_slice(&buf[..n]);
                if seen.starts_with(b"0\r\n\r\n") || seen.ends_with(b"\r\n0\r\n\r\n") {
                    return Some(started.elapsed());
                }
            }
            Err(_) => return None,
        }
    }
}

/// Finding 1: one request could take the machine's memory (`Compare.versions` had no
/// cap), and Plan and Compare were open to every role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_plan_are_bounded_and_for_analysts() {
    let server = start().await;
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let v = version_of(&mut wf, "complaint").await;
    let compare = |versions: Vec<String>| pb::CompareRequest {
        versions,
        ..Default::default()
    };
    // The attack: one version 200,000 times. Refused at once, with a short message.
    let e = wf
        .compare(with(ANALYST, compare(vec![v.clone(); 200_000])))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    // Refused by its bound, before any of the work (the message names the bound).
    assert!(e.message().contains("at most 16"), "{}", e.message());
    let e = wf
        .compare(with(ANALYST, compare(vec![v.clone(), v.clone()])))
        .await
        .unwrap_err();
    assert!(e.message().contains("named twice"), "{}", e.message());
    // Over JSON the same.
    let body = json!({"versions": vec![v.clone(); 17]});
    let r = api(&server, ANALYST, "POST", "/api/v1/workflows/compare", body).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // The bounds are in the OpenAPI document, machine-readable.
    let doc = http(server.http, "GET", "/api/v1/openapi.json", &[], "")
        .await
        .json();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["CompareRequest"]["properties"]["versions"]["maxItems"],
        16
    );
    assert_eq!(
        schemas["SubmitRequest"]["properties"]["materials"]["maxItems"],
        1000
    );
    assert_eq!(
        schemas["SubmitRequest"]["properties"]["form"]["maxProperties"],
        1000
    );
    assert!(doc["info"]["description"]
        .as_str()
        .unwrap()
        .contains("16 MiB"));
    // Analysts and above; not the window, a department or an agent.
    let parallel = version_of(&mut wf, "construction-parallel").await;
    let serial = version_of(&mut wf, "construction-serial").await;
    for token in [WINDOW.to_string(), NDRC.to_string(), agent_token("li")] {
        let e = wf
            .compare(with(
                &token,
                compare(vec![serial.clone(), parallel.clone()]),
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{token}");
        let e = wf
            .plan(with(
                &token,
                pb::PlanRequest {
                    version: v.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{token}");
    }
    let r = api(
        &server,
        WINDOW,
        "GET",
        &format!("/api/v1/workflows/{v}/plan"),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    for token in [ANALYST, SUPERVISOR, ADMIN] {
        let ok = wf
            .compare(with(token, compare(vec![serial.clone(), parallel.clone()])))
            .await
            .unwrap();
        assert!(ok.get_ref().json.contains("total_working_days"));
    }
}

/// Finding 6: a site check's cost grew with the square of a polygon's vertices (a
/// 40,000-vertex site took 40 s of CPU).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_too_detailed_is_refused_at_once() {
    let server = start().await;
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let v = version_of(&mut wf, "construction-parallel").await;
    let ring = |n: usize| {
        let mut pts: Vec<[f64; 2]> = (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                let r = 0.004 * (1.0 + 0.1 * (a * 50.0).sin());
                // Seven decimals (a centimetre), as a survey writes them: 40,000 of them
                // fit under the 1 MiB bound on a site.
                let round = |x: f64| (x * 1e7).round() / 1e7;
                [round(113.785 + r * a.cos()), round(33.991 + r * a.sin())]
            })
            .collect();
        pts.push(pts[0]);
        json!({"type": "Polygon", "coordinates": [pts]}).to_string()
    };
    let check = |site: String| pb::CheckSiteRequest {
        version: v.clone(),
        site,
        ..Default::default()
    };
    let e = wf
        .check_site(with(ADMIN, check(ring(40_000))))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    // Refused by its bound, before the polygon is validated (the message names it).
    assert!(e.message().contains("at most 5000"), "{}", e.message());
    // A detailed boundary within the bound is checked as before.
    let ok = wf
        .check_site(with(ADMIN, check(ring(1_000))))
        .await
        .unwrap();
    assert!(ok.get_ref().site_m2 > 0.0);
}

/// Finding 2: a console session outlived its token (revoked or expired); logout and a
/// new login must end the old session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_with_their_token_logout_and_a_new_login() {
    let dir = tempfile::tempdir().unwrap();
    let (path, tokens) = identities(dir.path(), &["window", "window"]);
    let file = path.clone();
    let server = start_configured(move |c| c.tokens = file).await;
    let (window, window_id) = &tokens[0];
    let home = "/console/window";

    // Revoked: the session ends within the second the API refuses the token.
    let session = login(&server, window).await;
    assert_eq!(page(&server, &session, home).await.status, 200);
    revoke(&path, window_id);
    let started = Instant::now();
    loop {
        let r = page(&server, &session, home).await;
        if r.status == 303 {
            assert_eq!(r.header("location"), Some("/console/login"));
            break;
        }
        // At once in practice (the file is read again within a second); the deadline is
        // generous so that a slow machine does not fail the test.
        assert!(started.elapsed() < Duration::from_secs(20), "still {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = api(&server, window, "GET", "/api/v1/projects", Value::Null).await;
    assert_eq!(r.status, 401);

    // Expired: a token that expires in three seconds. The server knows it once it has
    // read the file again (within a second); the session works until the expiry, then
    // ends with the token.
    let expires = now() + chrono::Duration::seconds(3);
    let (short, _) =
        onewindow::server::identity::add(&path, "window", Some(expires), now()).unwrap();
    let started = Instant::now();
    while api(&server, &short, "GET", "/api/v1/projects", Value::Null)
        .await
        .status
        != 200
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the new token is read"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let session = login(&server, &short).await;
    assert_eq!(page(&server, &session, home).await.status, 200);
    let mut last = 200;
    while last == 200 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the session outlived its token"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        last = page(&server, &session, home).await.status;
    }
    assert_eq!(last, 303, "expired");
    assert!(now() >= expires, "not before its token expired");

    // A new login from the same browser ends the session it had.
    let other = &tokens[1].0;
    let first = login(&server, other).await;
    let (csrf, form_cookie) = login_form(server.http).await;
    let again = http(
        server.http,
        "POST",
        "/console/login",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &format!("{first}; {form_cookie}")),
        ],
        &format!("token={other}&csrf={csrf}"),
    )
    .await;
    assert_eq!(again.status, 303, "{}", again.body);
    let second = again
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    assert_ne!(first, second, "a new session id");
    assert_eq!(page(&server, &first, home).await.status, 303, "old ended");
    assert_eq!(page(&server, &second, home).await.status, 200);

    // Logout ends it.
    let csrf_of = |body: &str| {
        body.split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string()
    };
    let csrf = csrf_of(&page(&server, &second, home).await.body);
    let out = http(
        server.http,
        "POST",
        "/console/logout",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &second),
        ],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(out.status, 303);
    assert_eq!(page(&server, &second, home).await.status, 303);
}

/// Finding 4: the dashboard's live stream went on after logout, and one session could
/// open thousands; a gRPC watch and a department's queue went on after their token was
/// revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_end_with_their_token_or_session_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (path, tokens) = identities(
        dir.path(),
        &["supervisor", "window", "department:nrp", "supervisor"],
    );
    let file = path.clone();
    let server = start_configured(move |c| {
        c.tokens = file;
        c.streams_per_caller = 3;
    })
    .await;
    let (supervisor, supervisor_id) = &tokens[0];
    let (window, window_id) = &tokens[1];
    let (nrp, nrp_id) = &tokens[2];

    // SSE: counted with the identity's other streams.
    let session = login(&server, supervisor).await;
    let live = "/console/supervision/live";
    let mut held = Vec::new();
    for _ in 0..3 {
        let (status, s) = open_stream(server.http, live, &session).await;
        assert_eq!(status, 200);
        held.push(s);
    }
    let (status, _) = open_stream(server.http, live, &session).await;
    assert_eq!(status, 429, "a fourth stream of one identity");
    // Logout ends every stream of the session.
    let csrf = page(&server, &session, "/console/supervision")
        .await
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let out = http(
        server.http,
        "POST",
        "/console/logout",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &session),
        ],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(
        page(&server, &session, "/console/supervision").await.status,
        303
    );
    for s in &mut held {
        let took = closed_within(s, Duration::from_secs(20)).await;
        assert!(took.is_some(), "the live stream ends with its session");
    }
    // The places came back: a new session opens one again.
    let again = login(&server, supervisor).await;
    let (status, mut stream) = open_stream(server.http, live, &again).await;
    assert_eq!(status, 200);
    // Revoking the token ends the session's stream too.
    revoke(&path, supervisor_id);
    assert!(closed_within(&mut stream, Duration::from_secs(20))
        .await
        .is_some());

    // gRPC: a watch and a department's queue end with UNAUTHENTICATED on revocation.
    let mut w = WindowClient::connect(server.addr.clone()).await.unwrap();
    let mut watch = w
        .watch(with(
            window,
            pb::WatchRequest {
                live: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let mut d = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let mut queue = d
        .stream_ready(with(nrp, pb::StreamReadyRequest::default()))
        .await
        .unwrap()
        .into_inner();
    revoke(&path, window_id);
    revoke(&path, nrp_id);
    for (name, ended) in [
        (
            "watch",
            tokio::time::timeout(Duration::from_secs(20), async {
                loop {
                    match watch.message().await {
                        Ok(Some(_)) => continue,
                        Ok(None) => return None,
                        Err(s) => return Some(s.code()),
                    }
                }
            })
            .await,
        ),
        (
            "queue",
            tokio::time::timeout(Duration::from_secs(20), async {
                loop {
                    match queue.message().await {
                        Ok(Some(_)) => continue,
                        Ok(None) => return None,
                        Err(s) => return Some(s.code()),
                    }
                }
            })
            .await,
        ),
    ] {
        assert_eq!(
            ended,
            Ok(Some(tonic::Code::Unauthenticated)),
            "the {name} ends, saying why"
        );
    }
}

/// Finding 3: partial headers, a body that never comes, idle keep-alive connections and
/// bare TCP stayed open for ever; thousands of them starved the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_do_not_speak_are_closed_and_cannot_starve_the_server() {
    let server = start_configured(|c| {
        c.hygiene.handshake = Duration::from_secs(1);
        c.hygiene.header_read = Duration::from_secs(1);
        c.hygiene.body = Duration::from_secs(1);
        c.hygiene.max_connections = 40;
    })
    .await;
    let grpc: std::net::SocketAddr = server.addr.trim_start_matches("http://").parse().unwrap();
    // The server's bounds are a second or two; the wait is generous so that a slow
    // machine does not fail the test (what matters is that the server closes them).
    let wait = Duration::from_secs(30);

    let mut bare = TcpStream::connect(grpc).await.unwrap();
    let mut partial = TcpStream::connect(server.http).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut no_body = TcpStream::connect(server.http).await.unwrap();
    no_body
        .write_all(b"POST /api/v1/pre-review HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 0000000000000000000000000000window\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(server.http).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    for (name, s) in [
        ("bare TCP to the gRPC port", &mut bare),
        ("partial headers", &mut partial),
        ("a body that never comes", &mut no_body),
        ("an idle keep-alive connection", &mut idle),
    ] {
        assert!(
            closed_within(s, wait).await.is_some(),
            "{name} is closed within {wait:?}"
        );
    }

    // A flood of silent connections, more than a port may hold: /healthz keeps
    // answering at once, the oldest silent ones are closed for it, and it is counted.
    let mut flood = Vec::new();
    for _ in 0..100 {
        flood.push(TcpStream::connect(server.http).await.unwrap());
    }
    for _ in 0..5 {
        // Answered, not left waiting behind the flood (a generous bound: a port that
        // held on to every silent connection would never answer).
        let r = tokio::time::timeout(
            Duration::from_secs(30),
            http(server.http, "GET", "/healthz", &[], ""),
        )
        .await
        .expect("/healthz answers through the flood");
        assert_eq!(r.status, 200);
    }
    let metrics = http(server.http, "GET", "/metrics", &[], "").await.body;
    let evicted = metrics
        .lines()
        .find(|l| l.starts_with("onewindow_connections_evicted_total{port=\"http\"}"))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(evicted >= 60.0, "{metrics}");
    // …and the rest time out.
    let mut still_open = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    for s in &mut flood {
        let left = deadline.saturating_duration_since(Instant::now());
        if closed_within(s, left).await.is_none() {
            still_open += 1;
        }
    }
    assert_eq!(still_open, 0);
}

/// Finding 5: twenty anonymous hits on the public pages locked a clerk's login out; the
/// address behind a proxy is believed only from a proxy the operator names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_login_is_limited_apart_from_the_public_and_by_account() {
    let server = start_configured(|c| {
        c.trusted_proxies =
            onewindow::server::TrustedProxies::new(vec!["127.0.0.1/32".parse().unwrap()]);
    })
    .await;
    // The public exhausts its bucket from one address.
    let citizen = [("x-forwarded-for", "203.0.113.7")];
    let mut limited = false;
    for _ in 0..40 {
        if http(server.http, "GET", "/public", &citizen, "")
            .await
            .status
            == 429
        {
            limited = true;
            break;
        }
    }
    assert!(limited);
    // Another address (through the named proxy) is its own bucket.
    let other = [("x-forwarded-for", "203.0.113.8")];
    assert_eq!(
        http(server.http, "GET", "/public", &other, "").await.status,
        200
    );
    // Staff log in all the same, even from the citizen's address.
    let (csrf, cookie) = login_form(server.http).await;
    let r = http(
        server.http,
        "POST",
        "/console/login",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &cookie),
            ("x-forwarded-for", "203.0.113.7"),
        ],
        &format!("token={WINDOW}&csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // Guessing from one address is slowed, not from the next.
    let attempt = |addr: &'static str| {
        let server = &server;
        async move {
            let (csrf, cookie) = login_form(server.http).await;
            http(
                server.http,
                "POST",
                "/console/login",
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("cookie", &cookie),
                    ("x-forwarded-for", addr),
                ],
                &format!("token=guess-guess-guess-guess&csrf={csrf}"),
            )
            .await
            .status
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..35 {
        statuses.push(attempt("198.51.100.1").await);
    }
    assert!(
        statuses.contains(&401) && statuses.last() == Some(&429),
        "{statuses:?}"
    );
    assert_eq!(attempt("198.51.100.2").await, 401);
    // Logins of one account are limited too.
    let mut last = 0;
    for i in 0..35 {
        let (csrf, cookie) = login_form(server.http).await;
        let addr = format!("192.0.2.{i}");
        last = http(
            server.http,
            "POST",
            "/console/login",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("cookie", &cookie),
                ("x-forwarded-for", &addr),
            ],
            &format!("token={SUPERVISOR}&csrf={csrf}"),
        )
        .await
        .status;
    }
    assert_eq!(last, 429, "thirty-odd logins of one account in a minute");
}
