//! The console over raw HTTP/1.1, in process: its guards (sessions, CSRF, a department
//! kept to its own tasks, escaping, the public page's rate limit and what it leaves
//! out), every verb the browser walk does not take, and the dashboard's filters. The walk
//! through the pages in a real browser is `browser.rs`.

use crate::common::*;
use serde_json::{json, Value};

/// The console's guards: a bad token, CSRF, a department kept to its own tasks, values
/// escaped, the public page's limits and what it leaves out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_escapes_guards_and_keeps_departments_apart() {
    let server = start().await;
    let version = complaint_version(&server).await;
    let hostile = "<script>alert(1)</script>";
    let mut body = complaint("h1", "H1", &version);
    body["applicant"] = json!(hostile);
    body["form"]["complainant"] = json!(hostile);
    body["form"]["department_named"] = json!(format!("<img src=x onerror=alert(1)>"));
    let r = api(&server, WINDOW, "POST", "/api/v1/projects", body).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // No session: to the login page. A wrong token: 401, counted.
    let r = http(server.http, "GET", "/console/window", &[], "").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/console/login"));
    let (csrf, cookie) = login_form(server.http).await;
    let r = http(
        server.http,
        "POST",
        "/console/login",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &cookie),
        ],
        &format!("token=guess-guess-guess-guess&csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 401);
    let metrics = http(server.http, "GET", "/metrics", &[], "").await;
    assert!(
        metrics.body.contains("onewindow_auth_failures_total 1"),
        "{}",
        metrics.body
    );

    // The window's pages show what was typed as text.
    let window = login(&server, WINDOW).await;
    let receipt = page(&server, &window, "/console/window/projects/H1/receipt").await;
    assert_eq!(receipt.status, 200);
    assert!(receipt
        .body
        .contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!receipt.body.contains(hostile));
    // A department's task page shows the form values escaped too.
    let bureau = login(&server, BUREAU).await;
    let task = page(&server, &bureau, "/console/inbox/H1/C01").await;
    assert_eq!(task.status, 200, "{}", task.body);
    assert!(!task.body.contains("<img src=x"));
    assert!(task.body.contains("&lt;img src=x onerror=alert(1)&gt;"));

    // A form without the session's CSRF token changes nothing.
    let r = http(
        server.http,
        "POST",
        "/console/inbox/H1/C01/claim",
        &[
            ("cookie", &bureau),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        "request_id=forged-1&csrf=0000",
    )
    .await;
    assert_eq!(r.status, 403);
    let p = api(&server, WINDOW, "GET", "/api/v1/projects/H1", Value::Null).await;
    assert!(p.body.contains("\"state\":\"ready\""), "{}", p.body);

    // The respondent's session cannot open the bureau's task by URL, nor act on it.
    let respondent = login(&server, RESPONDENT).await;
    let r = page(&server, &respondent, "/console/inbox/H1/C01").await;
    assert_eq!(r.status, 403);
    assert!(!r.body.contains("alert(1)"));
    // A window session is not a reviewer's, and a reviewer's is not the window's.
    assert_eq!(page(&server, &window, "/console/inbox").await.status, 403);
    assert_eq!(page(&server, &bureau, "/console/window").await.status, 403);
    assert_eq!(
        page(&server, &bureau, "/console/supervision").await.status,
        403
    );

    // Public progress: the stage and the items, never the applicant or the form.
    let public = http(server.http, "GET", "/public/projects/H1", &[], "").await;
    assert_eq!(public.status, 200);
    assert!(public.body.contains("受理登记"), "{}", public.body);
    for secret in ["张三", "alert(1)", "某局", "complaint_letter"] {
        assert!(!public.body.contains(secret), "{secret} on the public page");
    }
    assert_eq!(
        http(server.http, "GET", "/public/projects/NOPE", &[], "")
            .await
            .status,
        404
    );
    // Rate-limited per address: a burst, then 429 with a retry hint.
    let mut limited = None;
    for _ in 0..60 {
        let r = http(server.http, "GET", "/public/projects/H1", &[], "").await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
    }
    let limited = limited.expect("the public page is rate-limited");
    assert!(limited.header("retry-after").is_some());

    // Logging out needs the form's token and ends the session.
    let home = page(&server, &window, "/console/window").await;
    let csrf = home
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let r = http(
        server.http,
        "POST",
        "/console/logout",
        &[
            ("cookie", &window),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, 303);
    let r = page(&server, &window, "/console/window").await;
    assert_eq!(r.status, 303, "the session ended");
}

/// A project's task as the JSON API shows it.
pub(crate) async fn task_state(server: &InProcess, project: &str, item: &str) -> Value {
    let p = api(
        server,
        WINDOW,
        "GET",
        &format!("/api/v1/projects/{project}"),
        Value::Null,
    )
    .await;
    p.json()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["item"] == item)
        .unwrap()
        .clone()
}

/// The verbs of the console beyond the browser walk: a special procedure started and
/// ended, an extension, a supplement asked for by a department and handed in at the
/// window, later materials, a withdrawal; and a bad value refused with the gRPC API's
/// own words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_verbs_suspend_extend_supplement_and_withdraw() {
    let server = start().await;
    let version = parallel_project(&server, "V1").await;
    let ndrc_token = dept_token("ndrc");
    let r = api(
        &server,
        &ndrc_token,
        "POST",
        "/api/v1/projects/V1/items/I01/approve",
        json!({"request_id": "v1-I01"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // ndrc: a special procedure on I07 stops its clock and ends; then one extension.
    let ndrc = login(&server, &ndrc_token).await;
    let path = "/console/inbox/V1/I07";
    let page = page(&server, &ndrc, path).await.body;
    let r = post_form(
        &server,
        &ndrc,
        &page,
        &format!("{path}/special-start"),
        "reason=institutional_review",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(task_state(&server, "V1", "I07").await["state"], "suspended");
    let page = self::page(&server, &ndrc, path).await.body;
    let r = post_form(&server, &ndrc, &page, &format!("{path}/special-end"), "").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let before = task_state(&server, "V1", "I07").await;
    assert_eq!(before["state"], "ready");
    let page = self::page(&server, &ndrc, path).await.body;
    let r = post_form(
        &server,
        &ndrc,
        &page,
        &format!("{path}/extend"),
        "reason=%E4%B8%93%E5%AE%B6%E8%AF%84%E5%AE%A1",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let after = task_state(&server, "V1", "I07").await;
    assert!(
        after["due"].as_str().unwrap() > before["due"].as_str().unwrap(),
        "{before} → {after}"
    );
    // The same form sent again (a reload) is the same command: answered, nothing new.
    let reason = "reason=%E4%B8%93%E5%AE%B6%E8%AF%84%E5%AE%A1";
    let r = post_form(&server, &ndrc, &page, &format!("{path}/extend"), reason).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(task_state(&server, "V1", "I07").await["due"], after["due"]);
    // The stale form with another reason reuses its request id: refused, on the page.
    let r = post_form(
        &server,
        &ndrc,
        &page,
        &format!("{path}/extend"),
        "reason=again",
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("request-reused"), "{}", r.body);
    // The page offers no second extension, and the engine refuses one.
    let page = self::page(&server, &ndrc, path).await.body;
    assert!(!page.contains("/extend\""), "{page}");
    let r = api(
        &server,
        &ndrc_token,
        "POST",
        "/api/v1/projects/V1/items/I07/extend",
        json!({"request_id": "v1-ext-2", "reason": "again"}),
    )
    .await;
    assert_eq!(
        r.json()["error"]["reason"],
        "already-extended",
        "{}",
        r.body
    );

    // nrp asks for a supplement on I02; the window hands it in from the project page.
    let nrp = login(&server, &dept_token("nrp")).await;
    let path = "/console/inbox/V1/I02";
    let page = self::page(&server, &nrp, path).await.body;
    let r = post_form(
        &server,
        &nrp,
        &page,
        &format!("{path}/supplement"),
        "needed=land_redline&note=%E5%9D%90%E6%A0%87%E4%B8%8D%E6%B8%85",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(task_state(&server, "V1", "I02").await["state"], "suspended");
    let window = login(&server, WINDOW).await;
    let path = "/console/window/projects/V1";
    let page = self::page(&server, &window, path).await.body;
    // The request's note and the department are on the page.
    assert!(page.contains("坐标不清"), "{page}");
    let r = post_form(
        &server,
        &window,
        &page,
        &format!("{path}/items/I02/supplement"),
        "materials=land_redline",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(task_state(&server, "V1", "I02").await["state"], "ready");

    // Later materials, then withdrawal.
    let page = self::page(&server, &window, path).await.body;
    let r = post_form(
        &server,
        &window,
        &page,
        &format!("{path}/materials"),
        "materials=as_built_drawings",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = self::page(&server, &window, path).await.body;
    let r = post_form(
        &server,
        &window,
        &page,
        &format!("{path}/withdraw"),
        "reason=%E9%A1%B9%E7%9B%AE%E5%8F%96%E6%B6%88",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let p = api(&server, WINDOW, "GET", "/api/v1/projects/V1", Value::Null).await;
    assert_eq!(p.json()["status"], "withdrawn");

    // A value the page would have stopped, sent anyway: the server's check, in the API's words.
    let apply = format!("/console/window/apply/{version}");
    let page = self::page(&server, &window, &apply).await.body;
    let r = post_form(
        &server,
        &window,
        &page,
        &apply,
        "action=notice&applicant=x&f.floor_area=abc",
    )
    .await;
    assert_eq!(r.status, 200);
    let notice = api(
        &server,
        WINDOW,
        "POST",
        "/api/v1/pre-review",
        json!({"version": version, "form": {"floor_area": "abc"}}),
    )
    .await;
    let problem = notice.json()["form"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["field"] == "floor_area")
        .unwrap()["problem"]
        .as_str()
        .unwrap()
        .to_string();
    let escaped = problem.replace('\'', "&#39;").replace('"', "&quot;");
    assert!(
        r.body.contains(&problem) || r.body.contains(&escaped),
        "{problem} in {}",
        r.body
    );
}

/// The dashboard's cards and their filters (department, stage, workflow, due dates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_lists_red_cards_by_its_filters() {
    let server = start_configured(|c| c.tick = std::time::Duration::from_millis(100)).await;
    let version = complaint_version(&server).await;
    for n in 0..3 {
        let r = api(
            &server,
            WINDOW,
            "POST",
            "/api/v1/projects",
            complaint(&format!("d{n}"), &format!("D{n}"), &version),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    server.clock.set("2025-04-01T09:00:00");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = api(
            &server,
            SUPERVISOR,
            "GET",
            "/api/v1/supervision/overdue",
            Value::Null,
        )
        .await;
        if r.json()["tasks"].as_array().is_some_and(|t| t.len() == 3) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let supervisor = login(&server, SUPERVISOR).await;
    let rows = |body: &str| body.matches("<tr class=\"overdue\"").count();
    let all = page(&server, &supervisor, "/console/supervision").await;
    assert_eq!(all.status, 200);
    assert_eq!(rows(&all.body), 3, "{}", all.body);
    assert!(all.body.contains("id=\"red-count\">3<"), "{}", all.body);
    for (query, expected) in [
        ("department=supervision", 3),
        ("department=respondent", 0),
        ("stage=approval&workflow=complaint", 3),
        ("stage=construction", 0),
        ("workflow=construction-parallel", 0),
        ("due_to=2025-03-01", 0),
        ("due_from=2025-03-01&due_to=2025-03-31", 3),
    ] {
        let r = page(
            &server,
            &supervisor,
            &format!("/console/supervision?{query}"),
        )
        .await;
        assert_eq!(rows(&r.body), expected, "{query}");
    }
    // A project's timeline page, and the assessment of a period.
    let r = page(&server, &supervisor, "/console/supervision/projects/D1").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("id=\"gantt\""), "{}", r.body);
    let r = page(
        &server,
        &supervisor,
        "/console/supervision/assessment?from=2025-03-01&to=2025-04-01",
    )
    .await;
    assert!(r.body.contains("id=\"assessment\""), "{}", r.body);
    let r = page(
        &server,
        &supervisor,
        "/console/supervision/assessment?from=x&to=y",
    )
    .await;
    assert_eq!(
        r.status, 400,
        "a bad period is refused as the API refuses it"
    );
}

/// A project on the shipped parallel workflow submitted at the window over the JSON API,
/// its early milestones reported: NDRC's filing I01 is ready. The workflow's version.
pub(crate) async fn parallel_project(server: &InProcess, project: &str) -> String {
    parallel_project_for(server, project, "").await
}

/// [`parallel_project`], with an agent (代办员) assigned when `agent` is not empty.
pub(crate) async fn parallel_project_for(server: &InProcess, project: &str, agent: &str) -> String {
    let list = api(server, WINDOW, "GET", "/api/v1/workflows", Value::Null).await;
    let version = list.json()["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "construction-parallel")
        .unwrap()["version"]
        .as_str()
        .unwrap()
        .to_string();
    let materials: Vec<Value> = APPROVAL_MATERIALS
        .iter()
        .map(|m| json!({"material": m}))
        .collect();
    let form = json!({"project_name": "厂房", "enterprise": "某公司", "industry": "industrial",
        "land_supply": "grant", "new_construction_land": true, "floor_area": 32000,
        "investment": 18000, "special_fire": true, "eia_category": "report_form"});
    let submit = json!({"request_id": format!("s-{project}"), "project": project,
        "version": version, "applicant": "某公司", "form": form, "materials": materials,
        "agent": agent});
    let r = api(server, WINDOW, "POST", "/api/v1/projects", submit).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for item in ["A01", "R01"] {
        let r = api(
            server,
            WINDOW,
            "POST",
            &format!("/api/v1/projects/{project}/items/{item}/milestone"),
            json!({"request_id": format!("{project}-{item}")}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    version
}

/// The number a project's document was issued with, as the JSON API shows it.
async fn number_of(server: &InProcess, project: &str, document: &str) -> String {
    let p = api(
        server,
        WINDOW,
        "GET",
        &format!("/api/v1/projects/{project}"),
        Value::Null,
    )
    .await;
    p.json()["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["document"] == document)
        .unwrap_or_else(|| panic!("{document} issued: {}", p.body))["number"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Official document numbers (文号) as departments write them, each at every door: gRPC,
/// the JSON API and the console; one left blank drawn from NDRC's pattern; bad ones
/// refused naming the field; the permit prints the real number.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_document_numbers_at_every_door() {
    use onewindow::server::pb;
    const NUMBERS: [&str; 3] = [
        "发改能审〔2026〕5号",
        "环审(2026)7号",
        "建字第210600202600012号",
    ];
    let server = start().await;
    let ndrc_token = dept_token("ndrc");
    let mut dept = pb::department_client::DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let ndrc = login(&server, &ndrc_token).await;
    for (k, number) in NUMBERS.iter().enumerate() {
        // gRPC.
        let project = format!("G{k}");
        parallel_project(&server, &project).await;
        dept.approve(with(
            &ndrc_token,
            pb::ApproveRequest {
                request_id: format!("a-{project}"),
                project: project.clone(),
                item: "I01".into(),
                numbers: [("project_code".to_string(), number.to_string())].into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
        assert_eq!(number_of(&server, &project, "project_code").await, *number);
        // The JSON API.
        let project = format!("J{k}");
        parallel_project(&server, &project).await;
        let r = api(
            &server,
            &ndrc_token,
            "POST",
            &format!("/api/v1/projects/{project}/items/I01/approve"),
            json!({"request_id": format!("a-{project}"), "numbers": {"project_code": number}}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(number_of(&server, &project, "project_code").await, *number);
        // The console, as a clerk types it (with a stray space).
        let project = format!("C{k}");
        parallel_project(&server, &project).await;
        let path = format!("/console/inbox/{project}/I01");
        let page = page(&server, &ndrc, &path).await.body;
        assert!(
            page.contains("留空则按本部门编号规则取下一个号，如 丹发改审批〔2025〕1号"),
            "the next number is shown: {page}"
        );
        let typed = percent_encoding::utf8_percent_encode(
            &format!(" {number}"),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        let r = post_form(
            &server,
            &ndrc,
            &page,
            &format!("{path}/approve"),
            &format!("number.project_code={typed}"),
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(number_of(&server, &project, "project_code").await, *number);
    }
    // Bad numbers: refused, naming the field, nothing written.
    parallel_project(&server, "B").await;
    let bad = |n: &str| json!({"request_id": "b-bad", "numbers": {"project_code": n}});
    for (number, says) in [
        ("发改\u{7}审〔2026〕5号", "control character"),
        (&"号".repeat(65), "at most 64"),
        ("  ", "cannot be empty"),
    ] {
        let r = api(
            &server,
            &ndrc_token,
            "POST",
            "/api/v1/projects/B/items/I01/approve",
            bad(number),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(
            r.body.contains("numbers.project_code") && r.body.contains(says),
            "{}",
            r.body
        );
    }
    assert_eq!(task_state(&server, "B", "I01").await["state"], "ready");
    // Left blank: the next number of NDRC's year (the server's clock says 2025).
    let r = api(
        &server,
        &ndrc_token,
        "POST",
        "/api/v1/projects/B/items/I01/approve",
        json!({"request_id": "b"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        number_of(&server, "B", "project_code").await,
        "丹发改审批〔2025〕1号"
    );
    // The permit the window prints carries the real number.
    let window = login(&server, WINDOW).await;
    let permit = self::page(
        &server,
        &window,
        "/console/window/projects/C2/documents/project_code",
    )
    .await;
    assert_eq!(permit.status, 200, "{}", permit.body);
    assert!(
        permit.body.contains("建字第210600202600012号"),
        "{}",
        permit.body
    );
}

/// The dashboard shows the forecast's headline the analyst published, with when it ran;
/// without one it says how to get one, and an unreadable file is said to be so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_published_forecast_or_says_how_to_get_one() {
    use onewindow::forecast::{Headline, HeadlineTask};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("forecast.json");
    let made = chrono::NaiveDateTime::parse_from_str("2025-03-03 02:00", "%Y-%m-%d %H:%M").unwrap();
    onewindow::forecast::write(
        &file,
        &Headline {
            made,
            at: made,
            horizon: 20,
            replications: 200,
            workflow: "construction-parallel".into(),
            open: 812,
            projects_at_risk: 7,
            yellow_expected: 9.4,
            red_expected: 2.1,
            tasks: vec![HeadlineTask {
                project: "P-0042".into(),
                item: "I12".into(),
                name: "施工图设计文件联合审查".into(),
                department: "drawing_review".into(),
                yellow: 0.83,
                red: 0.35,
                day: Some(6),
            }],
        },
    )
    .unwrap();
    let path = file.clone();
    let server = start_configured(move |c| c.forecast = Some(path)).await;
    let supervisor = login(&server, SUPERVISOR).await;
    let page_ = page(&server, &supervisor, "/console/supervision").await;
    assert_eq!(page_.status, 200);
    let body = &page_.body;
    assert!(body.contains("id=\"forecast-at-risk\">7<"), "{body}");
    assert!(
        body.contains("施工图设计文件联合审查") && body.contains("83%") && body.contains("第 6 天"),
        "{body}"
    );
    assert!(body.contains("预测于 2025-03-03 02:00"), "{body}");
    assert!(
        body.contains("/console/supervision/projects/P-0042"),
        "{body}"
    );

    // The analyst's next run replaces the file; the page shows the new one.
    std::fs::write(&file, "not json").unwrap();
    let again = page(&server, &supervisor, "/console/supervision").await;
    assert!(
        again.body.contains("id=\"forecast-unreadable\""),
        "{}",
        again.body
    );

    let plain = start().await;
    let supervisor = login(&plain, SUPERVISOR).await;
    let none = page(&plain, &supervisor, "/console/supervision").await;
    assert!(
        none.body.contains("id=\"forecast-none\"") && none.body.contains("--publish"),
        "{}",
        none.body
    );
}
