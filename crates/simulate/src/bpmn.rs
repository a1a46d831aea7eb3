//! A variant as a BPMN model with the simulation parameters of Prosimos (a general-purpose
//! business-process simulator), so that the same model can be run, and timed, outside
//! onewindow.
//!
//! The translation follows the engine's rules, not the plan's drawing:
//! - **Project types** are an exclusive choice at the start, weighted as in the scenario;
//!   each type gets its own copy of the process with only the items its form makes
//!   applicable (conditions are decided at submission, so they become branches once).
//! - **Stages** are barriers: a parallel join of a stage's last items, then a parallel
//!   split to the next stage's first ones. Stages with no applicable item disappear.
//! - **Inside a stage** an item waits for the producers of the documents it requires
//!   (unless a submitted material supplies the document, or its producer does not
//!   apply) and for the items it lists in `after` (through an inapplicable one to what
//!   *that* waited for) — the engine's readiness rule for a project that handed in every
//!   material, as the simulator's projects do. Several waits are a parallel join, several
//!   successors a parallel split.
//! - **A review** is a task of its department's resource pool (the pool's size is the
//!   department's staff), followed by the decisions the simulator draws at the end of a
//!   review, unrolled because each happens at most once per task: a supplement request
//!   (the applicant answers, then the department looks again for `rework` × a review
//!   time), a rejection (the applicant resubmits and the department reviews again, or the
//!   project is withdrawn: a terminate end event), or approval. Branches of probability
//!   zero are left out.
//! - **Milestones** and the applicant's answers are tasks of an `applicant` pool, as
//!   large as the `unlimited` pools.
//! - **Time** is working time: every pool and the arrivals work Monday to Friday,
//!   09:00–17:00, so a working day is 8 hours (28,800 s), as the simulator's 480 working
//!   minutes. Public holidays and make-up working days cannot be said in a Prosimos
//!   calendar (a weekly timetable); the model's weeks are plain Monday–Friday weeks.
//! - **Distributions** are carried over exactly where Prosimos has the shape (fixed,
//!   uniform, lognormal, exponential). Prosimos has no triangular distribution: a
//!   triangular review time becomes a normal distribution with the same mean and
//!   standard deviation, cut to the triangle's range — each such substitution is listed
//!   in [`Model::notes`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use super::des::Settings;
use super::dist::{Dist, Of, Shape};
use super::scenario::{Arrivals, Variant};
use onewindow_core::form::Form;
use onewindow_core::plan::{Plan, Stage};
use onewindow_core::spec::ItemKind;

/// Seconds in a working day (09:00–17:00).
pub const DAY_SECONDS: f64 = 28_800.0;

/// The size of a pool without a limit when projects do not arrive as a stream (all at
/// once): Prosimos keeps every member of a pool, and its time grows with their number.
pub const UNLIMITED: u32 = 10_000;

/// The pool of the applicant (and the window reporting milestones).
pub const APPLICANT: &str = "applicant";

/// What a node of the process is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Where a project arrives.
    Start,
    /// Where a project completes.
    End,
    /// Where a withdrawn project's branch stops: a task of no time with no way on, so
    /// the project never completes. Its other branches run on — unlike the engine,
    /// which closes them — because Prosimos takes one end event only and its terminate
    /// end event fails while other tasks of the case are in flight.
    Withdrawn,
    /// Work of one pool for a sampled time.
    Task {
        /// The pool: a department id or [`APPLICANT`].
        pool: String,
        /// How long, in working days.
        duration: Duration,
    },
    /// Parallel split or join.
    Parallel,
    /// Exclusive choice (the probabilities are on its outgoing flows) or merge.
    Exclusive,
}

/// A task's duration: a distribution in working days, times a factor (the item's limit
/// for `of: limit`, a department's slowdown, the rework share).
#[derive(Debug, Clone, PartialEq)]
pub struct Duration {
    /// The distribution as the scenario gives it.
    pub dist: Dist,
    /// What its samples are multiplied by.
    pub scale: f64,
}

