//! The JSON/HTTP API end to end in process, over raw HTTP/1.1: the same handlers, auth,
//! request-id rule and errors as gRPC, its OpenAPI document checked against the routes
//! and the proto, and `/metrics`. The console is `console.rs` (and `browser.rs`).

use crate::common::*;
use onewindow::server::pb;
use serde_json::{json, Value};

/// Every operation of the OpenAPI document is served (an unauthenticated call gets the
/// API's 401, not the router's 404 or 405), and every unary RPC of the proto has an
/// operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_routes_and_the_proto() {
    let server = start().await;
    let doc = http(server.http, "GET", "/api/v1/openapi.json", &[], "").await;
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut operations = std::collections::BTreeSet::new();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            operations.insert(op["operationId"].as_str().unwrap().to_string());
            // Every request and response schema the operation names exists.
            for r in [
                &op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
                &op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            ] {
                if let Some(r) = r.as_str() {
                    let name = r.rsplit('/').next().unwrap();
                    assert!(
                        doc["components"]["schemas"][name].is_object(),
                        "{path}: schema {name}"
                    );
                }
            }
            let concrete = path
                .replace("{project}", "P1")
                .replace("{item}", "I1")
                .replace("{version}", "v1");
            let reply = http(server.http, &method.to_uppercase(), &concrete, &[], "").await;
            assert_eq!(reply.status, 401, "{method} {path}: {}", reply.body);
            assert_eq!(reply.json()["error"]["status"], "UNAUTHENTICATED");
        }
    }
    // Every RPC of the proto, the streams too (as server-sent events), from the
    // descriptors compiled into the binary.
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let mut rpcs = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for m in &service.method {
                rpcs.push(format!("{}.{}", service.name(), m.name()));
            }
        }
    }
    assert!(rpcs.len() > 20, "{rpcs:?}");
    for rpc in &rpcs {
        assert!(operations.contains(rpc), "{rpc} has no HTTP route");
    }
    // A field of the proto is in its schema, with the proto's comment.
    let submit = &doc["components"]["schemas"]["SubmitRequest"]["properties"];
    assert!(submit["request_id"]["description"]
        .as_str()
        .unwrap()
        .contains("Idempotency"));
    assert_eq!(
        http(server.http, "GET", "/api/v1/nothing", &[], "")
            .await
            .status,
        404
    );
}

