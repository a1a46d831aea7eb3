//! `onewindow simulate`: run a scenario's variants on the real engine; and the analyst's
//! digital twin built from the city's own record — `simulate calibrate` (a scenario
//! fitted to a period of the record, docs/twin.md).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use crate::args::{SimFormat, StoreArgs};
use crate::sim_log;

/// `onewindow simulate SCENARIO` or `onewindow simulate calibrate …`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct SimulateArgs {
    #[command(subcommand)]
    twin: Option<Twin>,
    /// Scenario file (format: docs/simulate.md).
    #[arg(required = true)]
    scenario: Option<PathBuf>,
    /// Output: text (a table), json (documented in docs/simulate.md) or csv (variant,
    /// metric, value).
    #[arg(long, value_enum)]
    format: Option<SimFormat>,
    /// The same as `--format json` (kept for a release).
    #[arg(long, hide = true, conflicts_with_all = ["format", "csv"])]
    json: bool,
    /// The same as `--format csv` (kept for a release).
    #[arg(long, hide = true, conflicts_with = "format")]
    csv: bool,
    /// Also write SVG charts into this directory.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// Threads running replications (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Replace the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Replace the scenario's number of replications.
    #[arg(long)]
    replications: Option<u32>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Instead of simulating, write each variant as a BPMN model with Prosimos'
    /// simulation parameters into this directory (VARIANT.bpmn, VARIANT.json).
    #[arg(long, conflicts_with_all = ["format", "json", "csv", "svg"])]
    prosimos: Option<PathBuf>,
    /// Also keep each variant's first replication as a store in this directory
    /// (`DIR/<variant>/`, sled): the engine's own events, for `onewindow export` and
    /// the twin's calibration (docs/twin.md).
    #[arg(long, value_name = "DIR", conflicts_with = "prosimos")]
    log: Option<PathBuf>,
}

/// The twin's commands (docs/twin.md).
#[derive(Subcommand)]
enum Twin {
    /// Fit a scenario to a period of the city's record: arrivals, kinds of project, review
    /// times, what reviews end in, the applicants' delays and each department's staff.
    Calibrate(CalibrateArgs),
    /// Simulate a scenario over a period of the record and measure how far it is from
    /// what the record shows, beside the record's own first half against its second.
    Validate(ValidateArgs),
    /// Forecast from the open projects as they stand: which tasks will pass their limits
    /// and draw cards within the horizon, each department's queue over the days ahead,
    /// and what a change of staff would do.
    Forecast(ForecastArgs),
}

#[derive(Args)]
struct ForecastArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The world to run forward (default: calibrated from the record's last `--window`
    /// working days before the start).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Working days of the record the world is calibrated from.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u32).range(5..=2500))]
    window: u32,
    /// The workflow (needed when the record holds several).
    #[arg(long)]
    workflow: Option<String>,
    /// The moment to forecast from, `YYYY-MM-DD` (the end of that day) or
    /// `YYYY-MM-DDTHH:MM`, in the city's time (default: now).
    #[arg(long, value_parser = parse_moment)]
    at: Option<chrono::NaiveDateTime>,
    /// Working days ahead.
    #[arg(long, default_value_t = 20)]
    horizon: u32,
    /// Runs.
    #[arg(long, default_value_t = 200)]
    replications: u32,
    /// A change of staff to weigh, `DEPARTMENT=+N` or `DEPARTMENT=-N` (repeat).
    #[arg(long, value_parser = parse_staff)]
    staff: Vec<(String, i64)>,
    /// Threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// The seed (the same seed and record give the same forecast, whatever the threads).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the headline for supervision's dashboard here (a node started with
    /// `serve --forecast FILE` shows it).
    #[arg(long, value_name = "FILE")]
    publish: Option<PathBuf>,
}

fn parse_moment(s: &str) -> Result<chrono::NaiveDateTime, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(23, 59, 59).expect("a valid time"));
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .map_err(|_| format!("`{s}`: a day (2026-03-02) or a moment (2026-03-02T14:30)"))
}

fn parse_staff(s: &str) -> Result<(String, i64), String> {
    let (dept, n) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: DEPARTMENT=+N or DEPARTMENT=-N"))?;
    let n: i64 = n
        .trim_start_matches('+')
        .parse()
        .map_err(|_| format!("`{s}`: the change is a whole number of reviewers, +2 or -1"))?;
    if dept.is_empty() || n == 0 || n.abs() > 10_000 {
        return Err(format!(
            "`{s}`: a department and a change of 1 to 10000 reviewers"
        ));
    }
    Ok((dept.to_string(), n))
}