impl Duration {
    /// The mean in working days.
    pub fn mean_days(&self) -> f64 {
        self.dist.mean() * self.scale
    }
}

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Its BPMN id (`n…`).
    pub id: String,
    /// What people read.
    pub name: String,
    /// What it is.
    pub kind: Kind,
}

/// One sequence flow; `probability` is set on the flows out of an exclusive choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Its BPMN id (`f…`).
    pub id: String,
    /// Source node index.
    pub from: usize,
    /// Target node index.
    pub to: usize,
    /// The chance of taking it, out of an exclusive choice.
    pub probability: Option<f64>,
}

/// One variant as a process model.
#[derive(Debug, Clone)]
pub struct Model {
    /// The variant's name.
    pub name: String,
    /// Nodes; the first is the start event.
    pub nodes: Vec<Node>,
    /// Flows.
    pub flows: Vec<Flow>,
    /// Pools and their sizes.
    pub pools: BTreeMap<String, u32>,
    /// Mean working days between arrivals (0: all at once).
    pub interarrival_days: f64,
    /// Projects one replication sees.
    pub cases: u64,
    /// Where the translation is not exact.
    pub notes: Vec<String>,
}

/// Builds the model of one variant.
pub fn model(variant: &Variant, arrivals: &Arrivals) -> Model {
    let set = Settings::of(variant);
    let mut b = Builder {
        plan: &variant.plan,
        set: &set,
        nodes: Vec::new(),
        flows: Vec::new(),
        notes: Vec::new(),
    };
    let start = b.node(Kind::Start, "project arrives");
    let end = b.node(Kind::End, "project completed");
    let total: f64 = variant.types.iter().map(|t| t.weight).sum();
    let fragments: Vec<(usize, usize, f64)> = variant
        .types
        .iter()
        .map(|t| {
            let form = Form {
                values: t.form.clone(),
            };
            let (entry, exit) = b.project_type(&t.name, &form);
            (entry, exit, t.weight / total)
        })
        .collect();
    if let [(entry, exit, _)] = fragments[..] {
        b.flow(start, entry, None);
        b.flow(exit, end, None);
    } else {
        let choice = b.node(Kind::Exclusive, "project type");
        let merge = b.node(Kind::Exclusive, "projects merge");
        b.flow(start, choice, None);
        for (entry, exit, p) in fragments {
            b.flow(choice, entry, Some(p));
            b.flow(exit, merge, None);
        }
        b.flow(merge, end, None);
    }
    let (interarrival_days, cases) = match (arrivals.count, arrivals.per_working_day) {
        (Some(n), Some(r)) => (1.0 / r, n),
        (Some(n), None) => (0.0, n),
        (None, Some(r)) => (
            1.0 / r,
            (r * arrivals.working_days.unwrap_or(0.0)).round() as u64,
        ),
        (None, None) => (0.0, 0),
    };
    let mut notes = b.notes;
    notes.sort();
    notes.dedup();
    let mut m = Model {
        name: variant.name.clone(),
        nodes: b.nodes,
        flows: b.flows,
        pools: BTreeMap::new(),
        interarrival_days,
        cases,
        notes,
    };
    // A pool without a limit must never make work wait, and should not be much larger
    // than that: twice the number busy at once on average (Little's law: arrivals per
    // working day × busy working days per project) plus 20.
    let busy = m.busy_days();
    let unlimited = |pool: &str| {
        if interarrival_days > 0.0 {
            let at_once = busy.get(pool).copied().unwrap_or(0.0) / interarrival_days;
            (2.0 * at_once).ceil() as u32 + 20
        } else {
            UNLIMITED
        }
    };
    m.pools = variant
        .plan
        .departments
        .iter()
        .zip(&set.departments)
        .map(|(d, s)| (d.id.clone(), s.staff.unwrap_or_else(|| unlimited(&d.id))))
        .collect();
    m.pools.insert(APPLICANT.to_string(), unlimited(APPLICANT));
    m
}

struct Builder<'a> {
    plan: &'a Plan,
    set: &'a Settings,
    nodes: Vec<Node>,
    flows: Vec<Flow>,
    notes: Vec<String>,
}