/// A complaint through the JSON API: the same answers and refusals as gRPC, each gRPC
/// code as its HTTP status with the typed reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_through_the_json_api_with_its_refusals() {
    let server = start().await;
    let version = complaint_version(&server).await;

    // Incomplete: 400, reason `incomplete`, the one-time notice typed.
    let mut partial = complaint("s0", "C1", &version);
    partial["materials"] = json!([]);
    let r = api(&server, WINDOW, "POST", "/api/v1/projects", partial).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let e = &r.json()["error"];
    assert_eq!(e["status"], "FAILED_PRECONDITION");
    assert_eq!(e["reason"], "incomplete");
    assert_eq!(e["notice"]["complete"], false);
    assert!(e["notice"]["items"][0]["missing_materials"]
        .as_array()
        .unwrap()
        .contains(&json!("complaint_letter")));

    // Submitted; the same request again is the same answer, replayed.
    let body = complaint("s1", "C1", &version);
    let first = api(&server, WINDOW, "POST", "/api/v1/projects", body.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let first = first.json();
    assert_eq!(first["replayed"], false);
    assert!(first["events"].as_array().unwrap().len() > 2);
    let again = api(&server, WINDOW, "POST", "/api/v1/projects", body).await;
    assert_eq!(again.json()["replayed"], true);
    assert_eq!(again.json()["events"], first["events"]);
    // The id with another command: 409 request-reused.
    let other = complaint("s1", "C2", &version);
    let r = api(&server, WINDOW, "POST", "/api/v1/projects", other).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["error"]["reason"], "request-reused");
    // The project exists: 409.
    let r = api(
        &server,
        WINDOW,
        "POST",
        "/api/v1/projects",
        complaint("s2", "C1", &version),
    )
    .await;
    assert_eq!(r.status, 409);
    // A time from the caller: 400 naming the field.
    let mut timed = complaint("s3", "C3", &version);
    timed["at"] = json!("2020-01-01T00:00:00");
    let r = api(&server, WINDOW, "POST", "/api/v1/projects", timed).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["violations"][0]["field"], "at");
    // Not JSON, or the wrong shape: 400 invalid-argument, nothing echoed whole.
    let r = http(
        server.http,
        "POST",
        "/api/v1/projects",
        &[("authorization", &bearer(WINDOW))],
        "{not json",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["reason"], "invalid-argument");
    let r = api(
        &server,
        WINDOW,
        "POST",
        "/api/v1/projects",
        json!({"request_id": 5}),
    )
    .await;
    assert_eq!(r.status, 400);
    // Unknown project: 404.
    let r = api(&server, WINDOW, "GET", "/api/v1/projects/NOPE", Value::Null).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["status"], "NOT_FOUND");

    // Roles: the window has no task list; a department has no project list.
    let r = api(&server, WINDOW, "GET", "/api/v1/tasks", Value::Null).await;
    assert_eq!(r.status, 403);
    let r = api(&server, BUREAU, "GET", "/api/v1/projects", Value::Null).await;
    assert_eq!(r.status, 403);

    // The bureau's queue, by query parameters.
    let r = api(
        &server,
        BUREAU,
        "GET",
        "/api/v1/tasks?state=ready",
        Value::Null,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tasks = r.json()["tasks"].as_array().unwrap().clone();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["item"], "C01");

    // Another department may not act on it: 403 not-your-task.
    let r = api(
        &server,
        RESPONDENT,
        "POST",
        "/api/v1/projects/C1/items/C01/claim",
        json!({"request_id": "x1"}),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);

    // Two claims racing: one wins, the other is told why.
    let (a, b) = tokio::join!(
        api(
            &server,
            BUREAU,
            "POST",
            "/api/v1/projects/C1/items/C01/claim",
            json!({"request_id": "claim-a"}),
        ),
        api(
            &server,
            BUREAU,
            "POST",
            "/api/v1/projects/C1/items/C01/claim",
            json!({"request_id": "claim-b"}),
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 400], "{} / {}", a.body, b.body);
    let loser = if a.status == 400 { &a } else { &b };
    assert_eq!(loser.json()["error"]["status"], "FAILED_PRECONDITION");
    assert_eq!(loser.json()["error"]["reason"], "illegal-transition");

    // Approve (the path names the project and item, over anything the body says).
    let r = api(
        &server,
        BUREAU,
        "POST",
        "/api/v1/projects/C1/items/C01/approve",
        json!({"request_id": "ok-1", "project": "ELSEWHERE", "numbers": {"registration": "TS-2025-0001"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("TS-2025-0001"));
    let p = api(&server, WINDOW, "GET", "/api/v1/projects/C1", Value::Null).await;
    let p = p.json();
    let c01 = p["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["item"] == "C01")
        .unwrap();
    assert_eq!(c01["state"], "approved");

    // Supervision reads; the assessment takes its period from the query.
    let r = api(
        &server,
        SUPERVISOR,
        "GET",
        "/api/v1/supervision/assessment?from=2025-03-01&to=2025-03-31",
        Value::Null,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["departments"][0]["department"], "supervision");
    let r = api(
        &server,
        SUPERVISOR,
        "GET",
        "/api/v1/projects/C1/timeline",
        Value::Null,
    )
    .await;
    assert!(r.json()["events"].as_array().unwrap().len() > 4);
}

/// `/metrics` counts commands by kind and outcome and open tasks by department.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_commands_by_kind_and_open_tasks_by_department() {
    let server = start().await;
    let version = complaint_version(&server).await;
    let r = api(
        &server,
        WINDOW,
        "POST",
        "/api/v1/projects",
        complaint("m1", "M1", &version),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = api(
        &server,
        BUREAU,
        "POST",
        "/api/v1/projects/M1/items/C01/approve",
        json!({"request_id": "m2"}),
    )
    .await;
    assert_eq!(r.status, 200);
    let metrics = http(server.http, "GET", "/metrics", &[], "").await;
    let body = &metrics.body;
    for line in [
        "onewindow_commands_total{kind=\"submit\",outcome=\"applied\"} 1",
        "onewindow_commands_total{kind=\"approve\",outcome=\"applied\"} 1",
        "onewindow_open_tasks{department=\"respondent\"} 1",
        "onewindow_command_seconds_count{kind=\"approve\"} 1",
    ] {
        assert!(body.contains(line), "{line} in {body}");
    }
    assert!(body.contains("onewindow_store_group_size"), "{body}");
    assert!(
        body.contains("onewindow_overdue_tasks{department=\"respondent\"} 0"),
        "{body}"
    );
    // Past the due date, the next count (at most a few seconds old) shows it overdue.
    server.clock.set("2025-05-02T09:00:00");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let body = http(server.http, "GET", "/metrics", &[], "").await.body;
        if body.contains("onewindow_overdue_tasks{department=\"respondent\"} 1") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}

/// `/metrics` passes Prometheus's own linter (`promtool check metrics`, Debian's
/// `prometheus` package) with every family in use: commands, latencies, tasks, the
/// store's flushes, streams, connections; and Prometheus itself gets OpenMetrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool() {
    let promtool = debian_program("/usr/bin/promtool", "prometheus");
    let server = start().await;
    let version = complaint_version(&server).await;
    let r = api(
        &server,
        WINDOW,
        "POST",
        "/api/v1/projects",
        complaint("p1", "P1", &version),
    )
    .await;
    assert_eq!(r.status, 200);
    // A failed authentication, so that counter has a sample too.
    let r = api(
        &server,
        "nobody-nobody-nobody",
        "GET",
        "/api/v1/projects",
        Value::Null,
    )
    .await;
    assert_eq!(r.status, 401);
    let classic = http(server.http, "GET", "/metrics", &[], "").await;
    assert_eq!(
        classic.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    for family in [
        "onewindow_commands_total",
        "onewindow_auth_failures_total",
        "onewindow_connections_open",
    ] {
        assert!(
            classic.body.contains(&format!("# HELP {family} ")),
            "{family}"
        );
    }
    let mut lint = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    lint.stdin
        .take()
        .unwrap()
        .write_all(classic.body.as_bytes())
        .unwrap();
    let out = lint.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A scraper that asks for OpenMetrics gets it.
    let open = http(
        server.http,
        "GET",
        "/metrics",
        &[(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        )],
        "",
    )
    .await;
    assert!(open.body.trim_end().ends_with("# EOF"), "{}", open.body);
}

/// A site (one blueprint, 一张蓝图) through the JSON API: CheckSite, pre-review's notice,
/// a blocked submission refused with the conflict named, an accepted one recorded as
/// the project's `site_checked` event, and bad sites refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_is_checked_against_the_blueprint_at_the_counter() {
    let server = start().await;
    let list = api(&server, WINDOW, "GET", "/api/v1/workflows", Value::Null).await;
    let version_of = |id: &str| {
        list.json()["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == id)
            .unwrap()["version"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let version = version_of("construction-parallel");
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let site = |name: &str| {
        std::fs::read_to_string(root.join(format!("workflows/blueprint/sites/{name}.geojson")))
            .unwrap()
    };
    let form = json!({"project_name": "厂房", "enterprise": "某公司", "industry": "industrial",
        "land_supply": "grant", "new_construction_land": true, "floor_area": 32000,
        "investment": 18000, "special_fire": true, "eia_category": "report_form"});
    let materials: Vec<Value> = APPROVAL_MATERIALS
        .iter()
        .map(|m| json!({"material": m}))
        .collect();

    let r = api(
        &server,
        WINDOW,
        "POST",
        &format!("/api/v1/workflows/{version}/check-site"),
        json!({"site": site("red-line"), "form": form}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let checked = r.json();
    assert_eq!(checked["blocking"], true);
    assert_eq!(checked["blueprint"], "synthetic-city");
    assert_eq!(checked["findings"][0]["rule"], "ecological-red-line");
    assert_eq!(checked["findings"][0]["department"], "nrp");

    let notice = api(&server, WINDOW, "POST", "/api/v1/pre-review",
        json!({"version": version, "form": form, "materials": materials, "site": site("zoning-conflict")})).await;
    let notice = notice.json();
    assert_eq!(notice["complete"], false);
    assert_eq!(notice["site"][0]["rule"], "zoning-use");
    assert_eq!(notice["site"][0]["blocking"], true);

    let refused = api(&server, WINDOW, "POST", "/api/v1/projects", json!({"request_id": "s1", "project": "S1",
        "version": version, "applicant": "某公司", "form": form, "materials": materials, "site": site("farmland")})).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let e = &refused.json()["error"];
    assert_eq!(e["reason"], "incomplete");
    assert!(
        e["message"].as_str().unwrap().contains("basic-farmland"),
        "{e}"
    );
    assert_eq!(e["notice"]["site"][0]["rule"], "basic-farmland");
    let gone = api(&server, WINDOW, "GET", "/api/v1/projects/S1", Value::Null).await;
    assert_eq!(gone.status, 404, "a refused submission leaves nothing");

    let accepted = api(&server, WINDOW, "POST", "/api/v1/projects", json!({"request_id": "s2", "project": "S2",
        "version": version, "applicant": "某公司", "form": form, "materials": materials, "site": site("clean")})).await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let events = accepted.json()["events"].as_array().unwrap().clone();
    let recorded = events
        .iter()
        .find(|e| e["type"] == "site_checked")
        .expect("the check is in the record");
    assert_eq!(recorded["seq"], 2);
    assert!(
        recorded["summary"]
            .as_str()
            .unwrap()
            .contains("development-zone"),
        "{recorded}"
    );

    // Bad sites: swapped axes, not GeoJSON, a workflow without a blueprint.
    let swapped = r#"{"type": "Polygon", "coordinates": [[[34.0,113.8],[34.0,113.81],[34.01,113.81],[34.0,113.8]]]}"#;
    let r = api(
        &server,
        WINDOW,
        "POST",
        &format!("/api/v1/workflows/{version}/check-site"),
        json!({"site": swapped}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["violations"][0]["field"], "site");
    assert!(r.body.contains("swapped"), "{}", r.body);
    let r = api(
        &server,
        WINDOW,
        "POST",
        &format!("/api/v1/workflows/{version}/check-site"),
        json!({"site": "{oops"}),
    )
    .await;
    assert_eq!(r.status, 400);
    let complaint = version_of("complaint");
    let r = api(
        &server,
        WINDOW,
        "POST",
        &format!("/api/v1/workflows/{complaint}/check-site"),
        json!({"site": site("clean")}),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["status"], "FAILED_PRECONDITION");
}

/// The OpenAPI document is one a generator can trust: valid against OpenAPI 3.1's
/// meta-schema (`openapi-spec-validator`, from a virtual environment the test makes); a
/// client generated from it by `openapi-python-client` drives a project to an approval
/// (`tests/openapi/drive.py`); and by our own rules: every operation has an id, a summary and a typed error; every
/// command's body requires its `request_id` and carries an example that its schema's
/// required fields are in; ids are bounded and patterned; states and stages are enums.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_validates_and_says_what_the_server_requires() {
    let server = start().await;
    let doc = http(server.http, "GET", "/api/v1/openapi.json", &[], "")
        .await
        .json();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    let python = python_venv("python-openapi", "tests/openapi/requirements.txt");
    let out = std::process::Command::new(&python)
        .args([
            "-m",
            "openapi_spec_validator",
            "--schema",
            "3.1",
            "--errors",
            "all",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the validator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A client generated from it with openapi-python-client drives a project.
    let generator = python.with_file_name("openapi-python-client");
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "post_hooks: []\n").unwrap();
    let generated = dir.path().join("generated");
    let out = std::process::Command::new(&generator)
        .args(["generate", "--meta", "none", "--path"])
        .arg(&file)
        .arg("--output-path")
        .arg(generated.join("client"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success() && generated.join("client/api/window").is_dir(),
        "the generator: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let drive = tokio::task::spawn_blocking({
        let (python, generated) = (python.clone(), generated.clone());
        let base = format!("http://{}", server.http);
        move || {
            std::process::Command::new(python)
                .arg(root.join("tests/openapi/drive.py"))
                .arg(&generated)
                .arg(base)
                .arg(WINDOW)
                .arg(dept_token("ndrc"))
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        String::from_utf8_lossy(&drive.stdout).contains("PASS"),
        "the generated client's drive: {}{}",
        String::from_utf8_lossy(&drive.stdout),
        String::from_utf8_lossy(&drive.stderr)
    );

    let schemas = &doc["components"]["schemas"];
    let mut commands = 0;
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let at = format!("{method} {path}");
            assert!(op["operationId"].is_string(), "{at}");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{at}"
            );
            for p in op["parameters"].as_array().into_iter().flatten() {
                assert!(
                    !p["example"].is_null(),
                    "{at}: {} has no example",
                    p["name"]
                );
            }
            assert_eq!(
                op["responses"]["default"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/Error",
                "{at}"
            );
            let body = &op["requestBody"]["content"]["application/json"];
            if body.is_null() {
                continue;
            }
            let required: Vec<&str> = body["schema"]["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let message = body["schema"]["allOf"][0]["$ref"]
                .as_str()
                .or(body["schema"]["$ref"].as_str())
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap();
            if schemas[message]["properties"]["request_id"].is_object() {
                commands += 1;
                assert!(required.contains(&"request_id"), "{at}: {required:?}");
            }
            for r in &required {
                assert!(!body["example"][r].is_null(), "{at}: the example lacks {r}");
            }
        }
    }
    // Every verb of the table, the submission and a migration.
    assert_eq!(commands, onewindow::server::verbs::all().count() + 2);
    // A reason is required where the verb requires it, not where it is optional.
    let required = |path: &str| {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["required"]
            .clone()
    };
    assert_eq!(
        required("/api/v1/projects/{project}/items/{item}/reject"),
        json!(["request_id", "reason"])
    );
    assert_eq!(
        required("/api/v1/projects/{project}/withdraw"),
        json!(["request_id"])
    );
    let request_id = &schemas["ItemCommand"]["properties"]["request_id"];
    assert_eq!(request_id["maxLength"], 128);
    assert!(request_id["pattern"].is_string());
    let states = schemas["Task"]["properties"]["state"]["enum"]
        .as_array()
        .unwrap();
    assert!(states.contains(&json!("suspended")), "{states:?}");
    assert!(schemas["Project"]["properties"]["stage"]["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("approval")));
}
