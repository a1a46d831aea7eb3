//! The store: one conformance suite for every backend, the durable service over each
//! (idempotent retries, races, restart, index rebuild), bad data directories, and events
//! written by the previous encoding version.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDateTime;
use onewindow_core::form::Form;
use onewindow_core::plan::{self, Plan};
use onewindow_engine::{Actor, Command, MaterialRef, Policy, TaskState};
use onewindow_store::disk::{Flush, SledStore};
use onewindow_store::memory::MemoryStore;
use onewindow_store::postgres::{Options, PgStore};
use onewindow_store::service::Service;
use onewindow_store::{Error, ReadStore, Store};
use onewindow_testkit::conformance;
use onewindow_testkit::scratch::Scratch;

#[path = "store/files.rs"]
mod files;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn small() -> Plan {
    plan::compile_file(&root().join("tests/scenarios/workflows/small.yaml"))
        .unwrap()
        .0
}

fn at(s: &str) -> NaiveDateTime {
    format!("{s}T09:00:00").parse().unwrap()
}

/// A submission of the small workflow's project (the numbers tests submit it too).
pub(crate) fn submit(plan: &Plan) -> Command {
    Command::Submit {
        version: plan.version.clone(),
        submission: onewindow_engine::Submission {
            applicant: "a".into(),
            agent: None,
            form: Form::parse("height: 30", &plan.fields).unwrap().values,
            materials: vec![MaterialRef::named("drawings")],
            site: None,
        },
    }
}

fn approve(item: &str) -> Command {
    Command::Approve {
        item: item.into(),
        numbers: BTreeMap::new(),
    }
}

fn dept(d: &str) -> Actor {
    Actor::Department(d.into())
}

#[test]
fn memory_store_conforms() {
    conformance::run(&|| Box::new(MemoryStore::new()));
}

#[test]
fn sled_store_conforms() {
    for flush in [Flush::Group, Flush::EachCommand] {
        let parent = tempfile::tempdir().unwrap();
        let n = std::sync::atomic::AtomicUsize::new(0);
        conformance::run(&|| {
            let dir = parent.path().join(
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                    .to_string(),
            );
            Box::new(SledStore::open(&dir, flush).unwrap())
        });
    }
}

