//! End to end in process, what flows without being asked: `Window.Watch` streams,
//! `Department.StreamReady` push queues (claiming or not), the supervision ticker on a
//! controllable clock, and a whole project worked by concurrent department systems under
//! a watcher. (Requests and answers are in `api.rs`.)

use std::collections::HashMap;

use crate::common::*;
use onewindow::server::pb;
use pb::department_client::DepartmentClient;
use pb::supervision_client::SupervisionClient;
use pb::window_client::WindowClient;
use pb::workflows_client::WorkflowsClient;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_and_department_streams_see_every_event_in_order() {
    let server = start().await;
    let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut workflows, "construction-parallel").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let mut dept = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let materials = refs(&APPROVAL_MATERIALS);
    server.clock.set("2025-03-03T09:00:00");
    let submit = pb::SubmitRequest {
        request_id: "w1".into(),
        project: "W1".into(),
        version,
        applicant: "a".into(),
        form: form(),
        materials,
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
    server.clock.set("2025-03-04T09:00:00");
    let approve = pb::ApproveRequest {
        request_id: "a1".into(),
        project: "W1".into(),
        item: "I01".into(),
        numbers: HashMap::new(),
        ..Default::default()
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
    let server = start().await;
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
    server.clock.set("2025-03-03T09:00:00");
    let submit = pb::SubmitRequest {
        request_id: "c1".into(),
        project: "C1".into(),
        version,
        applicant: "a".into(),
        form: form(),
        materials: refs(&APPROVAL_MATERIALS),
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
        server.clock.set("2025-03-04T09:00:00");
        let approve = pb::ApproveRequest {
            request_id: format!("a-{item}"),
            project: "C1".into(),
            item: item.into(),
            numbers: HashMap::new(),
            ..Default::default()
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
    let server = start_configured(|c| c.tick = std::time::Duration::from_secs(1)).await;
    server.clock.set("2025-09-26T09:00:00");
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
    server.clock.set("2025-09-29T09:00:00");
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
    // Exactly once: two more ticks write nothing new (after the overdue flag, only its
    // yellow card, written by the same tick). Three rounds counted from now: the
    // flagging round may still be finishing when the count is read.
    more_ticks(server.http, 3).await;
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
    assert_eq!(p.seq, flagged[0].seq + 1);
}

/// One project of the parallel construction workflow through all five stages over gRPC:
/// eight department systems work their pushed queues concurrently, the window reports the
/// milestones it is told about, and a watcher sees every event once, in order — on a
/// clock that moves at every read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_project_with_concurrent_departments_and_a_watcher() {
    let server = start().await;
    // A clock that moves at every read, like a real one: commands racing on one project
    // read different times, and the record must still never go back (the time is read
    // under the project's lock).
    server
        .clock
        .step_every_read(chrono::Duration::milliseconds(1));
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
                        ..Default::default()
                    };
                    client.claim(with(&dept_token(d), claim)).await.unwrap();
                }
                let approve = pb::ApproveRequest {
                    request_id: rid("approve"),
                    project: task.project.clone(),
                    item: task.item.clone(),
                    numbers: HashMap::new(),
                    ..Default::default()
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
    server.clock.set("2025-03-03T09:00:00");
    let submit = pb::SubmitRequest {
        request_id: "full".into(),
        project: "FULL".into(),
        version,
        form: form(),
        materials,
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
                ..Default::default()
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

/// A claiming stream whose client has gone claims nothing: a task that becomes ready
/// afterwards stays ready for the department's next worker, instead of being claimed for
/// nobody (found by running the load generator twice against one server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claiming_stream_left_behind_claims_nothing() {
    let server = start().await;
    let mut workflows = WorkflowsClient::connect(server.addr.clone()).await.unwrap();
    let version = version_of(&mut workflows, "construction-parallel").await;
    let mut window = WindowClient::connect(server.addr.clone()).await.unwrap();
    let mut dept = DepartmentClient::connect(server.addr.clone())
        .await
        .unwrap();
    let gone = dept
        .stream_ready(with(NDRC, pb::StreamReadyRequest { claim: true }))
        .await
        .unwrap()
        .into_inner();
    drop(gone);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    server.clock.set("2025-03-03T09:00:00");
    let submit = pb::SubmitRequest {
        request_id: "g1".into(),
        project: "G1".into(),
        version,
        applicant: "a".into(),
        form: form(),
        materials: refs(&APPROVAL_MATERIALS),
        ..Default::default()
    };
    window.submit(with(WINDOW, submit)).await.unwrap();
    report_early_milestones(&mut window, "G1").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let got = window_project(&mut window, "G1").await;
    let i01 = got.tasks.iter().find(|t| t.item == "I01").unwrap();
    assert_eq!(i01.state, "ready", "nobody claimed it");
}
