//! Sealed documents (issue 18, point 5): a permit an approval issues carries its
//! department's signature in the project's view (gRPC and the JSON API alike), and
//! `onewindow document verify` checks the printed seal offline with the public key that
//! `onewindow document public-key` exports — and refuses it changed, or under another
//! department's key. The window prints it with its seal as a QR code.

use std::collections::HashMap;
use std::process::Command;

use crate::common::*;
use onewindow::server::pb;
use pb::department_client::DepartmentClient;
use pb::window_client::WindowClient;
use pb::workflows_client::WorkflowsClient;

fn onewindow(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issued_permit_is_sealed_and_checks_offline() {
    let keys = tempfile::tempdir().unwrap();
    let dir = keys.path().join("keys");
    let server = {
        let dir = dir.clone();
        start_configured(move |c| c.document_keys = Some(dir)).await
    };
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut wf, "construction-parallel").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let mut dept = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    window
        .submit(with(
            WINDOW,
            pb::SubmitRequest {
                request_id: "s1".into(),
                project: "P1".into(),
                version,
                applicant: "某公司".into(),
                form: form(),
                materials: refs(&APPROVAL_MATERIALS),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    report_early_milestones(&mut window, "P1").await;
    server.clock.set("2025-03-04T09:30:00");
    dept.approve(with(
        NDRC,
        pb::ApproveRequest {
            request_id: "a1".into(),
            project: "P1".into(),
            item: "I01".into(),
            numbers: HashMap::from([("project_code".into(), "2025-440300-04-01-000123".into())]),
            ..Default::default()
        },
    ))
    .await
    .unwrap();

    let p = window_project(&mut window, "P1").await;
    // The milestones' documents (issued at the window) and the filing's project code.
    assert_eq!(p.documents.len(), 3, "{:?}", p.documents);
    assert!(p.documents.iter().all(|d| d.seal.starts_with("OW1.")));
    let doc = p
        .documents
        .iter()
        .find(|d| d.document == "project_code")
        .expect("the project code issued");
    assert_eq!(
        (
            doc.document.as_str(),
            doc.number.as_str(),
            doc.department.as_str()
        ),
        ("project_code", "2025-440300-04-01-000123", "ndrc")
    );
    assert_eq!(doc.issued_at, "2025-03-04T09:30:00", "the time of record");
    assert!(doc.seal.starts_with("OW1."), "{doc:?}");
    // The same seal every time it is shown, and over the JSON API.
    assert_eq!(
        window_project(&mut window, "P1").await.documents[2].seal,
        doc.seal
    );
    let r = api(
        &server,
        WINDOW,
        "GET",
        "/api/v1/projects/P1",
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(
        json["documents"][2]["seal"],
        doc.seal.as_str(),
        "{}",
        r.body
    );
    // The department's key file is the owner's alone.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("ndrc.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The window prints it: the permit's page shows the seal as text and as its QR code;
    // the project's page links to it; a department's clerk is not the window.
    let cookie = login(&server, WINDOW).await;
    let permit = page(
        &server,
        &cookie,
        "/console/window/projects/P1/documents/project_code",
    )
    .await;
    assert_eq!(permit.status, 200, "{}", permit.body);
    assert!(permit.body.contains("2025-440300-04-01-000123"));
    assert!(permit.body.contains(&doc.seal), "the seal as text");
    let qr = qrcode::QrCode::new(doc.seal.as_bytes())
        .unwrap()
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .build();
    assert!(permit.body.contains(&qr), "the seal's own QR code");
    let project = page(&server, &cookie, "/console/window/projects/P1").await;
    assert!(
        project
            .body
            .contains("/console/window/projects/P1/documents/project_code"),
        "{}",
        project.body
    );
    let missing = page(
        &server,
        &cookie,
        "/console/window/projects/P1/documents/nothing",
    )
    .await;
    assert_eq!(missing.status, 404);
    let ndrc = login(&server, NDRC).await;
    let refused = page(
        &server,
        &ndrc,
        "/console/window/projects/P1/documents/project_code",
    )
    .await;
    assert_eq!(refused.status, 403);

    // Offline: the public key exported, the seal checked.
    let keys_dir = dir.to_str().unwrap();
    let (ok, pem) = onewindow(&[
        "document",
        "public-key",
        "--department",
        "ndrc",
        "--keys",
        keys_dir,
    ]);
    assert!(ok && pem.contains("BEGIN PUBLIC KEY"), "{pem}");
    let public = keys.path().join("ndrc.pub");
    std::fs::write(&public, &pem).unwrap();
    let public = public.to_str().unwrap();
    let (ok, said) = onewindow(&["document", "verify", &doc.seal, "--public-key", public]);
    assert!(ok, "{said}");
    assert!(
        said.contains("number      2025-440300-04-01-000123"),
        "{said}"
    );
    assert!(said.contains("issued at   2025-03-04T09:30:00"), "{said}");

    // A seal whose payload says another number, under the original signature.
    let parts: Vec<&str> = doc.seal.split('.').collect();
    let payload = {
        use base64::Engine;
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let text = String::from_utf8(e.decode(parts[1]).unwrap()).unwrap();
        e.encode(text.replace("000123", "000124"))
    };
    let forged = format!("OW1.{payload}.{}", parts[2]);
    let (ok, said) = onewindow(&["document", "verify", &forged, "--public-key", public]);
    assert!(!ok && said.contains("NOT VALID"), "{said}");
    assert!(said.contains("000124"), "says what it claims: {said}");

    // Another department's key does not vouch for NDRC's permit.
    let other = keys.path().join("other.key");
    onewindow::audit::checkpoint::load_or_create_key(&other).unwrap();
    let (ok, said) = onewindow(&[
        "document",
        "verify",
        &doc.seal,
        "--public-key",
        other.to_str().unwrap(),
    ]);
    assert!(!ok && said.contains("another key signed it"), "{said}");
    // Not a seal at all.
    let (ok, said) = onewindow(&["document", "verify", "hello", "--public-key", public]);
    assert!(
        !ok && said.contains("not a onewindow document seal"),
        "{said}"
    );
}
