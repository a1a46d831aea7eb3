//! Working-day calendars: which dates count toward a time limit.
//!
//! Chinese administrative limits are counted in working days (行政许可法 art. 82):
//! Monday to Friday, minus the statutory holidays, plus the weekend days the State
//! Council's annual notice turns into make-up working days (调休). The notice for a year
//! is published only around the November before, so a due date often falls in a year
//! with no schedule yet. Such a year is counted Monday to Friday and every answer that
//! touched it says so ([`Due::provisional`]); re-deriving those dates once the new year
//! is deployed is the engine's job, not this module's.
//!
//! # Layout
//! A calendar is a directory of YAML files (`workflows/calendars/cn/`): `calendar.yaml`
//! names it and its weekend, and one `<year>.yaml` per published notice lists the
//! holidays and make-up working days. [`Calendar::load_dir`] reads it; the arithmetic
//! ([`Calendar::add_working_days`], [`Calendar::count_working_days`]) is pure.
//!
//! # Day-counting convention
//! Civil Code art. 201: the day a period starts is not counted. A task accepted on date
//! S with a limit of N working days is due at the end of the N-th working day *after* S,
//! even when S itself is a working day. A period counted in calendar days that ends on a
//! non-working day moves to the next working day (art. 203).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, Utc, Weekday};
pub use chrono_tz::Tz;
use serde::Deserialize;

/// The zone of a calendar that names none, and of the clocks that have no calendar at hand
/// (identities' expiry, the command line's checkpoints): the shipped `cn` calendar's.
pub const DEFAULT_ZONE: Tz = chrono_tz::Asia::Shanghai;

/// Now, as civil time in [`DEFAULT_ZONE`]: the clock of what has no calendar of its own,
/// the same on every host whatever its `TZ`.
pub fn city_now() -> NaiveDateTime {
    Utc::now().with_timezone(&DEFAULT_ZONE).naive_local()
}

/// The first year the platform computes with: the time of record, form dates and the
/// arithmetic of limits all stay within [`FIRST_YEAR`]..=[`LAST_YEAR`], so no input can
/// make a loop run for centuries or a date overflow.
pub const FIRST_YEAR: i32 = 2000;
/// The last year the platform computes with (see [`FIRST_YEAR`]). A due date that would
/// fall after it is clamped to its last day and marked provisional.
pub const LAST_YEAR: i32 = 2199;

/// The first day of [`FIRST_YEAR`].
pub const FIRST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};
/// The last day of [`LAST_YEAR`].
pub const LAST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(LAST_YEAR, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};

/// Whether `date` is within the years the platform computes with.
#[inline]
pub fn in_range(date: NaiveDate) -> bool {
    (FIRST_YEAR..=LAST_YEAR).contains(&date.year())
}

/// Why a calendar could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The directory or one of its files could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A file is not valid YAML for its kind, with serde_yaml's location.
    #[error("{path}: {source}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// serde_yaml's message, which carries line and column.
        source: serde_yaml::Error,
    },
    /// A file parsed but says something impossible.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    id: String,
    name: Option<String>,
    /// The IANA zone (`Asia/Shanghai`); an unknown one is an error at its line.
    zone: Option<String>,
    #[serde(default = "default_weekend")]
    weekend: Vec<Weekday>,
}

