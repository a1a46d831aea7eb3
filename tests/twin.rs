//! The analyst's digital twin (docs/twin.md): a world with known parameters
//! (`tests/twin/known-world.yaml`) is simulated with `--log`, and `simulate calibrate` on
//! that record must give the parameters back — review means per department within 10 %,
//! shares within 0.03, the arrival rate within 10 %, staff within one reviewer — in a
//! scenario the simulator loads. Bad inputs: a clear message, nothing written.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use onewindow::simulate::scenario::{self, Staff};

use crate::common::*;

fn onewindow(args: &[&str]) -> (bool, String, String) {
    let ran = cli(args);
    (ran.ok, ran.stdout, ran.stderr)
}

/// `simulate calibrate` of the store in `data` over `from..=to`, written to `out`, with
/// `more` arguments.
fn calibrate(
    data: &Path,
    from: &str,
    to: &str,
    out: &Path,
    more: &[&str],
) -> (bool, String, String) {
    let mut args = vec![
        "simulate",
        "calibrate",
        "--data",
        data.to_str().unwrap(),
        "--from",
        from,
        "--to",
        to,
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(more);
    onewindow(&args)
}

/// `simulate validate` of `scenario` against the store in `data` over `from..=to`, as JSON.
fn validate(scenario: &Path, data: &Path, from: &str, to: &str) -> (bool, String, String) {
    onewindow(&[
        "simulate",
        "validate",
        scenario.to_str().unwrap(),
        "--against",
        data.to_str().unwrap(),
        "--from",
        from,
        "--to",
        to,
        "--json",
    ])
}

/// The known world simulated once, its record kept as a store: (the store, the period's
/// first and last day of arrivals).
fn simulated_city(dir: &Path) -> (PathBuf, NaiveDate, NaiveDate) {
    let logs = dir.join("logs");
    let (ok, _, err) = onewindow(&[
        "simulate",
        "tests/twin/known-world.yaml",
        "--quiet",
        "--log",
        logs.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let world = scenario::load(&root().join("tests/twin/known-world.yaml")).unwrap();
    let start = world.raw.start;
    let calendar = &world.variants[0].plan.calendar;
    // The 250 working days arrivals come in.
    let to = calendar.add_working_days(start, 249).date;
    (logs.join("city"), start, to)
}

fn within(got: f64, want: f64, share: f64, what: &str) {
    assert!(
        (got - want).abs() <= share * want,
        "{what}: calibrated {got:.4}, the world's {want:.4} (allowed ±{:.0} %)",
        100.0 * share
    );
}

fn close(got: Option<f64>, want: f64, what: &str) {
    let got = got.unwrap_or_else(|| panic!("{what}: not calibrated"));
    assert!(
        (got - want).abs() <= 0.03,
        "{what}: calibrated {got:.4}, the world's {want:.4} (allowed ±0.03)"
    );
}

#[test]
fn calibration_gives_back_the_world_the_record_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let (data, from, to) = simulated_city(dir.path());
    let out = dir.path().join("twin/calibrated.yaml");
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let (ok, report, err) = calibrate(&data, &from.to_string(), &to.to_string(), &out, &[]);
    assert!(ok, "{err}");
    // The workflow the projects ran on is written beside the scenario, which loads.
    assert!(dir
        .path()
        .join("twin/calibrated.workflow/construction-parallel.yaml")
        .is_file());
    let s = scenario::load(&out).unwrap_or_else(|e| panic!("{e}"));
    let truth = scenario::load(&root().join("tests/twin/known-world.yaml")).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();

    // Arrivals: 4 per working day.
    within(
        s.raw.arrivals.per_working_day.unwrap(),
        4.0,
        0.10,
        "arrivals per working day",
    );
    assert_eq!(s.raw.arrivals.working_days, Some(250.0));
    // Two kinds of project, 3 : 1.
    assert_eq!(s.raw.projects.len(), 2, "{text}");
    let w: Vec<f64> = s.raw.projects.iter().map(|p| p.weight).collect();
    within(
        w[0] / (w[0] + w[1]),
        0.75,
        0.10,
        "share of industrial projects",
    );

    let world = &s.raw.world;
    let dept = |id: &str| {
        world
            .departments
            .get(id)
            .unwrap_or_else(|| panic!("{id} not calibrated:\n{text}"))
    };
    // Review means per department, against the world's (its own, else the world's).
    for id in [
        "nrp",
        "housing",
        "env",
        "drawing_review",
        "ndrc",
        "registry",
    ] {
        let want = truth
            .raw
            .world
            .departments
            .get(id)
            .and_then(|d| d.review.clone())
            .or(truth.raw.world.review.clone())
            .unwrap()
            .mean();
        let got = dept(id)
            .review
            .as_ref()
            .unwrap_or_else(|| panic!("{id}: no review fitted:\n{text}"))
            .mean();
        within(got, want, 0.10, &format!("{id} mean review"));
    }
    // Staff of the departments short of reviewers.
    for (id, want) in [
        ("nrp", 9),
        ("housing", 9),
        ("env", 5),
        ("drawing_review", 7),
    ] {
        let Some(Staff::Count(got)) = dept(id).staff else {
            panic!("{id}: no staff:\n{text}");
        };
        assert!(
            got.abs_diff(want) <= 1,
            "{id}: staff {got}, the world's {want}\n{report}"
        );
    }
    // What reviews end in.
    close(dept("nrp").supplement, 0.25, "nrp supplement");
    close(dept("housing").supplement, 0.10, "housing supplement");
    close(dept("env").rejection, 0.15, "env rejection");
    close(dept("nrp").rejection, 0.06, "nrp rejection");
    close(dept("housing").returns, 0.05, "housing returns");
    close(world.rejection.resubmit, 0.8, "resubmit");
    close(world.supplement.rework, 0.3, "rework");
    // The applicants' delays.
    within(
        world.supplement.response.as_ref().unwrap().mean(),
        2.0,
        0.10,
        "supplement answer",
    );
    within(
        world.rejection.response.as_ref().unwrap().mean(),
        4.0,
        0.10,
        "resubmission",
    );
    within(
        world.milestone.as_ref().unwrap().mean(),
        0.5,
        0.10,
        "milestone",
    );
    // The report says what was fitted from how many observations.
    assert!(
        report.contains("arrivals:") && report.contains("KS"),
        "{report}"
    );
    assert!(text.contains("n="), "{text}");
}

#[test]
fn calibration_refuses_what_it_cannot_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (data, from, _) = simulated_city(dir.path());
    let out = dir.path().join("c.yaml");
    let day = from.to_string();
    // An empty period.
    let (ok, _, err) = calibrate(&data, "2020-01-01", "2020-12-31", &out, &[]);
    assert!(
        !ok && err.contains("no event") && err.contains("2020-01-01"),
        "{err}"
    );
    // A workflow the period does not hold.
    let (ok, _, err) = calibrate(&data, &day, &day, &out, &["--workflow", "no-such-workflow"]);
    assert!(
        !ok && err.contains("no-such-workflow") && err.contains("construction-parallel"),
        "{err}"
    );
    // A period backwards, and a directory with no store.
    let (ok, _, err) = calibrate(&data, "2025-06-01", "2025-05-01", &out, &[]);
    assert!(!ok && err.contains("after"), "{err}");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (ok, _, err) = calibrate(&empty, "2025-01-01", "2025-12-31", &out, &[]);
    assert!(!ok && err.contains("no onewindow store"), "{err}");
    assert!(!out.exists(), "nothing is written on a refusal");
    // One day of the record: too few observations for most fits; the scenario says which
    // numbers stayed at the workflow's defaults, and still loads.
    let (ok, report, err) = calibrate(&data, &day, &day, &out, &[]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("left at the default"), "{text}");
    assert!(
        report.contains("left at the workflow's defaults"),
        "{report}"
    );
    scenario::load(&out).unwrap_or_else(|e| panic!("{e}\n{text}"));
}

#[test]
fn the_twin_of_one_period_is_as_close_to_the_next_as_the_record_is_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let (data, from, to) = simulated_city(dir.path());
    let world = scenario::load(&root().join("tests/twin/known-world.yaml")).unwrap();
    let calendar = &world.variants[0].plan.calendar;
    // Calibrated on the first 125 working days, validated on the 125 after them.
    let last_fitted = calendar.add_working_days(from, 124).date;
    let held_out = calendar.add_working_days(from, 125).date;
    let out = dir.path().join("first-half.yaml");
    let (ok, _, err) = calibrate(
        &data,
        &from.to_string(),
        &last_fitted.to_string(),
        &out,
        &[],
    );
    assert!(ok, "{err}");
    let (held_out, to) = (held_out.to_string(), to.to_string());
    let (ok, json, err) = validate(&out, &data, &held_out, &to);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let projects = v["record"]["projects"].as_u64().unwrap();
    assert!((400..=600).contains(&projects), "{v}");
    assert_eq!(
        v["halves"][0]["projects"].as_u64().unwrap() + v["halves"][1]["projects"].as_u64().unwrap(),
        projects
    );
    for unit in ["working_days", "hours"] {
        let twin = v["twin"]["cycle_time"][unit].as_f64().unwrap();
        let baseline = v["baseline"]["cycle_time"][unit].as_f64().unwrap();
        assert!(
            twin > 0.0 && baseline > 0.0 && twin <= 1.5 * baseline,
            "cycle time in {unit}: the twin {twin:.3}, the record against itself {baseline:.3}\n{v}"
        );
    }
    let ngram = v["twin"]["ngram"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&ngram), "{v}");

    // A twin that is wrong shows it: reviews three times as slow, against the same record.
    let slow = std::fs::read_to_string(&out).unwrap().replace(
        "variants:\n  - name: \"as recorded\"\n",
        "variants:\n  - name: \"as recorded\"\n    world: {departments: {nrp: {slowdown: 3}, housing: {slowdown: 3}}}\n",
    );
    let slow_file = dir.path().join("slow.yaml");
    std::fs::write(&slow_file, slow).unwrap();
    let (ok, json, err) = validate(&slow_file, &data, &held_out, &to);
    assert!(ok, "{err}");
    let w: serde_json::Value = serde_json::from_str(&json).unwrap();
    let twin = w["twin"]["cycle_time"]["working_days"].as_f64().unwrap();
    let baseline = w["baseline"]["cycle_time"]["working_days"]
        .as_f64()
        .unwrap();
    assert!(
        twin > 1.5 * baseline,
        "a slowed twin: {twin:.3} against {baseline:.3}"
    );

    // Nothing submitted in the period: refused.
    let (ok, _, err) = validate(&out, &data, "2020-01-01", "2020-06-30");
    assert!(!ok && err.contains("no project was submitted"), "{err}");
}

