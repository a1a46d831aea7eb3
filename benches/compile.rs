//! Compile benchmark: a generated workflow of 10,000 items and about 30,000 dependencies,
//! split into the compiler's phases so that the share of each is visible:
//!
//! - `parse`: YAML text → raw spec (serde_yaml), the floor;
//! - `validate`: raw spec → `Plan` (every reference, limit and condition checked, the DAG
//!   built, cycles searched, topological order);
//! - `analyse`: `Plan` → critical path, slack, stage spans, width;
//! - `total`: all three, as `onewindow plan` does.
//!
//! Run with `cargo bench --bench compile`; figures are recorded in BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;

/// The same allocator as the `onewindow` binary, so the figures are what users get.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use onewindow::plan::{self, Options};
use onewindow::spec::{self, LimitKind};

#[path = "support/generate.rs"]
mod generate;
use generate::{generate, ITEMS};

fn bench(c: &mut Criterion) {
    let (text, deps) = generate();
    eprintln!(
        "generated workflow: {ITEMS} items, {deps} dependencies, {} bytes",
        text.len()
    );
    // Loaded as if it stood in workflows/, so that its calendar resolves.
    let path = &Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/generated.yaml");
    let loaded = spec::load_str(path, &text).expect("generated workflow parses");
    let (plan, _) = plan::compile(&loaded).expect("generated workflow is valid");
    let opts = Options {
        limits: LimitKind::Committed,
        form: None,
        start: None,
    };
    eprintln!(
        "critical path: {} items, {} working days",
        plan.schedule(&opts).critical_path.len(),
        plan.schedule(&opts).total
    );

    let mut g = c.benchmark_group("compile_10k");
    g.throughput(Throughput::Elements(ITEMS as u64));
    g.sample_size(20);
    g.bench_function("parse", |b| {
        b.iter(|| spec::load_str(path, black_box(&text)).unwrap())
    });
    g.bench_function("validate", |b| {
        b.iter(|| plan::compile(black_box(&loaded)).unwrap())
    });
    g.bench_function("analyse", |b| b.iter(|| black_box(&plan).schedule(&opts)));
    g.bench_function("unjustified_after", |b| {
        b.iter(|| black_box(&plan).unjustified_after())
    });
    g.bench_function("total", |b| {
        b.iter(|| {
            let loaded = spec::load_str(path, black_box(&text)).unwrap();
            let (plan, _) = plan::compile(&loaded).unwrap();
            plan.schedule(&opts).total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
