//! The `onewindow` command line: thin glue over the library. Data goes to stdout,
//! diagnostics and notes to stderr; exit 1 means the input was wrong, 2 a usage error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use args::{FlushArg, Format, GraphFormat, Output, RunArgs, StoreArgs};

mod args;
mod audit_cmd;
mod blueprint_cmd;
mod client;
mod document_cmd;
mod export_cmd;
mod launch;
mod sim_cmd;
mod sim_log;
mod tokens_cmd;

use onewindow::diagnostic::Diagnostics;
use onewindow::form::Form;
use onewindow::plan::{self, Options, Plan, Schedule};
use onewindow::report;
use onewindow::spec::LimitKind;
use onewindow::store::disk::Flush;
use onewindow::store::service::Service;

/// mimalloc rather than the system allocator: compiling a workflow allocates many small
/// strings and vectors, and mimalloc parses and compiles the 10,000-item benchmark
/// workflow about a quarter faster on the reference machine (BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (which never renumbers: retired
/// options keep their slot); the Rust binding names no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory in the process instead of giving it back to the system after
/// mimalloc's delay (a second). For the analyst's commands: a forecast builds and drops the
/// whole city once per run, two hundred times, and memory given back is zeroed by the
/// kernel again on the next run's first touch (a tenth of the forecast's time in the
/// profile, BENCHMARKS.md "Forecasting from today"). A server keeps the default.
fn keep_freed_memory() {
    // SAFETY: sets a process-wide allocator option; mimalloc allows it at any time.
    // -1: never purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

#[cfg(test)]
mod allocator {
    /// The option slot named in `keep_freed_memory` is the purge delay: its documented
    /// default (1000 ms) before, never after.
    #[test]
    fn keeping_freed_memory_sets_mimallocs_purge_delay() {
        // SAFETY: reads and sets process-wide allocator options.
        let get = || unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(), 1000);
        }
        super::keep_freed_memory();
        assert_eq!(get(), -1);
    }
}

