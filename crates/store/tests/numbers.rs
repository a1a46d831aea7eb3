//! Document numbers (文号): official numbers as departments write them, numbers drawn from
//! a department's pattern — gap-free and never twice, on every backend, from concurrent
//! approvals, across two nodes of one PostgreSQL database and after a restart — and the
//! refusal of an approval that has neither.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use crate::store::submit;
use chrono::NaiveDateTime;
use onewindow_core::plan::{self, Plan};
use onewindow_engine::{Actor, Command, Engine, Event, Policy, Refusal};
use onewindow_store::disk::{Flush, SledStore};
use onewindow_store::memory::MemoryStore;
use onewindow_store::postgres::{Options, PgStore};
use onewindow_store::service::Service;
use onewindow_store::{ReadStore, Store};
use onewindow_testkit::scratch::Scratch;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// tests/scenarios/workflows/small.yaml: `plan` numbers its documents `规审〔{year}〕{seq}号`.
fn small() -> Plan {
    plan::compile_file(&root().join("tests/scenarios/workflows/small.yaml"))
        .unwrap()
        .0
}

/// The same workflow with no numbering declared.
fn unnumbered() -> Plan {
    let text = std::fs::read_to_string(root().join("tests/scenarios/workflows/small.yaml"))
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("departments:") {
                "departments: [{id: plan}, {id: review}, {id: fire}, {id: housing}]".to_string()
            } else if l.starts_with("calendar:") {
                format!(
                    "calendar: {}",
                    root().join("workflows/calendars/cn").display()
                )
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.yaml");
    std::fs::write(&file, text).unwrap();
    let plan = plan::compile_file(&file).unwrap().0;
    assert!(plan.departments.iter().all(|d| d.numbering.is_none()));
    plan
}

fn at(s: &str) -> NaiveDateTime {
    s.parse().unwrap()
}

fn approve(item: &str, numbers: &[(&str, &str)]) -> Command {
    Command::Approve {
        item: item.into(),
        numbers: numbers
            .iter()
            .map(|(d, n)| (d.to_string(), n.to_string()))
            .collect(),
    }
}

/// The numbers an outcome's approval issued.
fn issued(events: &[onewindow_engine::Envelope]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match &e.event {
            Event::TaskApproved { documents, .. } => Some(documents),
            _ => None,
        })
        .flatten()
        .map(|d| d.number.clone())
        .collect()
}

#[test]
fn official_numbers_are_kept_and_a_missing_one_is_drawn_or_refused() {
    let plan = small();
    let mut engine = Engine::new(Policy::default());
    engine.deploy(plan.clone());
    let plan_dept = Actor::Department("plan".into());
    for (p, number) in [
        ("A", "发改能审〔2026〕5号"),
        ("B", "环审(2026)7号"),
        ("C", "  建字第210600202600012号 "),
    ] {
        engine
            .execute(p, &Actor::Window, submit(&plan), at("2026-03-02T09:00:00"))
            .unwrap();
        let out = engine
            .execute(
                p,
                &plan_dept,
                approve("D1", &[("design", number)]),
                at("2026-03-03T09:00:00"),
            )
            .unwrap();
        assert_eq!(issued(&out.events), vec![number.trim().to_string()]);
    }
    // No number: the department's pattern, the next of its year.
    engine
        .execute(
            "D",
            &Actor::Window,
            submit(&plan),
            at("2026-03-02T09:00:00"),
        )
        .unwrap();
    let out = engine
        .execute(
            "D",
            &plan_dept,
            approve("D1", &[]),
            at("2026-03-03T09:00:00"),
        )
        .unwrap();
    assert_eq!(issued(&out.events), vec!["规审〔2026〕1号".to_string()]);
    // Control characters are refused, naming the document.
    engine
        .execute(
            "E",
            &Actor::Window,
            submit(&plan),
            at("2026-03-02T09:00:00"),
        )
        .unwrap();
    let refused = engine
        .execute(
            "E",
            &plan_dept,
            approve("D1", &[("design", "规审\n5号")]),
            at("2026-03-03T09:00:00"),
        )
        .unwrap_err();
    assert!(
        matches!(&refused, Refusal::BadNumber { document, .. } if document == "design"),
        "{refused}"
    );
    // The refused approval drew nothing: the next is 2.
    let out = engine
        .execute(
            "E",
            &plan_dept,
            approve("D1", &[]),
            at("2026-03-03T09:00:00"),
        )
        .unwrap();
    assert_eq!(issued(&out.events), vec!["规审〔2026〕2号".to_string()]);

    // Without a pattern and without a number: refused, saying which document.
    let bare = unnumbered();
    let mut engine = Engine::new(Policy::default());
    engine.deploy(bare.clone());
    engine
        .execute(
            "F",
            &Actor::Window,
            submit(&bare),
            at("2026-03-02T09:00:00"),
        )
        .unwrap();
    let refused = engine
        .execute(
            "F",
            &plan_dept,
            approve("D1", &[]),
            at("2026-03-03T09:00:00"),
        )
        .unwrap_err();
    assert_eq!(refused.code(), "number-required");
    assert!(
        refused.to_string().contains("document `design`") && refused.to_string().contains("文号"),
        "{refused}"
    );
}

