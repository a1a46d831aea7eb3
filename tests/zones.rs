//! The day of record is the city's, not the host's: the real server, run with `TZ=UTC`
//! and with `TZ=America/New_York`, on a clock file giving absolute instants. A submission
//! at 07:30 on a Monday in Beijing (23:30 UTC on Sunday) is recorded on Monday at 07:30
//! and its one-working-day limit ends on Tuesday; one at 23:30 on a Friday in Beijing is
//! recorded on Friday and due on Monday; a task due on a Tuesday is not overdue at 23:59
//! Beijing time and is just after midnight — when it is still Tuesday in UTC and in New
//! York. Both hosts write identical records, each event carrying its offset (+08:00).

use std::path::Path;

use crate::common::*;
use onewindow::calendar::Calendar;
use onewindow::server::pb;
use onewindow::store::disk::{Flush, SledStore};
use onewindow::store::ReadStore;

/// Writes the instant the server reads as now.
fn set(clock: &Path, instant: &str) {
    std::fs::write(clock, instant).unwrap();
}

/// The complaint workflow's first task, C01 (one working day), of `project`.
async fn c01(
    window: &mut pb::window_client::WindowClient<tonic::transport::Channel>,
    project: &str,
) -> pb::Task {
    window_project(window, project)
        .await
        .tasks
        .into_iter()
        .find(|t| t.item == "C01")
        .expect("C01")
}

/// Runs the scenario on a server with host zone `tz`; its data directory, kept.
async fn run(tz: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    // Monday 2026-03-02 07:30 in Beijing.
    set(&clock, "2026-03-01T23:30:00Z");
    let tokens = write_tokens(dir.path());
    let server = serve_env(
        dir,
        &tokens,
        &[
            "--clock-file",
            clock.to_str().unwrap(),
            "--tick-seconds",
            "1",
        ],
        &[("TZ", tz)],
    );
    let mut wf = pb::workflows_client::WorkflowsClient::connect(server.addr.clone())
        .await
        .unwrap();
    let version = version_of(&mut wf, "complaint").await;
    let mut window = pb::window_client::WindowClient::connect(server.addr.clone())
        .await
        .unwrap();
    let submit = |rid: &str, project: &str| pb::SubmitRequest {
        request_id: rid.into(),
        project: project.into(),
        version: version.clone(),
        form: complaint_form(),
        materials: refs(&["complaint_letter", "evidence"]),
        ..Default::default()
    };
    window
        .submit(with(WINDOW, submit("m", "MON")))
        .await
        .unwrap();
    let cal =
        Calendar::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/calendars/cn"))
            .unwrap();
    let monday = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let due = cal.add_working_days(monday, 1).date;
    assert_eq!(due.to_string(), "2026-03-03", "Tuesday, counted in Beijing");
    let task = c01(&mut window, "MON").await;
    assert_eq!(task.due, due.to_string(), "TZ={tz}: {task:?}");

    // Friday 2026-03-06 23:30 in Beijing.
    set(&clock, "2026-03-06T15:30:00Z");
    window
        .submit(with(WINDOW, submit("f", "FRI")))
        .await
        .unwrap();
    let friday = chrono::NaiveDate::from_ymd_opt(2026, 3, 6).unwrap();
    let due_friday = cal.add_working_days(friday, 1).date;
    assert_eq!(due_friday.to_string(), "2026-03-09");
    assert_eq!(
        c01(&mut window, "FRI").await.due,
        due_friday.to_string(),
        "TZ={tz}"
    );

    // MON's C01 is due on Tuesday the 3rd: at 23:59 that day in Beijing it is on time…
    set(&clock, "2026-03-03T15:59:00Z");
    // Two full rounds of supervision on that time (the round running when the clock
    // moved may have read the time before).
    more_ticks(server.http, 3).await;
    assert!(
        !c01(&mut window, "MON").await.overdue,
        "TZ={tz}: not yet late"
    );
    // …and just after midnight it is late, though UTC and New York are still on the 3rd.
    set(&clock, "2026-03-03T16:00:30Z");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !c01(&mut window, "MON").await.overdue {
        assert!(
            std::time::Instant::now() < deadline,
            "TZ={tz}: not flagged overdue after midnight in Beijing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    server.kill()
}

/// A project's events as stored.
fn events(data: &Path, project: &str) -> Vec<onewindow::engine::Envelope> {
    let store = SledStore::open(data, Flush::Group).unwrap();
    store.events(project, 0).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn days_are_the_citys_whatever_the_hosts_zone() {
    let utc = run("UTC").await;
    let new_york = run("America/New_York").await;
    for project in ["MON", "FRI"] {
        let a = events(&utc.path().join("data"), project);
        let b = events(&new_york.path().join("data"), project);
        // Up to the overdue flag (its tick ran at a moment each host's ticker chose).
        let submitted = |e: &[onewindow::engine::Envelope]| {
            e.iter()
                .take_while(|e| !e.event.summary().starts_with("overdue"))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(submitted(&a), submitted(&b), "{project}: the same record");
        let first = &a[0];
        assert_eq!(
            first.offset,
            Some(8 * 3600),
            "the instant carries its offset"
        );
        let at = first.at.format("%Y-%m-%d %H:%M %a").to_string();
        match project {
            "MON" => assert_eq!(at, "2026-03-02 07:30 Mon"),
            _ => assert_eq!(at, "2026-03-06 23:30 Fri"),
        }
    }
}