fn default_weekend() -> Vec<Weekday> {
    vec![Weekday::Sat, Weekday::Sun]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearFile {
    year: i32,
    #[serde(default)]
    notice: Option<String>,
    #[serde(default)]
    holidays: Vec<HolidayEntry>,
    #[serde(default)]
    workdays: Vec<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayEntry {
    name: String,
    #[serde(default)]
    dates: Vec<NaiveDate>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

/// One year's published schedule, expanded to a flag per day so that lookups are O(1).
#[derive(Debug, Clone)]
struct Year {
    /// `working[d.ordinal0()]`: whether that day of the year is a working day.
    working: Vec<bool>,
    /// Holiday names by date, for reports ("due date moved past 国庆节").
    names: HashMap<NaiveDate, String>,
    notice: Option<String>,
}

/// A date computed on a calendar, and whether it relied on a year with no published
/// schedule (counted Monday to Friday, to be re-derived when the schedule is deployed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Due {
    /// The date.
    pub date: NaiveDate,
    /// True when a day in a year without a published notice was counted.
    pub provisional: bool,
}

/// A working-day calendar: a weekend rule plus the published schedule of each known year.
#[derive(Debug, Clone)]
pub struct Calendar {
    id: String,
    name: String,
    /// The zone the calendar's days are counted in: an instant is on the date it is in
    /// this zone, whatever the host's `TZ`.
    zone: Tz,
    weekend: [bool; 7],
    years: BTreeMap<i32, Year>,
}

impl Calendar {
    /// A calendar with the given weekend and no published years: every date it computes
    /// is provisional. Useful for tests and for regions without data.
    pub fn weekdays_only(id: &str) -> Calendar {
        let mut weekend = [false; 7];
        for d in default_weekend() {
            weekend[d.num_days_from_monday() as usize] = true;
        }
        Calendar {
            id: id.to_string(),
            name: id.to_string(),
            zone: DEFAULT_ZONE,
            weekend,
            years: BTreeMap::new(),
        }
    }

    /// Reads a calendar directory: `calendar.yaml` and every `<year>.yaml` beside it.
    ///
    /// # Errors
    /// Unreadable files, YAML that does not match the format (with its line and column),
    /// two files for one year, a file whose name and `year` disagree, a holiday range
    /// that ends before it starts, or a date that is both a holiday and a make-up day.
    pub fn load_dir(dir: &Path) -> Result<Calendar, Error> {
        let head_path = dir.join("calendar.yaml");
        let head = read_text(&head_path)?;
        let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "yaml")
                    && p.file_stem()
                        .and_then(|s| s.to_str())
                        .is_some_and(|s| s.parse::<i32>().is_ok())
            })
            .collect();
        files.sort();
        let mut years = Vec::new();
        for path in files {
            years.push((path.clone(), read_text(&path)?));
        }
        Calendar::from_texts(&head_path, &head, &years)
    }

    /// Builds a calendar from the texts of its files (`calendar.yaml`, then one text per
    /// `<year>.yaml`, each with the path it is known by): how a deployed workflow carries
    /// its calendar with it.
    ///
    /// # Errors
    /// As [`Calendar::load_dir`], without the IO.
    pub fn from_texts(
        head_path: &Path,
        head: &str,
        years: &[(PathBuf, String)],
    ) -> Result<Calendar, Error> {
        let head_text = head;
        let head: CalendarFile = parse_yaml(head_path, head)?;
        let mut cal = Calendar::weekdays_only(&head.id);
        cal.name = head.name.unwrap_or_else(|| head.id.clone());
        if let Some(name) = &head.zone {
            cal.zone = name.parse::<Tz>().map_err(|_| {
                let line = head_text
                    .lines()
                    .position(|l| l.trim_start().starts_with("zone:"))
                    .map_or(1, |n| n + 1);
                Error::Invalid {
                    path: head_path.to_path_buf(),
                    message: format!(
                        "line {line}: unknown time zone `{name}`: give an IANA zone name such as Asia/Shanghai"
                    ),
                }
            })?;
        }
        cal.weekend = [false; 7];
        for d in head.weekend {
            cal.weekend[d.num_days_from_monday() as usize] = true;
        }
        for (path, text) in years {
            let file: YearFile = parse_yaml(path, text)?;
            cal.add_year(path, file)?;
        }
        Ok(cal)
    }

    fn add_year(&mut self, path: &Path, file: YearFile) -> Result<(), Error> {
        let invalid = |message: String| Error::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem != file.year.to_string() {
            return Err(invalid(format!(
                "file is named {stem} but declares year {}",
                file.year
            )));
        }
        if self.years.contains_key(&file.year) {
            return Err(invalid(format!("year {} is given twice", file.year)));
        }
        let first = NaiveDate::from_ymd_opt(file.year, 1, 1)
            .ok_or_else(|| invalid(format!("year {} is out of range", file.year)))?;
        let len = if first.leap_year() { 366 } else { 365 };
        let mut working: Vec<bool> = (0..len)
            .map(|i| !self.is_weekend(first + Days::new(i as u64)))
            .collect();
        let mut names = HashMap::new();
        let in_year = |d: NaiveDate| -> Result<usize, Error> {
            if d.year() != file.year {
                return Err(invalid(format!(
                    "{d} is outside year {}; put it in that year's file",
                    file.year
                )));
            }
            Ok(d.ordinal0() as usize)
        };
        for h in &file.holidays {
            let mut days = h.dates.clone();
            match (h.from, h.to) {
                (Some(from), Some(to)) => {
                    if to < from {
                        return Err(invalid(format!(
                            "holiday {}: range ends ({to}) before it starts ({from})",
                            h.name
                        )));
                    }
                    days.extend(from.iter_days().take_while(|d| *d <= to));
                }
                (None, None) => {}
                _ => {
                    return Err(invalid(format!(
                        "holiday {}: give both `from` and `to`, or `dates`",
                        h.name
                    )))
                }
            }
            if days.is_empty() {
                return Err(invalid(format!("holiday {} has no dates", h.name)));
            }
            for d in days {
                working[in_year(d)?] = false;
                names.insert(d, h.name.clone());
            }
        }
        for d in &file.workdays {
            if names.contains_key(d) {
                return Err(invalid(format!(
                    "{d} is both a holiday and a make-up working day"
                )));
            }
            working[in_year(*d)?] = true;
        }
        self.years.insert(
            file.year,
            Year {
                working,
                names,
                notice: file.notice,
            },
        );
        Ok(())
    }

    /// The zone its days are counted in.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// `instant`'s civil time in the calendar's zone: what its day and hour are for the
    /// record, the limits and every page.
    pub fn civil(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        instant.with_timezone(&self.zone).naive_local()
    }

    /// The calendar's id, as workflows name it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The calendar's display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The years with a published schedule, in order.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// The notice a year's schedule comes from, if the year is known.
    pub fn notice(&self, year: i32) -> Option<&str> {
        self.years.get(&year).and_then(|y| y.notice.as_deref())
    }

    /// The holiday a date belongs to, if the published schedule names one.
    pub fn holiday_name(&self, date: NaiveDate) -> Option<&str> {
        self.years
            .get(&date.year())
            .and_then(|y| y.names.get(&date))
            .map(String::as_str)
    }

    /// Whether `date` falls in a year with a published schedule.
    pub fn is_known(&self, date: NaiveDate) -> bool {
        self.years.contains_key(&date.year())
    }

    fn is_weekend(&self, date: NaiveDate) -> bool {
        self.weekend[date.weekday().num_days_from_monday() as usize]
    }

    /// Whether government offices work on `date`.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.years.get(&date.year()) {
            Some(y) => y.working[date.ordinal0() as usize],
            None => !self.is_weekend(date),
        }
    }

    /// The end of the `n`-th working day after `start` (art. 201: `start` is not
    /// counted). `n == 0` gives `start` itself. Never runs past [`LAST_DATE`]: a result
    /// that would is clamped to it and provisional, so the loop is bounded whatever `n`.
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> Due {
        let last = LAST_DATE;
        let mut date = start;
        let mut left = n;
        let mut provisional = false;
        while left > 0 {
            if date >= last {
                return Due {
                    date: last.max(start),
                    provisional: true,
                };
            }
            // A published year is walked in its own table, not date by date: every task
            // that opens asks for its due date, and the simulator opens millions.
            if let Some(year) = self.years.get(&date.year()) {
                let rest = &year.working[(date.ordinal0() as usize + 1).min(year.working.len())..];
                if !rest.is_empty() {
                    for (k, _) in rest.iter().enumerate().filter(|(_, w)| **w) {
                        left -= 1;
                        if left == 0 {
                            let date = date + chrono::Days::new(k as u64 + 1);
                            return Due { date, provisional };
                        }
                    }
                    // The year ran out: on from its last day.
                    date = date + chrono::Days::new(rest.len() as u64);
                    continue;
                }
            }
            // One date at a time: into the next year, or through a year with no
            // published schedule.
            date = date.succ_opt().unwrap_or(last);
            provisional |= !self.is_known(date);
            if self.is_working_day(date) {
                left -= 1;
            }
        }
        Due { date, provisional }
    }

    /// The number of working days in `(from, to]`: how many working days of a limit
    /// counted from `from` have been used by the end of `to`. Zero when `to <= from`.
    /// Counts within [`FIRST_DATE`]..=[`LAST_DATE`] only, so it is bounded.
    pub fn count_working_days(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut n: u32 = 0;
        let mut date = from.max(FIRST_DATE);
        let to = to.min(LAST_DATE);
        while date < to {
            date = date.succ_opt().unwrap_or(to);
            if self.is_working_day(date) {
                n = n.saturating_add(1);
            }
        }
        n
    }

    /// A period of `n` calendar days from `start` (start not counted); when it ends on a
    /// non-working day it moves to the next working day (Civil Code art. 203). Clamped
    /// to [`LAST_DATE`] like [`Calendar::add_working_days`].
    pub fn add_calendar_days(&self, start: NaiveDate, n: u32) -> Due {
        let last = LAST_DATE;
        let mut date = match start.checked_add_days(Days::new(u64::from(n))) {
            Some(d) if d <= last => d,
            _ => {
                return Due {
                    date: last.max(start),
                    provisional: true,
                }
            }
        };
        let mut provisional = !self.is_known(date);
        if n > 0 {
            while !self.is_working_day(date) {
                if date >= last {
                    return Due {
                        date,
                        provisional: true,
                    };
                }
                date = date.succ_opt().unwrap_or(last);
                provisional |= !self.is_known(date);
            }
        }
        Due { date, provisional }
    }
}