/// `projects` projects approved by `threads` threads at once through one service: the
/// numbers issued.
fn approve_concurrently<S: Store + 'static>(
    svcs: &[Arc<Service<S>>],
    plan: &Plan,
    prefix: &str,
    projects: usize,
) -> Vec<String> {
    for k in 0..projects {
        let svc = &svcs[k % svcs.len()];
        svc.execute(
            &format!("s-{prefix}{k}"),
            &format!("{prefix}{k}"),
            &Actor::Window,
            submit(plan),
            at("2026-03-02T09:00:00"),
        )
        .unwrap()
        .unwrap();
    }
    let per = projects / svcs.len();
    std::thread::scope(|s| {
        let handles: Vec<_> = svcs
            .iter()
            .enumerate()
            .map(|(n, svc)| {
                s.spawn(move || {
                    let mut out = Vec::new();
                    for k in (n * per)..((n + 1) * per) {
                        let done = svc
                            .execute(
                                &format!("a-{prefix}{k}"),
                                &format!("{prefix}{k}"),
                                &Actor::Department("plan".into()),
                                approve("D1", &[]),
                                at("2026-03-03T09:00:00"),
                            )
                            .unwrap()
                            .unwrap();
                        out.extend(issued(&done.events));
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

/// Every number of `1..=n` issued exactly once.
fn gap_free(numbers: &[String], n: usize) {
    let set: BTreeSet<&String> = numbers.iter().collect();
    assert_eq!(
        set.len(),
        numbers.len(),
        "a number issued twice: {numbers:?}"
    );
    let want: BTreeSet<String> = (1..=n).map(|k| format!("规审〔2026〕{k}号")).collect();
    assert_eq!(
        set.into_iter().cloned().collect::<BTreeSet<_>>(),
        want,
        "gap-free from 1"
    );
}

#[test]
fn sled_draws_gap_free_from_threads_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let plan = small();
    {
        let store = Arc::new(SledStore::open(dir.path(), Flush::Group).unwrap());
        let (svc, _) = Service::open(store, Policy::default()).unwrap();
        svc.deploy(plan.clone()).unwrap();
        let svc = Arc::new(svc);
        let numbers = approve_concurrently(&[svc.clone(), svc.clone()], &plan, "S", 20);
        gap_free(&numbers, 20);
        assert_eq!(svc.store().register("plan/2026").unwrap(), 20);
    }
    // Reopened: the register goes on from 20.
    let store = Arc::new(SledStore::open(dir.path(), Flush::Group).unwrap());
    let (svc, _) = Service::open(store, Policy::default()).unwrap();
    let more = approve_concurrently(&[Arc::new(svc)], &plan, "T", 2);
    let mut all: Vec<String> = more;
    all.sort();
    assert_eq!(all, vec!["规审〔2026〕21号", "规审〔2026〕22号"]);
}

#[test]
fn memory_draws_gap_free_from_threads() {
    let plan = small();
    let (svc, _) = Service::open(Arc::new(MemoryStore::new()), Policy::default()).unwrap();
    svc.deploy(plan.clone()).unwrap();
    let svc = Arc::new(svc);
    gap_free(
        &approve_concurrently(&[svc.clone(), svc], &plan, "M", 16),
        16,
    );
}

/// Two nodes on one database, approving at once: each number once, none skipped.
#[test]
fn two_postgres_nodes_draw_gap_free() {
    let server = Scratch::start().expect("a throwaway PostgreSQL");
    let url = server.create_database("numbers").unwrap();
    let plan = small();
    let node = || {
        let store = Arc::new(PgStore::open(&url, &Options::default()).unwrap());
        let (svc, _) = Service::open(store, Policy::default()).unwrap();
        svc.deploy(plan.clone()).unwrap();
        Arc::new(svc)
    };
    let (a, b) = (node(), node());
    let numbers = approve_concurrently(&[a.clone(), b], &plan, "N", 24);
    gap_free(&numbers, 24);
    assert_eq!(a.store().register("plan/2026").unwrap(), 24);
    // Each project's issued number is the one its approval's event recorded.
    let mut recorded = BTreeMap::new();
    for k in 0..24 {
        let events = a.store().events(&format!("N{k}"), 0).unwrap();
        recorded.insert(k, issued(&events));
    }
    assert!(recorded.values().all(|n| n.len() == 1), "{recorded:?}");
}
