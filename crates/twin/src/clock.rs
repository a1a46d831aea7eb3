//! Working time, counted as the simulator counts it: a working day is 480 minutes, 09:00
//! to 17:00 on the days the workflow's calendar says are working days (holidays out,
//! make-up working days in), in the city's local time of record. Calibration measures
//! every duration of the record in this time, so what it fits is what the simulator
//! draws, and a simulated run read back gives its own parameters again.
//!
//! A moment outside working hours counts as the nearest working moment after it: 18:30
//! is the day's end, a Sunday is the next working day's start. (A real city's hours differ
//! a little, 08:30–12:00 and 14:00–17:30 say; the day is still 480 working minutes, and
//! what matters to a working-day model is which days count.)

use chrono::{NaiveDate, NaiveDateTime, Timelike};
use onewindow_core::calendar::Calendar;

/// Minutes in a working day: the simulator's.
pub use onewindow_simulate::des::DAY;

/// The working clock of one calendar over a span of days.
pub struct WorkClock {
    first: NaiveDate,
    /// Per day from `first`: working days before it.
    before: Vec<u32>,
    /// Per day from `first`: whether it is a working day.
    working: Vec<bool>,
}

impl WorkClock {
    /// The clock over `[first, last]` (a moment outside the span is clamped to it).
    pub fn new(calendar: &Calendar, first: NaiveDate, last: NaiveDate) -> WorkClock {
        let days = (last - first).num_days().max(0) as usize + 1;
        let mut before = Vec::with_capacity(days);
        let mut working = Vec::with_capacity(days);
        let mut n = 0u32;
        let mut d = first;
        for _ in 0..days {
            before.push(n);
            let w = calendar.is_working_day(d);
            working.push(w);
            n += u32::from(w);
            d = d.succ_opt().unwrap_or(d);
        }
        WorkClock {
            first,
            before,
            working,
        }
    }

    /// Working minutes from the span's first working moment to `at`.
    pub fn minutes(&self, at: NaiveDateTime) -> u64 {
        let k = (at.date() - self.first).num_days();
        if k < 0 {
            return 0;
        }
        let Some(&before) = self.before.get(k as usize) else {
            let last = self.before.len() - 1;
            return (u64::from(self.before[last]) + u64::from(self.working[last])) * DAY;
        };
        let start = u64::from(before) * DAY;
        if !self.working[k as usize] {
            return start;
        }
        let minute = i64::from(at.hour() * 60 + at.minute()) - 9 * 60;
        start + minute.clamp(0, DAY as i64) as u64
    }

    /// Working days in `[first, last]` of the span.
    pub fn working_days(&self, first: NaiveDate, last: NaiveDate) -> u32 {
        let at = |d: NaiveDate| {
            let k = (d - self.first)
                .num_days()
                .clamp(0, self.before.len() as i64 - 1) as usize;
            (self.before[k], self.working[k])
        };
        let (a, _) = at(first);
        let (b, w) = at(last);
        (b + u32::from(w)).saturating_sub(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn a_weekend_and_hours_outside_the_day_do_not_count() {
        let cal = Calendar::weekdays_only("t");
        let first = NaiveDate::from_ymd_opt(2025, 3, 3).unwrap(); // a Monday
        let clock = WorkClock::new(&cal, first, first + chrono::Days::new(30));
        assert_eq!(clock.minutes(at("2025-03-03 09:00")), 0);
        assert_eq!(clock.minutes(at("2025-03-03 10:30")), 90);
        assert_eq!(clock.minutes(at("2025-03-03 18:30")), 480);
        assert_eq!(clock.minutes(at("2025-03-04 08:00")), 480);
        // Friday 16:00 to Monday 10:00: one hour on Friday, one on Monday.
        assert_eq!(
            clock.minutes(at("2025-03-10 10:00")) - clock.minutes(at("2025-03-07 16:00")),
            120
        );
        assert_eq!(clock.minutes(at("2025-03-08 12:00")), 5 * 480);
        assert_eq!(
            clock.working_days(first, NaiveDate::from_ymd_opt(2025, 3, 16).unwrap()),
            10
        );
    }
}