#[derive(Args)]
struct ValidateArgs {
    /// The scenario (its first variant is simulated).
    scenario: PathBuf,
    /// The record: a sled data directory, or a PostgreSQL URL (`postgresql://…`).
    #[arg(long, value_name = "STORE")]
    against: String,
    /// The first day of the period.
    #[arg(long)]
    from: NaiveDate,
    /// The last day of the period.
    #[arg(long)]
    to: NaiveDate,
    /// Simulated runs pooled into the twin's log.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    replications: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CalibrateArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The first day of the period.
    #[arg(long)]
    from: NaiveDate,
    /// The last day of the period.
    #[arg(long)]
    to: NaiveDate,
    /// The workflow to calibrate (needed when the period holds several).
    #[arg(long)]
    workflow: Option<String>,
    /// The scenario to write; the workflow its projects ran on goes beside it, in
    /// `<name>.workflow/`.
    #[arg(long, short)]
    output: PathBuf,
}

/// Runs `onewindow simulate`.
pub(crate) fn run(a: SimulateArgs) -> Result<ExitCode> {
    crate::keep_freed_memory();
    match a.twin {
        Some(Twin::Calibrate(c)) => calibrate(c),
        Some(Twin::Validate(v)) => validate(v),
        Some(Twin::Forecast(f)) => forecast(f),
        None => simulate(
            a.scenario.as_deref().context("a scenario file is needed")?,
            SimulateOutput {
                json: a.json || a.format == Some(SimFormat::Json),
                csv: a.csv || a.format == Some(SimFormat::Csv),
                svg: a.svg,
                prosimos: a.prosimos,
                log: a.log,
            },
            a.threads,
            a.seed,
            a.replications,
            a.quiet,
        ),
    }
}

