//! The simulator against what is known: the plan's critical path when nothing waits,
//! queueing theory for one queue, and its own determinism. Then the command line.

use std::path::{Path, PathBuf};
use std::process::Command;

use onewindow::plan::Options;
use onewindow::simulate::{self, scenario, Error};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(rel: &str) -> simulate::Scenario {
    scenario::load(&root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Unlimited staff, every review exactly its committed limit, no supplements or
/// rejections, milestones reported at once: each project takes exactly the plan's
/// critical path — for the serial, parallel and park workflows alike.
#[test]
fn with_unlimited_staff_and_exact_limits_every_project_takes_the_critical_path() {
    let s = load("tests/data/sim/exact.yaml");
    let report = simulate::run(&s, 2, &|_| {});
    for (v, r) in s.variants.iter().zip(&report.variants) {
        let form = onewindow::form::Form {
            values: v.types[0].form.clone(),
        };
        let plan_total = f64::from(
            v.plan
                .schedule(&Options {
                    limits: v.plan.default_limits,
                    form: Some(&form),
                    start: None,
                })
                .total,
        );
        assert_eq!(r.projects_completed, 30, "{}", r.name);
        let t = &r.total_working_days;
        assert_eq!(
            (t.min, t.max),
            (plan_total, plan_total),
            "{}: every project takes the critical path",
            r.name
        );
        let typical = r.typical_project.as_ref().expect("a typical project");
        assert_eq!(typical.total_working_days, plan_total);
        assert_eq!(
            typical.critical_path.last(),
            r.planned_critical_path.items.last(),
            "{}: the realized path ends where the planned one does",
            r.name
        );
    }
    // The three workflows really differ, so the equality above is not one number.
    let totals: Vec<f64> = report
        .variants
        .iter()
        .map(|v| v.total_working_days.mean)
        .collect();
    assert!(totals[0] > totals[1] && totals[1] > totals[2], "{totals:?}");
}

/// Erlang C: the mean wait in an M/M/c queue, in the unit of 1/λ.
fn erlang_c_wait(lambda: f64, mu: f64, c: u32) -> f64 {
    let a = lambda / mu;
    let rho = a / f64::from(c);
    let mut term = 1.0;
    let mut sum = 0.0;
    for k in 0..c {
        if k > 0 {
            term *= a / f64::from(k);
        }
        sum += term;
    }
    let last = term * a / f64::from(c) / (1.0 - rho);
    let p_wait = last / (sum + last);
    p_wait / (f64::from(c) * mu - lambda)
}

/// One department, Poisson arrivals, exponential reviews, two reviewers: the simulated
/// mean wait and utilization match the M/M/2 queue over 400,000 projects.
#[test]
fn one_department_matches_the_m_m_c_queue() {
    let s = load("tests/data/sim/mmc.yaml");
    let report = simulate::run(&s, 2, &|_| {});
    let d = &report.variants[0].departments[0];
    let (lambda, mu, c) = (3.5, 1.0 / 0.4, 2);
    let theory = erlang_c_wait(lambda, mu, c);
    assert_eq!(d.reviews, 400_000);
    let rel = (d.mean_wait_working_days - theory).abs() / theory;
    assert!(
        rel < 0.03,
        "mean wait {} against M/M/2's {theory} ({:.1} % off)",
        d.mean_wait_working_days,
        100.0 * rel
    );
    let rho = lambda / mu / f64::from(c);
    let u = d.utilization.expect("limited staff");
    assert!((u - rho).abs() < 0.01, "utilization {u} against {rho}");
}

#[test]
fn the_same_seed_gives_the_same_bits_and_another_seed_other_samples() {
    let mut s = load("workflows/scenarios/serial-vs-parallel.yaml");
    s.raw.replications = 2;
    let one = simulate::run(&s, 1, &|_| {});
    let two = simulate::run(&s, 2, &|_| {});
    let json = |r: &simulate::Report| serde_json::to_string(r).expect("serializes");
    assert_eq!(json(&one), json(&two), "threads do not change a bit");
    assert_eq!(json(&one), json(&simulate::run(&s, 2, &|_| {})));
    s.raw.seed += 1;
    let other = simulate::run(&s, 2, &|_| {});
    assert_ne!(
        one.variants[1].total_working_days, other.variants[1].total_working_days,
        "another seed draws other samples"
    );
    // Common random numbers: both variants see the same arrivals.
    assert_eq!(
        one.variants[0].projects_arrived,
        one.variants[1].projects_arrived
    );
}

fn bad(text: &str) -> String {
    let path = root().join("tests/data/sim/inline.yaml");
    match scenario::load_str(&path, text) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

const GOOD: &str = "scenario: t
seed: 1
start: 2025-03-03
arrivals: {count: 3}
projects: [{name: any, form: empty-form.yaml}]
variants: [{name: a, workflow: one-desk.yaml}]
";

#[test]
fn a_bad_scenario_is_a_clear_error() {
    assert!(scenario::load_str(&root().join("tests/data/sim/inline.yaml"), GOOD).is_ok());
    let e = bad(&GOOD.replace("seed: 1", "seed: one"));
    assert!(e.contains("inline.yaml:2:"), "{e}");
    let e = bad(&format!("{GOOD}world: {{items: {{X9: {{fixed: 1}}}}}}\n"));
    assert!(e.contains("items.X9"), "{e}");
    let e = bad(&format!(
        "{GOOD}world: {{departments: {{nobody: {{staff: 2}}}}}}\n"
    ));
    assert!(e.contains("departments.nobody"), "{e}");
    let e = bad(&format!(
        "{GOOD}world: {{supplement: {{probability: 1.5}}}}\n"
    ));
    assert!(e.contains("supplement.probability"), "{e}");
    // Blamed on the scenario's world, where it is written, at its line.
    let line = GOOD.lines().count() + 1;
    assert!(
        e.contains(&format!("inline.yaml:{line}:")) && e.contains(": world.supplement.probability"),
        "{e}"
    );
    // Dates outside the years the platform computes with.
    for start in ["0000-01-01", "-2026-01-01", "2300-01-01"] {
        let e = bad(&GOOD.replace("2025-03-03", start));
        assert!(
            e.contains("start") || e.contains("inline.yaml:3:"),
            "{start}: {e}"
        );
    }
    // A key written twice is an error, not "the last one wins".
    let e = bad(&format!(
        "{GOOD}world: {{departments: {{desk: {{staff: 1}}, desk: {{staff: 2}}}}}}\n"
    ));
    assert!(e.contains("appears twice"), "{e}");
    // Numbers from a file are bounded: each is an error saying the range.
    for (from, to, key) in [
        (
            "seed: 1",
            "seed: 1\nreplications: 2147483648",
            "replications",
        ),
        ("{count: 3}", "{count: 2147483648}", "arrivals"),
    ] {
        let e = bad(&GOOD.replace(from, to));
        assert!(
            e.contains(key) && (e.contains("at most") || e.contains("out of range")),
            "{e}"
        );
    }
    for world in [
        "{supplement: {rework: 1e20}}",
        "{review: {uniform: [0, 2147483648]}}",
        "{staff: 4294967295}",
    ] {
        let e = bad(&format!("{GOOD}world: {world}\n"));
        assert!(
            e.contains("world.") && e.contains(&format!("inline.yaml:{line}:")),
            "{e}"
        );
    }
    let e = bad(&format!("{GOOD}world: {{review: {{uniform: [5, 1]}}}}\n"));
    assert!(e.contains("review"), "{e}");
    let e = bad(&GOOD.replace("{count: 3}", "{working_days: 3}"));
    assert!(e.contains("arrivals"), "{e}");
    let e = bad(&GOOD.replace("one-desk.yaml", "missing.yaml"));
    assert!(e.contains("variant `a`"), "{e}");
    match scenario::load_str(
        &root().join("tests/data/sim/inline.yaml"),
        &GOOD.replace("seed: 1", "seed: one"),
    ) {
        Err(Error::Yaml { line, .. }) => assert_eq!(line, 2),
        other => panic!("{other:?}"),
    }
}

fn onewindow(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_onewindow"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs")
}

#[test]
fn the_command_prints_a_table_json_csv_and_draws_charts() {
    let r = root();
    let charts = tempfile::tempdir().expect("a directory");
    let scenario = "workflows/scenarios/serial-vs-parallel.yaml";
    // One replication of the shipped scenario, with `extra` options.
    let simulate = |extra: &[&str]| {
        let mut args = vec!["simulate", scenario, "--quiet", "--replications", "1"];
        args.extend_from_slice(extra);
        onewindow(&args, &r)
    };
    let out = simulate(&["--svg", charts.path().to_str().expect("UTF-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("total working days, mean"), "{table}");
    assert!(table.contains("Δ parallel"), "{table}");
    let mut svgs: Vec<String> = std::fs::read_dir(charts.path())
        .expect("charts")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    svgs.sort();
    assert_eq!(
        svgs,
        [
            "department-utilization.svg",
            "gantt-parallel.svg",
            "gantt-serial.svg",
            "total-working-days.svg"
        ]
    );
    for f in &svgs {
        let text = std::fs::read_to_string(charts.path().join(f)).expect("reads");
        assert!(text.contains("<svg") && text.contains("</svg>"), "{f}");
    }
    // Titles say what is drawn (the shipped scenario limits staff), Gantt rows are named.
    let svg = |f: &str| std::fs::read_to_string(charts.path().join(f)).expect("reads");
    let utilization = svg("department-utilization.svg");
    assert!(utilization.contains("Department utilization (%)"), "title");
    assert!(!utilization.contains("unlimited staff"), "a true title");
    assert!(svg("gantt-parallel.svg").contains("I01 Project filing (ndrc)"));

    let out = simulate(&["--json"]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let variants = json["variants"].as_array().expect("variants");
    assert_eq!(variants.len(), 2);
    for v in variants {
        assert!(v["name"].is_string());
        assert!(v["projects_completed"].as_u64().expect("a count") > 0);
        for k in ["mean", "p50", "p90", "p99"] {
            assert!(v["total_working_days"][k].as_f64().is_some(), "{k}");
        }
    }
    let serial = variants[0]["total_working_days"]["mean"]
        .as_f64()
        .expect("mean");
    let parallel = variants[1]["total_working_days"]["mean"]
        .as_f64()
        .expect("mean");
    assert!(
        parallel < serial,
        "the seed's question: {parallel} < {serial}"
    );

    let out = simulate(&["--csv"]);
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(csv.starts_with("variant,metric,value\n"), "{csv}");
    assert!(csv.contains("parallel,total_working_days.p90,"), "{csv}");

    // The same model for Prosimos: a BPMN file and its parameters per variant, and a note
    // where the translation is not exact (the default triangular review time).
    let models = tempfile::tempdir().expect("a directory");
    let out = simulate(&["--prosimos", models.path().to_str().expect("UTF-8")]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(out.stdout.is_empty(), "nothing simulated");
    assert!(said.contains("note: triangular"), "{said}");
    for v in ["serial", "parallel"] {
        let bpmn = std::fs::read_to_string(models.path().join(format!("{v}.bpmn"))).expect(v);
        assert!(bpmn.contains("<parallelGateway") && bpmn.ends_with("</definitions>\n"));
        let params = std::fs::read(models.path().join(format!("{v}.json"))).expect(v);
        let params: serde_json::Value = serde_json::from_slice(&params).expect("JSON");
        let pools = params["resource_profiles"].as_array().expect("pools");
        assert!(pools.iter().any(|p| p["name"] == "nrp"), "{v}");
    }

    let out = onewindow(&["simulate", "tests/data/sim/no-such.yaml"], &r);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such.yaml"));
}

/// The exported model's longest path through each project type's branch, with every task
/// taking its mean (here: fixed) duration.
fn longest_paths(m: &simulate::bpmn::Model) -> Vec<f64> {
    use simulate::bpmn::Kind;
    let order = m.topological();
    let end = m
        .nodes
        .iter()
        .position(|n| n.kind == Kind::End)
        .expect("an end event");
    // The flows out of the project-type choice, or the start's one flow.
    let choice = m
        .flows
        .iter()
        .find(|f| f.from == 0)
        .map(|f| f.to)
        .expect("the start leads somewhere");
    let entries: Vec<usize> = if m.nodes[choice].kind == Kind::Exclusive {
        m.flows
            .iter()
            .filter(|f| f.from == choice)
            .map(|f| f.to)
            .collect()
    } else {
        vec![choice]
    };
    entries
        .into_iter()
        .map(|entry| {
            let mut finish: Vec<Option<f64>> = vec![None; m.nodes.len()];
            for &n in &order {
                let start = if n == entry {
                    Some(0.0)
                } else {
                    m.flows
                        .iter()
                        .filter(|f| f.to == n)
                        .filter_map(|f| finish[f.from])
                        .reduce(f64::max)
                };
                let took = match &m.nodes[n].kind {
                    Kind::Task { duration, .. } => duration.mean_days(),
                    _ => 0.0,
                };
                finish[n] = start.map(|s| s + took);
            }
            finish[end].expect("the end is reached")
        })
        .collect()
}

/// The BPMN export follows the engine: with exact durations and nothing going wrong, the
/// longest path of each project type's branch is what the simulator — which runs the
/// real engine — measures for projects of that type, for three workflows.
#[test]
fn the_exported_model_has_the_engines_paths() {
    let s = load("tests/data/sim/exact-types.yaml");
    let report = simulate::run(&s, 2, &|_| {});
    for (v, r) in s.variants.iter().zip(&report.variants) {
        let m = simulate::bpmn::model(v, &s.raw.arrivals);
        let paths = longest_paths(&m);
        assert_eq!(paths.len(), 2, "{}: one branch per project type", v.name);
        let (lo, hi) = paths
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        assert_eq!(r.projects_completed, 40, "{}", r.name);
        let t = &r.total_working_days;
        assert_eq!((t.min, t.max), (lo, hi), "{}: {paths:?}", v.name);
        // Every exclusive choice's probabilities add up to one.
        for (k, n) in m.nodes.iter().enumerate() {
            let out: Vec<f64> = m
                .flows
                .iter()
                .filter(|f| f.from == k)
                .filter_map(|f| f.probability)
                .collect();
            if !out.is_empty() {
                let sum: f64 = out.iter().sum();
                assert!((sum - 1.0).abs() < 1e-9, "{}: {sum}", n.name);
            }
        }
    }
    // The forms differ in what applies, so the two branches are not one path twice.
    let parallel = simulate::bpmn::model(&s.variants[1], &s.raw.arrivals);
    let paths = longest_paths(&parallel);
    assert_ne!(paths[0], paths[1], "{paths:?}");
}

/// The exported model's decisions (supplement, rework, rejection, resubmission, unrolled)
/// expect as many reviews per project from each department as the simulator makes.
#[test]
fn the_exported_model_expects_the_simulators_reviews() {
    let s = load("tests/data/sim/decisions.yaml");
    let report = simulate::run(&s, 2, &|_| {});
    let r = &report.variants[0];
    let m = simulate::bpmn::model(&s.variants[0], &s.raw.arrivals);
    let reach = m.reach();
    assert_eq!(r.projects_completed, 3000);
    for d in &r.departments {
        let expected: f64 = m
            .nodes
            .iter()
            .zip(&reach)
            .filter(|(n, _)| {
                matches!(&n.kind, simulate::bpmn::Kind::Task { pool, .. } if *pool == d.id)
            })
            .map(|(_, p)| p)
            .sum();
        let measured = d.reviews as f64 / 3000.0;
        assert!(
            (measured - expected).abs() / expected < 0.03,
            "{}: {measured:.3} reviews per project measured, {expected:.3} expected",
            d.id
        );
    }
    // The Prosimos parameters name every task and its pool, sized for the load.
    let p = m.prosimos();
    let tasks = p["task_resource_distribution"].as_array().unwrap();
    let nodes = m
        .nodes
        .iter()
        .filter(|n| matches!(n.kind, simulate::bpmn::Kind::Task { .. }))
        .count();
    assert_eq!(tasks.len(), nodes);
    assert!(m.pools[simulate::bpmn::APPLICANT] > 20);
}

/// One blueprint in the simulator: the same sites (drawn from their own stream, so both
/// variants meet the same ones) are stopped at the counter where the workflow checks
/// them, and rejected by the department of the conflicting plan where it does not.
#[test]
fn a_blueprint_stops_at_the_counter_what_a_department_would_reject_later() {
    let s = load("workflows/scenarios/one-blueprint.yaml");
    let report = simulate::run(&s, 2, &|_| {});
    let (old, new) = (&report.variants[0], &report.variants[1]);
    assert_eq!(old.projects_arrived, new.projects_arrived);
    assert!(old.projects_rejected_for_site > 0, "{old:?}");
    assert_eq!(old.projects_stopped_at_counter, 0);
    assert_eq!(new.projects_rejected_for_site, 0);
    assert_eq!(
        new.projects_stopped_at_counter,
        old.projects_rejected_for_site
    );
    assert_eq!(
        old.projects_withdrawn, old.projects_rejected_for_site,
        "no other rejections in this scenario"
    );
    assert_eq!(
        new.projects_completed + new.projects_stopped_at_counter,
        new.projects_arrived
    );
    // Sites are part of the seed: the same run again is the same bits.
    let again = simulate::run(&s, 2, &|_| {});
    assert_eq!(
        again.variants[1].projects_stopped_at_counter,
        new.projects_stopped_at_counter
    );
}

/// Steps inside departments cost what their signers take: with every review exactly its
/// limit and every named signer exactly one working day, each project of the
/// countersigned workflow takes exactly the parallel one's time plus one day for each
/// countersigned step on its critical path (I09 会签 and I12 票签: two); the 或签 of I11,
/// off the path, costs nothing. Returns to earlier items cost more and are counted.
#[test]
fn countersigned_steps_and_returns_cost_what_they_take() {
    let s = load("tests/data/sim/exact-office.yaml");
    let report = simulate::run(&s, 2, &|_| {});
    let [parallel, countersigned, returns] = &report.variants[..] else {
        panic!("three variants");
    };
    let t = &parallel.total_working_days;
    assert_eq!(
        t.min, t.max,
        "the parallel projects all take the critical path"
    );
    let c = &countersigned.total_working_days;
    assert_eq!((c.min, c.max), (t.min + 2.0, t.min + 2.0));
    let dept = |v: &simulate::report::VariantReport, id: &str| {
        v.departments.iter().find(|d| d.id == id).unwrap().clone()
    };
    // One working day per approval of a countersigned item, averaged over the
    // department's approvals (planning approves other items too).
    assert_eq!(
        dept(countersigned, "drawing_review").mean_signing_working_days,
        1.0
    );
    assert!(dept(countersigned, "nrp").mean_signing_working_days > 0.0);
    assert_eq!(dept(parallel, "nrp").mean_signing_working_days, 0.0);
    let returned: u64 = returns.departments.iter().map(|d| d.returns).sum();
    assert!(returned > 0, "one review in ten returns");
    assert_eq!(
        returns.projects_completed, 30,
        "every returned project still completes"
    );
    assert!(returns.total_working_days.mean > c.mean);
    assert!(countersigned.departments.iter().all(|d| d.returns == 0));
}
