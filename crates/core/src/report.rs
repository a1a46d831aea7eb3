//! What the analyst's commands print: plan tables, the `--json` contracts, side-by-side
//! comparisons, DAG drawings, and the parallelized workflow.
//!
//! Everything here is a pure function of a [`Plan`] and its [`Schedule`], so golden tests
//! can compare output byte for byte. The JSON shapes are a public contract for analysts'
//! scripts (documented in `docs/plan-json.md`): fields may be added, never renamed.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};

use crate::plan::{Plan, Schedule};
use crate::spec::{ItemKind, RawWorkflow};

fn path_ids(plan: &Plan, path: &[usize]) -> Vec<String> {
    path.iter().map(|&i| plan.items[i].id.clone()).collect()
}

/// The plan as a table for people.
pub fn plan_table(plan: &Plan, s: &Schedule) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}", plan.id, plan.name);
    let _ = write!(out, "limits: {}", s.limits.name());
    if let Some(start) = s.start {
        let _ = write!(
            out,
            "   submitted: {start}   calendar: {}",
            plan.calendar.id()
        );
    }
    out.push_str("\n\n");
    let dated = s.start.is_some();
    let _ = write!(
        out,
        "{:<4} {:<6} {:<12} {:<14} {:>4} {:>5} {:>6} {:>5}",
        "", "id", "stage", "department", "days", "start", "finish", "slack"
    );
    if dated {
        let _ = write!(out, "  {:<11} {:<11}", "start date", "due date");
    }
    out.push_str("  name\n");
    for it in &s.items {
        let item = &plan.items[it.item];
        let mark = if it.critical { "*" } else { "" };
        let days = match item.kind {
            ItemKind::Milestone => "—".to_string(),
            ItemKind::Review => it.duration.to_string(),
        };
        let _ = write!(
            out,
            "{:<4} {:<6} {:<12} {:<14} {:>4} {:>5} {:>6} {:>5}",
            mark,
            item.id,
            item.stage.id(),
            plan.department_of(it.item),
            days,
            it.earliest_start,
            it.earliest_finish,
            it.slack
        );
        if dated {
            let due = it.due_date.map_or(String::new(), |d| d.to_string());
            let due = if it.provisional {
                format!("{due}?")
            } else {
                due
            };
            let start = it.start_date.map_or(String::new(), |d| d.to_string());
            let _ = write!(out, "  {start:<11} {due:<11}");
        }
        let _ = writeln!(out, "  {}", item.name);
    }
    out.push('\n');
    let _ = write!(out, "total: {} working days", s.total);
    if let Some(end) = s.end {
        let _ = write!(
            out,
            ", ends {}{}",
            end.date,
            if end.provisional {
                " (provisional: a year without a published holiday schedule was counted Monday to Friday)"
            } else {
                ""
            }
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "critical path (*): {}",
        path_ids(plan, &s.critical_path).join(" → ")
    );
    let _ = writeln!(out, "width: at most {} items under review at once", s.width);
    out.push_str("stages:");
    for span in &s.stages {
        match (span.start, span.finish) {
            (Some(a), Some(b)) => {
                let _ = write!(out, "  {} {a}–{b}", span.stage.id());
            }
            _ => {
                let _ = write!(out, "  {} —", span.stage.id());
            }
        }
    }
    out.push('\n');
    if !s.dropped.is_empty() {
        let dropped: Vec<String> = s
            .dropped
            .iter()
            .map(|&i| {
                let cond = plan.items[i].when.as_ref().map_or("", |w| w.1.as_str());
                format!("{} (when: {cond})", plan.items[i].id)
            })
            .collect();
        let _ = writeln!(out, "not applicable to this form: {}", dropped.join(", "));
    }
    let waits = plan.unjustified_after();
    if !waits.is_empty() {
        let _ = writeln!(
            out,
            "{} `after` waits no document justifies (`onewindow parallelize` removes them)",
            waits.len()
        );
    }
    out
}

