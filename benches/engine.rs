//! Engine throughput: 10,000 projects of the shipped parallel construction workflow
//! driven to completion in process, with no IO, counted in task transitions (a task
//! opened, made ready, claimed, approved…).
//!
//! The driver works as the server will: it follows the engine's effects — a `Dispatch`
//! puts a ready task in its department's queue, a milestone notice asks the window to
//! report — and each department claims, then approves. One thread, so the figure is per
//! core. Run with `cargo bench --bench engine`; figures in BENCHMARKS.md.

use std::collections::{BTreeMap, VecDeque};
use std::hint::black_box;
use std::path::Path;

use chrono::NaiveDateTime;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use onewindow::engine::{Actor, Command, Effect, Engine, MaterialRef, Policy};
use onewindow::form::Form;
use onewindow::plan::Plan;

/// The same allocator as the `onewindow` binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PROJECTS: usize = 10_000;

fn setup() -> (
    Plan,
    BTreeMap<String, onewindow::form::Value>,
    Vec<MaterialRef>,
) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (plan, _) =
        onewindow::plan::compile_file(&root.join("workflows/construction-parallel.yaml")).unwrap();
    let text =
        std::fs::read_to_string(root.join("workflows/forms/industrial-project.yaml")).unwrap();
    let form = Form::parse(&text, &plan.fields).unwrap().values;
    let materials = plan
        .materials
        .iter()
        .map(|m| MaterialRef::named(&m.id))
        .collect();
    (plan, form, materials)
}

/// Drives `n` projects to completion; returns the number of task transitions.
fn drive(
    plan: &Plan,
    form: &BTreeMap<String, onewindow::form::Value>,
    materials: &[MaterialRef],
    n: usize,
) -> u64 {
    let mut engine = Engine::new(Policy::default());
    engine.keep_log = false;
    let version = engine.deploy(plan.clone());
    let now: NaiveDateTime = "2025-03-03T09:00:00".parse().unwrap();
    let mut transitions = 0u64;
    let mut work: VecDeque<(Actor, String)> = VecDeque::new();
    for p in 0..n {
        let id = format!("P{p}");
        let submit = Command::Submit {
            version: version.clone(),
            submission: onewindow::engine::Submission {
                applicant: "bench".into(),
                agent: None,
                form: form.clone(),
                materials: materials.to_vec(),
                site: None,
            },
        };
        let out = engine.execute(&id, &Actor::Window, submit, now).unwrap();
        transitions += out
            .events
            .iter()
            .filter(|e| e.event.is_task_transition())
            .count() as u64;
        queue(&mut work, out.effects);
        while let Some((actor, item)) = work.pop_front() {
            let commands = match actor {
                Actor::Window => vec![Command::ReportMilestone {
                    item,
                    numbers: BTreeMap::new(),
                }],
                _ => vec![
                    Command::Claim { item: item.clone() },
                    Command::Approve {
                        item,
                        numbers: BTreeMap::new(),
                    },
                ],
            };
            for c in commands {
                let out = engine.execute(&id, &actor, c, now).unwrap();
                transitions += out
                    .events
                    .iter()
                    .filter(|e| e.event.is_task_transition())
                    .count() as u64;
                queue(&mut work, out.effects);
            }
        }
    }
    assert_eq!(
        engine
            .projects()
            .filter(|v| v.project.status() == onewindow::engine::Status::Completed)
            .count(),
        n
    );
    transitions
}

fn queue(work: &mut VecDeque<(Actor, String)>, effects: Vec<Effect>) {
    for e in effects {
        match e {
            Effect::Dispatch {
                department, item, ..
            } => work.push_back((Actor::Department(department), item)),
            Effect::NotifyWindow { message, .. } => {
                if let Some(item) = message
                    .strip_prefix("milestone ")
                    .and_then(|m| m.strip_suffix(" to report"))
                {
                    work.push_back((Actor::Window, item.to_string()));
                }
            }
            Effect::NotifyDepartment { .. } => {}
        }
    }
}

fn bench(c: &mut Criterion) {
    let (plan, form, materials) = setup();
    let transitions = drive(&plan, &form, &materials, PROJECTS);
    eprintln!("{PROJECTS} projects to completion: {transitions} task transitions");
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(transitions));
    g.sample_size(10);
    g.bench_function("parallel_construction_10k_projects", |b| {
        b.iter(|| drive(black_box(&plan), &form, &materials, PROJECTS))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
