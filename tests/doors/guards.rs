//! The smaller doors: ids, headers, cookies, JSON, materials, text, the auth scheme and
//! messages; and the console over TLS with its certificate and a secure cookie.

use super::*;

/// Finding 7: the smaller doors — ids, role checks, headers, cookies, CSRF on login,
/// numbers, JSON, materials, text, the auth scheme, messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smaller_doors() {
    let server = start_configured(|c| {
        c.trusted_proxies =
            onewindow::server::TrustedProxies::new(vec!["127.0.0.1/32".parse().unwrap()]);
    })
    .await;
    let v = complaint_version(&server).await;
    let submit = |project: &str| complaint("r-1", project, &v);

    // Ids: `.` and `..`, full-width and look-alike spellings are refused.
    for (project, says) in [
        (".", "not an id"),
        ("..", "not an id"),
        ("ＰＲＪ－１", "write it `PRJ-1`"),
        ("\u{420}RJ-1", "look alike"),
    ] {
        let r = api(&server, WINDOW, "POST", "/api/v1/projects", submit(project)).await;
        assert_eq!(r.status, 400, "{project}: {}", r.body);
        assert!(r.body.contains(says), "{project}: {}", r.body);
    }
    // A 404 quotes an id, never echoes it whole.
    let long = "X".repeat(128);
    let r = api(
        &server,
        WINDOW,
        "GET",
        &format!("/api/v1/projects/{long}"),
        Value::Null,
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(!r.body.contains(&long), "{}", r.body);

    // The auth scheme is case-insensitive.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let auth = format!("{scheme} {WINDOW}");
        let r = http(
            server.http,
            "GET",
            "/api/v1/workflows",
            &[("authorization", &auth)],
            "",
        )
        .await;
        assert_eq!(r.status, 200, "{scheme}");
    }
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let mut lower = tonic::Request::new(pb::ListWorkflowsRequest {});
    lower
        .metadata_mut()
        .insert("authorization", format!("bearer {WINDOW}").parse().unwrap());
    assert!(wf.list(lower).await.is_ok());

    // JSON with a key twice is refused, not read as its last.
    let twice = format!(
        r#"{{"request_id": "d1", "project": "D1", "project": "D2", "version": "{v}", "applicant": "张三", "form": {{"complainant": "张三"}}}}"#
    );
    let r = http(
        server.http,
        "POST",
        "/api/v1/projects",
        &[
            ("authorization", &bearer(WINDOW)),
            ("content-type", "application/json"),
        ],
        &twice,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("appears twice"), "{}", r.body);

    // Materials: one the workflow does not know, or one named twice.
    let mut unknown = submit("M1");
    unknown["materials"]
        .as_array_mut()
        .unwrap()
        .push(json!({"material": "bitcoin_wallet"}));
    let r = api(&server, WINDOW, "POST", "/api/v1/projects", unknown).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("unknown-reference"), "{}", r.body);
    let mut repeated = submit("M2");
    repeated["materials"]
        .as_array_mut()
        .unwrap()
        .push(json!({"material": "evidence"}));
    let r = api(&server, WINDOW, "POST", "/api/v1/projects", repeated).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("named twice"), "{}", r.body);

    // Bidirectional controls in free text.
    let mut bidi = submit("B1");
    bidi["applicant"] = json!("张三\u{202E}fdp.exe");
    let r = api(&server, WINDOW, "POST", "/api/v1/projects", bidi).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("bidirectional"), "{}", r.body);
    // Nothing of the refused is on record.
    let list = api(&server, SUPERVISOR, "GET", "/api/v1/projects", Value::Null).await;
    assert!(!list.body.contains("\"id\""), "{}", list.body);

    // A form's numbers are checked against the field's declared range.
    let parallel = {
        let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
        version_of(&mut wf, "construction-parallel").await
    };
    for (area, says) in [(-1.0, "below the smallest"), (1e300, "above the largest")] {
        let r = api(
            &server,
            WINDOW,
            "POST",
            "/api/v1/pre-review",
            json!({"version": parallel, "form": {"floor_area": area}}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let problems = r.json()["form"].to_string();
        assert!(
            problems.contains("floor_area") && problems.contains(says),
            "{problems}"
        );
    }

    // Security headers on pages, the API and the public page; static files cacheable.
    for path in [
        "/console/login",
        "/public",
        "/api/v1/openapi.json",
        "/healthz",
    ] {
        let r = http(server.http, "GET", path, &[], "").await;
        let csp = r.header("content-security-policy").unwrap_or_default();
        let page = path.starts_with("/console") || path.starts_with("/public");
        let policy = if page {
            "default-src 'self'"
        } else {
            "default-src 'none'"
        };
        assert!(
            csp.contains(policy) && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
    }
    let css = http(server.http, "GET", "/console/static/console.css", &[], "").await;
    assert_eq!(css.header("cache-control"), None);
    // No inline script anywhere the console draws.
    let window = login(&server, WINDOW).await;
    let counter = page(&server, &window, "/console/window").await;
    assert!(!counter.body.contains("onclick"), "{}", counter.body);

    // Login needs its form's token: a post from elsewhere does not log in.
    let r = http(
        server.http,
        "POST",
        "/console/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        &format!("token={WINDOW}"),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r
        .header("set-cookie")
        .is_some_and(|c| !c.starts_with("onewindow_session")));

    // Cookies are Secure when the browser speaks https (here: through the named proxy).
    let (csrf, cookie) = login_form(server.http).await;
    let r = http(
        server.http,
        "POST",
        "/console/login",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &cookie),
            ("x-forwarded-proto", "https"),
        ],
        &format!("token={WINDOW}&csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 303);
    let session = r.header("set-cookie").unwrap();
    assert!(session.contains("; Secure"), "{session}");
    assert!(r.header("strict-transport-security").is_some());
}

/// With a certificate the HTTP side speaks TLS too (the console, the JSON API and
/// `/healthz`), and its session cookie is `Secure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_speaks_tls_with_the_certificate_and_its_cookie_is_secure() {
    use std::sync::Arc;
    use tokio_rustls::rustls;
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
    let tls = onewindow::server::Tls {
        cert_pem: cert_pem.clone().into_bytes(),
        key_pem: key_pem.into_bytes(),
        client_ca_pem: None,
        client_roles: onewindow::server::certs::CertRoles::none(),
    };
    // The in-process server's readiness check speaks plain gRPC: wait on the HTTPS side.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        onewindow::server::Config::new(root.join("workflows"), write_tokens(dir.path()));
    config.tls = Some(tls);
    let http_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = http_listener.local_addr().unwrap();
    config.http = Some(http_listener);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(onewindow::server::run(
        config,
        Arc::new(onewindow::store::memory::MemoryStore::new()),
        listener,
        async move {
            let _ = stopped.await;
        },
    ));

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(cert.der().to_vec()))
        .unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let https = |request: String| {
        let connector = connector.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            let mut s = connector.connect(name, tcp).await?;
            s.write_all(request.as_bytes()).await?;
            let mut out = Vec::new();
            s.read_to_end(&mut out).await.ok();
            Ok::<String, std::io::Error>(String::from_utf8_lossy(&out).into_owned())
        }
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        match https("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".into())
            .await
        {
            Ok(r) if r.starts_with("HTTP/1.1 200") => break r,
            _ => {
                assert!(Instant::now() < deadline, "the HTTPS side answers");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(health
        .to_ascii_lowercase()
        .contains("strict-transport-security"));
    // Plain HTTP on the same port gets nowhere.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    // Log in over TLS: the session cookie is Secure.
    let form =
        https("GET /console/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".into())
            .await
            .unwrap();
    let csrf = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    let cookie = form
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: onewindow_login=")
        })
        .and_then(|l| l.split_once(": "))
        .map(|(_, v)| v.split(';').next().unwrap().to_string())
        .unwrap();
    let body = format!("token={WINDOW}&csrf={csrf}");
    let answer = https(format!(
        "POST /console/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    let session = answer
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: onewindow_session=")
        })
        .unwrap();
    assert!(session.contains("; Secure"), "{session}");
    let _ = stop.send(());
}