/// Per open project at `at`, the department items in the department's hands (waiting for a
/// reviewer, under review, or answered after a supplement), read from the record alone.
fn in_hand(
    data: &Path,
    at: chrono::NaiveDateTime,
    department: &str,
) -> (std::collections::BTreeSet<String>, usize) {
    use onewindow::engine::Event;
    let store = onewindow::store::readonly::open_read_only(data).unwrap();
    let record = onewindow::mining::read(&store, None, None).unwrap();
    let (mut open, mut held) = (std::collections::BTreeSet::new(), 0);
    for p in &record.projects {
        let events: Vec<_> = p.events.iter().filter(|e| e.at <= at).collect();
        if events.is_empty()
            || events
                .iter()
                .any(|e| matches!(e.event, Event::Completed | Event::Withdrawn { .. }))
        {
            continue;
        }
        open.insert(p.id.clone());
        let mut last: std::collections::BTreeMap<&str, bool> = Default::default();
        for e in &events {
            let item = match &e.event {
                Event::Returned { item, .. } => Some((item.as_str(), true)),
                Event::TaskReady { item, .. }
                | Event::Resubmitted { item, .. }
                | Event::TaskClaimed { item }
                | Event::SupplementProvided { item, .. } => Some((item.as_str(), true)),
                Event::SupplementRequested { item, .. }
                | Event::TaskRejected { item, .. }
                | Event::TaskApproved { item, .. }
                | Event::Reopened { item, .. } => Some((item.as_str(), false)),
                _ => None,
            };
            if let Some((item, holds)) = item {
                last.insert(item, holds);
            }
        }
        held += last
            .iter()
            .filter(|(item, holds)| {
                **holds
                    && p.plan.item_index(item).is_some_and(|i| {
                        p.plan.items[i]
                            .department
                            .is_some_and(|d| p.plan.departments[d].id == department)
                    })
            })
            .count();
    }
    (open, held)
}

