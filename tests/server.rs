//! End to end: the real `onewindow serve` on port 0 with a temporary data directory,
//! driven over gRPC with the generated clients.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use onewindow::server::pb;
use pb::department_client::DepartmentClient;
use pb::supervision_client::SupervisionClient;
use pb::window_client::WindowClient;
use pb::workflows_client::WorkflowsClient;
use tonic::{Code, Request};

const WINDOW: &str = "0000000000000000000000000000window";
const NDRC: &str = "00000000000000000000000000000ndrc";
const NRP: &str = "000000000000000000000000000000nrp";
const SUPERVISOR: &str = "000000000000000000000000supervisor";
const ADMIN: &str = "0000000000000000000000000000admin";
const BUREAU: &str = "0000000000000000000000000000bureau";
const RESPONDENT: &str = "000000000000000000000000respondent";
/// The parallel construction workflow's departments, each with a token `dept-<id>-…`.
const DEPARTMENTS: [&str; 8] = [
    "ndrc",
    "nrp",
    "registry",
    "env",
    "water",
    "civil_defence",
    "drawing_review",
    "housing",
];

fn dept_token(d: &str) -> String {
    format!("dept-{d}-00000000000000000000")
}

struct Server {
    child: Child,
    addr: String,
    dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Kills the server (SIGKILL) and keeps its directory.
    fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.take().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    start_with(&[])
}

fn start_with(extra: &[&str]) -> Server {
    start_in(tempfile::tempdir().unwrap(), extra)
}

