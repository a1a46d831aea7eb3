//! The calibration written down: a scenario file (docs/simulate.md's format) whose
//! comments say where each number came from, and a report of what was fitted from how
//! many observations and what was left at the workflow's defaults, and why.
//!
//! The scenario is written as text rather than serialized, because its comments are half
//! of what it says: an analyst who opens it should see beside `staff: 6` that six
//! reviews ran at once for 84 working days while tasks waited.

use std::fmt::Write as _;

use onewindow_simulate::dist::{Dist, Shape};

use super::fit::{Fit, MIN_OBSERVATIONS};
use super::observe::Trials;
use super::Calibration;

/// A distribution in the scenario's flow form.
pub fn dist(d: &Dist) -> String {
    match &d.shape {
        Shape::Fixed(x) => format!("{{fixed: {x}}}"),
        Shape::Uniform([a, b]) => format!("{{uniform: [{a}, {b}]}}"),
        Shape::Triangular([a, c, b]) => format!("{{triangular: [{a}, {c}, {b}]}}"),
        Shape::Lognormal { mean, sd } => format!("{{lognormal: {{mean: {mean}, sd: {sd}}}}}"),
        Shape::Exponential { mean } => format!("{{exponential: {{mean: {mean}}}}}"),
    }
}

/// Where a fit came from, for a comment.
pub fn provenance(f: &Fit) -> String {
    let others = f
        .candidates
        .iter()
        .skip(1)
        .map(|(n, d)| format!("{n} {d:.3}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "n={}, mean {:.2}, sd {:.2}; KS {:.3} (p {:.2}){}",
        f.n,
        f.mean,
        f.sd,
        f.ks,
        f.p,
        if others.is_empty() {
            String::new()
        } else {
            format!("; other families: {others}")
        }
    )
}

fn share(t: Trials) -> String {
    match t.share() {
        Some(p) => format!("{}", (p * 10_000.0).round() / 10_000.0),
        None => "0".into(),
    }
}

fn of(t: Trials, what: &str) -> String {
    format!("{} of {} {what}", t.yes, t.n)
}

/// A fitted distribution under `key` with a comment saying what it came from, or — with
/// too few observations (`seen`: how many, of what) — a comment that the default stands.
fn fitted(
    o: &mut String,
    indent: &str,
    key: &str,
    what: &str,
    fit: Option<&Fit>,
    seen: (usize, &str),
    default: &str,
) {
    let _ = match fit {
        Some(f) => writeln!(
            o,
            "{indent}# {what}: {}\n{indent}{key}: {}",
            provenance(f),
            dist(&f.dist)
        ),
        None => writeln!(
            o,
            "{indent}# {key}: left at the default ({default}): {} {}, {MIN_OBSERVATIONS} needed",
            seen.0, seen.1
        ),
    };
}

/// A share of the world, or — with no trial to count — a comment that it was left at
/// the default: never a zero that nothing measured.
fn world_share(o: &mut String, key: &str, t: Trials, what: &str, default: &str) {
    if t.n > 0 {
        let _ = writeln!(o, "{key}: {}   # {}", share(t), of(t, what));
    } else {
        let _ = writeln!(
            o,
            "{}# {}: left at the default ({default}): no review in the period could show it",
            &key[..key.len() - key.trim_start().len()],
            key.trim_start()
        );
    }
}

/// A YAML double-quoted string (JSON's escaping is YAML's).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn values(v: &std::collections::BTreeMap<String, onewindow_core::form::Value>) -> String {
    use onewindow_core::form::Value;
    let parts: Vec<String> = v
        .iter()
        .map(|(k, x)| {
            let x = match x {
                Value::String(s) => quoted(s),
                Value::Number(n) => format!("{n}"),
                Value::Bool(b) => b.to_string(),
                Value::Date(d) => quoted(&d.to_string()),
            };
            format!("{}: {x}", quoted(k))
        })
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// The scenario text; `workflow` is the path of the workflow file relative to it.
pub fn scenario(c: &Calibration, workflow: &str) -> String {
    let mut o = String::new();
    let w = &c.workflow;
    let _ = writeln!(
        o,
        "# Calibrated from the city's record by `onewindow simulate calibrate`: {} to {}\n\
         # ({} working days), {} projects and {} events of workflow `{}` (version {}).\n\
         # Each number's comment says what it was fitted from; `calibrate` printed the\n\
         # report of what was left at the defaults. Edit it like any scenario\n\
         # (docs/simulate.md); check it with `onewindow simulate validate` (docs/twin.md).",
        c.from,
        c.to,
        c.working_days,
        c.projects,
        c.events,
        w.id,
        &w.version[..w.version.len().min(12)]
    );
    let _ = writeln!(
        o,
        "scenario: {}",
        quoted(&format!("calibrated {} {}..{}", w.id, c.from, c.to))
    );
    let _ = writeln!(
        o,
        "description: {}",
        quoted(&format!(
            "{} as the record of {} to {} shows it.",
            c.plan.name, c.from, c.to
        ))
    );
    let _ = writeln!(o, "seed: 1\nreplications: 5\nstart: {}", c.from);
    let _ = writeln!(
        o,
        "arrivals:\n  # {} submissions in {} working days\n  per_working_day: {}\n  working_days: {}",
        c.arrivals,
        c.working_days,
        (c.per_working_day() * 10_000.0).round() / 10_000.0,
        c.working_days
    );
    o.push_str("projects:\n");
    for k in &c.kinds {
        let missing = if k.not_applying.is_empty() {
            "every item applies".to_string()
        } else {
            format!(
                "not applying: {}",
                k.not_applying
                    .iter()
                    .map(|(id, name)| format!("{name} ({id})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let _ = writeln!(
            o,
            "  # {} projects ({:.1} %); {missing}\n  - {{name: {}, weight: {}, values: {}}}",
            k.count,
            100.0 * k.count as f64 / c.arrivals.max(1) as f64,
            quoted(&k.name),
            k.count,
            values(&k.values)
        );
    }
    o.push_str("world:\n");
    fitted(
        &mut o,
        "  ",
        "milestone",
        "The window's time to report a milestone",
        c.milestone.as_ref(),
        (c.milestones, "observation(s)"),
        "at once",
    );
    // The world's shares: every department's pooled (the default for one that has none).
    let all = |f: &dyn Fn(&super::DepartmentFit) -> Trials| {
        c.departments
            .iter()
            .fold(Trials::default(), |acc, d| acc.plus(f(d)))
    };
    let (sup, rej, ret) = (
        all(&|d| d.supplement),
        all(&|d| d.rejection),
        all(&|d| d.returns),
    );
    o.push_str("  supplement:\n");
    world_share(
        &mut o,
        "    probability",
        sup,
        "reviews that could ask asked",
        "0",
    );
    fitted(
        &mut o,
        "    ",
        "response",
        "The applicant's answer, working days",
        c.supplement_response.as_ref(),
        (c.supplement_responses, "answer(s)"),
        "fixed 5",
    );
    match c.rework {
        Some((r, n)) => {
            let _ = writeln!(
                o,
                "    rework: {}   # {n} second looks, their span less the department's mean wait",
                (r * 1000.0).round() / 1000.0
            );
        }
        None => o.push_str("    # rework: left at the default (0.3): too few second looks\n"),
    }
    o.push_str("  rejection:\n");
    world_share(
        &mut o,
        "    probability",
        rej,
        "reviews that could reject rejected",
        "0",
    );
    match c.resubmit.share() {
        Some(p) => {
            let _ = writeln!(
                o,
                "    resubmit: {}   # {}",
                (p * 10_000.0).round() / 10_000.0,
                of(c.resubmit, "answered rejections were resubmitted")
            );
        }
        None => o.push_str("    # resubmit: left at the default (0.9): no rejection answered\n"),
    }
    fitted(
        &mut o,
        "    ",
        "response",
        "The applicant's resubmission, working days",
        c.rejection_response.as_ref(),
        (c.rejection_responses, "resubmission(s)"),
        "fixed 10",
    );
    world_share(
        &mut o,
        "  returns",
        ret,
        "reviews that could return did",
        "0",
    );
    o.push_str("  departments:\n");
    for d in &c.departments {
        if d.reviews == 0 && d.staff.is_none() {
            let _ = writeln!(
                o,
                "    # {} ({}): no review in the period: left at the defaults",
                d.id, d.name
            );
            continue;
        }
        let _ = writeln!(o, "    {}:   # {}", d.id, d.name);
        if let Some(s) = d.staff {
            let why = if s.saturated {
                format!(
                    "reviews in progress while tasks waited ({:.1} working days with a queue); peak {}",
                    s.queued_days, s.peak
                )
            } else {
                "no task ever waited: the most reviews at once, a lower bound".to_string()
            };
            let _ = writeln!(o, "      staff: {}   # {why}", s.staff);
        }
        fitted(
            &mut o,
            "      ",
            "review",
            "review, working days",
            d.review.as_ref(),
            (d.reviews, "review(s)"),
            "triangular 40–110 % of the limit",
        );
        for (key, t, what) in [
            ("supplement", d.supplement, "asked"),
            ("rejection", d.rejection, "rejected"),
            ("returns", d.returns, "returned"),
        ] {
            if t.n > 0 {
                let _ = writeln!(o, "      {key}: {}   # {}", share(t), of(t, what));
            }
        }
    }
    let own: Vec<_> = c
        .items
        .iter()
        .filter(|i| i.review.is_some() || i.own.supplement || i.own.rejection || i.own.returns)
        .collect();
    if !own.is_empty() {
        o.push_str("  # Items that differ from their department by more than chance:\n  items:\n");
        for i in own {
            let _ = writeln!(o, "    {}:   # {}", i.id, i.name);
            if let Some(f) = &i.review {
                let _ = writeln!(
                    o,
                    "      # review: {}\n      review: {}",
                    provenance(f),
                    dist(&f.dist)
                );
            }
            for (key, on, t, what) in [
                ("supplement", i.own.supplement, i.supplement, "asked"),
                ("rejection", i.own.rejection, i.rejection, "rejected"),
                ("returns", i.own.returns, i.returns, "returned"),
            ] {
                if on {
                    let _ = writeln!(o, "      {key}: {}   # {}", share(t), of(t, what));
                }
            }
        }
    }
    let _ = writeln!(
        o,
        "variants:\n  - name: {}\n    workflow: {}",
        quoted("as recorded"),
        quoted(workflow)
    );
    o
}

/// The report: what was fitted from what, and what was not.
pub fn report(c: &Calibration) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "calibrated `{}` ({}) from {} to {}: {} working days, {} projects, {} events",
        c.workflow.id, c.plan.name, c.from, c.to, c.working_days, c.projects, c.events
    );
    let _ = writeln!(
        o,
        "arrivals: {} submitted, {:.3} per working day; {} completed, {} withdrawn in the period",
        c.arrivals,
        c.per_working_day(),
        c.completed,
        c.withdrawn
    );
    for k in &c.kinds {
        let _ = writeln!(
            o,
            "  {}: {} ({:.3} per working day), {} item(s) not applying",
            k.name,
            k.count,
            k.count as f64 / f64::from(c.working_days.max(1)),
            k.not_applying.len()
        );
    }
    if c.versions.len() > 1 {
        let _ = writeln!(
            o,
            "versions: {} (the scenario uses {}, the one most projects ran on)",
            c.versions
                .iter()
                .map(|(v, n)| format!("{} ×{n}", &v[..v.len().min(12)]))
                .collect::<Vec<_>>()
                .join(", "),
            &c.workflow.version[..c.workflow.version.len().min(12)]
        );
    }
    for (w, n) in &c.others {
        let _ = writeln!(o, "left out: workflow `{w}`, {n} submitted in the period");
    }
    o.push_str(
        "\ndepartment        reviews  review (working days)                          staff\n",
    );
    for d in &c.departments {
        let review = match &d.review {
            Some(f) => format!("{} KS {:.3}", dist(&f.dist), f.ks),
            None => "default (too few)".into(),
        };
        let staff = match d.staff {
            Some(s) if s.saturated => format!("{}", s.staff),
            Some(s) => format!("≥{} (never saturated)", s.staff),
            None => "default (no review)".into(),
        };
        let _ = writeln!(
            o,
            "{:<17} {:>7}  {:<46} {staff}   {}",
            d.id, d.reviews, review, d.name
        );
    }
    o.push_str("\nitem   reviews  mean (wd)  supplement  rejection  returns  resubmit  own\n");
    for i in c.items.iter().filter(|i| i.department.is_some()) {
        let pct = |t: Trials| {
            t.share()
                .map_or("-".into(), |p| format!("{:.1} %", 100.0 * p))
        };
        let mut own = Vec::new();
        if i.review.is_some() {
            own.push("review");
        }
        if i.own.supplement {
            own.push("supplement");
        }
        if i.own.rejection {
            own.push("rejection");
        }
        if i.own.returns {
            own.push("returns");
        }
        let _ = writeln!(
            o,
            "{:<6} {:>7}  {:>9}  {:>10}  {:>9}  {:>7}  {:>8}  {}   {}",
            i.id,
            i.reviews,
            i.mean_review.map_or("-".into(), |m| format!("{m:.2}")),
            pct(i.supplement),
            pct(i.rejection),
            pct(i.returns),
            pct(i.resubmit),
            if own.is_empty() {
                "-".to_string()
            } else {
                own.join(",")
            },
            i.name
        );
    }
    o.push('\n');
    for (what, f, n) in [
        (
            "supplement answer",
            &c.supplement_response,
            c.supplement_responses,
        ),
        ("resubmission", &c.rejection_response, c.rejection_responses),
        ("milestone report", &c.milestone, c.milestones),
    ] {
        match f {
            Some(f) => {
                let _ = writeln!(o, "{what}: {} — {}", dist(&f.dist), provenance(f));
            }
            None => {
                let _ = writeln!(
                    o,
                    "{what}: left at the default — {n} observation(s), {MIN_OBSERVATIONS} needed"
                );
            }
        }
    }
    match c.rework {
        Some((r, n)) => {
            let _ = writeln!(o, "second look: {r:.3} of a first, from {n}");
        }
        None => {
            let _ = writeln!(o, "second look: left at the default (0.3) — too few");
        }
    }
    let defaults: Vec<String> = c
        .departments
        .iter()
        .filter(|d| d.review.is_none() || d.staff.is_none())
        .map(|d| {
            let mut what = Vec::new();
            if d.review.is_none() {
                what.push(format!("review time ({} observation(s))", d.reviews));
            }
            if d.staff.is_none() {
                what.push("staff".into());
            }
            format!("{} ({}): {}", d.id, d.name, what.join(", "))
        })
        .collect();
    if !defaults.is_empty() {
        let _ = writeln!(
            o,
            "left at the workflow's defaults:\n  {}",
            defaults.join("\n  ")
        );
    }
    o
}