impl Builder<'_> {
    fn node(&mut self, kind: Kind, name: &str) -> usize {
        let n = self.nodes.len();
        self.nodes.push(Node {
            id: format!("n{n}"),
            name: name.to_string(),
            kind,
        });
        n
    }

    fn flow(&mut self, from: usize, to: usize, probability: Option<f64>) {
        let id = format!("f{}", self.flows.len());
        self.flows.push(Flow {
            id,
            from,
            to,
            probability,
        });
    }

    /// The process of one project type: its stages one after another.
    fn project_type(&mut self, name: &str, form: &Form) -> (usize, usize) {
        let plan = self.plan;
        let applies: Vec<bool> = plan
            .items
            .iter()
            .map(|it| it.when.as_ref().is_none_or(|w| w.0.eval(form)))
            .collect();
        let waits = waits(plan, &applies);
        let entry = self.node(Kind::Parallel, &format!("{name}: submitted"));
        let mut last = entry;
        for stage in Stage::ALL {
            let items: Vec<usize> = plan
                .topo
                .iter()
                .copied()
                .filter(|&i| applies[i] && plan.items[i].stage == stage)
                .collect();
            if items.is_empty() {
                continue;
            }
            let split = self.node(Kind::Parallel, &format!("{name}: {} opens", stage.id()));
            let join = self.node(Kind::Parallel, &format!("{name}: {} done", stage.id()));
            self.flow(last, split, None);
            // Each item's fragment, then the flows between them.
            let frag: BTreeMap<usize, (usize, usize)> =
                items.iter().map(|&i| (i, self.item(name, i))).collect();
            let mut into: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            let mut out_of: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for &i in &items {
                for &p in waits[i].iter().filter(|&&p| plan.items[p].stage == stage) {
                    into.entry(i).or_default().push(p);
                    out_of.entry(p).or_default().push(i);
                }
            }
            // Where a flow into item `i` lands: its fragment, or a join before it.
            let mut landing = BTreeMap::new();
            for &i in &items {
                let preds = into.get(&i).map_or(0, Vec::len);
                let target = if preds > 1 {
                    let j = self.node(
                        Kind::Parallel,
                        &format!("{name}: {} waits", plan.items[i].id),
                    );
                    self.flow(j, frag[&i].0, None);
                    j
                } else {
                    frag[&i].0
                };
                landing.insert(i, target);
            }
            let sources: Vec<usize> = items
                .iter()
                .copied()
                .filter(|i| !into.contains_key(i))
                .collect();
            for &i in &sources {
                self.flow(split, landing[&i], None);
            }
            for &i in &items {
                let targets: Vec<usize> = match out_of.get(&i) {
                    Some(succ) => succ.iter().map(|s| landing[s]).collect(),
                    None => vec![join],
                };
                let from = if targets.len() > 1 {
                    let s = self.node(
                        Kind::Parallel,
                        &format!("{name}: {} issued", plan.items[i].id),
                    );
                    self.flow(frag[&i].1, s, None);
                    s
                } else {
                    frag[&i].1
                };
                for t in targets {
                    self.flow(from, t, None);
                }
            }
            last = join;
        }
        (entry, last)
    }

    /// One item: a milestone the applicant reports, or a review with its decisions.
    fn item(&mut self, type_name: &str, i: usize) -> (usize, usize) {
        let it = &self.plan.items[i];
        let label = format!("{type_name}: {}", it.id);
        let Some(d) = it.department.filter(|_| it.kind == ItemKind::Review) else {
            let duration = self.duration(&self.set.milestone.clone(), 0.0, 1.0);
            let t = self.node(
                Kind::Task {
                    pool: APPLICANT.into(),
                    duration,
                },
                &format!("{label} reported"),
            );
            return (t, t);
        };
        let approved = self.node(Kind::Exclusive, &format!("{label} approved"));
        let first = self.review(&label, i, d, 1.0, "review");
        self.decide(&label, i, d, first, false, false, approved);
        (first, approved)
    }

    fn review(&mut self, label: &str, i: usize, d: usize, share: f64, what: &str) -> usize {
        let s = self.set.items[i].clone();
        let scale = self.set.departments[d].slowdown * share;
        let duration = self.duration(&s.review, s.limit, scale);
        let pool = self.plan.departments[d].id.clone();
        self.node(Kind::Task { pool, duration }, &format!("{label} {what}"))
    }

    fn applicant(&mut self, label: &str, dist: &Dist, what: &str) -> usize {
        let duration = self.duration(dist, 0.0, 1.0);
        self.node(
            Kind::Task {
                pool: APPLICANT.into(),
                duration,
            },
            &format!("{label} {what}"),
        )
    }

    /// What follows the end of a review (`after`): the simulator's draws, each at most
    /// once per task.
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        label: &str,
        i: usize,
        d: usize,
        after: usize,
        supplemented: bool,
        rejected: bool,
        approved: usize,
    ) {
        let item = self.set.items[i].clone();
        let ask = if supplemented { 0.0 } else { item.supplement };
        let reject = if rejected {
            0.0
        } else {
            (1.0 - ask) * item.rejection
        };
        if ask == 0.0 && reject == 0.0 {
            self.flow(after, approved, None);
            return;
        }
        let g = self.node(Kind::Exclusive, &format!("{label} decided"));
        self.flow(after, g, None);
        self.flow(g, approved, Some(1.0 - ask - reject));
        if ask > 0.0 {
            let response = self.set.supplement_response.clone();
            let answer = self.applicant(label, &response, "supplement answered");
            let rework = self.set.rework;
            let again = self.review(label, i, d, rework, "looked at again");
            self.flow(g, answer, Some(ask));
            self.flow(answer, again, None);
            self.decide(label, i, d, again, true, rejected, approved);
        }
        if reject > 0.0 {
            let resubmit = item.resubmit;
            let response = self.set.rejection_response.clone();
            let back = self.applicant(label, &response, "resubmitted");
            let again = self.review(label, i, d, 1.0, "reviewed again");
            if resubmit < 1.0 {
                let choice = self.node(Kind::Exclusive, &format!("{label} rejected"));
                self.flow(g, choice, Some(reject));
                self.flow(choice, back, Some(resubmit));
                let gone = self.node(Kind::Withdrawn, &format!("{label} withdrawn"));
                self.flow(choice, gone, Some(1.0 - resubmit));
                self.notes.push(
                    "withdrawal: a withdrawn project's other branches run on in Prosimos \
                     (one end event only, and its terminate event fails with tasks in \
                     flight); the engine closes them"
                        .into(),
                );
            } else {
                self.flow(g, back, Some(reject));
            }
            self.flow(back, again, None);
            self.decide(label, i, d, again, supplemented, true, approved);
        }
    }

    fn duration(&mut self, dist: &Dist, limit: f64, scale: f64) -> Duration {
        let scale = match dist.of {
            Of::Days => scale,
            Of::Limit => scale * limit,
        };
        if let Shape::Triangular(t) = dist.shape {
            self.notes.push(format!(
                "triangular {t:?}: Prosimos has no triangular distribution; a normal \
                 distribution with the same mean and standard deviation, cut to the \
                 triangle's range, stands in"
            ));
        }
        Duration {
            dist: dist.clone(),
            scale,
        }
    }
}

