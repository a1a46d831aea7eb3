//! The forecast's headline, as supervision's dashboard shows it: written by the analyst's
//! `onewindow simulate forecast --publish FILE` (typically each night), read by a node
//! started with `serve --forecast FILE`. A file rather than the store because the
//! forecast is an analysis run beside the platform, not a change to any project: the
//! platform only shows what the last run said, with when it ran.

use std::path::Path;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// The largest headline file read.
pub const MAX_BYTES: u64 = 1 << 20;
/// The most tasks a headline lists.
pub const MAX_TASKS: usize = 50;

/// What the dashboard shows of a forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Headline {
    /// When the forecast ran (the city's time).
    pub made: NaiveDateTime,
    /// The moment it forecast from.
    pub at: NaiveDateTime,
    /// Working days ahead.
    pub horizon: u32,
    /// Runs.
    pub replications: u32,
    /// The workflow forecast.
    pub workflow: String,
    /// Open projects forecast.
    pub open: usize,
    /// Projects whose chance of a card within the horizon is at least one half.
    pub projects_at_risk: usize,
    /// Yellow cards expected.
    pub yellow_expected: f64,
    /// Red cards expected.
    pub red_expected: f64,
    /// The likeliest tasks to draw a card, at most [`MAX_TASKS`].
    pub tasks: Vec<HeadlineTask>,
}

/// One task at risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadlineTask {
    /// Project id.
    pub project: String,
    /// Item id.
    pub item: String,
    /// Item name.
    pub name: String,
    /// Department id.
    pub department: String,
    /// Chance of a yellow card within the horizon.
    pub yellow: f64,
    /// Chance of a red card.
    pub red: f64,
    /// The working day the yellow card falls on (median of the runs that drew it).
    pub day: Option<u32>,
}

/// Reads a headline file.
///
/// # Errors
/// The file cannot be read, is too large, or is not a headline: the message says which.
pub fn read(path: &Path) -> Result<Headline, String> {
    let text = crate::textfile::read_at_most(path, MAX_BYTES).map_err(|e| e.to_string())?;
    let h: Headline = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a forecast headline: {e}", path.display()))?;
    if h.tasks.len() > MAX_TASKS {
        return Err(format!(
            "{}: {} tasks listed, at most {MAX_TASKS}",
            path.display(),
            h.tasks.len()
        ));
    }
    Ok(h)
}

/// Writes a headline file whole (a reader sees the old file or the new, never half).
///
/// # Errors
/// The file cannot be written.
pub fn write(path: &Path, h: &Headline) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(h).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
