//! Durable throughput of the store: client threads drive projects of the parallel
//! construction workflow through the service on a fresh sled directory, every command
//! acknowledged only once its events are flushed. Counted in task transitions, for 1, 16
//! and 64 clients, with group commit and with one flush per command.
//!
//! `store_chain` measures what the audit chain adds to each event the service writes:
//! sealing a project's log (its canonical encoding and SHA-256), on a sealed log kept in
//! `tests/data/audit/`.
//!
//! Run with `cargo bench --bench store`; figures in BENCHMARKS.md. `onewindow store drive`
//! runs the same load from the command line (and reports p50/p99 latency).

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDateTime;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use onewindow::engine::Policy;
use onewindow::form::Form;
use onewindow::loadgen::{self as load, Load};
use onewindow::store::disk::{Flush, SledStore};
use onewindow::store::service::Service;

/// The same allocator as the `onewindow` binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Projects per iteration, spread over the clients.
const PROJECTS: usize = 128;

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (plan, _) =
        onewindow::plan::compile_file(&root.join("workflows/construction-parallel.yaml")).unwrap();
    let text =
        std::fs::read_to_string(root.join("workflows/forms/industrial-project.yaml")).unwrap();
    let form = Form::parse(&text, &plan.fields).unwrap().values;
    let now: NaiveDateTime = "2025-03-03T09:00:00".parse().unwrap();
    // A fresh data directory per iteration, opened outside the timed part.
    let setup = |flush: Flush| {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SledStore::open(dir.path(), flush).unwrap());
        let (svc, _) = Service::open(store, Policy::default()).unwrap();
        svc.deploy(plan.clone()).unwrap();
        (dir, svc)
    };
    let run = |svc: &Service<SledStore>, clients: usize| {
        let load = Load {
            clients,
            projects: PROJECTS / clients,
            prefix: "b".into(),
            supplement_percent: 10,
            print_acks: false,
            submit_only: false,
        };
        load::run(svc, &plan, &form, &load, now).unwrap()
    };
    let mut g = c.benchmark_group("store_durable");
    g.sample_size(10);
    for flush in [Flush::Group, Flush::EachCommand] {
        for clients in [1, 16, 64] {
            let transitions = run(&setup(flush).1, clients).transitions;
            g.throughput(Throughput::Elements(transitions));
            g.bench_with_input(
                BenchmarkId::new(format!("{flush:?}"), clients),
                &clients,
                |b, &clients| {
                    b.iter_batched(
                        || setup(flush),
                        |(_dir, svc)| black_box(run(&svc, clients)),
                        BatchSize::PerIteration,
                    )
                },
            );
        }
    }
    g.finish();
}

/// Sealing a real project's 93 events, as the service does before each commit.
fn chain(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("tests/data/audit/sealed-log.jsonl")).unwrap();
    let events: Vec<onewindow::engine::Envelope> = text
        .lines()
        .map(|l| {
            let mut e: onewindow::engine::Envelope = serde_json::from_str(l).unwrap();
            e.prev = None;
            e
        })
        .collect();
    let mut g = c.benchmark_group("store_chain");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.bench_function("seal_93_events", |b| {
        b.iter_batched(
            || events.clone(),
            |mut events| {
                let mut chain = onewindow::engine::ChainHash::GENESIS;
                onewindow::store::chain::seal(&mut chain, &mut events).unwrap();
                black_box(chain)
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench, chain);
criterion_main!(benches);