/// What each applicable item waits for before it is ready, by the engine's rule for a
/// project that handed in every material: the producer of each document it requires
/// (unless a material supplies the document or the producer does not apply), and each
/// item in its `after` — through an inapplicable one to what that one waited for.
pub fn waits(plan: &Plan, applies: &[bool]) -> Vec<Vec<usize>> {
    fn after(plan: &Plan, applies: &[bool], j: usize, depth: usize, out: &mut Vec<usize>) {
        if applies[j] {
            out.push(j);
        } else if depth < plan.items.len() {
            for &k in &plan.items[j].after {
                after(plan, applies, k, depth + 1, out);
            }
        }
    }
    let supplied: Vec<bool> = (0..plan.documents.len())
        .map(|d| plan.supplier[d].is_some())
        .collect();
    plan.items
        .iter()
        .enumerate()
        .map(|(i, it)| {
            let mut w = Vec::new();
            if !applies[i] {
                return w;
            }
            for &d in &it.requires.documents {
                if let Some(p) = plan.producer[d] {
                    if applies[p] && !supplied[d] {
                        w.push(p);
                    }
                }
            }
            for &j in &it.after {
                after(plan, applies, j, 0, &mut w);
            }
            w.sort_unstable();
            w.dedup();
            w
        })
        .collect()
}