#[test]
fn the_forecast_starts_from_the_open_projects_as_they_stand_and_weighs_a_change_of_staff() {
    let dir = tempfile::tempdir().unwrap();
    let (data, from, _) = simulated_city(dir.path());
    let world = scenario::load(&root().join("tests/twin/known-world.yaml")).unwrap();
    let day = world.variants[0]
        .plan
        .calendar
        .add_working_days(from, 125)
        .date;
    let at = day.and_hms_opt(12, 0, 0).unwrap();
    let (open, nrp_held) = in_hand(&data, at, "nrp");
    assert!(open.len() > 20, "{} open", open.len());
    let headline = dir.path().join("forecast.json");
    let data_s = data.to_str().unwrap();
    let at_s = format!("{day}T12:00");
    let (ok, json, err) = onewindow(&[
        "simulate",
        "forecast",
        "--data",
        data_s,
        "--scenario",
        "tests/twin/known-world.yaml",
        "--at",
        &at_s,
        "--horizon",
        "10",
        "--replications",
        "40",
        "--staff",
        "nrp=-4",
        "--json",
        "--publish",
        headline.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    // Every open project, and nothing else, is forecast.
    assert_eq!(v["open"].as_u64().unwrap() as usize, open.len(), "{err}");
    let outcome = &v["outcome"];
    for t in outcome["tasks"].as_array().unwrap() {
        assert!(open.contains(t["project"].as_str().unwrap()), "{t}");
        for k in ["yellow", "red"] {
            assert!((0.0..=1.0).contains(&t[k].as_f64().unwrap()), "{t}");
        }
    }
    // The queues start as they stand: nrp's tasks in hand at the start are the record's.
    let dept = |o: &serde_json::Value, id: &str| {
        o["departments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .cloned()
            .unwrap()
    };
    let nrp = dept(outcome, "nrp");
    assert_eq!(nrp["waiting"].as_array().unwrap().len(), 11);
    let start = nrp["waiting"][0].as_f64().unwrap() + nrp["reviewing"][0].as_f64().unwrap();
    assert_eq!(start, nrp_held as f64, "{nrp}");
    // Four reviewers fewer at planning: its queue grows, over the same random numbers.
    let fewer = dept(&v["what_if"][1], "nrp");
    let mean = |d: &serde_json::Value| {
        let w = d["waiting"].as_array().unwrap();
        w.iter().map(|x| x.as_f64().unwrap()).sum::<f64>() / w.len() as f64
    };
    assert_eq!(fewer["staff"], 5);
    assert!(
        mean(&fewer) > mean(&nrp) + 1.0,
        "{} → {}",
        mean(&nrp),
        mean(&fewer)
    );
    // The dashboard's headline says the same.
    let h = onewindow::forecast::read(&headline).unwrap();
    assert_eq!(
        h.projects_at_risk as u64,
        outcome["projects_at_risk"].as_u64().unwrap()
    );
    assert_eq!(h.open, open.len());

    // Without a scenario, the world is calibrated from the record before the start.
    let (ok, table, err) = onewindow(&[
        "simulate",
        "forecast",
        "--data",
        data_s,
        "--at",
        &at_s,
        "--horizon",
        "5",
        "--replications",
        "5",
    ]);
    assert!(ok && err.contains("world calibrated from"), "{err}");
    assert!(table.contains("未来 5 个工作日"), "{table}");

    // Bad input: a department the workflow lacks, one without a limit, no horizon.
    for (args, said) in [
        (vec!["--staff", "nowhere=+1"], "no such department"),
        (vec!["--staff", "ndrc=+1"], "unlimited"),
        (vec!["--horizon", "0"], "horizon"),
    ] {
        let mut all = vec![
            "simulate",
            "forecast",
            "--data",
            data_s,
            "--scenario",
            "tests/twin/known-world.yaml",
            "--at",
            &at_s,
        ];
        all.extend(args);
        let (ok, _, err) = onewindow(&all);
        assert!(!ok && err.contains(said), "{all:?}: {err}");
    }
    let (ok, _, err) = onewindow(&[
        "simulate", "forecast", "--data", data_s, "--staff", "nrp=+x",
    ]);
    assert!(!ok && err.contains("whole number"), "{err}");
}