#[derive(Parser)]
#[command(
    name = "onewindow",
    version,
    about = "Joint-approval workflows: one window, parallel review, working-day limits"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check workflow files and print every problem with file:line:column.
    Check {
        /// Workflow files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Earliest schedule, slack and critical path of one workflow.
    Plan {
        /// Workflow file.
        file: PathBuf,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        out: Output,
    },
    /// Several workflows side by side; the first is the baseline for the cut.
    Compare {
        /// Workflow files.
        #[arg(required = true, num_args = 2..)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        out: Output,
    },
    /// Remove the `after` waits no document justifies and write the result.
    Parallelize {
        /// A (serial) workflow file.
        file: PathBuf,
        /// Where to write the parallelized workflow.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Projects on a running server, as the window: submit, get, watch, and the window's
    /// verbs (supplement, resubmit, milestone, urge, materials, assign an agent, withdraw).
    #[command(subcommand)]
    Project(client::project::ProjectCommand),
    /// A department's tasks on a running server: list, and the department's verbs (claim,
    /// approve, reject, supplement, extend, special procedures, sign, transfer, delegate,
    /// add a signer, recall, return).
    #[command(subcommand)]
    Tasks(client::tasks::TasksCommand),
    /// The identity file: add, revoke and list tokens (a running server reads changes
    /// within a second).
    #[command(subcommand)]
    Tokens(tokens_cmd::TokensCommand),
    /// The audit trail: verify every project's hash chain and the signed checkpoints,
    /// take a checkpoint, export them for an outside party, show the public key.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Sealed documents (电子证照): check one offline, export a department's public key.
    #[command(subcommand)]
    Document(document_cmd::DocumentCommand),
    /// Working-day calendars on a running server: deploy a new year's schedule.
    #[command(subcommand)]
    Calendar(client::calendar::CalendarCommand),
    /// Callbacks (webhooks) on a running server: register a URL a department's system is
    /// told at, list them, look at and redeliver dead letters, remove one.
    #[command(subcommand)]
    Callbacks(client::callbacks::CallbacksCommand),
    /// Running projects and workflow versions: preview a move, move one project.
    #[command(subcommand)]
    Migrate(client::migrate::MigrateCommand),
    /// Load over gRPC: window clients submit projects, department workers approve what
    /// is pushed to them; reports projects/s, task completions/s and latency.
    Loadgen(client::loadgen::LoadgenArgs),
    /// Load over the JSON/HTTP API: clients take projects to completion as the window and
    /// each department would over HTTP; reports task completions/s and latency.
    LoadgenHttp(client::loadgen_http::LoadgenHttpArgs),
    /// One blueprint: check a site against every plan, or audit the plans themselves.
    #[command(subcommand)]
    Blueprint(blueprint_cmd::BlueprintCommand),
    /// The record as process-mining logs: XES and OCEL 2.0 (SQLite, JSON) of a period.
    Export(export_cmd::ExportArgs),
    /// Serve the gRPC API on the durable store.
    Serve(launch::ServeArgs),
    /// The durable store: drive load through it, or open and check it.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Simulate workflow variants under the same load on the real engine, and compare;
    /// or the twin built from the city's record: calibrate a scenario, validate it, forecast
    /// from the open projects (docs/simulate.md, docs/twin.md).
    Simulate(sim_cmd::SimulateArgs),
    /// Draw the dependency DAG.
    Graph {
        /// Workflow file.
        file: PathBuf,
        /// dot (Graphviz) or mermaid.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Client threads take projects from submission to completion through the durable
    /// service on a sled data directory, and the throughput is reported.
    Drive {
        #[command(flatten)]
        store: StoreArgs,
        /// The workflow to run.
        #[arg(long, default_value = "workflows/construction-parallel.yaml")]
        workflow: PathBuf,
        /// The form every project submits.
        #[arg(long, default_value = "workflows/forms/industrial-project.yaml")]
        form: PathBuf,
        /// Client threads.
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Projects per client.
        #[arg(long, default_value_t = 20)]
        projects: usize,
        /// Prefix of the project ids; run again with the same prefix to resume.
        #[arg(long, default_value = "load")]
        prefix: String,
        /// Percent of reviews that get a supplement round.
        #[arg(long, default_value_t = 10)]
        supplement_percent: u64,
        /// group: concurrent commands share one flush; each-command: one flush each.
        #[arg(long, value_enum, default_value_t = FlushArg::Group)]
        flush: FlushArg,
        /// Print `ack {request id}` as each command is acknowledged.
        #[arg(long)]
        print_acks: bool,
        /// Only submit the projects (fills a store with many projects quickly).
        #[arg(long)]
        submit_only: bool,
        /// Then serve this many random operations on the projects (nine reads in ten,
        /// one milestone report) with `--cache-projects` in memory, and report the
        /// process's memory.
        #[arg(long, default_value_t = 0)]
        probe: u64,
        /// Projects kept in memory.
        #[arg(long, default_value_t = onewindow::store::cache::DEFAULT_CAPACITY)]
        cache_projects: usize,
        /// Resume: skip driving (with `--probe`, only probe the projects already there).
        #[arg(long)]
        no_drive: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Open a data directory as the server would: restore every project, check the
    /// indexes (rebuilding them if needed) and verify every log; report what was found.
    Open {
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// An error already reported to the user (diagnostics printed): exit 1 quietly.
#[derive(Debug)]
struct Reported;

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reported")
    }
}

impl std::error::Error for Reported {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if e.is::<Reported>() => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Check { files, format } => check(&files, format),
        Command::Plan { file, run, out } => {
            let json = out.json();
            let plan = compile(&file)?;
            let schedule = schedule(&plan, &run)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report::plan_json(&plan, &schedule))?
                );
            } else {
                print!("{}", report::plan_table(&plan, &schedule));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Compare { files, run, out } => {
            let json = out.json();
            let mut rows: Vec<(Plan, Schedule)> = Vec::new();
            for f in &files {
                let plan = compile(f)?;
                let s = schedule(&plan, &run)?;
                rows.push((plan, s));
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report::compare_json(&rows))?
                );
            } else {
                print!("{}", report::compare_table(&rows));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Parallelize { file, output } => {
            let plan = compile(&file)?;
            let out_dir = match output.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let (raw, removed) = report::parallelize(&plan, &out_dir);
            let mut text = format!(
                "# Generated by `onewindow parallelize` from {}.\n# Removed {} `after` wait(s) that no document justifies.\n",
                file.display(),
                removed.len()
            );
            text.push_str(&serde_yaml::to_string(&raw)?);
            std::fs::write(&output, text)
                .with_context(|| format!("cannot write {}", output.display()))?;
            for (a, b) in &removed {
                eprintln!("removed: {b} after {a}");
            }
            eprintln!(
                "wrote {} ({} waits removed)",
                output.display(),
                removed.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Store(cmd) => store(cmd),
        Command::Blueprint(cmd) => blueprint_cmd::run(cmd),
        Command::Project(cmd) => client::project::run(cmd),
        Command::Tasks(cmd) => client::tasks::run(cmd),
        Command::Calendar(cmd) => client::calendar::run(cmd),
        Command::Callbacks(cmd) => client::callbacks::run(cmd),
        Command::Export(a) => export_cmd::run(a),
        Command::Tokens(cmd) => tokens_cmd::run(cmd),
        Command::Audit(cmd) => audit_cmd::run(cmd),
        Command::Document(cmd) => document_cmd::run(cmd),
        Command::Migrate(cmd) => client::migrate::run(cmd),
        Command::Loadgen(args) => client::loadgen::run(args),
        Command::LoadgenHttp(args) => client::loadgen_http::run(args),
        Command::Serve(args) => launch::serve(args),
        Command::Simulate(a) => sim_cmd::run(a),
        Command::Graph { file, format } => {
            let plan = compile(&file)?;
            match format {
                GraphFormat::Dot => print!("{}", report::graph_dot(&plan)),
                GraphFormat::Mermaid => print!("{}", report::graph_mermaid(&plan)),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn store(cmd: StoreCommand) -> Result<ExitCode> {
    match cmd {
        StoreCommand::Drive {
            store,
            workflow,
            form,
            clients,
            projects,
            prefix,
            supplement_percent,
            flush,
            print_acks,
            submit_only,
            probe,
            cache_projects,
            no_drive,
            out,
        } => {
            let json = out.json();
            let plan = compile(&workflow)?;
            let form = match Form::load(&form, &plan.fields) {
                Ok(f) => f.values,
                Err(problems) => {
                    for p in problems {
                        eprintln!("{}: {p}", form.display());
                    }
                    return Err(Reported.into());
                }
            };
            let (opened_store, _) = launch::open_store(&store, flush.into())?;
            let (svc, opened) = Service::start(opened_store, onewindow::engine::Policy::default())?;
            eprintln!(
                "opened {} in {:.3} s ({} workflow versions; projects read when needed)",
                store.describe(),
                opened.elapsed.as_secs_f64(),
                opened.workflows
            );
            svc.deploy(plan.clone())?;
            svc.set_cache_capacity(cache_projects);
            let load = onewindow::loadgen::Load {
                clients,
                projects,
                prefix,
                supplement_percent,
                print_acks,
                submit_only,
            };
            let now = chrono::NaiveDate::from_ymd_opt(2025, 3, 3)
                .and_then(|d| d.and_hms_opt(9, 0, 0))
                .context("a fixed start time")?;
            let report = if no_drive {
                onewindow::loadgen::Report::default()
            } else {
                onewindow::loadgen::run(&svc, &plan, &form, &load, now)?
            };
            if probe > 0 {
                let p = onewindow::loadgen::probe(&svc, &load, probe, now)?;
                eprintln!(
                    "probe: {} reads and {} commands in {:.2} s ({:.0} operations/s); {} projects in memory; RSS {} MiB",
                    p.reads,
                    p.commands,
                    p.seconds,
                    (p.reads + p.commands) as f64 / p.seconds,
                    p.cached,
                    p.rss_kib / 1024
                );
                if json {
                    println!("{}", serde_json::to_string_pretty(&p)?);
                }
                return Ok(ExitCode::SUCCESS);
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                eprintln!(
                    "{} clients, {} projects, {} commands, {} task transitions in {:.2} s: {:.0} durable transitions/s, p50 {:.2} ms, p99 {:.2} ms ({flush:?} flush)",
                    report.clients, report.projects, report.commands, report.transitions, report.seconds,
                    report.transitions_per_second, report.p50_ms, report.p99_ms
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        StoreCommand::Open { store } => {
            // Inspecting never creates: a missing or empty directory holds no store.
            let data = &store.data;
            let empty = std::fs::read_dir(data)
                .map(|mut d| d.next().is_none())
                .unwrap_or(true);
            if store.store.is_none() && (!data.is_dir() || empty) {
                anyhow::bail!("{}: no onewindow store here", data.display());
            }
            // Back to serving = the database opened (sled's own recovery) plus every project
            // restored and the indexes checked; verifying every log comes after.
            let started = std::time::Instant::now();
            let (opened, redone) = launch::open_store(&store, Flush::Group)?;
            let redone = redone.unwrap_or_default();
            let (svc, mut report) = Service::open(opened, onewindow::engine::Policy::default())?;
            report.elapsed = started.elapsed();
            let logs = svc.verify()?;
            println!(
                "{}: {} workflow version(s), {} projects, {} events ({} replayed after snapshots), {} answer(s) and {} index entries redone from interrupted commits, index {}; back to serving in {:.3} s; {} logs verified",
                store.describe(),
                report.workflows,
                report.projects,
                report.total_events,
                report.replayed_events,
                redone.answers,
                redone.index_entries,
                if report.index_rebuilt { "rebuilt" } else { "consistent" },
                report.elapsed.as_secs_f64(),
                logs.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn check(files: &[PathBuf], format: Format) -> Result<ExitCode> {
    let mut all = Vec::new();
    let mut failed = false;
    for f in files {
        match plan::compile_file(f) {
            Ok((plan, warnings)) => {
                if let Format::Text = format {
                    for d in &warnings.0 {
                        eprintln!("{d}");
                    }
                    println!(
                        "ok: {} ({}: {} items, {} documents, {} departments)",
                        f.display(),
                        plan.id,
                        plan.items.len(),
                        plan.documents.len(),
                        plan.departments.len()
                    );
                }
                all.extend(warnings.0);
            }
            Err(diags) => {
                failed = true;
                if let Format::Text = format {
                    eprintln!("{diags}");
                }
                all.extend(diags.0);
            }
        }
    }
    if let Format::Json = format {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn compile(file: &Path) -> Result<Plan> {
    match plan::compile_file(file) {
        Ok((plan, warnings)) => {
            for d in &warnings.0 {
                eprintln!("{d}");
            }
            Ok(plan)
        }
        Err(diags) => {
            report_diags(&diags);
            Err(Reported.into())
        }
    }
}

fn report_diags(diags: &Diagnostics) {
    eprintln!("{diags}");
}

/// The plan's schedule as `plan` and `compare` print it: undated unless `--start` is
/// given, so that both give the same total for the same workflow (docs/plan-json.md).
fn schedule(plan: &Plan, run: &RunArgs) -> Result<Schedule> {
    if let Some(start) = run.start.filter(|d| !onewindow::calendar::in_range(*d)) {
        anyhow::bail!(
            "--start {start}: outside the years {}..={} (write YYYY-MM-DD)",
            onewindow::calendar::FIRST_YEAR,
            onewindow::calendar::LAST_YEAR
        );
    }
    let form = match &run.form {
        None => None,
        Some(path) => match Form::load(path, &plan.fields) {
            Ok(f) => Some(f),
            Err(problems) => {
                // Each problem at its field's line, like a workflow's diagnostics (a
                // missing field has no line: the file's start).
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let locator = onewindow::spec::locate::Locator::new(&text);
                for p in problems {
                    let (line, col) = p
                        .field()
                        .and_then(|f| locator.get(&[f.into()]))
                        .map_or((1, 1), |pos| (pos.line, pos.col));
                    eprintln!(
                        "{}:{line}:{col}: {p} (workflow {})",
                        path.display(),
                        plan.id
                    );
                }
                return Err(Reported.into());
            }
        },
    };
    Ok(plan.schedule(&Options {
        limits: run.limits.map_or(plan.default_limits, LimitKind::from),
        form: form.as_ref(),
        start: run.start,
    }))
}