impl Model {
    /// The node indexes in an order where every flow goes forward (the model is acyclic:
    /// the decisions are unrolled).
    pub fn topological(&self) -> Vec<usize> {
        let mut indegree = vec![0usize; self.nodes.len()];
        for f in &self.flows {
            indegree[f.to] += 1;
        }
        let mut order: Vec<usize> = (0..self.nodes.len())
            .filter(|&n| indegree[n] == 0)
            .collect();
        let mut k = 0;
        while k < order.len() {
            let n = order[k];
            for f in self.flows.iter().filter(|f| f.from == n) {
                indegree[f.to] -= 1;
                if indegree[f.to] == 0 {
                    order.push(f.to);
                }
            }
            k += 1;
        }
        order
    }

    /// The chance that a project reaches each node: an exclusive choice divides it by
    /// its flows' probabilities, an exclusive merge adds up what comes in, a parallel
    /// split passes it to every branch and a parallel join takes the most likely of its
    /// branches (they are branches of the same project).
    pub fn reach(&self) -> Vec<f64> {
        let mut p = vec![0.0; self.nodes.len()];
        for n in self.topological() {
            let incoming = self
                .flows
                .iter()
                .filter(|f| f.to == n)
                .map(|f| p[f.from] * f.probability.unwrap_or(1.0));
            p[n] = match self.nodes[n].kind {
                Kind::Start => 1.0,
                Kind::Parallel => incoming.fold(0.0, f64::max),
                _ => incoming.sum(),
            };
        }
        p
    }

    /// Mean working days of work per project, by pool.
    pub fn busy_days(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (n, p) in self.nodes.iter().zip(self.reach()) {
            if let Kind::Task { pool, duration } = &n.kind {
                *out.entry(pool.clone()).or_insert(0.0) += p * duration.mean_days();
            }
        }
        out
    }

    /// The BPMN 2.0 XML of the process.
    pub fn bpmn(&self) -> String {
        let mut x = String::new();
        let _ = writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        let _ = writeln!(
            x,
            r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="onewindow" targetNamespace="https://onewindow.example/simulate">"#
        );
        let _ = writeln!(
            x,
            r#"  <process id="p" name="{}" isExecutable="true">"#,
            escape(&self.name)
        );
        for n in &self.nodes {
            let (tag, body) = match n.kind {
                Kind::Start => ("startEvent", ""),
                Kind::End => ("endEvent", ""),
                Kind::Withdrawn => ("task", ""),
                Kind::Task { .. } => ("task", ""),
                Kind::Parallel => ("parallelGateway", ""),
                Kind::Exclusive => ("exclusiveGateway", ""),
            };
            let _ = writeln!(
                x,
                r#"    <{tag} id="{}" name="{}">{body}</{tag}>"#,
                n.id,
                escape(&n.name)
            );
        }
        for f in &self.flows {
            let _ = writeln!(
                x,
                r#"    <sequenceFlow id="{}" sourceRef="{}" targetRef="{}"/>"#,
                f.id, self.nodes[f.from].id, self.nodes[f.to].id
            );
        }
        x.push_str("  </process>\n</definitions>\n");
        x
    }