/// The plan as the documented JSON contract.
pub fn plan_json(plan: &Plan, s: &Schedule) -> Value {
    let items: Vec<Value> = s
        .items
        .iter()
        .map(|it| {
            let item = &plan.items[it.item];
            let mut v = json!({
                "id": item.id,
                "name": item.name,
                "kind": item.kind,
                "department": item.department.map(|d| plan.departments[d].id.clone()),
                "stage": item.stage,
                "duration": it.duration,
                "earliest_start": it.earliest_start,
                "earliest_finish": it.earliest_finish,
                "latest_start": it.latest_start,
                "latest_finish": it.latest_finish,
                "slack": it.slack,
                "critical": it.critical,
            });
            if let (Some(start), Some(due)) = (it.start_date, it.due_date) {
                v["start_date"] = json!(start);
                v["due_date"] = json!(due);
                v["provisional"] = json!(it.provisional);
            }
            v
        })
        .collect();
    let mut v = json!({
        "workflow": plan.id,
        "name": plan.name,
        "limits": s.limits,
        "calendar": plan.calendar.id(),
        "total_working_days": s.total,
        "critical_path": path_ids(plan, &s.critical_path),
        "width": s.width,
        "stages": s.stages,
        "dropped": path_ids(plan, &s.dropped),
        "unjustified_after": plan.unjustified_after().iter().map(|&(a, b)| json!({
            "item": plan.items[b].id, "after": plan.items[a].id
        })).collect::<Vec<_>>(),
        "items": items,
    });
    if let (Some(start), Some(end)) = (s.start, s.end) {
        v["start_date"] = json!(start);
        v["end_date"] = json!(end.date);
        v["end_date_provisional"] = json!(end.provisional);
    }
    v
}

fn cut(base: u32, total: u32) -> Option<f64> {
    (base > 0).then(|| (f64::from(base) - f64::from(total)) / f64::from(base) * 100.0)
}

/// Workflows side by side; the first is the baseline the cut is measured against.
pub fn compare_table(rows: &[(Plan, Schedule)]) -> String {
    let mut out = String::new();
    let width = rows
        .iter()
        .map(|(p, _)| p.id.chars().count())
        .max()
        .unwrap_or(0)
        .max(12);
    let line = |out: &mut String, label: &str, cells: Vec<String>| {
        let _ = write!(out, "{label:<20}");
        for c in cells {
            let _ = write!(out, " {c:>width$}");
        }
        out.push('\n');
    };
    line(
        &mut out,
        "",
        rows.iter().map(|(p, _)| p.id.clone()).collect(),
    );
    line(
        &mut out,
        "limits",
        rows.iter()
            .map(|(_, s)| s.limits.name().to_string())
            .collect(),
    );
    line(
        &mut out,
        "items",
        rows.iter()
            .map(|(_, s)| s.items.len().to_string())
            .collect(),
    );
    line(
        &mut out,
        "total working days",
        rows.iter().map(|(_, s)| s.total.to_string()).collect(),
    );
    if rows.iter().any(|(_, s)| s.end.is_some()) {
        line(
            &mut out,
            "start date",
            rows.iter()
                .map(|(_, s)| s.start.map_or(String::new(), |d| d.to_string()))
                .collect(),
        );
        line(
            &mut out,
            "end date",
            rows.iter()
                .map(|(_, s)| {
                    s.end.map_or(String::new(), |e| {
                        format!("{}{}", e.date, if e.provisional { "?" } else { "" })
                    })
                })
                .collect(),
        );
    }
    line(
        &mut out,
        "width",
        rows.iter().map(|(_, s)| s.width.to_string()).collect(),
    );
    line(
        &mut out,
        "critical items",
        rows.iter()
            .map(|(_, s)| s.critical_path.len().to_string())
            .collect(),
    );
    let base = rows.first().map_or(0, |(_, s)| s.total);
    line(
        &mut out,
        "cut vs first",
        rows.iter()
            .enumerate()
            .map(|(i, (_, s))| match (i, cut(base, s.total)) {
                (0, _) | (_, None) => "—".to_string(),
                (_, Some(c)) => format!("{c:.1}%"),
            })
            .collect(),
    );
    out.push_str("\ncritical paths:\n");
    for (p, s) in rows {
        let _ = writeln!(
            out,
            "  {}: {}",
            p.id,
            path_ids(p, &s.critical_path).join(" → ")
        );
    }
    if rows
        .iter()
        .any(|(_, s)| s.end.is_some_and(|e| e.provisional))
    {
        out.push_str("\n? provisional: counted Monday to Friday through a year with no published holiday schedule\n");
    }
    out
}

/// The comparison as JSON: one entry per workflow, the first being the baseline.
pub fn compare_json(rows: &[(Plan, Schedule)]) -> Value {
    let base = rows.first().map_or(0, |(_, s)| s.total);
    Value::Array(
        rows.iter()
            .enumerate()
            .map(|(i, (p, s))| {
                let mut v = json!({
                    "workflow": p.id,
                    "limits": s.limits,
                    "items": s.items.len(),
                    "total_working_days": s.total,
                    "width": s.width,
                    "critical_path": path_ids(p, &s.critical_path),
                    "cut_percent": if i == 0 { None } else { cut(base, s.total) },
                });
                if let (Some(start), Some(end)) = (s.start, s.end) {
                    v["start_date"] = json!(start);
                    v["end_date"] = json!(end.date);
                    v["end_date_provisional"] = json!(end.provisional);
                }
                v
            })
            .collect(),
    )
}

