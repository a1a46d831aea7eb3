//! The approval office's verbs against the real server (in process): reviewers sign steps
//! with their own tokens, hand tasks on and return projects; agents see only their own
//! projects and urge departments, whose streams are told; an administrator deploys a new
//! year's calendar and the due dates it changes are derived again — over gRPC, the JSON
//! API and the CLI.

use crate::common::*;
use onewindow::server::pb;
use pb::department_client::DepartmentClient;
use pb::supervision_client::SupervisionClient;
use pb::window_client::WindowClient;
use pb::workflows_client::WorkflowsClient;
use tonic::transport::Channel;

/// Deploys the office workflow of the scenarios (steps inside departments); its calendar
/// path is rewritten to the server's workflows directory.
pub(crate) async fn deploy_office(server: &InProcess) -> String {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let yaml = std::fs::read_to_string(root.join("tests/scenarios/workflows/office.yaml"))
        .unwrap()
        .replace("../../../workflows/calendars/cn", "calendars/cn");
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    wf.deploy(with(
        ADMIN,
        pb::DeployRequest {
            file_name: "office.yaml".into(),
            yaml,
        },
    ))
    .await
    .unwrap()
    .into_inner()
    .version
}

pub(crate) async fn submit(
    w: &mut WindowClient<Channel>,
    version: &str,
    project: &str,
    agent: &str,
) {
    w.submit(with(
        WINDOW,
        pb::SubmitRequest {
            request_id: format!("submit-{project}"),
            project: project.into(),
            version: version.into(),
            applicant: "某某建设有限公司".into(),
            agent: agent.into(),
            form: [(
                "height".to_string(),
                pb::FieldValue {
                    value: Some(pb::field_value::Value::Number(30.0)),
                },
            )]
            .into(),
            materials: refs(&["drawings"]),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
}

fn reason(id: &str, project: &str, item: &str, text: &str) -> pb::ReasonForItem {
    pb::ReasonForItem {
        request_id: id.into(),
        project: project.into(),
        item: item.into(),
        reason: text.into(),
        at: String::new(),
    }
}

fn summaries(r: &pb::CommandResponse) -> Vec<String> {
    r.events.iter().map(|e| e.summary.clone()).collect()
}

/// The engine's refusal code a status carries (`code: message`).
fn code(s: &tonic::Status) -> &str {
    s.message().split(':').next().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewers_sign_steps_hand_on_and_return() {
    let server = start().await;
    server.clock.set("2025-06-03T09:00:00");
    let version = deploy_office(&server).await;
    let mut w = WindowClient::connect(server.addr.clone()).await.unwrap();
    submit(&mut w, &version, "OF-1", "").await;
    let mut d = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let zhang = reviewer_token("plan", "zhang");
    let li = reviewer_token("plan", "li");
    let wang = reviewer_token("plan", "wang");

    // Acceptance: an open step, any reviewer; recorded under the reviewer's name.
    let r = d
        .sign(with(&zhang, reason("s1", "OF-1", "D1", "予以受理")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        summaries(&r),
        [
            "signed D1 accept by zhang",
            "step-completed D1 accept next due 2025-06-06"
        ]
    );
    assert_eq!(r.events[0].actor, "department:plan/zhang");

    // The countersigned examination: wang is not a signer; another department's
    // reviewer is refused as such; the department's own token cannot stand in.
    let e = d
        .sign(with(&wang, reason("s2", "OF-1", "D1", "同意")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    assert_eq!(code(&e), "not-signer");
    let e = d
        .sign(with(
            &reviewer_token("review", "a"),
            reason("s3", "OF-1", "D1", "同意"),
        ))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "not-your-task");
    let e = d
        .sign(with(
            &dept_token("plan"),
            reason("s4", "OF-1", "D1", "同意"),
        ))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "not-signer");

    d.sign(with(&zhang, reason("s5", "OF-1", "D1", "同意")))
        .await
        .unwrap();
    // A request id is the caller's own: li's "s5" is li's command, not zhang's answer.
    let r = d
        .sign(with(&li, reason("s5", "OF-1", "D1", "同意")))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.replayed);
    assert_eq!(
        summaries(&r),
        [
            "signed D1 examine by li",
            "step-completed D1 examine",
            "copied D1 examine to [env]"
        ]
    );

    // zhang claims the decision, then hands it to wang: the task and its list entry
    // say who holds it now; zhang can no longer decide.
    d.claim(with(
        &zhang,
        pb::ItemCommand {
            request_id: "c1".into(),
            project: "OF-1".into(),
            item: "D1".into(),
            at: String::new(),
        },
    ))
    .await
    .unwrap();
    let r = d
        .transfer(with(
            &zhang,
            pb::HandOverRequest {
                request_id: "t1".into(),
                project: "OF-1".into(),
                item: "D1".into(),
                to: "wang".into(),
                at: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summaries(&r), ["transferred D1 from zhang to wang"]);
    let tasks = d
        .list_tasks(with(&wang, pb::ListTasksRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .tasks;
    let d1 = tasks.iter().find(|t| t.item == "D1").unwrap();
    assert_eq!((d1.step.as_str(), d1.assignee.as_str()), ("decide", "wang"));
    let approve = |token: &str, id: &str| {
        with(
            token,
            pb::ApproveRequest {
                request_id: id.into(),
                project: "OF-1".into(),
                item: "D1".into(),
                ..Default::default()
            },
        )
    };
    let e = d.approve(approve(&zhang, "a1")).await.unwrap_err();
    assert_eq!(code(&e), "not-assignee");
    d.approve(approve(&wang, "a2")).await.unwrap();

    // env approves E1; P1 and R1 pass their steps; housing's C1 becomes ready, and
    // housing's reviewer returns the project to D1 over the JSON API.
    let env = dept_token("env");
    d.approve(with(
        &env,
        pb::ApproveRequest {
            request_id: "e1".into(),
            project: "OF-1".into(),
            item: "E1".into(),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    d.sign(with(&wang, reason("p1", "OF-1", "P1", "同意")))
        .await
        .unwrap();
    let plan_dept = dept_token("plan");
    for (token, id, item) in [(&plan_dept, "p2", "P1")] {
        d.approve(with(
            token,
            pb::ApproveRequest {
                request_id: id.into(),
                project: "OF-1".into(),
                item: item.into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    }
    for r in ["a", "b"] {
        d.sign(with(
            &reviewer_token("review", r),
            reason(&format!("r-{r}"), "OF-1", "R1", "同意"),
        ))
        .await
        .unwrap();
    }
    d.approve(with(
        &dept_token("review"),
        pb::ApproveRequest {
            request_id: "r1".into(),
            project: "OF-1".into(),
            item: "R1".into(),
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    server.clock.set("2025-06-05T09:00:00");
    let reply = api(
        &server,
        &reviewer_token("housing", "zhou"),
        "POST",
        "/api/v1/projects/OF-1/items/C1/return",
        serde_json::json!({"request_id": "ret-1", "to": "D1", "reason": "设计方案须修改"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let got: Vec<String> = reply.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        got,
        [
            "returned D1 by C1 due 2025-06-19",
            "reopened P1 (because of D1)",
            "reopened R1 (because of D1)",
            "reopened C1 (because of D1)"
        ]
    );
    let p = w
        .get_project(with(
            WINDOW,
            pb::GetProjectRequest {
                project: "OF-1".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let state = |item: &str| {
        p.tasks
            .iter()
            .find(|t| t.item == item)
            .unwrap()
            .state
            .clone()
    };
    assert_eq!(
        [state("D1"), state("P1"), state("E1"), state("C1")],
        ["ready", "waiting", "approved", "waiting"]
    );
    // Returning to an item C1 does not depend on is refused, as a precondition.
    let reply = api(
        &server,
        &dept_token("plan"),
        "POST",
        "/api/v1/projects/OF-1/items/D1/return",
        serde_json::json!({"request_id": "ret-2", "to": "A1", "reason": "x"}),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(
        reply.json()["error"]["reason"],
        "not-upstream",
        "{}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_see_their_projects_and_urging_reaches_the_department() {
    let server = start().await;
    server.clock.set("2025-06-03T09:00:00");
    let version = deploy_office(&server).await;
    let mut w = WindowClient::connect(server.addr.clone()).await.unwrap();
    submit(&mut w, &version, "AG-1", "li").await;
    submit(&mut w, &version, "AG-2", "").await;
    let li = agent_token("li");
    let zhao = agent_token("zhao");

    // li sees AG-1 and only AG-1; zhao sees nothing, and AG-1 is unknown to them.
    let listed = w
        .list_projects(with(&li, pb::ListProjectsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .projects;
    assert_eq!(
        listed.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["AG-1"]
    );
    let get = |project: &str| pb::GetProjectRequest {
        project: project.into(),
    };
    assert!(w.get_project(with(&li, get("AG-1"))).await.is_ok());
    let e = w.get_project(with(&li, get("AG-2"))).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let e = w.get_project(with(&zhao, get("AG-1"))).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
    let e = w
        .watch(with(
            &li,
            pb::WatchRequest {
                live: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    // An agent cannot create or withdraw a project.
    let e = w
        .withdraw(with(
            &li,
            pb::WithdrawRequest {
                request_id: "wd".into(),
                project: "AG-1".into(),
                reason: "x".into(),
                at: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);

    // plan's stream is told when li urges D1; a second urging the same day is refused.
    let mut d = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let mut stream = d
        .stream_ready(with(&dept_token("plan"), pb::StreamReadyRequest::default()))
        .await
        .unwrap()
        .into_inner();
    // The tasks ready now come first (D1 of both projects).
    for _ in 0..2 {
        let t = stream.message().await.unwrap().unwrap();
        assert!(t.notice.is_empty());
    }
    let r = w
        .urge(with(&li, reason("u1", "AG-1", "D1", "企业急需开工")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.events[0].actor, "agent:li");
    let t = tokio::time::timeout(std::time::Duration::from_secs(5), stream.message())
        .await
        .expect("the department is told")
        .unwrap()
        .unwrap();
    assert_eq!(
        (t.project.as_str(), t.item.as_str(), t.notice.as_str()),
        ("AG-1", "D1", "urged D1: 企业急需开工")
    );
    let e = w
        .urge(with(SUPERVISOR, reason("u2", "AG-1", "D1", "督促")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::ResourceExhausted);
    assert_eq!(code(&e), "urged-recently");
    let e = w
        .urge(with(&zhao, reason("u3", "AG-2", "D1", "请加快")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);

    // The window hands AG-2 to zhao, who now sees it and li does not.
    w.assign_agent(with(
        WINDOW,
        pb::AssignAgentRequest {
            request_id: "as1".into(),
            project: "AG-2".into(),
            agent: "zhao".into(),
            at: String::new(),
        },
    ))
    .await
    .unwrap();
    assert!(w.get_project(with(&zhao, get("AG-2"))).await.is_ok());
    assert!(w.get_project(with(&li, get("AG-2"))).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_years_calendar_rederives_due_dates() {
    let server = start().await;
    // Thu 2026-12-31: the complaint's registration (one working day) is due Fri
    // 2027-01-01, counted Monday to Friday: provisional.
    server.clock.set("2026-12-31T09:00:00");
    let version = complaint_version(&server).await;
    let reply = api(
        &server,
        WINDOW,
        "POST",
        "/api/v1/projects",
        complaint("cal-1", "CAL-1", &version),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(
        reply.body.contains("task-ready C01 due 2027-01-01?"),
        "{}",
        reply.body
    );
    let mut w = WindowClient::connect(server.addr.clone()).await.unwrap();
    let mut watch = w
        .watch(with(
            SUPERVISOR,
            pb::WatchRequest {
                project: "CAL-1".into(),
                after: 0,
                types: vec!["due_rederived".into()],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();

    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests/scenarios/calendars/next-year");
    let files: Vec<pb::CalendarFile> = onewindow::store::restore::calendar_files(&dir)
        .unwrap()
        .into_iter()
        .map(|(name, text)| pb::CalendarFile { name, text })
        .collect();
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let deploy = |token: &str, files: Vec<pb::CalendarFile>| {
        with(
            token,
            pb::DeployCalendarRequest {
                files,
                reason: "2027年部分节假日安排 (test data)".into(),
            },
        )
    };
    // Only an administrator; a malformed edition changes nothing.
    let e = wf
        .deploy_calendar(deploy(WINDOW, files.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    let mut bad = files.clone();
    bad[0].name = "../calendar.yaml".into();
    let e = wf.deploy_calendar(deploy(ADMIN, bad)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let mut bad = files.clone();
    bad.last_mut().unwrap().text = "year: 2027\nholidays: [{name: x, from: 2027-02-30}]".into();
    let e = wf.deploy_calendar(deploy(ADMIN, bad)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);

    let out = wf
        .deploy_calendar(deploy(ADMIN, files))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.calendar, "cn");
    assert!(out.projects >= 1 && out.rederived == 1, "{out:?}");
    assert!(out.failed.is_empty());
    // 1–4 January are off in the test schedule: due Tue 01-05, no longer provisional.
    let e = tokio::time::timeout(std::time::Duration::from_secs(5), watch.message())
        .await
        .expect("the watcher sees the new date")
        .unwrap()
        .unwrap();
    assert_eq!(e.summary, "due-rederived C01 2027-01-01? -> 2027-01-05");
    let p = w
        .get_project(with(
            WINDOW,
            pb::GetProjectRequest {
                project: "CAL-1".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let c01 = p.tasks.iter().find(|t| t.item == "C01").unwrap();
    assert_eq!(c01.due, "2027-01-05");

    // Deployed again: nothing changes, and the CLI says so.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .args([
            "calendar",
            "deploy",
            "--server",
            &server.addr,
            "--token",
            ADMIN,
        ])
        .arg(&dir)
        .args(["--reason", "again"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("calendar cn:") && stdout.contains(" 0 due date(s) derived again"),
        "{stdout}"
    );

    // Supervision lists carded tasks: none yet.
    let mut s = SupervisionClient::connect(server.addr.clone())
        .await
        .unwrap();
    let cards = s
        .cards(with(SUPERVISOR, pb::SupervisionRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(cards.tasks.is_empty());
}

/// A migrated project survives a restart on sled: its log is folded across the versions,
/// the indexes follow the new layout, and `verify` holds.
#[test]
fn a_migrated_project_is_restored_on_its_new_version() {
    use onewindow::engine::{Actor, Command, MaterialRef, Policy, Submission};
    use onewindow::store::disk::{Flush, SledStore};
    use onewindow::store::service::Service;
    use onewindow::store::ReadStore;
    use std::sync::Arc;

    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let compile = |f: &str| {
        onewindow::plan::compile_file(&root.join("tests/scenarios/workflows").join(f))
            .unwrap()
            .0
    };
    let dir = tempfile::tempdir().unwrap();
    let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap();
    let (v1, v2);
    {
        let store = Arc::new(SledStore::open(dir.path(), Flush::Group).unwrap());
        let (svc, _) = Service::open(store, Policy::default()).unwrap();
        v1 = svc.deploy(compile("small.yaml")).unwrap();
        v2 = svc.deploy(compile("small-v2.yaml")).unwrap();
        let submit = Command::Submit {
            version: v1.clone(),
            submission: Submission {
                applicant: "a".into(),
                agent: None,
                form: onewindow::form::Form::parse("height: 80", &svc.plan(&v1).unwrap().fields)
                    .unwrap()
                    .values,
                materials: vec![MaterialRef::named("drawings")],
                site: None,
            },
        };
        let run = |id: &str, actor: Actor, cmd: Command, t: &str| {
            svc.execute(id, "M1", &actor, cmd, at(t)).unwrap().unwrap()
        };
        run("s", Actor::Window, submit, "2025-06-03T09:00:00");
        for (id, dept, item) in [("d1", "plan", "D1"), ("r1", "review", "R1")] {
            run(
                id,
                Actor::Department(dept.into()),
                Command::Approve {
                    item: item.into(),
                    numbers: Default::default(),
                },
                "2025-06-04T09:00:00",
            );
        }
        // The preview writes nothing; the move does.
        let preview = svc
            .preview_migration("M1", &v2, at("2025-06-05T09:00:00"))
            .unwrap();
        assert_eq!(preview.from, v1);
        assert!(preview.outcome.is_ok());
        assert_eq!(svc.project("M1").unwrap().version(), v1);
        let r = run(
            "m",
            Actor::Supervisor,
            Command::Migrate {
                version: v2.clone(),
            },
            "2025-06-05T09:00:00",
        );
        assert_eq!(r.events[0].event.kind(), "migrated");
        // And the project goes on, on the new layout.
        run(
            "n1",
            Actor::Department("review".into()),
            Command::Approve {
                item: "N1".into(),
                numbers: Default::default(),
            },
            "2025-06-06T09:00:00",
        );
        svc.verify().unwrap();
    }
    let store = Arc::new(SledStore::open(dir.path(), Flush::Group).unwrap());
    let (svc, report) = Service::open(store.clone(), Policy::default()).unwrap();
    assert!(!report.index_rebuilt, "the indexes followed the new layout");
    let p = svc.project("M1").unwrap();
    assert_eq!(p.version(), v2);
    let plan = svc.plan(&v2).unwrap();
    assert_eq!(p.tasks().len(), plan.items.len());
    assert!(plan.item_index("F1").is_none());
    let n1 = plan.item_index("N1").unwrap();
    assert_eq!(p.tasks()[n1].state, onewindow::engine::TaskState::Approved);
    svc.verify().unwrap();
    // F1's open task is gone from review's... fire's open tasks; P1 is plan's.
    assert!(store.open_tasks("fire").unwrap().is_empty());
    assert_eq!(
        store.open_tasks("plan").unwrap(),
        [("M1".to_string(), "P1".to_string())]
    );
}
