//! The console as its people use it, over raw HTTP in process: a rejection answered at the
//! counter and resubmitted (no dead end), an agent's portal kept to the agent's own
//! projects, an analyst's pages, supervision urging from a project's page, and refusals
//! said in Chinese — or in English when the reader chose it. The same walks in a real
//! browser, with screenshots, are `browser.rs`.

use crate::common::*;
use crate::console::{parallel_project, parallel_project_for, task_state as task};
use serde_json::{json, Value};

async fn json_command(server: &InProcess, token: &str, path: &str, body: Value) {
    let r = api(server, token, "POST", path, body).await;
    assert_eq!(r.status, 200, "{path}: {}", r.body);
}

/// A department's 不予许可 is on the window's page with the department and the reason
/// (as text); the public page says 不予许可 and never the reason; the window resubmits
/// from the page, which then says so, and the item is under review again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_is_answered_at_the_counter() {
    let server = start().await;
    parallel_project(&server, "RJ1").await;
    let reason = "用地性质不符<script>alert(1)</script>";
    json_command(
        &server,
        &dept_token("ndrc"),
        "/api/v1/projects/RJ1/items/I01/reject",
        json!({"request_id": "rj", "reason": reason}),
    )
    .await;

    let window = login(&server, WINDOW).await;
    let path = "/console/window/projects/RJ1";
    let p = page(&server, &window, path).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let rejected = p
        .body
        .split("class=\"error rejected\"")
        .nth(1)
        .expect("the rejection on the page");
    assert!(rejected.contains("不予许可"), "{rejected}");
    assert!(
        rejected.contains("发展和改革"),
        "the department by name: {rejected}"
    );
    assert!(
        rejected.contains("用地性质不符&lt;script&gt;"),
        "{rejected}"
    );
    assert!(!p.body.contains("<script>alert(1)"));
    let action = format!("{path}/items/I01/resubmit");
    assert!(
        p.body.contains(&format!("action=\"{action}\"")),
        "{}",
        p.body
    );

    // The public page: not "in progress", and no reason.
    let public = http(server.http, "GET", "/public/projects/RJ1", &[], "").await;
    assert!(
        public.body.contains("不予许可 not approved"),
        "{}",
        public.body
    );
    assert!(!public.body.contains("用地性质不符"));

    let r = post_form(&server, &window, &p.body, &action, "materials=project_info").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let back = r.header("location").unwrap().to_string();
    assert_eq!(back, format!("{path}?done=resubmit&item=I01"));
    let p = page(&server, &window, &back).await;
    assert!(
        p.body.contains("已办理 Done：<strong>重新申请</strong>"),
        "{}",
        p.body
    );
    assert!(!p.body.contains("class=\"error rejected\""));
    assert_eq!(task(&server, "RJ1", "I01").await["state"], "ready");
}

/// An agent's portal lists only their projects, with what each waits for; another
/// agent's project is not found by URL; the agent hands in a supplement from the page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sees_only_their_projects_and_answers_a_supplement() {
    let server = start().await;
    parallel_project_for(&server, "AG-LI", "li").await;
    parallel_project_for(&server, "AG-ZHAO", "zhao").await;
    json_command(
        &server,
        &dept_token("ndrc"),
        "/api/v1/projects/AG-LI/items/I01/request-supplement",
        json!({"request_id": "sp", "needed": ["project_info"], "note": "请补充投资额说明"}),
    )
    .await;

    let li = login(&server, &agent_token("li")).await;
    // Logging in lands the agent on their page.
    let home = page(&server, &li, "/console").await;
    assert_eq!(home.header("location"), Some("/console/agent"));
    let mine = page(&server, &li, "/console/agent").await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert!(
        mine.body.contains("data-project=\"AG-LI\""),
        "{}",
        mine.body
    );
    assert!(!mine.body.contains("AG-ZHAO"), "{}", mine.body);
    assert!(
        mine.body.contains("提交补正材料"),
        "what it waits for: {}",
        mine.body
    );
    let other = page(&server, &li, "/console/window/projects/AG-ZHAO").await;
    assert_eq!(other.status, 404, "{}", other.body);

    let path = "/console/window/projects/AG-LI";
    let p = page(&server, &li, path).await;
    assert!(p.body.contains("请补充投资额说明"), "the note: {}", p.body);
    let r = post_form(
        &server,
        &li,
        &p.body,
        &format!("{path}/items/I01/supplement"),
        "materials=project_info",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(task(&server, "AG-LI", "I01").await["state"], "ready");
    // The counter's new applications are the window's alone.
    let r = page(&server, &li, "/console/window").await;
    assert_eq!(r.status, 403);
}