/// The service checks shared by both backends.
fn service_rules<S: Store + 'static>(store: Arc<S>) {
    let (svc, report) = Service::open(store, Policy::default()).unwrap();
    assert_eq!(report.projects, 0);
    let plan = small();
    let version = svc.deploy(plan.clone()).unwrap();
    assert_eq!(version, plan.version);

    let first = svc
        .execute(
            "req-1",
            "P1",
            &Actor::Window,
            submit(&plan),
            at("2025-06-03"),
        )
        .unwrap()
        .unwrap();
    assert!(!first.replayed && !first.events.is_empty() && !first.effects.is_empty());
    // A retry gets the same answer and writes nothing.
    let again = svc
        .execute(
            "req-1",
            "P1",
            &Actor::Window,
            submit(&plan),
            at("2025-06-05"),
        )
        .unwrap()
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.events, first.events);
    assert!(
        again.effects.is_empty(),
        "effects ran after the first answer"
    );
    assert_eq!(
        svc.store().events("P1", 0).unwrap().len(),
        first.events.len()
    );
    // A refusal is an answer too, and a retry gets it again even after the state changed.
    let refused = svc
        .execute(
            "req-2",
            "P1",
            &dept("plan"),
            approve("P1"),
            at("2025-06-04"),
        )
        .unwrap();
    assert_eq!(refused.clone().unwrap_err().code(), "illegal-transition");
    svc.execute(
        "req-3",
        "P1",
        &dept("plan"),
        approve("D1"),
        at("2025-06-04"),
    )
    .unwrap()
    .unwrap();
    let refused_again = svc
        .execute(
            "req-2",
            "P1",
            &dept("plan"),
            approve("P1"),
            at("2025-06-04"),
        )
        .unwrap();
    assert_eq!(refused_again, refused);

    // Request ids are scoped to their caller: a department sending the window's id gets
    // its own command decided, not the window's answer.
    let other = svc
        .execute(
            "req-1",
            "P1",
            &dept("plan"),
            approve("D1"),
            at("2025-06-04"),
        )
        .unwrap();
    assert_eq!(
        other.unwrap_err().code(),
        "illegal-transition",
        "decided for the department (D1 is approved already), not replayed"
    );
    // An id is bound to its command: the same caller's id with another command, another
    // project or another payload is refused, and nothing is written.
    let events_before = svc.store().events("P1", 0).unwrap().len();
    let withdraw = Command::Withdraw {
        reason: "changed our mind".into(),
    };
    let reused = svc
        .execute("req-1", "P1", &Actor::Window, withdraw, at("2025-06-04"))
        .unwrap();
    assert_eq!(reused.unwrap_err().code(), "request-reused");
    let reused = svc
        .execute(
            "req-1",
            "P2",
            &Actor::Window,
            submit(&plan),
            at("2025-06-04"),
        )
        .unwrap();
    assert_eq!(
        reused.unwrap_err().code(),
        "request-reused",
        "P2's submission with P1's id does not answer as P1"
    );
    assert!(svc.project("P2").is_none(), "and creates nothing");
    assert_eq!(svc.store().events("P1", 0).unwrap().len(), events_before);
    // A command for a project that does not exist leaves nothing behind.
    let ids_before = svc.project_ids();
    for k in 0..50 {
        let r = svc
            .execute(
                &format!("ghost-{k}"),
                &format!("GHOST-{k}"),
                &dept("plan"),
                approve("D1"),
                at("2025-06-04"),
            )
            .unwrap();
        assert_eq!(r.unwrap_err().code(), "unknown-project");
        assert!(svc
            .store()
            .answer(&onewindow_store::service::request_key(
                &dept("plan"),
                &format!("ghost-{k}")
            ))
            .unwrap()
            .is_none());
    }
    // A refused submission leaves no empty slot either (its refusal is its answer).
    let incomplete = Command::Submit {
        version: plan.version.clone(),
        submission: onewindow_engine::Submission {
            applicant: "x".into(),
            agent: None,
            form: Default::default(),
            materials: vec![],
            site: None,
        },
    };
    let r = svc
        .execute(
            "req-incomplete",
            "P9",
            &Actor::Window,
            incomplete,
            at("2025-06-04"),
        )
        .unwrap();
    assert_eq!(r.unwrap_err().code(), "incomplete");
    assert_eq!(svc.project_ids(), ids_before);
    // The record never goes back in time.
    let r = svc
        .execute(
            "req-back",
            "P1",
            &dept("review"),
            approve("R1"),
            at("2025-06-01"),
        )
        .unwrap();
    assert_eq!(r.unwrap_err().code(), "before-record");
    assert!(
        svc.store()
            .answer(&onewindow_store::service::request_key(
                &dept("review"),
                "req-back"
            ))
            .unwrap()
            .is_none(),
        "a refusal about the clock is not the request's answer: a retry is decided afresh"
    );

    // Eight clerks race to approve one task: exactly one wins.
    let svc = Arc::new(svc);
    let winners: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|k| {
                let svc = svc.clone();
                s.spawn(move || {
                    svc.execute(
                        &format!("race-{k}"),
                        "P1",
                        &dept("review"),
                        approve("R1"),
                        at("2025-06-05"),
                    )
                    .unwrap()
                    .is_ok()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(winners.iter().filter(|w| **w).count(), 1, "{winners:?}");
    let approvals = svc
        .store()
        .events("P1", 0)
        .unwrap()
        .iter()
        .filter(|e| e.event.summary().starts_with("approved R1"))
        .count();
    assert_eq!(approvals, 1);

    // The indexes follow the state.
    assert_eq!(
        svc.open_tasks("plan").unwrap(),
        [("P1".to_string(), "P1".to_string())]
    );
    assert_eq!(
        svc.open_tasks("housing").unwrap(),
        Vec::<(String, String)>::new(),
        "C1 waits for P1's permit"
    );
    assert!(svc.verify().is_ok());
}

#[test]
fn service_over_memory() {
    service_rules(Arc::new(MemoryStore::new()));
}

#[test]
fn service_over_sled() {
    let dir = tempfile::tempdir().unwrap();
    service_rules(Arc::new(SledStore::open(dir.path(), Flush::Group).unwrap()));
}

/// A throwaway PostgreSQL server, and a fresh database on it for each store.
fn postgres() -> (Arc<Scratch>, impl Fn() -> PgStore) {
    let server = Arc::new(Scratch::start().expect("a throwaway PostgreSQL"));
    let n = std::sync::atomic::AtomicU32::new(0);
    let s = server.clone();
    let make = move || {
        let name = format!("t{}", n.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let url = s.create_database(&name).unwrap();
        PgStore::open(&url, &Options::default()).unwrap()
    };
    (server, make)
}

#[test]
fn postgres_store_conforms() {
    let (_server, make) = postgres();
    conformance::run(&|| Box::new(make()));
}

#[test]
fn service_over_postgres() {
    let (_server, make) = postgres();
    service_rules(Arc::new(make()));
}

#[test]
fn restart_restores_every_project_and_rebuilds_a_lost_index() {
    let dir = tempfile::tempdir().unwrap();
    restart_rules(&|| Arc::new(SledStore::open(dir.path(), Flush::Group).unwrap()));
}

#[test]
fn restart_on_postgres_restores_every_project_and_rebuilds_a_lost_index() {
    let (server, _) = postgres();
    let url = server.create_database("restart").unwrap();
    restart_rules(&|| Arc::new(PgStore::open(&url, &Options::default()).unwrap()));
}

/// Restart and index-rebuild rules, on stores `open` gives (each time the same data).
fn restart_rules(open: &dyn Fn() -> Arc<dyn Store>) {
    let plan = small();
    let expected;
    {
        let store = open();
        let (mut svc, _) = Service::open(store, Policy::default()).unwrap();
        svc.snapshot_every = 4;
        svc.deploy(plan.clone()).unwrap();
        for p in ["A", "B", "C"] {
            svc.execute(
                &format!("{p}/submit"),
                p,
                &Actor::Window,
                submit(&plan),
                at("2025-06-03"),
            )
            .unwrap()
            .unwrap();
        }
        svc.execute("A/D1", "A", &dept("plan"), approve("D1"), at("2025-06-04"))
            .unwrap()
            .unwrap();
        svc.execute("A/P1", "A", &dept("plan"), approve("P1"), at("2025-06-05"))
            .unwrap()
            .unwrap();
        svc.execute(
            "B/D1",
            "B",
            &dept("plan"),
            Command::Reject {
                item: "D1".into(),
                reason: "缺少图纸".into(),
            },
            at("2025-06-04"),
        )
        .unwrap()
        .unwrap();
        expected = ["A", "B", "C"].map(|p| svc.project(p).unwrap());
        assert!(
            svc.store().snapshot("A").unwrap().is_some(),
            "a snapshot was taken"
        );
    }
    {
        let store = open();
        let (svc, report) = Service::open(store.clone(), Policy::default()).unwrap();
        assert_eq!(
            (report.workflows, report.projects, report.index_rebuilt),
            (1, 3, false)
        );
        assert!(
            report.replayed_events < report.total_events as usize,
            "snapshots spare a full replay"
        );
        for (p, want) in ["A", "B", "C"].iter().zip(&expected) {
            assert_eq!(&svc.project(p).unwrap(), want, "{p} restored");
        }
        assert_eq!(
            svc.project("A").unwrap().tasks()[plan.item_index("R1").unwrap()].state,
            TaskState::Ready
        );
        svc.verify().unwrap();
        // The index is lost (or behind): opening rebuilds it from the log.
        store.replace_index(&[]).unwrap();
    }
    let (svc, report) = Service::open(open(), Policy::default()).unwrap();
    assert!(report.index_rebuilt);
    let open = |d: &str| svc.open_tasks(d).unwrap();
    assert_eq!(
        open("review"),
        [("A".to_string(), "R1".to_string())],
        "A's drawing review is open again"
    );
    assert_eq!(
        open("plan"),
        [("C".to_string(), "D1".to_string())],
        "B's rejected design is not open"
    );
    // And the service carries on where it stopped.
    svc.execute("C/D1", "C", &dept("plan"), approve("D1"), at("2025-06-06"))
        .unwrap()
        .unwrap();
}

/// The async path (what a server's handlers use): decided and written at once, answered
/// after the shared flush; many tasks on two threads; everything acknowledged is there
/// after reopening.
#[test]
fn async_execution_is_durable_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let plan = small();
    {
        let store = Arc::new(SledStore::open(dir.path(), Flush::Group).unwrap());
        let (svc, _) = Service::open(store, Policy::default()).unwrap();
        svc.deploy(plan.clone()).unwrap();
        let svc = Arc::new(svc);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        rt.block_on(async {
            let mut tasks = tokio::task::JoinSet::new();
            for k in 0..32 {
                let (svc, plan) = (svc.clone(), plan.clone());
                tasks.spawn(async move {
                    let p = format!("A{k}");
                    svc.execute_async(
                        &format!("{p}/s"),
                        &p,
                        &Actor::Window,
                        submit(&plan),
                        at("2025-06-03"),
                    )
                    .await
                    .unwrap()
                    .unwrap();
                    let first = svc
                        .execute_async(
                            &format!("{p}/d"),
                            &p,
                            &dept("plan"),
                            approve("D1"),
                            at("2025-06-04"),
                        )
                        .await
                        .unwrap()
                        .unwrap();
                    let again = svc
                        .execute_async(
                            &format!("{p}/d"),
                            &p,
                            &dept("plan"),
                            approve("D1"),
                            at("2025-06-04"),
                        )
                        .await
                        .unwrap()
                        .unwrap();
                    assert!(again.replayed && again.events == first.events);
                });
            }
            while let Some(r) = tasks.join_next().await {
                r.unwrap();
            }
        });
    }
    let store = Arc::new(SledStore::open(dir.path(), Flush::Group).unwrap());
    let (svc, report) = Service::open(store, Policy::default()).unwrap();
    assert_eq!(report.projects, 32);
    for k in 0..32 {
        let p = svc.project(&format!("A{k}")).unwrap();
        assert_eq!(
            p.tasks()[plan.item_index("D1").unwrap()].state,
            TaskState::Approved
        );
    }
    svc.verify().unwrap();
}

/// Supervision on the production path (`Service::tick`, what the server's ticker runs):
/// a limit of 150 working days is warned about 20 % before its end — about six weeks
/// ahead, further than any fixed look-ahead of a month — and a project with two deadlines
/// is ticked once.
#[test]
fn supervision_looks_as_far_ahead_as_the_policy_needs_and_ticks_each_project_once() {
    let text = r#"
workflow: long
calendar: ../../../workflows/calendars/cn
departments: [{id: plan}, {id: review}]
materials: [{id: drawings}]
documents: [{id: a}, {id: b}]
items:
  - {id: L1, department: plan, stage: approval, limit: 150, requires: {materials: [drawings]}, produces: [a]}
  - {id: L2, department: review, stage: approval, limit: 150, requires: {materials: [drawings]}, produces: [b]}
"#;
    let path = root().join("tests/scenarios/workflows/long.yaml");
    let loaded = onewindow_core::spec::load_str(&path, text).unwrap();
    let (plan, _) = onewindow_core::plan::compile(&loaded).unwrap();
    let store = Arc::new(onewindow_store::memory::MemoryStore::new());
    let (svc, _) = Service::open(store, Policy::default()).unwrap();
    svc.deploy(plan.clone()).unwrap();
    let submitted = at("2025-06-03");
    let submit = Command::Submit {
        version: plan.version.clone(),
        submission: onewindow_engine::Submission {
            applicant: "a".into(),
            agent: None,
            form: Default::default(),
            materials: vec![MaterialRef::named("drawings")],
            site: None,
        },
    };
    svc.execute("s", "LONG", &Actor::Window, submit, submitted)
        .unwrap()
        .unwrap();
    let due = plan.calendar.add_working_days(submitted.date(), 150).date;
    let now = (due - chrono::Days::new(38)).and_hms_opt(9, 0, 0).unwrap();
    let left = plan.calendar.count_working_days(now.date(), due);
    assert!(
        (4..=30).contains(&left),
        "{left} working days left: within 20 % of 150, above warn_days"
    );
    let tick = svc.tick(now).unwrap();
    assert!(
        tick.horizon_days >= 38,
        "looks {} days ahead",
        tick.horizon_days
    );
    assert_eq!(tick.projects, 1, "two deadlines, one project, one tick");
    let warned: Vec<String> = tick.events.iter().map(|e| e.event.summary()).collect();
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert!(
        warned.iter().all(|w| w.starts_with("warned L")),
        "{warned:?}"
    );
}

/// The load generator takes every project to completion through the durable service,
/// supplements included (each asked for once: it finds its earlier answer under the
/// department's scope, as the service keeps it).
#[test]
fn the_load_generator_completes_every_project_with_supplements() {
    let root = root();
    let (plan, _) = plan::compile_file(&root.join("workflows/construction-parallel.yaml")).unwrap();
    let text =
        std::fs::read_to_string(root.join("workflows/forms/industrial-project.yaml")).unwrap();
    let form = Form::parse(&text, &plan.fields).unwrap().values;
    let (svc, _) = Service::open(Arc::new(MemoryStore::new()), Policy::default()).unwrap();
    svc.deploy(plan.clone()).unwrap();
    let load = onewindow_drive::Load {
        clients: 2,
        projects: 3,
        prefix: "lg".into(),
        supplement_percent: 50,
        print_acks: false,
        submit_only: false,
    };
    let report = onewindow_drive::run(&svc, &plan, &form, &load, at("2025-03-03")).unwrap();
    assert!(report.transitions > 0);
    for id in svc.project_ids() {
        let p = svc.project(&id).unwrap();
        assert_eq!(
            p.status(),
            onewindow_engine::Status::Completed,
            "{id} completed"
        );
    }
    let supplements = svc
        .project_ids()
        .iter()
        .flat_map(|id| svc.store().events(id, 0).unwrap())
        .filter(|e| e.event.kind() == "supplement_requested")
        .count();
    assert!(supplements > 0, "half the reviews ask for a supplement");
}

/// A node keeps a bounded number of projects in memory and reads the others from the
/// store: with room for two, eight clients working on twelve projects at once get every
/// answer right, and memory holds no more than two projects that nobody is using.
#[test]
fn a_small_cache_reads_the_other_projects_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SledStore::open(dir.path(), Flush::Group).unwrap());
    let (svc, _) = Service::start(store, Policy::default()).unwrap();
    svc.set_cache_capacity(2);
    let plan = small();
    svc.deploy(plan.clone()).unwrap();
    let projects: Vec<String> = (0..12).map(|n| format!("K{n}")).collect();
    for p in &projects {
        svc.execute(
            &format!("{p}/submit"),
            p,
            &Actor::Window,
            submit(&plan),
            at("2025-06-03"),
        )
        .unwrap()
        .unwrap();
    }
    assert!(svc.cached() <= 2, "{} projects held", svc.cached());
    std::thread::scope(|s| {
        for c in 0..8 {
            let (svc, projects) = (&svc, &projects);
            s.spawn(move || {
                for p in projects.iter().skip(c % 3) {
                    // Every client tries the same approvals: each is applied once, the
                    // others are refused or replayed; a command that met a project
                    // re-read meanwhile is told to retry, and does.
                    for item in ["D1", "P1"] {
                        let rid = format!("{p}/{item}/{c}");
                        for _ in 0..20 {
                            match svc.execute(
                                &rid,
                                p,
                                &dept("plan"),
                                approve(item),
                                at("2025-06-04"),
                            ) {
                                Ok(_) => break,
                                Err(Error::Backend(_)) => continue,
                                Err(e) => panic!("{p} {item}: {e}"),
                            }
                        }
                    }
                }
            });
        }
    });
    assert!(svc.cached() <= 2, "{} projects held", svc.cached());
    for p in &projects {
        let state = svc.project(p).unwrap();
        for item in ["D1", "P1"] {
            assert_eq!(
                state.tasks()[plan.item_index(item).unwrap()].state,
                TaskState::Approved,
                "{p} {item}"
            );
        }
    }
    // Every log folds to the state read back, and nothing was approved twice.
    svc.verify().unwrap();
}