fn edge_label(plan: &Plan, a: usize, b: usize, e: &crate::plan::Edge) -> String {
    let docs = plan.edge_documents(a, b);
    let mut parts: Vec<&str> = docs
        .iter()
        .map(|&d| plan.documents[d].id.as_str())
        .collect();
    if e.after {
        parts.push("after");
    }
    parts.join(", ")
}

fn node_days(plan: &Plan, i: usize) -> String {
    let it = &plan.items[i];
    match it.kind {
        ItemKind::Milestone => "milestone".to_string(),
        ItemKind::Review => format!(
            "{}/{} {}",
            it.limit.statutory,
            it.limit.committed,
            match it.limit.unit {
                crate::spec::Unit::WorkingDays => "wd",
                crate::spec::Unit::CalendarDays => "cd",
            }
        ),
    }
}

/// The stages that have items, each with its items in topological order: the clusters of
/// a drawing.
fn stages_with_items(plan: &Plan) -> Vec<(crate::plan::Stage, Vec<usize>)> {
    crate::plan::Stage::ALL
        .into_iter()
        .map(|stage| {
            let members = plan
                .topo
                .iter()
                .copied()
                .filter(|&i| plan.items[i].stage == stage)
                .collect::<Vec<usize>>();
            (stage, members)
        })
        .filter(|(_, members)| !members.is_empty())
        .collect()
}

/// The critical path the graphs mark: on the workflow's own limits, every item applying
/// (a graph is drawn without a form). Its items, its links (consecutive items joined by an
/// edge), and a caption that says it in words.
struct Critical {
    items: Vec<bool>,
    links: std::collections::HashSet<(usize, usize)>,
    caption: String,
}

impl Critical {
    fn of(plan: &Plan) -> Critical {
        let s = plan.schedule(&crate::plan::Options {
            limits: plan.default_limits,
            form: None,
            start: None,
        });
        let mut items = vec![false; plan.items.len()];
        for &i in &s.critical_path {
            items[i] = true;
        }
        let links = s.critical_path.windows(2).map(|w| (w[0], w[1])).collect();
        let path: Vec<&str> = s
            .critical_path
            .iter()
            .map(|&i| plan.items[i].id.as_str())
            .collect();
        let caption = format!(
            "关键路径（红色）{} 个工作日 critical path (red), {} working days: {}",
            s.total,
            s.total,
            path.join(" → ")
        );
        Critical {
            items,
            links,
            caption,
        }
    }
}

/// How the graphs draw what is critical.
const CRITICAL_COLOUR: &str = "#c0392b";

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The DAG in Graphviz dot, one cluster per stage; `after` waits are dashed; the critical
/// path in red, named in the caption.
pub fn graph_dot(plan: &Plan) -> String {
    use petgraph::visit::EdgeRef;
    let critical = Critical::of(plan);
    let red = format!(", color=\"{CRITICAL_COLOUR}\", penwidth=2.5");
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box, style=rounded];\n",
        escape(&plan.id)
    );
    for (stage, members) in stages_with_items(plan) {
        let _ = writeln!(
            out,
            "  subgraph \"cluster_{}\" {{\n    label=\"{}\";",
            stage.id(),
            escape(&plan.stage_names[stage.index()])
        );
        for i in members {
            let it = &plan.items[i];
            let _ = writeln!(
                out,
                "    \"{}\" [label=\"{}\\n{}\\n{} · {}\"{}{}];",
                escape(&it.id),
                escape(&it.id),
                escape(&it.name),
                escape(plan.department_of(i)),
                node_days(plan, i),
                if it.kind == ItemKind::Milestone {
                    ", shape=ellipse"
                } else {
                    ""
                },
                if critical.items[i] { red.as_str() } else { "" }
            );
        }
        out.push_str("  }\n");
    }
    for e in plan.graph.edge_references() {
        let (a, b) = (e.source().index(), e.target().index());
        let style = if e.weight().documents == 0 {
            ", style=dashed"
        } else {
            ""
        };
        let colour = if critical.links.contains(&(a, b)) {
            red.as_str()
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  \"{}\" -> \"{}\" [label=\"{}\"{style}{colour}];",
            escape(&plan.items[a].id),
            escape(&plan.items[b].id),
            escape(&edge_label(plan, a, b, e.weight()))
        );
    }
    // After the clusters, so that they do not inherit it.
    let _ = writeln!(
        out,
        "  label=\"{}\";\n  labelloc=t;",
        escape(&critical.caption)
    );
    out.push_str("}\n");
    out
}