fn calibrate(a: CalibrateArgs) -> Result<ExitCode> {
    use onewindow::twin::calibrate;
    anyhow::ensure!(a.from <= a.to, "--from {} is after --to {}", a.from, a.to);
    let record = crate::export_cmd::open_record(&a.store)?;
    let started = std::time::Instant::now();
    let options = calibrate::Options {
        from: a.from,
        to: a.to,
        workflow: a.workflow,
    };
    let c = match calibrate::calibrate(record.store(), &options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}: {e}", a.store.describe());
            return Ok(ExitCode::FAILURE);
        }
    };
    let elapsed = started.elapsed();
    let files = write_calibration(&c, &a.output)?;
    print!("{}", calibrate::write::report(&c));
    for f in files {
        eprintln!("wrote {}", f.display());
    }
    eprintln!(
        "{} events of {} projects calibrated in {:.2} s",
        c.events,
        c.projects,
        elapsed.as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn validate(a: ValidateArgs) -> Result<ExitCode> {
    use onewindow::twin::validate;
    anyhow::ensure!(a.from <= a.to, "--from {} is after --to {}", a.from, a.to);
    let scenario = match onewindow::simulate::scenario::load(&a.scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let store = if a.against.starts_with("postgres://") || a.against.starts_with("postgresql://") {
        StoreArgs {
            data: PathBuf::from("data"),
            store: Some(a.against.clone()),
        }
    } else {
        StoreArgs {
            data: PathBuf::from(&a.against),
            store: None,
        }
    };
    let record = crate::export_cmd::open_record(&store)?;
    let started = std::time::Instant::now();
    let options = validate::Options {
        from: a.from,
        to: a.to,
        replications: a.replications,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let v = match validate::validate(&scenario, record.store(), &options) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {}: {e}", store.describe());
            return Ok(ExitCode::FAILURE);
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&v.json())?);
    } else {
        print!("{}", v.table());
    }
    eprintln!("validated in {:.2} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

fn forecast(a: ForecastArgs) -> Result<ExitCode> {
    use onewindow::twin::{calibrate, forecast};
    let record = crate::export_cmd::open_record(&a.store)?;
    let at = a.at.unwrap_or_else(onewindow::calendar::city_now);
    let started = std::time::Instant::now();
    // The world: given, or calibrated from the record's last working days before `at`.
    let mut scratch = None;
    let scenario_file = match &a.scenario {
        Some(f) => f.clone(),
        None => {
            // About `window` working days: five in seven, and a margin for holidays.
            let back = u64::from(a.window) * 7 / 5 + u64::from(a.window) / 20 + 1;
            let options = calibrate::Options {
                from: at.date() - chrono::Days::new(back),
                to: at.date(),
                workflow: a.workflow.clone(),
            };
            let c = match calibrate::calibrate(record.store(), &options) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!(
                        "error: {}: calibrating the world from {} to {}: {e}",
                        a.store.describe(),
                        options.from,
                        options.to
                    );
                    return Ok(ExitCode::FAILURE);
                }
            };
            let dir =
                scratch.insert(tempfile::tempdir().context("cannot make a scratch directory")?);
            let file = dir.path().join("world.yaml");
            write_calibration(&c, &file)?;
            eprintln!(
                "world calibrated from {} to {}: {} projects, {} events",
                options.from, options.to, c.projects, c.events
            );
            file
        }
    };
    let scenario = match onewindow::simulate::scenario::load(&scenario_file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let options = forecast::Options {
        at,
        horizon: a.horizon,
        replications: a.replications,
        threads: a
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
        staff: a.staff,
        seed: a.seed,
    };
    let f = match forecast::forecast(&scenario, record.store(), &options) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {}: {e}", a.store.describe());
            return Ok(ExitCode::FAILURE);
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
    } else {
        print!("{}", f.table());
    }
    if let Some(file) = &a.publish {
        let headline = f.published(onewindow::calendar::city_now());
        onewindow::forecast::write(file, &headline)
            .with_context(|| format!("cannot write {}", file.display()))?;
        eprintln!("wrote {}", file.display());
    }
    eprintln!(
        "{} open projects, {} runs of {} working days, {} engine commands in {:.2} s",
        f.open,
        f.replications,
        f.horizon,
        f.commands,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the scenario and, beside it, the workflow version its projects ran on (with
/// its calendar), then loads the scenario back: a calibration that the simulator would
/// refuse is an error here, not the analyst's surprise later.
fn write_calibration(
    c: &onewindow::twin::calibrate::Calibration,
    output: &Path,
) -> Result<Vec<PathBuf>> {
    let stem = output
        .file_stem()
        .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
    let base = output.parent().unwrap_or(Path::new("."));
    let dir_name = format!("{stem}.workflow");
    let dir = base.join(&dir_name);
    std::fs::create_dir_all(dir.join("calendar"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut files = Vec::new();
    let w = &c.workflow;
    let mut yaml = w.yaml.clone();
    if !w.calendar.is_empty() {
        for (name, text) in &w.calendar {
            anyhow::ensure!(
                !name.contains(['/', '\\']) && !name.starts_with('.'),
                "the stored calendar has a file named {name:?}"
            );
            let f = dir.join("calendar").join(name);
            std::fs::write(&f, text).with_context(|| format!("cannot write {}", f.display()))?;
        }
        if !yaml.ends_with('\n') {
            yaml.push('\n');
        }
        yaml.push_str("calendar: calendar\n");
    }
    let wf = dir.join(format!("{}.yaml", w.id));
    std::fs::write(&wf, yaml).with_context(|| format!("cannot write {}", wf.display()))?;
    files.push(wf);
    let text = onewindow::twin::calibrate::write::scenario(c, &format!("{dir_name}/{}.yaml", w.id));
    std::fs::write(output, &text).with_context(|| format!("cannot write {}", output.display()))?;
    onewindow::simulate::scenario::load(output)
        .map_err(|e| anyhow::anyhow!("the calibrated scenario does not load: {e}"))?;
    files.push(output.to_path_buf());
    Ok(files)
}

struct SimulateOutput {
    json: bool,
    csv: bool,
    svg: Option<PathBuf>,
    prosimos: Option<PathBuf>,
    log: Option<PathBuf>,
}

fn simulate(
    file: &Path,
    out: SimulateOutput,
    threads: Option<usize>,
    seed: Option<u64>,
    replications: Option<u32>,
    quiet: bool,
) -> Result<ExitCode> {
    use onewindow::simulate;
    let mut scenario = match simulate::scenario::load(file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Some(s) = seed {
        scenario.raw.seed = s;
    }
    if let Some(r) = replications {
        anyhow::ensure!(r > 0, "--replications: at least 1");
        scenario.raw.replications = r;
    }
    if let Some(dir) = &out.prosimos {
        let (models, files) = simulate::bpmn::write_all(&scenario, dir)?;
        for f in files {
            eprintln!("wrote {}", f.display());
        }
        for m in &models {
            let tasks = m
                .nodes
                .iter()
                .filter(|n| matches!(n.kind, simulate::bpmn::Kind::Task { .. }))
                .count();
            eprintln!(
                "{}: {} nodes ({tasks} tasks), {} flows; {} cases per replication, {} replication(s)",
                m.name,
                m.nodes.len(),
                m.flows.len(),
                m.cases,
                scenario.raw.replications
            );
            for n in &m.notes {
                eprintln!("  note: {n}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let total = simulate::expected_projects(&scenario)
        * u64::from(scenario.raw.replications)
        * scenario.variants.len() as u64;
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:40}] {human_pos}/{human_len} projects ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let (report, logs) = match &out.log {
        Some(_) => simulate::run_logged(&scenario, threads, &|n| bar.inc(n)),
        None => (
            simulate::run(&scenario, threads, &|n| bar.inc(n)),
            Vec::new(),
        ),
    };
    bar.finish_and_clear();
    if let Some(dir) = &out.log {
        for (variant, at, projects, events) in sim_log::write(dir, &scenario, logs)? {
            eprintln!(
                "{variant}: {projects} projects, {events} events kept as a store in {}",
                at.display()
            );
        }
    }
    let elapsed = started.elapsed();
    if out.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if out.csv {
        print!("{}", simulate::report::csv(&report));
    } else {
        print!("{}", simulate::report::table(&report));
    }
    if let Some(dir) = &out.svg {
        let files = simulate::chart::write_all(&report, dir)?;
        for f in files {
            eprintln!("wrote {}", f.display());
        }
    }
    let projects: u64 = report.variants.iter().map(|v| v.projects_arrived).sum();
    if !quiet {
        eprintln!(
            "{projects} projects simulated in {:.2} s on {threads} thread(s)",
            elapsed.as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}
