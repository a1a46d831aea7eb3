//! The command line as a user runs it: golden output of `plan`, `compare` and `graph` on
//! the shipped workflows, the JSON contracts, `parallelize` round trips, and exit codes.
//!
//! Golden files live in `tests/golden/`. After an intended change of output, regenerate
//! them with `UPDATE_GOLDEN=1 cargo test --test tests cli::` and review the diff.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use onewindow::plan::{self, Options};
use onewindow::spec::{ItemKind, LimitKind};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn onewindow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs")
}

fn stdout_ok(args: &[&str]) -> String {
    let out = onewindow(args);
    assert!(
        out.status.success(),
        "onewindow {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn golden(name: &str, actual: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden file {name}; run with UPDATE_GOLDEN=1"));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from the golden file at line {}:\n  expected: {:?}\n  actual:   {:?}\n(UPDATE_GOLDEN=1 regenerates it)",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

#[test]
fn golden_plan_and_compare_output() {
    let cases: &[(&str, &[&str])] = &[
        (
            "plan-parallel.txt",
            &[
                "plan",
                "workflows/construction-parallel.yaml",
                "--start",
                "2026-03-02",
            ],
        ),
        (
            "plan-serial.json",
            &[
                "plan",
                "workflows/construction-serial.yaml",
                "--start",
                "2025-01-06",
                "--json",
            ],
        ),
        (
            "plan-warehouse.txt",
            &[
                "plan",
                "workflows/construction-parallel.yaml",
                "--form",
                "workflows/forms/small-warehouse.yaml",
            ],
        ),
        (
            "plan-complaint.txt",
            &["plan", "workflows/complaint.yaml", "--start", "2025-09-26"],
        ),
        (
            "compare.txt",
            &[
                "compare",
                "workflows/construction-serial.yaml",
                "workflows/construction-parallel.yaml",
                "workflows/construction-park.yaml",
                "--start",
                "2025-01-06",
            ],
        ),
        (
            "compare-statutory.json",
            &[
                "compare",
                "workflows/construction-serial.yaml",
                "workflows/construction-parallel.yaml",
                "--limits",
                "statutory",
                "--start",
                "2025-01-06",
                "--json",
            ],
        ),
        (
            "graph-parallel.mmd",
            &[
                "graph",
                "workflows/construction-parallel.yaml",
                "--format",
                "mermaid",
            ],
        ),
        (
            "graph-complaint.dot",
            &["graph", "workflows/complaint.yaml", "--format", "dot"],
        ),
    ];
    for (name, args) in cases {
        golden(name, &stdout_ok(args));
    }
}

/// The seed's question in one command: the old serial practice on statutory limits
/// against the integrated parallel practice on committed limits. The figures must follow
/// from the item limits, so they are recomputed here from the compiled plans.
#[test]
fn compare_reproduces_a_cut_of_the_seeds_size_from_the_limits() {
    let json: Value = serde_json::from_str(&stdout_ok(&[
        "compare",
        "workflows/construction-serial.yaml",
        "workflows/construction-parallel.yaml",
        "--start",
        "2025-01-06",
        "--json",
    ]))
    .unwrap();
    let serial_total = json[0]["total_working_days"].as_u64().unwrap();
    let parallel_total = json[1]["total_working_days"].as_u64().unwrap();

    // Serial: every item waits for the one before, so the total is the sum of the
    // statutory limits of the reviews.
    let (serial, _) =
        plan::compile_file(&root().join("workflows/construction-serial.yaml")).unwrap();
    assert_eq!(serial.default_limits, LimitKind::Statutory);
    let sum: u64 = serial
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Review)
        .map(|i| u64::from(i.limit.statutory))
        .sum();
    assert_eq!(serial_total, sum);

    // Parallel: the longest chain of committed limits through the document DAG.
    let (parallel, _) =
        plan::compile_file(&root().join("workflows/construction-parallel.yaml")).unwrap();
    assert_eq!(parallel.default_limits, LimitKind::Committed);
    let longest = longest_chain(&parallel, LimitKind::Committed);
    assert_eq!(parallel_total, longest);

    // Hundreds of working days down to tens, as in the seed (283 → 40).
    assert!(serial_total >= 200, "serial {serial_total}");
    assert!(parallel_total < 60, "parallel {parallel_total}");
    let cut = json[1]["cut_percent"].as_f64().unwrap();
    let expected_cut = (serial_total - parallel_total) as f64 / serial_total as f64 * 100.0;
    assert!((cut - expected_cut).abs() < 1e-9);
    assert!(cut > 80.0);
    assert!(json[0]["cut_percent"].is_null());
}

