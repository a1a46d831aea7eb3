//! End to end in process: `server::run` on the memory store on port 0, driven over gRPC
//! with the generated clients — the window, the departments, supervision, deployment,
//! listings and the HTTP probes. (Watchers, push streams and the ticker are in
//! `streams.rs`; what needs a real process — restarts, kill -9, signals, TLS, the CLI,
//! the Python example — is in `server.rs`.)

use std::collections::HashMap;

use crate::common::*;
use onewindow::server::pb;
use pb::department_client::DepartmentClient;
use pb::supervision_client::SupervisionClient;
use pb::window_client::WindowClient;
use pb::workflows_client::WorkflowsClient;
use tonic::{Code, Request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_through_the_api_with_every_refusal_on_the_way() {
    let server = start().await;
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
                site: String::new(),
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
    server.clock.set("2025-03-03T09:00:00");
    let submit = |rid: &str, mats: Vec<pb::MaterialRef>| pb::SubmitRequest {
        request_id: rid.into(),
        project: "P1".into(),
        version: version.clone(),
        applicant: "某公司".into(),
        agent: "王代办".into(),
        form: form(),
        materials: mats,
        ..Default::default()
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
        server.clock.set("2025-03-03T10:00:00");
        let cmd = pb::ItemCommand {
            request_id: rid.into(),
            project: "P1".into(),
            item: item.into(),
            ..Default::default()
        };
        window.report_milestone(with(WINDOW, cmd)).await.unwrap();
    }
    server.clock.set("2025-03-04T09:00:00");
    let approve = |rid: &str, item: &str| pb::ApproveRequest {
        request_id: rid.into(),
        project: "P1".into(),
        item: item.into(),
        numbers: HashMap::new(),
        ..Default::default()
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
    server.clock.set("2025-03-05T09:00:00");
    let ask = pb::SupplementRequest {
        request_id: "q1".into(),
        project: "P1".into(),
        item: "I02".into(),
        needed: vec!["land_redline".into()],
        note: "坐标有误".into(),
        ..Default::default()
    };
    dept.request_supplement(with(NRP, ask)).await.unwrap();
    server.clock.set("2025-03-07T09:00:00");
    let provide = pb::MaterialsForItem {
        request_id: "q2".into(),
        project: "P1".into(),
        item: "I02".into(),
        materials: vec![pb::MaterialRef {
            material: "land_redline".into(),
            ..Default::default()
        }],
        ..Default::default()
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

/// Deploying over the API: every diagnostic comes back, a valid variant becomes an
/// immutable version, and versions compare side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_deploy_workflows_and_analysts_compare_them() {
    let server = start().await;
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
            ANALYST,
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

/// 驳回 over the API: a rejection blocks what depends on the item, the window resubmits
/// corrected materials for it, and the rework flows on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejection_and_resubmission_over_the_api() {
    let server = start().await;
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut wf, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let mut dept = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let f = complaint_form();
    server.clock.set("2025-06-03T09:00:00");
    let req = pb::SubmitRequest {
        request_id: "r1".into(),
        project: "RJ".into(),
        version,
        form: f,
        materials: refs(&["complaint_letter", "evidence"]),
        ..Default::default()
    };
    window.submit(with(WINDOW, req)).await.unwrap();
    server.clock.set("2025-06-03T15:00:00");
    let reject = pb::ReasonForItem {
        request_id: "r2".into(),
        project: "RJ".into(),
        item: "C01".into(),
        reason: "投诉材料不完整".into(),
        ..Default::default()
    };
    let out = dept
        .reject(with(BUREAU, reject))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(out.events[0].summary, "rejected C01: 投诉材料不完整");
    server.clock.set("2025-06-04T09:00:00");
    let approve = pb::ApproveRequest {
        request_id: "r3".into(),
        project: "RJ".into(),
        item: "C01".into(),
        numbers: HashMap::new(),
        ..Default::default()
    };
    assert_eq!(
        dept.approve(with(BUREAU, approve.clone()))
            .await
            .unwrap_err()
            .code(),
        Code::FailedPrecondition
    );
    server.clock.set("2025-06-04T09:00:00");
    let resubmit = pb::MaterialsForItem {
        request_id: "r4".into(),
        project: "RJ".into(),
        item: "C01".into(),
        materials: refs(&["complaint_letter"]),
        ..Default::default()
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
    let server = start().await;
    let mut wf = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut wf, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    for k in 1..=3 {
        let f = complaint_form();
        let materials = refs(&["complaint_letter", "evidence"]);
        server.clock.set("2025-06-03T09:00:00");
        let req = pb::SubmitRequest {
            request_id: format!("q{k}"),
            project: format!("Q{k}"),
            version: version.clone(),
            form: f,
            materials,
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
    assert!(
        !first.next_page_token.is_empty(),
        "a token for the next page"
    );
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
    // Filters and tokens the server did not make are refused, not answered with nothing.
    for (state, token, field) in [
        ("bogus", "", "state"),
        ("", "Q2/C01", "page_token"),
        ("", "x.y z", "page_token"),
    ] {
        let err = dept
            .list_tasks(with(
                BUREAU,
                pb::ListTasksRequest {
                    state: state.into(),
                    page_size: 2,
                    page_token: token.into(),
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{state:?} {token:?}");
        assert!(err.message().starts_with(field), "{}", err.message());
    }
}

/// The project listing pages through the store a page at a time, in id order, and the
/// last page has no token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_are_listed_page_by_page() {
    let server = start().await;
    let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut workflows, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    server.clock.set("2025-03-03T09:00:00");
    for n in [3, 0, 4, 1, 2] {
        let submit = pb::SubmitRequest {
            request_id: format!("k{n}"),
            project: format!("K{n}"),
            version: version.clone(),
            form: complaint_form(),
            materials: refs(&["complaint_letter", "evidence"]),
            ..Default::default()
        };
        window.submit(with(WINDOW, submit)).await.unwrap();
    }
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let page = window
            .list_projects(with(
                WINDOW,
                pb::ListProjectsRequest {
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        pages.push(
            page.projects
                .iter()
                .map(|p| p.id.clone())
                .collect::<Vec<_>>(),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, [vec!["K0", "K1"], vec!["K2", "K3"], vec!["K4"]]);
}

/// GET on the HTTP side: the status code and the body.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let r = http(addr, "GET", path, &[], "").await;
    (r.status, r.body)
}

/// The HTTP side answers health and readiness probes and serves Prometheus metrics that
/// count what the gRPC side did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_over_http() {
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let http_addr = http.local_addr().unwrap();
    let server = start_configured(move |c| c.http = Some(http)).await;
    assert_eq!(http_get(http_addr, "/healthz").await.0, 200);
    assert_eq!(http_get(http_addr, "/readyz").await.0, 200);
    let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut workflows, "complaint").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let submit = pb::SubmitRequest {
        request_id: "m1".into(),
        project: "M1".into(),
        version,
        form: complaint_form(),
        materials: refs(&["complaint_letter", "evidence"]),
        ..Default::default()
    };
    window.submit(with(WINDOW, submit.clone())).await.unwrap();
    window.submit(with(WINDOW, submit)).await.unwrap();
    let (status, body) = http_get(http_addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("onewindow_commands_total{kind=\"submit\",outcome=\"applied\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("onewindow_commands_total{kind=\"submit\",outcome=\"replayed\"} 1"),
        "{body}"
    );
    assert!(body.contains("onewindow_command_seconds_bucket"), "{body}");
    assert!(body.contains("onewindow_projects_cached 1"), "{body}");
    assert_eq!(http_get(http_addr, "/nothing").await.0, 404);
}
