//! The analyst's simulator: workflow variants under the same load, on the real engine.
//!
//! - [`scenario`]: the scenario file (variants, arrivals, project types, the world).
//! - [`dist`]: duration distributions.
//! - [`des`]: one replication — a discrete-event simulation on a virtual clock of working
//!   minutes that drives `engine::Project` with the same commands the server runs.
//! - [`report`]: pooling replications into figures per variant, and the table, JSON and
//!   CSV forms of them; [`chart`]: the SVG charts.
//! - [`bpmn`]: a variant as a BPMN model with Prosimos' simulation parameters, to run the
//!   same model in a general-purpose simulator.
//!
//! [`run`] runs every (variant, replication) pair on a pool of threads. Replication `r`
//! of every variant uses the same seed (derived from the scenario's seed and `r`), so the
//! variants see the same arrivals and draws as far as their workflows allow — common
//! random numbers, which make the differences between variants less noisy than the
//! variants themselves. Results are gathered by job index, never in completion order,
//! so the thread count does not change a single bit of the output.

#![deny(missing_docs)]

pub mod bpmn;
pub mod chart;
pub mod des;
pub mod dist;
pub mod report;
pub mod scenario;

use std::path::PathBuf;

pub use report::Report;
pub use scenario::Scenario;

/// Why a scenario cannot run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file cannot be read.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The scenario is not valid YAML or does not fit the format.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Yaml {
        /// The file.
        path: PathBuf,
        /// Line (1-based; 0 when unknown).
        line: usize,
        /// Column (1-based; 0 when unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The scenario is well-formed but says something impossible, at the key it names
    /// (line and column 0 when the key cannot be found in the text).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Line (1-based; 0 when unknown).
        line: usize,
        /// Column (1-based; 0 when unknown).
        column: usize,
        /// What is wrong, with the key path.
        message: String,
    },
    /// An output file (a chart, an exported model) cannot be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// plotters failed to draw a chart.
    #[error("{}: cannot draw: {message}", path.display())]
    Draw {
        /// The chart's file.
        path: PathBuf,
        /// plotters' message (its error types are generic over the backend).
        message: String,
    },
    /// A variant's workflow does not compile.
    #[error("variant `{variant}`: {message}")]
    Workflow {
        /// The variant.
        variant: String,
        /// The compiler's diagnostics.
        message: String,
    },
    /// A project type's form does not fit a variant's fields.
    #[error("{} (variant `{variant}`): {message}", path.display())]
    Form {
        /// The form file.
        path: PathBuf,
        /// The variant.
        variant: String,
        /// The problems.
        message: String,
    },
}

/// `f(0)`, …, `f(n - 1)` on at most `threads` threads, in index order whatever the
/// threads did: the simulator's replications, the twin's runs — so the number of threads
/// never changes a result.
pub fn in_parallel<T: Send>(n: usize, threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let out: std::sync::Mutex<Vec<Option<T>>> =
        std::sync::Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, n.max(1)) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= n {
                    break;
                }
                let value = f(k);
                if let Ok(mut all) = out.lock() {
                    all[k] = Some(value);
                }
            });
        }
    });
    out.into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|v| v.expect("every index was run"))
        .collect()
}

/// The seed of replication `r`: the scenario's seed and `r` mixed (splitmix64), the same
/// for every variant.
pub fn replication_seed(seed: u64, r: u32) -> u64 {
    let mut z = seed ^ (u64::from(r) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How many projects one replication will see (for progress; a Poisson stream over a
/// period gives its expected count).
pub fn expected_projects(s: &Scenario) -> u64 {
    let a = &s.raw.arrivals;
    match (a.count, a.per_working_day, a.working_days) {
        (Some(n), _, _) => n,
        (None, Some(r), Some(d)) => (r * d).ceil() as u64,
        _ => 0,
    }
}

/// Runs every variant's replications on `threads` threads and pools them. `progress` is
/// told how many more projects finished, from any thread.
pub fn run(s: &Scenario, threads: usize, progress: &(dyn Fn(u64) + Sync)) -> Report {
    run_with(s, threads, progress, false).0
}

/// [`run`], keeping the first replication of each variant as a log: every event the
/// engine wrote, by variant name (what `simulate --log` writes as a store, so that a
/// world whose parameters are known can be exported, calibrated and validated against).
pub fn run_logged(
    s: &Scenario,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> (Report, Vec<(String, Vec<onewindow_engine::Envelope>)>) {
    run_with(s, threads, progress, true)
}

fn run_with(
    s: &Scenario,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
    keep_logs: bool,
) -> (Report, Vec<(String, Vec<onewindow_engine::Envelope>)>) {
    let reps = s.raw.replications;
    let jobs: Vec<(usize, u32)> = (0..s.variants.len())
        .flat_map(|v| (0..reps).map(move |r| (v, r)))
        .collect();
    let results = in_parallel(jobs.len(), threads, |k| {
        let (v, r) = jobs[k];
        des::run(
            &s.variants[v],
            &s.raw.arrivals,
            s.raw.start,
            replication_seed(s.raw.seed, r),
            r == 0,
            keep_logs && r == 0,
            progress,
        )
    });
    let mut per_variant: Vec<Vec<des::RunResult>> = vec![Vec::new(); s.variants.len()];
    let mut logs = Vec::new();
    for ((v, _), mut r) in jobs.iter().zip(results) {
        if keep_logs && per_variant[*v].is_empty() {
            logs.push((s.variants[*v].name.clone(), std::mem::take(&mut r.log)));
        }
        per_variant[*v].push(r);
    }
    (report::pool(s, per_variant), logs)
}
