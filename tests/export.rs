//! `onewindow export`: a store's record as XES and OCEL 2.0 (SQLite and JSON), read back
//! by PM4Py in a virtual environment the test makes — the same number of cases and events
//! as the store holds, one project's trace event by event, no warning — and the bad
//! inputs refused with a message, nothing written.

use std::path::Path;
use std::process::Command;

use crate::common::*;

fn onewindow(args: &[&str]) -> (bool, String) {
    let ran = cli(args);
    (ran.ok, ran.said())
}

#[test]
fn the_record_exported_reads_back_in_pm4py_event_for_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    // A small city: 2 clients × 3 projects through the durable service, to completion.
    let (ok, said) = onewindow(&[
        "store",
        "drive",
        "--data",
        data_s,
        "--clients",
        "2",
        "--projects",
        "3",
    ]);
    assert!(ok, "{said}");
    let file = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let (xes, sqlite, json) = (file("log.xes"), file("log.sqlite"), file("log.json"));
    let (ok, said) = onewindow(&[
        "export", "--data", data_s, "--xes", &xes, "--ocel", &sqlite, "--ocel", &json,
    ]);
    assert!(ok, "{said}");

    // What the store holds.
    let store = onewindow::store::readonly::open_read_only(&data).unwrap();
    let record = onewindow::mining::read(&store, None, None).unwrap();
    let events = record.events();
    assert_eq!(record.projects.len(), 6);
    let case = &record.projects[0];

    let python = python_venv("pm4py-venv", "tests/mining/requirements.txt");
    let out = Command::new(python)
        .arg(root().join("tests/mining/read.py"))
        .args([&xes, &sqlite, &json, &case.id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        read["warnings"],
        serde_json::json!([]),
        "PM4Py reads without a warning"
    );
    assert_eq!(
        read["sqlite_unsatisfied"],
        serde_json::json!([]),
        "every constraint of OCEL 2.0's relational schema holds"
    );
    assert_eq!(read["xes"]["cases"], 6);
    assert_eq!(read["xes"]["events"], events);
    for format in ["sqlite", "json"] {
        let o = &read["ocel"][format];
        assert_eq!(o["events"], events, "{format}: {o}");
        assert_eq!(
            o["object_types"],
            serde_json::json!(["department", "document", "material", "project", "task"]),
            "{format}"
        );
        assert_eq!(
            o["case_events"],
            case.events.len(),
            "every event of {} relates to it ({format})",
            case.id
        );
    }
    // One project's trace, event by event: activity, lifecycle, who, when (+08:00).
    let trace = read["xes"]["trace"].as_array().unwrap();
    assert_eq!(trace.len(), case.events.len());
    for (e, t) in case.events.iter().zip(trace) {
        assert_eq!(t["seq"], e.seq);
        assert_eq!(
            t["activity"],
            onewindow::mining::activity(&case.plan, &e.event)
        );
        assert_eq!(t["lifecycle"], onewindow::mining::lifecycle(&e.event));
        assert_eq!(t["resource"], e.actor.id());
        let at = onewindow::mining::instant(e, &case.plan);
        assert_eq!(
            chrono::DateTime::parse_from_rfc3339(t["timestamp"].as_str().unwrap()).unwrap(),
            at,
            "{t}"
        );
        assert_eq!(at.offset().local_minus_utc(), 8 * 3600);
    }
    let lifecycles: Vec<&str> = trace
        .iter()
        .map(|t| t["lifecycle"].as_str().unwrap())
        .collect();
    for l in ["schedule", "start", "complete"] {
        assert!(lifecycles.contains(&l), "{lifecycles:?}");
    }
}

#[test]
fn bad_exports_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let at = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let out = at("x.xes");
    // No store here; nothing asked for; a period backwards; an OCEL file of no format.
    let (ok, said) = onewindow(&["export", "--data", &at("none"), "--xes", &out]);
    assert!(!ok && said.contains("no onewindow store here"), "{said}");
    let (ok, said) = onewindow(&["export", "--data", &at("none")]);
    assert!(!ok && said.contains("nothing to write"), "{said}");
    let (ok, said) = onewindow(&[
        "export",
        "--data",
        &at("none"),
        "--xes",
        &out,
        "--from",
        "2025-03-05",
        "--to",
        "2025-03-01",
    ]);
    assert!(!ok && said.contains("is after"), "{said}");
    let (ok, said) = onewindow(&["export", "--data", &at("none"), "--ocel", &at("x.csv")]);
    assert!(!ok && said.contains(".sqlite or .json"), "{said}");
    // A store, but an empty period.
    let data = at("data");
    let (ok, said) = onewindow(&[
        "store",
        "drive",
        "--data",
        &data,
        "--clients",
        "1",
        "--projects",
        "1",
    ]);
    assert!(ok, "{said}");
    let (ok, said) = onewindow(&[
        "export",
        "--data",
        &data,
        "--xes",
        &out,
        "--from",
        "2030-01-01",
    ]);
    assert!(
        !ok && said.contains("no events between 2030-01-01"),
        "{said}"
    );
    assert!(!Path::new(&out).exists(), "nothing written");
    assert!(
        !Path::new(&format!("{out}.partial")).exists(),
        "no partial file left"
    );
}

/// `simulate --log`: each variant's first replication kept as a store — the engine's own
/// events, sealed into each project's chain — with as many projects, completions and
/// withdrawals as the simulator reports, and exported like the city's own record.
#[test]
fn a_simulated_run_is_kept_as_a_store_the_export_reads() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let logs_s = logs.to_str().unwrap();
    let simulate = |format: &[&str]| {
        let mut args = vec![
            "simulate",
            "workflows/scenarios/serial-vs-parallel.yaml",
            "--replications",
            "1",
            "--quiet",
            "--log",
            logs_s,
        ];
        args.extend(format);
        cli(&args)
    };
    let out = simulate(&["--format", "json"]);
    assert!(out.ok, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for v in report["variants"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let data = logs.join(name);
        let store = onewindow::store::readonly::open_read_only(&data).unwrap();
        let record = onewindow::mining::read(&store, None, None).unwrap();
        assert_eq!(
            record.projects.len() as u64,
            v["projects_arrived"].as_u64().unwrap(),
            "{name}"
        );
        let ended = |kind: &str| {
            record
                .projects
                .iter()
                .filter(|p| p.events.last().is_some_and(|e| e.event.kind() == kind))
                .count() as u64
        };
        assert_eq!(
            ended("completed"),
            v["projects_completed"].as_u64().unwrap(),
            "{name}"
        );
        // A store like any other: it opens, every chain verifies, and it exports.
        let (ok, said) = onewindow(&["store", "open", "--data", data.to_str().unwrap()]);
        assert!(ok && said.contains("logs verified"), "{said}");
        let xes = dir.path().join(format!("{name}.xes"));
        let (ok, said) = onewindow(&[
            "export",
            "--data",
            data.to_str().unwrap(),
            "--xes",
            xes.to_str().unwrap(),
        ]);
        assert!(ok, "{said}");
        assert!(
            said.contains(&format!("{} events", record.events())),
            "{said}"
        );
    }
    // Kept once: a second run into the same directory is refused, nothing overwritten.
    let again = simulate(&[]);
    assert!(
        !again.ok && again.stderr.contains("not empty"),
        "{}",
        again.stderr
    );
}