    /// Prosimos' simulation parameters (its JSON format; times in seconds).
    pub fn prosimos(&self) -> Value {
        let week = json!([{"from": "MONDAY", "to": "FRIDAY", "beginTime": "09:00:00", "endTime": "17:00:00"}]);
        let mut assigned: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut tasks = Vec::new();
        for n in &self.nodes {
            let (pool, mut d) = match &n.kind {
                Kind::Task { pool, duration } => (pool.as_str(), prosimos_distribution(duration)),
                Kind::Withdrawn => (
                    APPLICANT,
                    json!({"distribution_name": "fix", "distribution_params": [{"value": 0}]}),
                ),
                _ => continue,
            };
            assigned.entry(pool).or_default().push(&n.id);
            d["resource_id"] = json!(pool);
            tasks.push(json!({"task_id": n.id, "resources": [d]}));
        }
        let profiles: Vec<Value> = self
            .pools
            .iter()
            .filter_map(|(pool, &amount)| {
                let tasks = assigned.get(pool.as_str())?;
                Some(
                    json!({"id": format!("pool-{pool}"), "name": pool, "resource_list": [{
                    "id": pool, "name": pool, "cost_per_hour": 1, "amount": amount,
                    "calendar": "working-week", "assignedTasks": tasks}]}),
                )
            })
            .collect();
        let gateways: Vec<Value> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.kind == Kind::Exclusive)
            .filter_map(|(k, n)| {
                let out: Vec<Value> = self
                    .flows
                    .iter()
                    .filter(|f| f.from == k)
                    .map(|f| json!({"path_id": f.id, "value": f.probability.unwrap_or(1.0)}))
                    .collect();
                (out.len() > 1).then(|| json!({"gateway_id": n.id, "probabilities": out}))
            })
            .collect();
        let arrival = if self.interarrival_days > 0.0 {
            json!({"distribution_name": "expon", "distribution_params": [
                {"value": self.interarrival_days * DAY_SECONDS}, {"value": 0}, {"value": 1e12}]})
        } else {
            json!({"distribution_name": "fix", "distribution_params": [{"value": 0}]})
        };
        json!({
            "resource_profiles": profiles,
            "arrival_time_distribution": arrival,
            "arrival_time_calendar": week,
            "gateway_branching_probabilities": gateways,
            "task_resource_distribution": tasks,
            "resource_calendars": [{"id": "working-week", "name": "working-week", "time_periods": week}],
        })
    }
}

/// A duration in Prosimos' terms: seconds of working time.
fn prosimos_distribution(d: &Duration) -> Value {
    let s = d.scale * DAY_SECONDS;
    let v = |x: f64| json!({"value": x});
    let (name, params) = match d.dist.shape {
        Shape::Fixed(x) => ("fix", vec![v(x * s)]),
        Shape::Uniform([a, b]) => ("uniform", vec![v(a * s), v(b * s)]),
        Shape::Lognormal { mean, sd } => (
            "lognorm",
            vec![v(mean * s), v((sd * s).powi(2)), v(0.0), v(1e12)],
        ),
        Shape::Exponential { mean } => ("expon", vec![v(mean * s), v(0.0), v(1e12)]),
        Shape::Triangular([a, m, b]) => {
            let mean = (a + m + b) / 3.0;
            let var = (a * a + m * m + b * b - a * m - a * b - m * b) / 18.0;
            (
                "norm",
                vec![v(mean * s), v(var.sqrt() * s), v(a * s), v(b * s)],
            )
        }
    };
    json!({"distribution_name": name, "distribution_params": params})
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes every variant of a scenario into `dir` as `VARIANT.bpmn` and `VARIANT.json`
/// (the variant's name with anything but letters, digits, `-` and `_` as `-`); returns
/// the models and the files written.
///
/// # Errors
/// The directory or a file cannot be written.
pub fn write_all(
    s: &super::Scenario,
    dir: &std::path::Path,
) -> Result<(Vec<Model>, Vec<std::path::PathBuf>), super::Error> {
    let write_error = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| super::Error::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    let mut models = Vec::new();
    let mut files = Vec::new();
    for v in &s.variants {
        let m = model(v, &s.raw.arrivals);
        let slug: String = m
            .name
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        // A JSON value always serializes.
        let json = serde_json::to_string_pretty(&m.prosimos()).unwrap_or_default();
        for (ext, text) in [("bpmn", m.bpmn()), ("json", json)] {
            let path = dir.join(format!("{slug}.{ext}"));
            std::fs::write(&path, text).map_err(write_error(&path))?;
            files.push(path);
        }
        models.push(m);
    }
    Ok((models, files))
}