/// Longest path by memoised recursion over the graph (stages are consistent with the
/// edges in the shipped workflows, so the gates add nothing here).
fn longest_chain(plan: &plan::Plan, kind: LimitKind) -> u64 {
    fn finish(plan: &plan::Plan, kind: LimitKind, i: usize, memo: &mut Vec<Option<u64>>) -> u64 {
        if let Some(v) = memo[i] {
            return v;
        }
        let start = plan
            .graph
            .neighbors_directed(
                petgraph::graph::NodeIndex::new(i),
                petgraph::Direction::Incoming,
            )
            .map(|p| finish(plan, kind, p.index(), memo))
            .max()
            .unwrap_or(0);
        let item = &plan.items[i];
        let d = if item.kind == ItemKind::Milestone {
            0
        } else {
            u64::from(item.limit.days(kind))
        };
        memo[i] = Some(start + d);
        start + d
    }
    let mut memo = vec![None; plan.items.len()];
    (0..plan.items.len())
        .map(|i| finish(plan, kind, i, &mut memo))
        .max()
        .unwrap_or(0)
}

#[test]
fn plan_json_is_the_documented_contract() {
    let json: Value = serde_json::from_str(&stdout_ok(&[
        "plan",
        "workflows/construction-parallel.yaml",
        "--start",
        "2025-01-20",
        "--json",
    ]))
    .unwrap();
    assert_eq!(json["total_working_days"], 45);
    assert_eq!(json["limits"], "committed");
    let path: Vec<&str> = json["critical_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(path.first(), Some(&"A01"));
    assert_eq!(path.last(), Some(&"I24"));
    for id in [
        "I01", "I02", "I04", "I09", "I12", "I13", "I15", "I22", "I23",
    ] {
        assert!(path.contains(&id), "{id} is on the critical path: {path:?}");
    }
    // 45 working days from Monday 2025-01-20 across 春节 (01-28..02-04 off, Sun 01-26 and
    // Sat 02-08 worked): 6 in January, then 3 + 1 + 15 in February, 20 in March.
    assert_eq!(json["start_date"], "2025-01-20");
    assert_eq!(json["end_date"], "2025-03-28");
    let items = json["items"].as_array().unwrap();
    assert_eq!(items.len(), 22);
    for it in items {
        for key in [
            "id",
            "earliest_start",
            "earliest_finish",
            "slack",
            "start_date",
            "due_date",
        ] {
            assert!(!it[key].is_null(), "{key} missing in {it}");
        }
    }
    let i02 = items.iter().find(|i| i["id"] == "I02").unwrap();
    // I02 starts the day I01 finishes (Tue 01-21). Its five working days, the start day
    // not counted, are 01-22, 01-23, 01-24, Sun 01-26 (make-up day) and 01-27.
    assert_eq!(i02["start_date"], "2025-01-21");
    assert_eq!(i02["due_date"], "2025-01-27");
    // I08 (days 1–11) only has to be done when the construction stage opens (day 30).
    let i08 = items.iter().find(|i| i["id"] == "I08").unwrap();
    assert_eq!(
        (i08["earliest_finish"].as_u64(), i08["slack"].as_u64()),
        (Some(11), Some(19))
    );
}

#[test]
fn parallelize_removes_unjustified_waits_and_never_lengthens() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("parallelized.yaml");
    let run = onewindow(&[
        "parallelize",
        "workflows/construction-serial.yaml",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("removed: I06 after I05"), "{stderr}");

    let check = onewindow(&["check", out.to_str().unwrap()]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let (serial, _) =
        plan::compile_file(&root().join("workflows/construction-serial.yaml")).unwrap();
    let (par, _) = plan::compile_file(&out).unwrap();
    assert!(par.unjustified_after().is_empty());
    for kind in [LimitKind::Statutory, LimitKind::Committed] {
        let opts = Options {
            limits: kind,
            form: None,
            start: None,
        };
        let (a, b) = (serial.schedule(&opts).total, par.schedule(&opts).total);
        assert!(b <= a, "{kind:?}: parallelized {b} > serial {a}");
    }
    // On statutory limits the serial chain collapses to the document DAG: 314 → 153.
    let stat = Options {
        limits: LimitKind::Statutory,
        form: None,
        start: None,
    };
    assert_eq!(
        par.schedule(&stat).total,
        longest_chain(&par, LimitKind::Statutory) as u32
    );
    assert!(par.schedule(&stat).total < serial.schedule(&stat).total);
    // Same documents required from the same producers.
    for (a, b) in serial.items.iter().zip(&par.items) {
        assert_eq!(a.id, b.id);
        assert_eq!(a.requires.documents, b.requires.documents);
        assert_eq!(a.produces, b.produces);
    }
}

#[test]
fn check_exit_codes_and_json() {
    let ok = onewindow(&[
        "check",
        "workflows/construction-parallel.yaml",
        "workflows/complaint.yaml",
    ]);
    assert!(ok.status.success());
    let bad = onewindow(&[
        "check",
        "workflows/complaint.yaml",
        "tests/data/bad/unknown-refs.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    let diags: Value = serde_json::from_slice(&bad.stdout).unwrap();
    let first = &diags.as_array().unwrap()[0];
    assert_eq!(first["file"], "tests/data/bad/unknown-refs.yaml");
    assert_eq!(first["code"], "unknown-department");
    assert_eq!(first["id"], "planning");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(12), Some(17))
    );
    let text = onewindow(&["check", "tests/data/bad/unknown-refs.yaml"]);
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert!(stderr.contains("tests/data/bad/unknown-refs.yaml:12:17: error[unknown-department]: item `A`: unknown department `planning`"), "{stderr}");
}

#[test]
fn wrong_input_is_an_error_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let form = dir.path().join("form.yaml");
    std::fs::write(&form, "industry: farming\nfloor_area: big\ncolour: red\n").unwrap();
    let out = onewindow(&[
        "plan",
        "workflows/construction-parallel.yaml",
        "--form",
        form.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "unknown field `colour`",
        "'farming' is not one of",
        "field `floor_area`: expected a number",
        "required field `project_name` is missing",
    ] {
        assert!(stderr.contains(needle), "{needle:?} in {stderr}");
    }
    let out = onewindow(&["plan", "tests/data/bad/cycle.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("A -(d1)-> B -(d2)-> C -(d3)-> A"));
    let out = onewindow(&["plan", "workflows/nowhere.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let out = onewindow(&["plan", "workflows/complaint.yaml", "--start", "2025-02-30"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap rejects an impossible date"
    );
}

#[test]
fn a_form_drops_items_whose_condition_is_false() {
    let json: Value = serde_json::from_str(&stdout_ok(&[
        "plan",
        "workflows/construction-parallel.yaml",
        "--form",
        "workflows/forms/small-warehouse.yaml",
        "--json",
    ]))
    .unwrap();
    let dropped: Vec<&str> = json["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(dropped, ["I02", "I06", "I13"]);
    assert!(json["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| !dropped.contains(&i["id"].as_str().unwrap())));
    let full: Value = serde_json::from_str(&stdout_ok(&[
        "plan",
        "workflows/construction-parallel.yaml",
        "--form",
        "workflows/forms/industrial-project.yaml",
        "--json",
    ]))
    .unwrap();
    assert_eq!(full["dropped"].as_array().unwrap().len(), 0);
    assert!(json["total_working_days"].as_u64() < full["total_working_days"].as_u64());
}

#[test]
fn graph_draws_every_edge() {
    let (p, _) = plan::compile_file(Path::new(
        &root().join("workflows/construction-serial.yaml"),
    ))
    .unwrap();
    let dot = stdout_ok(&["graph", "workflows/construction-serial.yaml"]);
    assert_eq!(dot.matches(" -> ").count(), p.graph.edge_count());
    assert!(dot.contains("\"I05\" -> \"I06\" [label=\"after\", style=dashed"));
    let mmd = stdout_ok(&[
        "graph",
        "workflows/construction-serial.yaml",
        "--format",
        "mermaid",
    ]);
    assert_eq!(
        mmd.matches("-->|").count() + mmd.matches("-.->|").count(),
        p.graph.edge_count()
    );
}

/// Both graphs mark the critical path the schedule computes on the workflow's own limits:
/// exactly its items, exactly the edges between consecutive ones, its length in the
/// caption.
#[test]
fn graphs_mark_the_critical_path() {
    let file = "workflows/construction-parallel.yaml";
    let (p, _) = plan::compile_file(&root().join(file)).unwrap();
    let s = p.schedule(&plan::Options {
        limits: p.default_limits,
        form: None,
        start: None,
    });
    assert!(s.critical_path.len() > 2);
    let links: Vec<(usize, usize)> = s
        .critical_path
        .windows(2)
        .map(|w| (w[0], w[1]))
        .filter(|&(a, b)| {
            p.graph.contains_edge(
                petgraph::graph::NodeIndex::new(a),
                petgraph::graph::NodeIndex::new(b),
            )
        })
        .collect();
    let red = "color=\"#c0392b\"";
    let dot = stdout_ok(&["graph", file]);
    let mut nodes: Vec<String> = dot
        .lines()
        .filter(|l| l.contains(red) && !l.contains(" -> "))
        .map(|l| l.trim().split('"').nth(1).unwrap().to_string())
        .collect();
    let mut expected: Vec<String> = s
        .critical_path
        .iter()
        .map(|&i| p.items[i].id.clone())
        .collect();
    nodes.sort();
    expected.sort();
    assert_eq!(nodes, expected);
    for (a, b) in &links {
        let edge = format!("\"{}\" -> \"{}\"", p.items[*a].id, p.items[*b].id);
        let line = dot.lines().find(|l| l.contains(&edge)).unwrap();
        assert!(line.contains(red), "{line}");
    }
    assert_eq!(
        dot.lines()
            .filter(|l| l.contains(" -> ") && l.contains(red))
            .count(),
        links.len()
    );
    assert!(dot.contains(&format!("关键路径（红色）{} 个工作日", s.total)));
    let mmd = stdout_ok(&["graph", file, "--format", "mermaid"]);
    let class = mmd
        .lines()
        .find(|l| l.trim().starts_with("class "))
        .unwrap();
    let mut ids: Vec<&str> = class.trim()["class ".len()..]
        .trim_end_matches(" critical")
        .split(',')
        .collect();
    ids.sort();
    assert_eq!(ids, expected.iter().map(String::as_str).collect::<Vec<_>>());
    let styled = mmd
        .lines()
        .find(|l| l.trim().starts_with("linkStyle "))
        .unwrap();
    assert_eq!(
        styled.trim()["linkStyle ".len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .split(',')
            .count(),
        links.len()
    );
    assert!(mmd.starts_with("---\ntitle: \"关键路径"));
}

/// One output convention: every reporting command takes `--format`, the old `--json` is
/// the same output, the two together are a usage error; `plan` and `compare` give the
/// same total for the same workflow (both undated without `--start`); dates outside the
/// years the platform computes with are refused.
#[test]
fn one_output_convention_and_numbers_that_agree() {
    let wf = "workflows/construction-parallel.yaml";
    let by_format = stdout_ok(&["plan", wf, "--format", "json"]);
    assert_eq!(by_format, stdout_ok(&["plan", wf, "--json"]));
    let both = onewindow(&["plan", wf, "--json", "--format", "text"]);
    assert_eq!(both.status.code(), Some(2), "a usage error");
    let plan: serde_json::Value = serde_json::from_str(&by_format).unwrap();
    let compare: serde_json::Value = serde_json::from_str(&stdout_ok(&[
        "compare",
        "workflows/construction-serial.yaml",
        wf,
        "--format",
        "json",
    ]))
    .unwrap();
    let total = &compare.to_string();
    assert!(
        total.contains(&format!(
            "\"total_working_days\":{}",
            plan["total_working_days"]
        )),
        "compare's total for the parallel workflow is plan's: {total}"
    );
    for bad in ["26-1-1", "1999-12-31", "2200-01-01"] {
        let out = onewindow(&["plan", wf, "--start", bad]);
        assert_eq!(out.status.code(), Some(1), "--start {bad}");
    }
    let csv = stdout_ok(&[
        "simulate",
        "tests/data/sim/mmc.yaml",
        "--replications",
        "1",
        "-q",
        "--format",
        "csv",
    ]);
    assert!(csv.starts_with("variant,"), "{csv}");
    // A form's problems carry their line, and a mistyped required field is one problem.
    let dir = tempfile::tempdir().unwrap();
    let form = dir.path().join("form.yaml");
    std::fs::write(&form, "project_name: 厂房\nfloor_area: lots\n").unwrap();
    let out = onewindow(&["plan", wf, "--form", form.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("form.yaml:2:13: field `floor_area`"), "{err}");
    assert_eq!(err.matches("floor_area").count(), 1, "{err}");
    // Not a regular file: refused before reading, exit 1.
    let out = onewindow(&["check", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
    // A YAML error gives its position once.
    let out = onewindow(&["check", "tests/data/bad/yaml-syntax.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains(" at line "), "{err}");
}

/// `store open` on a directory with no store, or a damaged one: one clear error naming the
/// directory, exit 1, never a raw panic or backtrace.
#[test]
fn store_open_says_what_is_wrong_with_a_data_directory() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().to_str().unwrap();
    let out = onewindow(&["store", "open", "--data", dir]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no onewindow store here") && err.contains(dir),
        "{err}"
    );

    let damaged = tempfile::tempdir().unwrap();
    let data = damaged.path().join("data");
    let out = onewindow(&[
        "store",
        "drive",
        "--data",
        data.to_str().unwrap(),
        "--clients",
        "1",
        "--projects",
        "2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (how, damage) in [
        ("truncated", data.join("db")),
        ("garbage conf", data.join("conf")),
    ] {
        let copy = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(&data).unwrap() {
            let p = entry.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, copy.path().join(p.file_name().unwrap())).unwrap();
            }
        }
        let target = copy.path().join(damage.file_name().unwrap());
        if how == "truncated" {
            std::fs::write(&target, b"").unwrap();
        } else {
            std::fs::write(&target, b"\xff\xfe garbage").unwrap();
        }
        let out = onewindow(&["store", "open", "--data", copy.path().to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{how}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{how}: {err}"
        );
        assert!(err.contains(copy.path().to_str().unwrap()), "{how}: {err}");
    }
}