/// Starts the server on a directory of the caller's (its data in `data/`).
fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tokens = dir.path().join("tokens.yaml");
    let mut text = format!("tokens:\n  {WINDOW}: window\n  {NDRC}: department:ndrc\n  {NRP}: department:nrp\n  {SUPERVISOR}: supervisor\n  {ADMIN}: admin\n  {BUREAU}: department:supervision\n  {RESPONDENT}: department:respondent\n");
    for d in DEPARTMENTS {
        text.push_str(&format!("  {}: department:{d}\n", dept_token(d)));
    }
    std::fs::write(&tokens, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--tokens")
        .arg(&tokens)
        .args(extra)
        .current_dir(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("the server prints its address")
        .to_string();
    Server {
        child,
        addr,
        dir: Some(dir),
    }
}

fn with<T>(token: &str, msg: T) -> Request<T> {
    let mut r = Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

fn text(s: &str) -> pb::FieldValue {
    pb::FieldValue {
        value: Some(pb::field_value::Value::Text(s.into())),
    }
}

/// The deployed version of a workflow, by id.
async fn version_of(wf: &mut WorkflowsClient<tonic::transport::Channel>, id: &str) -> String {
    let list = wf
        .list(with(WINDOW, pb::ListWorkflowsRequest {}))
        .await
        .unwrap()
        .into_inner();
    list.workflows
        .into_iter()
        .find(|w| w.id == id)
        .unwrap_or_else(|| panic!("{id} is deployed"))
        .version
}

/// What the parallel construction workflow needs up to its construction stage.
const APPROVAL_MATERIALS: [&str; 16] = [
    "business_license",
    "project_info",
    "land_redline",
    "grant_payment",
    "cadastral_survey",
    "eia_report_form",
    "energy_report",
    "soil_plan",
    "design_scheme",
    "civil_defence_plan",
    "site_plan",
    "geotech_survey",
    "construction_drawings",
    "fire_design",
    "funding_commitment",
    "safety_measures",
];

/// References to materials by id.
fn refs(ids: &[&str]) -> Vec<pb::MaterialRef> {
    ids.iter()
        .map(|m| pb::MaterialRef {
            material: m.to_string(),
            ..Default::default()
        })
        .collect()
}

/// A filled-in complaint form.
fn complaint_form() -> HashMap<String, pb::FieldValue> {
    [
        ("complainant", "张三"),
        ("subject", "fees"),
        ("department_named", "某局"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), text(v)))
    .collect()
}

fn form() -> HashMap<String, pb::FieldValue> {
    let mut f = HashMap::new();
    for (k, v) in [
        ("project_name", "厂房"),
        ("enterprise", "某公司"),
        ("industry", "industrial"),
        ("land_supply", "grant"),
        ("eia_category", "report_form"),
    ] {
        f.insert(k.to_string(), text(v));
    }
    f.insert(
        "new_construction_land".into(),
        pb::FieldValue {
            value: Some(pb::field_value::Value::Flag(true)),
        },
    );
    f.insert(
        "special_fire".into(),
        pb::FieldValue {
            value: Some(pb::field_value::Value::Flag(true)),
        },
    );
    f.insert(
        "floor_area".into(),
        pb::FieldValue {
            value: Some(pb::field_value::Value::Number(32000.0)),
        },
    );
    f.insert(
        "investment".into(),
        pb::FieldValue {
            value: Some(pb::field_value::Value::Number(18000.0)),
        },
    );
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_through_the_api_with_every_refusal_on_the_way() {
    let server = start();
    let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let mut dept = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let mut supervision = SupervisionClient::connect(server.addr.clone())
        .await
        .unwrap();

    // Authentication and roles.
    let err = workflows
        .list(Request::new(pb::ListWorkflowsRequest {}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "no token");
    let err = workflows
        .list(with(
            "not-a-token-at-all-000000",
            pb::ListWorkflowsRequest {},
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "wrong token");
    let list = workflows
        .list(with(NDRC, pb::ListWorkflowsRequest {}))
        .await
        .unwrap()
        .into_inner();
    let version = list
        .workflows
        .iter()
        .find(|w| w.id == "construction-parallel")
        .expect("deployed at start")
        .version
        .clone();
    let err = window
        .get_project(with(
            NDRC,
            pb::GetProjectRequest {
                project: "P".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "a department is not the window"
    );
    let err = dept
        .list_tasks(with(WINDOW, pb::ListTasksRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::PermissionDenied,
        "the window is not a department"
    );

    // The one-time notice, then the submission.
    let materials: Vec<pb::MaterialRef> = refs(&APPROVAL_MATERIALS);
    let notice = window
        .pre_review(with(
            WINDOW,
            pb::PreReviewRequest {
                version: version.clone(),
                form: form(),
                materials: materials[..2].to_vec(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!notice.complete);
    assert!(notice
        .items
        .iter()
        .any(|i| i.item == "I12"
            && i.missing_materials == ["geotech_survey", "construction_drawings"]));
    let submit = |rid: &str, mats: Vec<pb::MaterialRef>| pb::SubmitRequest {
        request_id: rid.into(),
        project: "P1".into(),
        version: version.clone(),
        applicant: "某公司".into(),
        agent: "王代办".into(),
        form: form(),
        materials: mats,
        at: "2025-03-03T09:00:00".into(),
    };
    let err = window
        .submit(with(WINDOW, submit("s0", materials[..2].to_vec())))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().starts_with("incomplete"), "{}", err.message());
    // The one-time notice travels typed in the status details: the API's own Notice, the
    // same as PreReview's, and a standard PreconditionFailure per missing thing.
    let details = {
        use prost::Message;
        tonic_types::pb::Status::decode(err.details()).expect("google.rpc.Status details")
    };
    let typed = details
        .details
        .iter()
        .find(|a| a.type_url == onewindow::server::NOTICE_TYPE_URL)
        .expect("a Notice detail");
    let refused_notice = <pb::Notice as prost::Message>::decode(typed.value.as_slice()).unwrap();
    assert!(refused_notice
        .items
        .iter()
        .any(|i| i.item == "I12" && i.missing_materials.contains(&"geotech_survey".to_string())));
    assert!(!refused_notice.complete);
    let failure = {
        use tonic_types::StatusExt;
        err.get_details_precondition_failure()
            .expect("a PreconditionFailure detail")
    };
    assert!(failure
        .violations
        .iter()
        .any(|v| v.r#type == "missing_material" && v.subject == "I12/geotech_survey"));
    let first = window
        .submit(with(WINDOW, submit("s1", materials.clone())))
        .await
        .unwrap()
        .into_inner();
    assert!(first.events.iter().any(|e| e.summary == "task-ready A01"));
    let again = window
        .submit(with(WINDOW, submit("s1", materials.clone())))
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed, "a retry returns the first answer");
    assert_eq!(again.events, first.events);
    let err = window
        .submit(with(WINDOW, submit("s2", materials.clone())))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);

    // Milestones, then the departments.
    for (rid, item) in [("m1", "A01"), ("m2", "R01")] {
        let cmd = pb::ItemCommand {
            request_id: rid.into(),
            project: "P1".into(),
            item: item.into(),
            at: "2025-03-03T10:00:00".into(),
        };
        window.report_milestone(with(WINDOW, cmd)).await.unwrap();
    }
    let approve = |rid: &str, item: &str| pb::ApproveRequest {
        request_id: rid.into(),
        project: "P1".into(),
        item: item.into(),
        numbers: HashMap::new(),
        at: "2025-03-04T09:00:00".into(),
    };
    let err = dept
        .approve(with(NRP, approve("a0", "I01")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{}", err.message());
    assert!(err.message().starts_with("not-your-task"));
    let err = dept
        .approve(with(NRP, approve("a1", "I02")))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::FailedPrecondition,
        "I02 waits for the project code"
    );
    let out = dept
        .approve(with(NDRC, approve("a2", "I01")))
        .await
        .unwrap()
        .into_inner();
    let summaries: Vec<&str> = out.events.iter().map(|e| e.summary.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "approved I01 [project_code]",
            "task-ready I02 due 2025-03-11",
            "task-ready I06 due 2025-03-13",
            "task-ready I07 due 2025-03-11",
            "task-ready I08 due 2025-03-18"
        ]
    );
    let err = dept
        .approve(with(NDRC, approve("a3", "I01")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "approving twice");
    // The reason is also structured: google.rpc.PreconditionFailure and BadRequest.
    use tonic_types::StatusExt;
    let pf = err
        .get_details_precondition_failure()
        .expect("precondition details");
    assert_eq!(
        (
            pf.violations[0].r#type.as_str(),
            pf.violations[0].subject.as_str()
        ),
        ("illegal-transition", "I01")
    );
    let err = dept
        .approve(with(NDRC, approve("", "I01")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let bad = err.get_details_bad_request().expect("field violations");
    assert_eq!(bad.field_violations[0].field, "request_id");

    // Each department sees its own queue.
    let ndrc: Vec<String> = dept
        .list_tasks(with(NDRC, pb::ListTasksRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .tasks
        .into_iter()
        .map(|t| t.item)
        .collect();
    assert_eq!(ndrc, ["I07"]);
    let nrp: Vec<String> = dept
        .list_tasks(with(NRP, pb::ListTasksRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .tasks
        .into_iter()
        .map(|t| t.item)
        .collect();
    assert_eq!(nrp, ["I02"]);

    // A supplement round.
    let ask = pb::SupplementRequest {
        request_id: "q1".into(),
        project: "P1".into(),
        item: "I02".into(),
        needed: vec!["land_redline".into()],
        note: "坐标有误".into(),
        at: "2025-03-05T09:00:00".into(),
    };
    dept.request_supplement(with(NRP, ask)).await.unwrap();
    let provide = pb::MaterialsForItem {
        request_id: "q2".into(),
        project: "P1".into(),
        item: "I02".into(),
        materials: vec![pb::MaterialRef {
            material: "land_redline".into(),
            ..Default::default()
        }],
        at: "2025-03-07T09:00:00".into(),
    };
    let out = window
        .provide_supplement(with(WINDOW, provide))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        out.events[0].summary,
        "supplement-provided I02 +2 due 2025-03-13"
    );

    let project = window
        .get_project(with(
            SUPERVISOR,
            pb::GetProjectRequest {
                project: "P1".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            project.status.as_str(),
            project.stage.as_str(),
            project.agent.as_str()
        ),
        ("active", "approval", "王代办")
    );
    assert!(supervision
        .overdue(with(SUPERVISOR, pb::SupervisionRequest {}))
        .await
        .unwrap()
        .into_inner()
        .tasks
        .is_empty());
    let err = supervision
        .overdue(with(NDRC, pb::SupervisionRequest {}))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Generic tools can discover the API.
    let channel = tonic::transport::Channel::from_shared(server.addr.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "onewindow.v1.Window".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_commands_survive_a_restart_of_the_server() {
    let server = start();
    let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut workflows, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let f = complaint_form();
    let materials = refs(&["complaint_letter", "evidence"]);
    let req = pb::SubmitRequest {
        request_id: "c1".into(),
        project: "C1".into(),
        version,
        form: f,
        materials,
        at: "2025-09-26T09:00:00".into(),
        ..Default::default()
    };
    let first = window
        .submit(with(WINDOW, req.clone()))
        .await
        .unwrap()
        .into_inner();
    let dir = server.kill();
    let data = dir.path().join("data");
    assert!(data.exists());
    let store = std::sync::Arc::new(
        onewindow::store::disk::SledStore::open(&data, onewindow::store::disk::Flush::Group)
            .unwrap(),
    );
    let (svc, _) =
        onewindow::store::service::Service::open(store, onewindow::engine::Policy::default())
            .unwrap();
    let p = svc
        .project("C1")
        .expect("the acknowledged submission is on disk");
    // Every acknowledged event, as acknowledged (a supervision run may have added more).
    let stored = onewindow::store::ReadStore::events(svc.store(), "C1", 0).unwrap();
    let acknowledged: Vec<(u64, String)> = first
        .events
        .iter()
        .map(|e| (e.seq, e.summary.clone()))
        .collect();
    let on_disk: Vec<(u64, String)> = stored
        .iter()
        .take(acknowledged.len())
        .map(|e| (e.seq, e.event.summary()))
        .collect();
    assert_eq!(on_disk, acknowledged);
    assert!(p.seq >= first.events.last().unwrap().seq);
}

/// A project as the window sees it.
async fn window_project(
    window: &mut WindowClient<tonic::transport::Channel>,
    id: &str,
) -> pb::Project {
    window
        .get_project(with(WINDOW, pb::GetProjectRequest { project: id.into() }))
        .await
        .unwrap()
        .into_inner()
}

/// The window reports the milestones before approval (A01, R01): the approval stage opens.
async fn report_early_milestones(
    window: &mut WindowClient<tonic::transport::Channel>,
    project: &str,
) {
    for item in ["A01", "R01"] {
        let cmd = pb::ItemCommand {
            request_id: format!("{project}/{item}/report"),
            project: project.into(),
            item: item.into(),
            at: "2025-03-03T10:00:00".into(),
        };
        window.report_milestone(with(WINDOW, cmd)).await.unwrap();
    }
}

async fn next_events(stream: &mut tonic::Streaming<pb::Event>, n: usize) -> Vec<pb::Event> {
    let mut out = Vec::new();
    while out.len() < n {
        let e = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        out.push(e);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_and_department_streams_see_every_event_in_order() {
    let server = start();
    let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut workflows, "construction-parallel").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let mut dept = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let materials = refs(&APPROVAL_MATERIALS);
    let submit = pb::SubmitRequest {
        request_id: "w1".into(),
        project: "W1".into(),
        version,
        applicant: "a".into(),
        form: form(),
        materials,
        at: "2025-03-03T09:00:00".into(),
        ..Default::default()
    };
    let submitted = window
        .submit(with(WINDOW, submit))
        .await
        .unwrap()
        .into_inner()
        .events
        .len();

    // A watcher from the start sees the stored events, then live ones.
    let mut watch = window
        .watch(with(
            WINDOW,
            pb::WatchRequest {
                project: "W1".into(),
                after: 0,
                cursors: HashMap::new(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let mut seen = next_events(&mut watch, submitted).await;
    // The department's stream: nothing ready yet for ndrc; I01 after the milestones.
    let mut ndrc = dept
        .stream_ready(with(NDRC, pb::StreamReadyRequest::default()))
        .await
        .unwrap()
        .into_inner();
    report_early_milestones(&mut window, "W1").await;
    let pushed = tokio::time::timeout(std::time::Duration::from_secs(10), ndrc.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            pushed.project.as_str(),
            pushed.item.as_str(),
            pushed.state.as_str()
        ),
        ("W1", "I01", "ready")
    );
    seen.extend(next_events(&mut watch, 3).await);
    // A live watch over every project starts at the present: nothing stored comes again.
    let present = window_project(&mut window, "W1").await.seq;
    let mut live = window
        .watch(with(
            WINDOW,
            pb::WatchRequest {
                live: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    // Disconnect, act, and watch again from the last sequence number seen.
    drop(watch);
    let approve = pb::ApproveRequest {
        request_id: "a1".into(),
        project: "W1".into(),
        item: "I01".into(),
        numbers: HashMap::new(),
        at: "2025-03-04T09:00:00".into(),
    };
    dept.approve(with(NDRC, approve)).await.unwrap();
    let pushed = tokio::time::timeout(std::time::Duration::from_secs(10), ndrc.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        pushed.item, "I07",
        "ndrc's next task is pushed the moment it is ready"
    );
    let last = seen.last().unwrap().seq;
    let first_live = next_events(&mut live, 1).await;
    assert_eq!(
        (first_live[0].project.as_str(), first_live[0].seq),
        ("W1", present + 1),
        "a live watch starts with the next event, marked with its project"
    );
    let mut watch = window
        .watch(with(
            WINDOW,
            pb::WatchRequest {
                project: "W1".into(),
                after: last,
                cursors: HashMap::new(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let project = window_project(&mut window, "W1").await;
    let rest = (project.seq - last) as usize;
    seen.extend(next_events(&mut watch, rest).await);
    let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=project.seq).collect::<Vec<_>>(),
        "every event once, in order"
    );
    // The timeline says the same.
    let mut supervision = SupervisionClient::connect(server.addr.clone())
        .await
        .unwrap();
    let timeline = supervision
        .timeline(with(
            SUPERVISOR,
            pb::GetProjectRequest {
                project: "W1".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let summaries: Vec<&str> = timeline.events.iter().map(|e| e.summary.as_str()).collect();
    let watched: Vec<&str> = seen.iter().map(|e| e.summary.as_str()).collect();
    assert_eq!(summaries, watched);
    // Listing, filtered and paged.
    let listed = window
        .list_projects(with(
            WINDOW,
            pb::ListProjectsRequest {
                stage: "approval".into(),
                status: "active".into(),
                page_size: 1,
                page_token: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.projects.len(), 1);
    assert_eq!(listed.projects[0].id, "W1");
    assert!(listed.next_page_token.is_empty());
}

/// Two claiming push streams of one department share its queue: each ready task is
/// claimed by the server and pushed to exactly one of them; a watcher that asked for
/// claims only sees claims; an unknown event type is refused with its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claiming_streams_share_a_queue_and_watchers_filter_by_type() {
    let server = start();
    let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut workflows, "construction-parallel").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let mut dept = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let refused = window
        .watch(with(
            WINDOW,
            pb::WatchRequest {
                types: vec!["task_claimed".into(), "task_finished".into()],
                ..Default::default()
            },
        ))
        .await
        .expect_err("an unknown event type");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().starts_with("types[1]: `task_finished`"));

    let mut streams = Vec::new();
    for _ in 0..2 {
        let claiming = pb::StreamReadyRequest { claim: true };
        streams.push(
            dept.stream_ready(with(NDRC, claiming))
                .await
                .unwrap()
                .into_inner(),
        );
    }
    let submit = pb::SubmitRequest {
        request_id: "c1".into(),
        project: "C1".into(),
        version,
        applicant: "a".into(),
        form: form(),
        materials: refs(&APPROVAL_MATERIALS),
        at: "2025-03-03T09:00:00".into(),
        ..Default::default()
    };
    window.submit(with(WINDOW, submit)).await.unwrap();
    let mut claims = window
        .watch(with(
            WINDOW,
            pb::WatchRequest {
                project: "C1".into(),
                types: vec!["task_claimed".into()],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    report_early_milestones(&mut window, "C1").await;

    // Each of ndrc's tasks reaches one stream, claimed; the other stream gets nothing.
    for item in ["I01", "I07"] {
        let (task, which) = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            let [a, b] = &mut streams[..] else {
                unreachable!("two streams")
            };
            tokio::select! {
                t = a.message() => (t, 0),
                t = b.message() => (t, 1),
            }
        })
        .await
        .expect("a push within 10 s");
        let task = task.unwrap().expect("the stream stays open");
        assert_eq!(
            (
                task.project.as_str(),
                task.item.as_str(),
                task.state.as_str()
            ),
            ("C1", item, "claimed")
        );
        let other = &mut streams[1 - which];
        let nothing =
            tokio::time::timeout(std::time::Duration::from_millis(300), other.message()).await;
        assert!(nothing.is_err(), "{item} went to one stream only");
        let got = window_project(&mut window, "C1").await;
        let state = got.tasks.iter().find(|t| t.item == item).unwrap();
        assert_eq!(
            state.state, "claimed",
            "the claim is stored before the push"
        );
        // Approved as pushed: no claim of the worker's own.
        let approve = pb::ApproveRequest {
            request_id: format!("a-{item}"),
            project: "C1".into(),
            item: item.into(),
            numbers: HashMap::new(),
            at: "2025-03-04T09:00:00".into(),
        };
        dept.approve(with(NDRC, approve)).await.unwrap();
    }
    // The filtered watcher saw the two claims, made by ndrc, and nothing in between.
    let seen = next_events(&mut claims, 2).await;
    let seen: Vec<(&str, &str, &str)> = seen
        .iter()
        .map(|e| (e.r#type.as_str(), e.item.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("task_claimed", "I01", "department:ndrc"),
            ("task_claimed", "I07", "department:ndrc")
        ]
    );
}

/// 电子监察 through the server: with a controllable clock, the ticker flags a task
/// overdue once its due date has passed, watchers see it, and supervision lists it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ticker_flags_an_overdue_task_on_a_controllable_clock() {
    let clock_dir = tempfile::tempdir().unwrap();
    let clock = clock_dir.path().join("now");
    std::fs::write(&clock, "2025-09-26T09:00:00").unwrap();
    let server = start_with(&[
        "--tick-seconds",
        "1",
        "--clock-file",
        clock.to_str().unwrap(),
    ]);
    let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut workflows, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let f = complaint_form();
    let materials = refs(&["complaint_letter", "evidence"]);
    // No `at`: the server's (controlled) clock decides. C01 is due Sunday 09-28 (make-up day).
    let req = pb::SubmitRequest {
        request_id: "c1".into(),
        project: "C1".into(),
        version,
        form: f,
        materials,
        ..Default::default()
    };
    let out = window.submit(with(WINDOW, req)).await.unwrap().into_inner();
    assert!(
        out.events
            .iter()
            .any(|e| e.summary == "task-ready C01 due 2025-09-28"),
        "{:?}",
        out.events
    );
    let after = out.events.last().unwrap().seq;
    let mut watch = window
        .watch(with(
            WINDOW,
            pb::WatchRequest {
                project: "C1".into(),
                after,
                cursors: HashMap::new(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    std::fs::write(&clock, "2025-09-29T09:00:00").unwrap();
    // A tick may have warned before the clock moved (one working day left on 09-26).
    let mut flagged = next_events(&mut watch, 1).await;
    if flagged[0].summary.starts_with("warned") {
        assert_eq!(flagged[0].summary, "warned C01 due 2025-09-28 (1 left)");
        flagged = next_events(&mut watch, 1).await;
    }
    assert_eq!(flagged[0].summary, "overdue C01 due 2025-09-28");
    assert_eq!(flagged[0].actor, "system");
    let mut supervision = SupervisionClient::connect(server.addr.clone())
        .await
        .unwrap();
    let overdue: Vec<String> = supervision
        .overdue(with(SUPERVISOR, pb::SupervisionRequest {}))
        .await
        .unwrap()
        .into_inner()
        .tasks
        .into_iter()
        .map(|t| format!("{}/{}", t.project, t.item))
        .collect();
    assert_eq!(overdue, ["C1/C01"]);
    // Exactly once: two more ticks write nothing new.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let p = window
        .get_project(with(
            WINDOW,
            pb::GetProjectRequest {
                project: "C1".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.seq, flagged[0].seq);
}

/// A clerk at the command line: `onewindow project submit|get` and `onewindow tasks
/// list|approve` against the running server.
#[test]
fn the_command_line_clients_drive_a_project() {
    let server = start();
    let dir = tempfile::tempdir().unwrap();
    let form = dir.path().join("form.yaml");
    std::fs::write(
        &form,
        "complainant: 张三\nsubject: fees\ndepartment_named: 某局\n",
    )
    .unwrap();
    let run = |token: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_onewindow"))
            .args(args)
            .args(["--server", &server.addr, "--token", token])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let f = form.to_str().unwrap();
    let submit = [
        "project",
        "submit",
        "--project",
        "K1",
        "--workflow",
        "complaint",
        "--form",
        f,
        "--materials",
        "complaint_letter,evidence",
        "--request-id",
        "k1",
    ];
    let (code, out, err) = run(WINDOW, &submit);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("task-ready C01"), "{out}");
    // The same request again: answered as a retry.
    let (_, again, _) = run(WINDOW, &submit);
    assert!(again.contains("a retry"), "{again}");
    // ndrc acting on the supervision bureau's task: the engine refuses it.
    let (code, _, err) = run(
        NDRC,
        &["tasks", "approve", "--project", "K1", "--item", "C01"],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("not-your-task"), "{err}");
    let (code, out, _) = run(WINDOW, &["project", "get", "--project", "K1"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("C01    supervision    ready"), "{out}");
    // Watching for one type of event: the first line printed is the task becoming
    // ready, not the submission before it.
    let mut watch = Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .args([
            "project",
            "watch",
            "--project",
            "K1",
            "--type",
            "task_ready",
        ])
        .args(["--server", &server.addr, "--token", WINDOW])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(watch.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(first.contains("task-ready C01"), "{first}");
}

/// Deploying over the API: every diagnostic comes back, a valid variant becomes an
/// immutable version, and versions compare side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_deploy_workflows_and_analysts_compare_them() {
    let server = start();
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let variant = "workflow: slow-planning\nextends: construction-parallel.yaml\nitems:\n  - {id: I09, limit: {committed: 20}}\n";
    let req = |yaml: &str| pb::DeployRequest {
        file_name: "slow-planning.yaml".into(),
        yaml: yaml.into(),
    };
    let err = wf.deploy(with(WINDOW, req(variant))).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = wf.deploy(with(ADMIN, req("departments: [{id: a}]\nitems:\n  - {id: X, department: b, stage: approval, limit: 1}\n"))).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("unknown-department"),
        "{}",
        err.message()
    );
    let deployed = wf
        .deploy(with(ADMIN, req(variant)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deployed.id, "slow-planning");
    let again = wf
        .deploy(with(ADMIN, req(variant)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        again.version, deployed.version,
        "the same text is the same version"
    );
    let list = wf
        .list(with(WINDOW, pb::ListWorkflowsRequest {}))
        .await
        .unwrap()
        .into_inner();
    let base = list
        .workflows
        .iter()
        .find(|w| w.id == "construction-parallel")
        .unwrap()
        .version
        .clone();
    let got = wf
        .get(with(
            WINDOW,
            pb::GetWorkflowRequest {
                version: deployed.version.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        got.yaml.contains("slow-planning") && !got.yaml.contains("extends"),
        "stored flattened"
    );
    let cmp = wf
        .compare(with(
            WINDOW,
            pb::CompareRequest {
                versions: vec![base, deployed.version],
                limits: String::new(),
                start_date: "2025-03-03".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let json: serde_json::Value = serde_json::from_str(&cmp.json).unwrap();
    assert_eq!(json[0]["total_working_days"], 45);
    assert_eq!(
        json[1]["total_working_days"], 60,
        "design review 5 → 20 days lengthens the critical path by 15"
    );
}

/// Another language's system, from the .proto alone: the Python department worker in
/// `examples/python/` receives the supervision bureau's ready task and approves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_department_worker_approves_over_grpc() {
    let server = start();
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut wf, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let f = complaint_form();
    let materials = refs(&["complaint_letter", "evidence"]);
    let req = pb::SubmitRequest {
        request_id: "py1".into(),
        project: "PY".into(),
        version,
        form: f,
        materials,
        at: "2025-06-03T09:00:00".into(),
        ..Default::default()
    };
    window.submit(with(WINDOW, req)).await.unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let addr = server.addr.trim_start_matches("http://").to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(root.join("examples/python/department_worker.py"))
            .args(["--server", &addr, "--token", BUREAU, "--limit", "1"])
            .output()
            .expect("python3 runs (grpcio and grpcio-tools are installed by .ci/run)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("ready: PY/C01"), "{stdout}");
    assert!(stdout.contains("approved C01 [registration]"), "{stdout}");
}

/// One project of the parallel construction workflow through all five stages over gRPC:
/// eight department systems work their pushed queues concurrently, the window reports the
/// milestones it is told about, and a watcher sees every event once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_project_with_concurrent_departments_and_a_watcher() {
    let server = start();
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut wf, "construction-parallel").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    // Departments subscribe first, so that nothing is pushed before they listen.
    let mut workers = tokio::task::JoinSet::new();
    // Half of them let their stream claim each task, half claim it themselves.
    for (n, d) in DEPARTMENTS.into_iter().enumerate() {
        let addr = server.addr.clone();
        let mut client = DepartmentClient::connect(addr).await.unwrap();
        let claim = n % 2 == 0;
        let mut stream = client
            .stream_ready(with(&dept_token(d), pb::StreamReadyRequest { claim }))
            .await
            .unwrap()
            .into_inner();
        workers.spawn(async move {
            while let Ok(Some(task)) = stream.message().await {
                let rid = |a: &str| format!("{}/{}/{a}", task.project, task.item);
                if claim {
                    assert_eq!(task.state, "claimed");
                } else {
                    let claim = pb::ItemCommand {
                        request_id: rid("claim"),
                        project: task.project.clone(),
                        item: task.item.clone(),
                        at: "2025-03-04T09:00:00".into(),
                    };
                    client.claim(with(&dept_token(d), claim)).await.unwrap();
                }
                let approve = pb::ApproveRequest {
                    request_id: rid("approve"),
                    project: task.project.clone(),
                    item: task.item.clone(),
                    numbers: HashMap::new(),
                    at: "2025-03-04T10:00:00".into(),
                };
                client.approve(with(&dept_token(d), approve)).await.unwrap();
            }
        });
    }
    let materials: Vec<pb::MaterialRef> = refs(
        &[
            APPROVAL_MATERIALS.as_slice(),
            &[
                "completion_survey",
                "as_built_drawings",
                "fire_test_report",
                "archive_files",
                "quality_warranty",
            ],
        ]
        .concat(),
    );
    let submit = pb::SubmitRequest {
        request_id: "full".into(),
        project: "FULL".into(),
        version,
        form: form(),
        materials,
        at: "2025-03-03T09:00:00".into(),
        ..Default::default()
    };
    window.submit(with(WINDOW, submit)).await.unwrap();
    let mut watch = window
        .watch(with(
            WINDOW,
            pb::WatchRequest {
                project: "FULL".into(),
                after: 0,
                cursors: HashMap::new(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let milestones = ["A01", "R01", "I03", "I14", "K01", "K02"];
    let mut seen: Vec<pb::Event> = Vec::new();
    loop {
        let e = tokio::time::timeout(std::time::Duration::from_secs(20), watch.message())
            .await
            .expect("the project keeps moving")
            .unwrap()
            .unwrap();
        let done = e.summary == "completed";
        // The window reports each milestone the moment it is ready.
        if e.r#type == "task_ready" && milestones.contains(&e.item.as_str()) {
            let cmd = pb::ItemCommand {
                request_id: format!("FULL/{}/report", e.item),
                project: "FULL".into(),
                item: e.item.clone(),
                at: "2025-03-05T09:00:00".into(),
            };
            window.report_milestone(with(WINDOW, cmd)).await.unwrap();
        }
        seen.push(e);
        if done {
            break;
        }
    }
    workers.abort_all();
    let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=seen.len() as u64).collect::<Vec<_>>(),
        "every event once, in order"
    );
    let stages: Vec<&str> = seen
        .iter()
        .filter(|e| e.r#type == "stage_completed")
        .map(|e| e.summary.as_str())
        .collect();
    assert_eq!(stages.len(), 5, "{stages:?}");
    let p = window
        .get_project(with(
            WINDOW,
            pb::GetProjectRequest {
                project: "FULL".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.status, "completed");
    assert_eq!(p.tasks.iter().filter(|t| t.state == "approved").count(), 22);
    let approvals = seen.iter().filter(|e| e.r#type == "task_approved").count();
    assert_eq!(approvals, 22, "each item approved exactly once");
    // 考核 over the month: the 16 reviews of 8 departments, all on time.
    let mut supervision = SupervisionClient::connect(server.addr.clone())
        .await
        .unwrap();
    let a = supervision
        .assess(with(
            SUPERVISOR,
            pb::AssessRequest {
                from: "2025-03-01".into(),
                to: "2025-03-31".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.departments.len(), 8);
    assert_eq!(a.departments.iter().map(|d| d.done).sum::<u32>(), 16);
    assert!(a
        .departments
        .iter()
        .all(|d| d.on_time_rate == 1.0 && d.overdue_now == 0));
}

/// 驳回 over the API: a rejection blocks what depends on the item, the window resubmits
/// corrected materials for it, and the rework flows on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_and_resubmission_over_the_api() {
    let server = start();
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut wf, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let mut dept = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let f = complaint_form();
    let req = pb::SubmitRequest {
        request_id: "r1".into(),
        project: "RJ".into(),
        version,
        form: f,
        materials: refs(&["complaint_letter", "evidence"]),
        at: "2025-06-03T09:00:00".into(),
        ..Default::default()
    };
    window.submit(with(WINDOW, req)).await.unwrap();
    let reject = pb::ReasonForItem {
        request_id: "r2".into(),
        project: "RJ".into(),
        item: "C01".into(),
        reason: "投诉材料不完整".into(),
        at: "2025-06-03T15:00:00".into(),
    };
    let out = dept
        .reject(with(BUREAU, reject))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.events[0].summary, "rejected C01: 投诉材料不完整");
    let approve = pb::ApproveRequest {
        request_id: "r3".into(),
        project: "RJ".into(),
        item: "C01".into(),
        numbers: HashMap::new(),
        at: "2025-06-04T09:00:00".into(),
    };
    assert_eq!(
        dept.approve(with(BUREAU, approve.clone()))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    let resubmit = pb::MaterialsForItem {
        request_id: "r4".into(),
        project: "RJ".into(),
        item: "C01".into(),
        materials: refs(&["complaint_letter"]),
        at: "2025-06-04T09:00:00".into(),
    };
    let out = window
        .resubmit(with(WINDOW, resubmit))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.events[0].summary, "resubmitted C01 due 2025-06-05");
    let approve = pb::ApproveRequest {
        request_id: "r5".into(),
        ..approve
    };
    let out = dept
        .approve(with(BUREAU, approve))
        .await
        .unwrap()
        .into_inner();
    let summaries: Vec<&str> = out.events.iter().map(|e| e.summary.as_str()).collect();
    assert_eq!(
        summaries,
        [
            "approved C01 [registration]",
            "task-ready C02 due 2025-06-11"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_department_lists_its_queue_page_by_page() {
    let server = start();
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut wf, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    for k in 1..=3 {
        let f = complaint_form();
        let materials = refs(&["complaint_letter", "evidence"]);
        let req = pb::SubmitRequest {
            request_id: format!("q{k}"),
            project: format!("Q{k}"),
            version: version.clone(),
            form: f,
            materials,
            at: "2025-06-03T09:00:00".into(),
            ..Default::default()
        };
        window.submit(with(WINDOW, req)).await.unwrap();
    }
    let mut dept = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let first = dept
        .list_tasks(with(
            BUREAU,
            pb::ListTasksRequest {
                state: String::new(),
                page_size: 2,
                page_token: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<String> = first
        .tasks
        .iter()
        .map(|t| format!("{}/{}", t.project, t.item))
        .collect();
    assert_eq!(ids, ["Q1/C01", "Q2/C01"]);
    assert_eq!(first.next_page_token, "Q2/C01");
    let second = dept
        .list_tasks(with(
            BUREAU,
            pb::ListTasksRequest {
                state: String::new(),
                page_size: 2,
                page_token: first.next_page_token,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<String> = second
        .tasks
        .iter()
        .map(|t| format!("{}/{}", t.project, t.item))
        .collect();
    assert_eq!(ids, ["Q3/C01"]);
    assert!(second.next_page_token.is_empty());
}

/// The crash test through the server: concurrent gRPC clients submit and approve while
/// the server is killed with SIGKILL at a random moment, 12 times over one data
/// directory; after each kill every acknowledged request is in the store, nothing is
/// applied twice, and the restarted server answers a retry with the first answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_grpc_load_loses_nothing_acknowledged() {
    use std::sync::{Arc, Mutex};
    let mut dir = tempfile::tempdir().unwrap();
    let acked: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for round in 0..12 {
        let server = start_in(dir, &[]);
        let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
        let version = version_of(&mut wf, "complaint").await;
        // A retry of something acknowledged before the last crash gets its first answer.
        let old = acked
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.ends_with("/submit"))
            .cloned();
        if let Some(old) = old {
            let project = old.trim_end_matches("/submit").to_string();
            let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
            let req = pb::SubmitRequest {
                request_id: old.clone(),
                project,
                version: version.clone(),
                form: HashMap::new(),
                ..Default::default()
            };
            let again = window.submit(with(WINDOW, req)).await.unwrap().into_inner();
            assert!(
                again.replayed,
                "round {round}: {old} answered again, not applied again"
            );
        }
        let mut clients = tokio::task::JoinSet::new();
        for c in 0..6 {
            let (addr, version, acked) = (server.addr.clone(), version.clone(), acked.clone());
            clients.spawn(async move {
                let Ok(mut window) = WindowClient::connect(addr.clone()).await else {
                    return;
                };
                let Ok(mut dept) = DepartmentClient::connect(addr).await else {
                    return;
                };
                for n in 0.. {
                    let project = format!("r{round}c{c}n{n}");
                    let f = complaint_form();
                    let materials = refs(&["complaint_letter", "evidence"]);
                    let rid = format!("{project}/submit");
                    let req = pb::SubmitRequest {
                        request_id: rid.clone(),
                        project: project.clone(),
                        version: version.clone(),
                        form: f,
                        materials,
                        at: "2025-06-03T09:00:00".into(),
                        ..Default::default()
                    };
                    if window.submit(with(WINDOW, req)).await.is_err() {
                        return;
                    }
                    acked.lock().unwrap().push(rid);
                    for (item, token) in [("C01", BUREAU), ("C02", RESPONDENT), ("C04", BUREAU)] {
                        let rid = format!("{project}/{item}");
                        let req = pb::ApproveRequest {
                            request_id: rid.clone(),
                            project: project.clone(),
                            item: item.into(),
                            numbers: HashMap::new(),
                            at: "2025-06-04T09:00:00".into(),
                        };
                        if dept.approve(with(token, req)).await.is_err() {
                            return;
                        }
                        acked.lock().unwrap().push(rid);
                    }
                }
            });
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(std::time::Duration::from_millis(150 + seed % 450)).await;
        dir = server.kill();
        while clients.join_next().await.is_some() {}
        let store = Arc::new(
            onewindow::store::disk::SledStore::open(
                &dir.path().join("data"),
                onewindow::store::disk::Flush::Group,
            )
            .unwrap(),
        );
        let (svc, report) = onewindow::store::service::Service::open(
            store.clone(),
            onewindow::engine::Policy::default(),
        )
        .unwrap();
        assert!(!report.index_rebuilt, "round {round}");
        svc.verify()
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        for id in acked.lock().unwrap().iter() {
            assert!(
                onewindow::store::ReadStore::answer(&*store, id)
                    .unwrap()
                    .is_some(),
                "round {round}: acknowledged {id} is missing"
            );
        }
    }
    assert!(
        acked.lock().unwrap().len() > 100,
        "the clients got work done"
    );
}

/// TLS is one switch away: with `--tls-cert` and `--tls-key` the same server speaks TLS
/// (rustls), and a client that trusts the certificate works as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_speaks_tls_with_a_certificate() {
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    let server = start_with(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(server.addr.starts_with("https://"), "{}", server.addr);
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(cert.pem()))
        .domain_name("localhost");
    let channel = tonic::transport::Channel::from_shared(server.addr.clone())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut wf = WorkflowsClient::new(channel);
    let list = wf
        .list(with(WINDOW, pb::ListWorkflowsRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(list
        .workflows
        .iter()
        .any(|w| w.id == "construction-parallel"));
    // Plain HTTP/2 to a TLS server gets nowhere.
    let plain = server.addr.replace("https://", "http://");
    if let Ok(mut c) = WorkflowsClient::connect(plain).await {
        assert!(c
            .list(with(WINDOW, pb::ListWorkflowsRequest {}))
            .await
            .is_err());
    }
}
