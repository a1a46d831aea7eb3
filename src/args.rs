//! The command line's own argument types: the shared `plan`/`compare` run options, the one
//! `--format` convention, and the clap spellings of library enums (the library knows no
//! clap).

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::ValueEnum;
use onewindow::spec::LimitKind;
use onewindow::store::disk::Flush;

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// A form (YAML field values); items whose `when` is false drop out.
    #[arg(long)]
    pub(crate) form: Option<PathBuf>,
    /// Submission date (YYYY-MM-DD, 2000-2199): turns working days into dates. Without
    /// it the plan is undated: totals in working days, calendar-day limits counted as five
    /// working days a week.
    #[arg(long)]
    pub(crate) start: Option<NaiveDate>,
    /// Use these limits instead of the ones the workflow names.
    #[arg(long, value_enum)]
    pub(crate) limits: Option<LimitsArg>,
}

/// `--limits`: the command line's spelling of [`LimitKind`] (the library knows no clap).
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum LimitsArg {
    /// The legal maximum (法定时限).
    Statutory,
    /// What the city promises (承诺时限).
    Committed,
}

impl From<LimitsArg> for LimitKind {
    fn from(l: LimitsArg) -> LimitKind {
        match l {
            LimitsArg::Statutory => LimitKind::Statutory,
            LimitsArg::Committed => LimitKind::Committed,
        }
    }
}

/// `--flush`: the command line's spelling of [`Flush`].
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum FlushArg {
    /// Concurrent commits share one flush.
    Group,
    /// Every commit flushes on its own.
    EachCommand,
}

impl From<FlushArg> for Flush {
    fn from(f: FlushArg) -> Flush {
        match f {
            FlushArg::Group => Flush::Group,
            FlushArg::EachCommand => Flush::EachCommand,
        }
    }
}

/// Output formats: every command that prints a report takes `--format` (one convention
/// across the CLI).
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// For people: tables and lines.
    Text,
    /// For scripts: the documented JSON contracts.
    Json,
}

/// `--format text|json`, with `--json` kept as the old spelling for a release.
#[derive(clap::Args)]
pub(crate) struct Output {
    /// Output: text (a table) or json (the documented contract, docs/plan-json.md).
    #[arg(long, value_enum)]
    pub(crate) format: Option<Format>,
    /// The same as `--format json` (kept for a release).
    #[arg(long, hide = true, conflicts_with = "format")]
    pub(crate) json: bool,
}

impl Output {
    pub(crate) fn json(&self) -> bool {
        self.json || self.format == Some(Format::Json)
    }
}

/// `simulate --format`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SimFormat {
    /// A table.
    Text,
    /// The documented JSON (docs/simulate.md).
    Json,
    /// variant, metric, value.
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum GraphFormat {
    Dot,
    Mermaid,
}

/// Where the durable store is: the embedded sled directory (the default), or a PostgreSQL
/// database shared by several nodes.
#[derive(clap::Args)]
pub(crate) struct StoreArgs {
    /// The sled data directory (the embedded default; with `--store`, where the tokens
    /// file goes unless `--tokens` names one).
    #[arg(long, default_value = "data")]
    pub(crate) data: PathBuf,
    /// A PostgreSQL database instead of the data directory:
    /// `postgresql://user[:password]@host[:port]/database` (docs/deploy.md).
    #[arg(long, env = "ONEWINDOW_STORE", value_name = "URL")]
    pub(crate) store: Option<String>,
}

impl StoreArgs {
    /// What to call the store in messages: the host and database, never the user, a
    /// password or the query string's options.
    pub(crate) fn describe(&self) -> String {
        match &self.store {
            Some(url) => {
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                let host = host.split_once('?').map_or(host, |(h, _)| h);
                format!("postgresql://…@{host}")
            }
            None => self.data.display().to_string(),
        }
    }
}