fn read_text(path: &Path) -> Result<String, Error> {
    crate::textfile::read(path).map_err(|e| match e {
        crate::textfile::Error::Io { path, source } => Error::Io { path, source },
        other => Error::Invalid {
            path: path.to_path_buf(),
            message: other.reason(),
        },
    })
}

fn parse_yaml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, Error> {
    serde_yaml::from_str(text).map_err(|source| Error::Yaml {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cn() -> Calendar {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows/calendars/cn");
        Calendar::load_dir(&dir).expect("shipped calendar loads")
    }

    #[test]
    fn days_are_counted_in_the_calendars_zone() {
        let cal = cn();
        assert_eq!(cal.zone(), chrono_tz::Asia::Shanghai);
        // 23:30 UTC on a Sunday is 07:30 on Monday in Beijing.
        let instant: DateTime<Utc> = "2026-03-01T23:30:00Z".parse().expect("an instant");
        assert_eq!(
            cal.civil(instant).to_string(),
            "2026-03-02 07:30:00",
            "whatever this host's TZ"
        );
        let bad = Calendar::from_texts(
            Path::new("calendar.yaml"),
            "id: x\nzone: Asia/Nowhere\n",
            &[],
        )
        .expect_err("an unknown zone");
        assert!(
            bad.to_string().contains("line 2: unknown time zone"),
            "{bad}"
        );
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// domain.md §3.2 worked examples, computed from the official notices.
    #[test]
    fn worked_examples_from_the_official_schedules() {
        let cal = cn();
        let cases = [
            // 春节 2025-01-28..02-04 off; Sun 01-26 and Sat 02-08 are make-up days.
            ("2025-01-20", 20, "2025-02-21"),
            // art. 32 five-day notice window; Sun 09-29 is a make-up day.
            ("2024-09-27", 5, "2024-10-10"),
            // 春节 2026-02-15..23 off; Sat 02-14 and Sat 02-28 are make-up days.
            ("2026-02-13", 5, "2026-02-27"),
            // 国庆节、中秋节 2025-10-01..08 off; Sun 09-28 and Sat 10-11 work.
            ("2025-09-26", 10, "2025-10-16"),
        ];
        for (start, n, due) in cases {
            let got = cal.add_working_days(d(start), n);
            assert_eq!(got.date, d(due), "{n} working days from {start}");
            assert!(!got.provisional);
            assert_eq!(cal.count_working_days(d(start), d(due)), n);
        }
    }

    #[test]
    fn make_up_days_work_and_holidays_do_not() {
        let cal = cn();
        assert!(cal.is_working_day(d("2025-01-26"))); // Sunday, make-up day
        assert!(cal.is_working_day(d("2025-01-27"))); // ordinary Monday before 除夕
        assert!(!cal.is_working_day(d("2025-10-08"))); // Wednesday, 国庆节
        assert!(!cal.is_working_day(d("2025-01-25"))); // ordinary Saturday
        assert_eq!(cal.holiday_name(d("2025-10-08")), Some("国庆节、中秋节"));
        assert_eq!(cal.years().collect::<Vec<_>>(), vec![2024, 2025, 2026]);
    }

    #[test]
    fn start_day_is_not_counted_and_zero_days_is_the_start() {
        let cal = cn();
        // Monday 2025-03-03: one working day later is Tuesday.
        assert_eq!(
            cal.add_working_days(d("2025-03-03"), 1).date,
            d("2025-03-04")
        );
        assert_eq!(
            cal.add_working_days(d("2025-03-01"), 0).date,
            d("2025-03-01")
        );
        // From a Saturday, the first working day is Monday.
        assert_eq!(
            cal.add_working_days(d("2025-03-01"), 1).date,
            d("2025-03-03")
        );
    }

    #[test]
    fn unpublished_year_counts_weekdays_and_is_provisional() {
        let cal = cn();
        // 2027 has no notice yet: 2027-01-01 is a Friday and counts as working.
        let due = cal.add_working_days(d("2026-12-30"), 3);
        assert_eq!(due.date, d("2027-01-04"));
        assert!(due.provisional);
        assert!(!cal.add_working_days(d("2026-12-01"), 3).provisional);
    }

    #[test]
    fn calendar_day_periods_end_on_a_working_day() {
        let cal = cn();
        // 2025-09-26 + 7 calendar days = 2025-10-03 (国庆节) → moves to Thursday 10-09.
        assert_eq!(
            cal.add_calendar_days(d("2025-09-26"), 7).date,
            d("2025-10-09")
        );
        assert_eq!(
            cal.add_calendar_days(d("2025-03-03"), 2).date,
            d("2025-03-05")
        );
    }
}
