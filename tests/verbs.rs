//! The verb table at every door: each row of `onewindow::server::verbs` is an RPC the
//! gRPC service serves, a route of the JSON API and its OpenAPI document, a subcommand
//! of the CLI, and — for a department's verbs — a form on the inbox's task page when the
//! task's state allows it, which runs the verb.

use crate::common::*;
use crate::office::{deploy_office, submit};
use onewindow::server::pb;
use onewindow::server::verbs::{self, Family, Kind};
use serde_json::Value;

/// A value a required field accepts, so that the request reaches the project's lookup.
fn sample(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "理由",
        Kind::Person | Kind::EarlierItem => "zhang",
        Kind::SpecialProcedure => "hearing",
        Kind::MaterialIds | Kind::Materials => "drawings",
        Kind::Flag => "true",
        Kind::Numbers => "design=规审〔2025〕1号",
    }
}

/// Every verb, at every door, on a project that does not exist: the RPC, the route and
/// the subcommand all reach the engine's lookup (NOT_FOUND), none is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_verb_is_served_at_every_door() {
    let server = start().await;
    let doc = http(server.http, "GET", "/api/v1/openapi.json", &[], "")
        .await
        .json();
    let dept = dept_token("plan");
    let mut seen = 0;
    for verb in verbs::all() {
        seen += 1;
        let (token, command) = match verb.family {
            Family::Window => (WINDOW, "project"),
            Family::Department => (dept.as_str(), "tasks"),
        };
        let op = &doc["paths"][verb.path]["post"];
        assert_eq!(
            op["operationId"], verb.rpc,
            "{} in the OpenAPI document",
            verb.rpc
        );

        // The JSON API.
        let message = verb.message(&format!("json-{}", verb.name), "NO-SUCH", "I01", |f| {
            vec![sample(f.kind).to_string()]
        });
        let path = verb
            .path
            .replace("{project}", "NO-SUCH")
            .replace("{item}", "I01");
        let r = api(&server, token, "POST", &path, message).await;
        assert_eq!(r.status, 404, "{} over JSON: {}", verb.rpc, r.body);

        // The CLI, over gRPC.
        let mut args = vec![
            command.to_string(),
            verb.name.to_string(),
            "--server".into(),
            server.addr.clone(),
            "--token".into(),
            token.to_string(),
            "--project".into(),
            "NO-SUCH".into(),
        ];
        if verb.on_item {
            args.extend(["--item".into(), "I01".into()]);
        }
        for f in verb.fields.iter().filter(|f| f.required) {
            args.extend([format!("--{}", f.flag), sample(f.kind).to_string()]);
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_onewindow"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr.contains("NotFound") || stderr.contains("not found"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(seen, 20, "the window's 7 verbs and the department's 13");
}

async fn events(server: &InProcess, project: &str) -> Vec<String> {
    let t = api(
        server,
        SUPERVISOR,
        "GET",
        &format!("/api/v1/projects/{project}/timeline"),
        Value::Null,
    )
    .await;
    t.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap().to_string())
        .collect()
}

/// A reviewer signs a step, claims and transfers a task from the inbox: each form is on
/// the page only while the task allows it, and each runs the verb as the reviewer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_offers_the_office_verbs_a_task_allows() {
    let server = start().await;
    server.clock.set("2025-06-03T09:00:00");
    let version = deploy_office(&server).await;
    let mut w = pb::window_client::WindowClient::connect(server.addr.clone())
        .await
        .unwrap();
    submit(&mut w, &version, "OV-1", "").await;
    let zhang = login(&server, &reviewer_token("plan", "zhang")).await;
    let base = "/console/inbox/OV-1/D1";

    // Ready, in its acceptance step: sign, claim, transfer, delegate, add a signer, reject;
    // not approve (the decision is the last step), not recall (nothing decided), not
    // special procedures or an extension (the item declares none).
    let p = page(&server, &zhang, base).await;
    assert_eq!(p.status, 200, "{}", p.body);
    for offered in [
        "sign",
        "claim",
        "transfer",
        "delegate",
        "add-signer",
        "reject",
    ] {
        assert!(
            p.body.contains(&format!("action=\"{base}/{offered}\"")),
            "{offered}:\n{}",
            p.body
        );
    }
    for absent in [
        "approve",
        "recall",
        "special-start",
        "special-end",
        "extend",
    ] {
        assert!(
            !p.body.contains(&format!("action=\"{base}/{absent}\"")),
            "{absent}"
        );
    }

    let r = post_form(
        &server,
        &zhang,
        &p.body,
        &format!("{base}/sign"),
        "reason=%E4%BA%88%E4%BB%A5%E5%8F%97%E7%90%86",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let back = format!("{base}?done=sign");
    assert_eq!(r.header("location"), Some(back.as_str()));
    assert!(events(&server, "OV-1")
        .await
        .contains(&"signed D1 accept by zhang".to_string()));
    // The page it goes back to says what was done, and the task's history has it.
    let p = page(&server, &zhang, &back).await;
    assert!(
        p.body.contains("已办理 Done：<strong>签署意见</strong>"),
        "{}",
        p.body
    );
    assert!(p.body.contains("zhang签署「受理」：予以受理"), "{}", p.body);

    // A transfer to nobody's id is refused on the page, in the API's words, and changes
    // nothing.
    let p = page(&server, &zhang, base).await;
    let before = events(&server, "OV-1").await.len();
    let r = post_form(
        &server,
        &zhang,
        &p.body,
        &format!("{base}/transfer"),
        "to=bad%20id",
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Said in Chinese, naming the field, with the API's reason as a tag.
    assert!(
        r.body.contains("「接办人或退回事项」填写有误"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("not a"), "{}", r.body);
    assert_eq!(events(&server, "OV-1").await.len(), before);

    // Claimed, then handed to wang: the task leaves zhang's hands.
    let r = post_form(&server, &zhang, &p.body, &format!("{base}/claim"), "").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let p = page(&server, &zhang, base).await;
    assert!(!p.body.contains(&format!("action=\"{base}/claim\"")));
    let r = post_form(
        &server,
        &zhang,
        &p.body,
        &format!("{base}/transfer"),
        "to=wang",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(events(&server, "OV-1")
        .await
        .contains(&"transferred D1 from zhang to wang".to_string()));

    // An action the table does not have is not found.
    let hidden = form_fields(&p.body, &format!("{base}/transfer"));
    let r = http(
        server.http,
        "POST",
        &format!("{base}/approve-everything"),
        &[
            ("cookie", &zhang),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &hidden,
    )
    .await;
    assert_eq!(r.status, 404);
}
