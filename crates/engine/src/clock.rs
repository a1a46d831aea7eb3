//! A task's clock: how its days are counted and its due date computed in the item's unit
//! (working days on the plan's calendar, or calendar days). The only place the engine
//! does date arithmetic, so every bound on it lives here.

use chrono::NaiveDate;

use onewindow_core::calendar::Calendar;
use onewindow_core::plan::Plan;
use onewindow_core::spec::Unit;

/// How a task's days are counted, and its dates computed, in the item's unit.
pub(super) struct Clock<'a> {
    cal: &'a Calendar,
    unit: Unit,
}

impl Clock<'_> {
    #[inline]
    pub(super) fn due(&self, from: NaiveDate, days: u32) -> (NaiveDate, bool) {
        let d = match self.unit {
            Unit::WorkingDays => self.cal.add_working_days(from, days),
            Unit::CalendarDays => self.cal.add_calendar_days(from, days),
        };
        (d.date, d.provisional)
    }

    #[inline]
    pub(super) fn between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        match self.unit {
            Unit::WorkingDays => self.cal.count_working_days(from, to),
            Unit::CalendarDays => u32::try_from((to - from).num_days().max(0)).unwrap_or(u32::MAX),
        }
    }
}

impl Clock<'_> {
    /// The clock of item `item` of `plan`.
    #[inline]
    pub(super) fn of(plan: &Plan, item: usize) -> Clock<'_> {
        Clock {
            cal: &plan.calendar,
            unit: plan.items[item].limit.unit,
        }
    }
}
