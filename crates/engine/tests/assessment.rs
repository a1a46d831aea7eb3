//! 考核: per-department figures computed from events alone, for any period; and the
//! supervision queries (tasks by department and state, overdue and warning lists).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{NaiveDate, NaiveDateTime};
use onewindow_core::form::Form;
use onewindow_core::plan;
use onewindow_engine::supervision::{assess, Assessment};
use onewindow_engine::{Actor, Command, Engine, MaterialRef, Policy, Submission, TaskState};

fn at(s: &str) -> NaiveDateTime {
    format!("{s}T09:00:00").parse().unwrap()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn dept(id: &str) -> Actor {
    Actor::Department(id.into())
}

fn approve(item: &str) -> Command {
    Command::Approve {
        item: item.into(),
        numbers: BTreeMap::new(),
    }
}

/// Small workflow, one project: D1 on time (4 days), P1 late (3 days, due after 2), R1 with
/// a 4-day supplement (5 days used), C1 left open past its due date.
fn engine() -> Engine {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let (plan, _) = plan::compile_file(&root.join("tests/scenarios/workflows/small.yaml")).unwrap();
    let mut e = Engine::new(Policy {
        warn_days: 1,
        warn_percent: 0,
        ..Policy::default()
    });
    let form = Form::parse("height: 30", &plan.fields).unwrap().values;
    let version = e.deploy(plan);
    let submission = Submission {
        applicant: "a".into(),
        agent: None,
        form,
        materials: vec![MaterialRef::named("drawings")],
        site: None,
    };
    let submit = Command::Submit {
        version,
        submission,
    };
    let steps: Vec<(&str, Actor, Command)> = vec![
        ("2025-06-03", Actor::Window, submit),
        ("2025-06-09", dept("plan"), approve("D1")),
        (
            "2025-06-10",
            dept("review"),
            Command::RequestSupplement {
                item: "R1".into(),
                needed: vec!["drawings".into()],
                note: String::new(),
            },
        ),
        ("2025-06-12", dept("plan"), approve("P1")),
        (
            "2025-06-16",
            Actor::Window,
            Command::ProvideSupplement {
                item: "R1".into(),
                materials: vec![MaterialRef::named("drawings")],
            },
        ),
        ("2025-06-20", dept("review"), approve("R1")),
        ("2025-06-24", Actor::System, Command::Tick),
    ];
    for (date, actor, cmd) in steps {
        e.execute("P1", &actor, cmd, at(date))
            .unwrap_or_else(|r| panic!("{date}: {r}"));
    }
    e
}

fn run(e: &Engine, from: &str, to: &str) -> BTreeMap<String, Assessment> {
    let plans = |v: &str| e.plan(v).map(|p| &**p);
    assess(e.all_events(), &plans, d(from), d(to))
        .into_iter()
        .map(|a| (a.department.clone(), a))
        .collect()
}

#[test]
fn assessment_from_events() {
    let e = engine();
    let june = run(&e, "2025-06-01", "2025-06-30");
    let plan = &june["plan"];
    assert_eq!((plan.done, plan.p90_days, plan.overdue_now), (2, 4, 0));
    assert!((plan.mean_days - 3.5).abs() < 1e-9);
    assert!(
        (plan.on_time_rate - 0.5).abs() < 1e-9,
        "P1 was due 06-11 and approved 06-12"
    );
    let review = &june["review"];
    assert_eq!(
        (review.done, review.p90_days),
        (1, 5),
        "the four days of supplement are not counted"
    );
    assert!((review.on_time_rate - 1.0).abs() < 1e-9);
    let housing = &june["housing"];
    assert_eq!((housing.done, housing.overdue_now), (0, 1));
    // C1 went overdue on the 06-24 tick: its yellow card (督办) counts for housing.
    assert_eq!((housing.yellow_cards, housing.red_cards), (1, 0));
    assert_eq!((plan.yellow_cards, plan.red_cards), (0, 0));

    // Another period sees only its own decisions.
    let mid = run(&e, "2025-06-10", "2025-06-19");
    assert_eq!(mid["plan"].done, 1);
    assert!(!mid.contains_key("review"));
    // Before C1 went overdue, nothing was overdue.
    let early = run(&e, "2025-06-01", "2025-06-23");
    assert!(early.get("housing").is_none_or(|h| h.overdue_now == 0));
}

#[test]
fn supervision_queries() {
    let e = engine();
    let housing = e.tasks(Some("housing"), None);
    assert_eq!(housing.len(), 1);
    assert_eq!(
        (housing[0].item.as_str(), housing[0].state),
        ("C1", TaskState::Ready)
    );
    assert_eq!(housing[0].due, Some(d("2025-06-23")));
    assert!(e.tasks(Some("plan"), Some(TaskState::Ready)).is_empty());
    assert_eq!(e.tasks(None, Some(TaskState::Approved)).len(), 3);
    let overdue: Vec<String> = e.overdue().iter().map(|r| r.item.clone()).collect();
    assert_eq!(overdue, ["C1"]);
    assert!(
        e.warnings().is_empty(),
        "an overdue task is not also a warning"
    );
    let timeline = e.timeline("P1");
    assert!(timeline.first().unwrap().contains("submitted (small)"));
    // The overdue flag, then its yellow card (督办).
    let n = timeline.len();
    assert!(timeline[n - 2].contains("overdue C1 due 2025-06-23"));
    assert!(timeline[n - 1].contains("yellow-card C1 until"));
    assert_eq!(timeline.len(), e.events("P1").len());
}

/// A red card (整改) counts in the period it was given: C1's yellow card of 06-24 gave
/// three working days (25, 26, 27); still open on 06-30, it is carded red.
#[test]
fn cards_count_in_their_period() {
    let mut e = engine();
    e.execute("P1", &Actor::System, Command::Tick, at("2025-06-30"))
        .unwrap();
    let june = run(&e, "2025-06-01", "2025-06-30");
    assert_eq!(
        (june["housing"].yellow_cards, june["housing"].red_cards),
        (1, 1)
    );
    let before = run(&e, "2025-06-01", "2025-06-29");
    assert_eq!(before["housing"].red_cards, 0);
    let july = run(&e, "2025-07-01", "2025-07-31");
    assert!(july
        .get("housing")
        .is_none_or(|h| h.yellow_cards + h.red_cards == 0));
}