/// The DAG as a Mermaid flowchart, for Markdown documentation; the critical path in red,
/// named in the title.
pub fn graph_mermaid(plan: &Plan) -> String {
    use petgraph::visit::EdgeRef;
    let clean = |s: &str| s.replace('"', "'");
    let critical = Critical::of(plan);
    let mut out = format!(
        "---\ntitle: \"{}\"\n---\nflowchart LR\n",
        clean(&critical.caption)
    );
    for (stage, members) in stages_with_items(plan) {
        let _ = writeln!(
            out,
            "  subgraph {}[\"{}\"]",
            stage.id(),
            clean(&plan.stage_names[stage.index()])
        );
        for i in members {
            let it = &plan.items[i];
            let (open, close) = if it.kind == ItemKind::Milestone {
                ("([", "])")
            } else {
                ("[", "]")
            };
            let _ = writeln!(
                out,
                "    {}{open}\"{}<br/>{}<br/>{} · {}\"{close}",
                it.id,
                it.id,
                clean(&it.name),
                plan.department_of(i),
                node_days(plan, i)
            );
        }
        out.push_str("  end\n");
    }
    let mut red_links = Vec::new();
    for (k, e) in plan.graph.edge_references().enumerate() {
        let (a, b) = (e.source().index(), e.target().index());
        let arrow = if e.weight().documents == 0 {
            "-.->"
        } else {
            "-->"
        };
        let label = edge_label(plan, a, b, e.weight());
        let _ = writeln!(
            out,
            "  {} {arrow}|{label}| {}",
            plan.items[a].id, plan.items[b].id
        );
        if critical.links.contains(&(a, b)) {
            red_links.push(k.to_string());
        }
    }
    let red_items: Vec<&str> = (0..plan.items.len())
        .filter(|&i| critical.items[i])
        .map(|i| plan.items[i].id.as_str())
        .collect();
    if !red_items.is_empty() {
        let _ = writeln!(
            out,
            "  classDef critical stroke:{CRITICAL_COLOUR},stroke-width:3px\n  class {} critical",
            red_items.join(",")
        );
    }
    if !red_links.is_empty() {
        let _ = writeln!(
            out,
            "  linkStyle {} stroke:{CRITICAL_COLOUR},stroke-width:3px",
            red_links.join(",")
        );
    }
    out
}

/// The workflow with every `after` wait that no document justifies removed, flattened
/// (no `extends`), with its calendar path rewritten relative to `out_dir`. Returns the
/// new workflow and the removed `(waited for, waiting)` id pairs.
pub fn parallelize(plan: &Plan, out_dir: &Path) -> (RawWorkflow, Vec<(String, String)>) {
    let waits = plan.unjustified_after();
    let mut raw = RawWorkflow::clone(&plan.raw);
    let mut removed = Vec::new();
    for &(a, b) in &waits {
        let (a_id, b_id) = (plan.items[a].id.clone(), plan.items[b].id.clone());
        if let Some(item) = raw
            .items
            .iter_mut()
            .find(|it| it.id.as_deref() == Some(b_id.as_str()))
        {
            if let Some(after) = &mut item.after {
                after.retain(|x| *x != a_id);
                if after.is_empty() {
                    item.after = None;
                }
            }
        }
        removed.push((a_id, b_id));
    }
    raw.workflow = Some(format!("{}-parallelized", plan.id));
    raw.name = Some(format!("{} (parallelized)", plan.name));
    if let Some(dir) = &plan.calendar_dir {
        raw.calendar = Some(relative_to(dir, out_dir).to_string_lossy().into_owned());
    }
    if let Some(dir) = &plan.blueprint_dir {
        raw.blueprint = Some(relative_to(dir, out_dir).to_string_lossy().into_owned());
    }
    (raw, removed)
}

/// `target` as a path relative to `base` when both resolve, else `target` made absolute.
fn relative_to(target: &Path, base: &Path) -> PathBuf {
    let (Ok(t), Ok(b)) = (target.canonicalize(), base.canonicalize()) else {
        return std::path::absolute(target).unwrap_or_else(|_| target.to_path_buf());
    };
    let tc: Vec<Component<'_>> = t.components().collect();
    let bc: Vec<Component<'_>> = b.components().collect();
    let common = tc.iter().zip(&bc).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..bc.len() {
        out.push("..");
    }
    for c in &tc[common..] {
        out.push(c.as_os_str());
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}