/// An analyst lands on the analysis, reads a version's schedule with its critical path
/// and compares two versions against the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_reads_schedules_and_compares_versions() {
    let server = start().await;
    let analyst = login(&server, ANALYST).await;
    let home = page(&server, &analyst, "/console").await;
    assert_eq!(home.header("location"), Some("/console/analysis"));
    let list = page(&server, &analyst, "/console/analysis").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let versions: Vec<String> = list
        .body
        .split("name=\"v\" value=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect();
    assert!(versions.len() >= 2, "{}", list.body);

    let plan = page(
        &server,
        &analyst,
        &format!("/console/analysis/versions/{}", versions[0]),
    )
    .await;
    assert_eq!(plan.status, 200, "{}", plan.body);
    assert!(plan.body.contains("id=\"critical-path\""), "{}", plan.body);
    assert!(plan.body.contains("关键路径 critical"), "{}", plan.body);

    let compare = page(
        &server,
        &analyst,
        &format!(
            "/console/analysis/compare?v={}&v={}&limits=statutory",
            versions[0], versions[1]
        ),
    )
    .await;
    assert_eq!(compare.status, 200, "{}", compare.body);
    assert_eq!(compare.body.matches("<tr data-version=").count(), 2);
    // One version is no comparison: refused in Chinese, as the API refuses it.
    let one = page(
        &server,
        &analyst,
        &format!("/console/analysis/compare?v={}", versions[0]),
    )
    .await;
    assert_eq!(one.status, 400, "{}", one.body);
    assert!(one.body.contains("填写有误"), "{}", one.body);
    // The window may not.
    let window = login(&server, WINDOW).await;
    assert_eq!(
        page(&server, &window, "/console/analysis").await.status,
        403
    );
}

/// Supervision urges a department from a project's page; a second urging the same day is
/// refused in Chinese, or in English for a reader who chose English.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervision_urges_and_refusals_speak_the_readers_language() {
    let server = start().await;
    parallel_project(&server, "UR1").await;
    let supervisor = login(&server, SUPERVISOR).await;
    let path = "/console/supervision/projects/UR1";
    let p = page(&server, &supervisor, path).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let action = format!("{path}/items/I01/urge");
    let r = post_form(
        &server,
        &supervisor,
        &p.body,
        &action,
        "reason=%E8%AF%B7%E5%B0%BD%E5%BF%AB%E5%8A%9E%E7%90%86",
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let p = page(&server, &supervisor, r.header("location").unwrap()).await;
    assert!(
        p.body.contains("已办理 Done：<strong>催办</strong>"),
        "{}",
        p.body
    );
    assert!(
        p.body.contains("催办：请尽快办理"),
        "the record: {}",
        p.body
    );

    let again = post_form(&server, &supervisor, &p.body, &action, "reason=again").await;
    assert_eq!(again.status, 429, "{}", again.body);
    assert!(
        again.body.contains("今天已催办过，请明天再催"),
        "{}",
        again.body
    );
    assert!(again.body.contains("urged-recently"), "the reason as a tag");
    assert!(!again.body.contains("was urged already"), "no English");

    let english = format!("{supervisor}; onewindow_lang=en");
    let r = post_form(&server, &english, &p.body, &action, "reason=again").await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("was urged today already"), "{}", r.body);
    assert!(r.body.contains("lang=\"en\""), "the page says its language");
}

/// The reviewer's desk shows the site findings that concern the department (the record
/// of day 0), the item's own materials with what was handed in, and its history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reviewers_desk_has_the_site_findings_of_the_department() {
    let server = start().await;
    let version = parallel_project(&server, "DESK-0").await;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let site =
        std::fs::read_to_string(root.join("workflows/blueprint/sites/clean.geojson")).unwrap();
    let form = json!({"project_name": "厂房", "enterprise": "某公司", "industry": "industrial",
        "land_supply": "grant", "new_construction_land": true, "floor_area": 32000,
        "investment": 18000, "special_fire": true, "eia_category": "report_form"});
    let materials: Vec<Value> = APPROVAL_MATERIALS
        .iter()
        .map(|m| json!({"material": m, "name": format!("{m}.pdf")}))
        .collect();
    json_command(&server, WINDOW, "/api/v1/projects", json!({"request_id": "desk", "project": "DESK",
        "version": version, "applicant": "某公司", "form": form, "materials": materials, "site": site})).await;
    for item in ["A01", "R01"] {
        json_command(
            &server,
            WINDOW,
            &format!("/api/v1/projects/DESK/items/{item}/milestone"),
            json!({"request_id": format!("desk-{item}")}),
        )
        .await;
    }
    // The development zone's finding is the commission's (ndrc), not natural resources'.
    let ndrc = login(&server, &dept_token("ndrc")).await;
    let desk = page(&server, &ndrc, "/console/inbox/DESK/I01").await;
    assert_eq!(desk.status, 200, "{}", desk.body);
    let findings = desk
        .body
        .split("id=\"site-findings\"")
        .nth(1)
        .expect("the department's site findings")
        .split("</table>")
        .next()
        .unwrap();
    assert!(
        findings.contains("开发区 development zone"),
        "by its name: {findings}"
    );
    let own = desk.body.split("id=\"item-materials\"").nth(1).unwrap();
    assert!(own.contains("已收 received"), "{own}");
    assert!(
        own.contains("project_info.pdf"),
        "the reference handed in: {own}"
    );
    assert!(desk.body.contains("工业"), "an enum value by its label");
    let nrp = login(&server, &dept_token("nrp")).await;
    let other = page(&server, &nrp, "/console/inbox/DESK/I02").await;
    assert_eq!(other.status, 200, "{}", other.body);
    assert!(!other.body.contains("development_zone"), "{}", other.body);
}
