//! A department's effective staff, from how many of its reviews ran at once.
//!
//! The simulator's department is a first-come-first-served queue served by `staff`
//! reviewers: while a task waits for a reviewer, every reviewer is busy. So the number of
//! reviews in progress *while some task waits* is the staff — the estimate is the value
//! that count held for the longest time (robust to the moments where the record's
//! second looks, whose start is estimated, blur it). A department where no task ever
//! waited never showed its limit: the most reviews it ran at once is then a lower bound,
//! and the report says so.

/// The estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Staff {
    /// Reviewers.
    pub staff: u32,
    /// Whether a queue formed (the estimate is the limit, not a lower bound).
    pub saturated: bool,
    /// Working days during which some task waited.
    pub queued_days: f64,
    /// The most reviews in progress at once.
    pub peak: u32,
}

/// Staff from reviews in progress (`busy`: start, end) and waits (`queued`: ready,
/// claimed), in working minutes.
pub fn estimate(busy: &[(u64, u64)], queued: &[(u64, u64)]) -> Option<Staff> {
    // (time, busy change, queue change); at equal times ends before starts, so a review
    // that ends when the next begins does not count twice.
    let mut edges: Vec<(u64, i32, i32)> = Vec::with_capacity(2 * (busy.len() + queued.len()));
    for &(s, e) in busy.iter().filter(|(s, e)| e > s) {
        edges.push((s, 1, 0));
        edges.push((e, -1, 0));
    }
    for &(s, e) in queued.iter().filter(|(s, e)| e > s) {
        edges.push((s, 0, 1));
        edges.push((e, 0, -1));
    }
    if edges.is_empty() {
        return None;
    }
    edges.sort_by_key(|&(t, b, q)| (t, b + q));
    let (mut in_review, mut waiting, mut peak) = (0i64, 0i64, 0i64);
    let mut at_level: std::collections::BTreeMap<i64, u64> = Default::default();
    let mut last = edges[0].0;
    let mut queued_minutes = 0u64;
    for (t, b, q) in edges {
        if t > last && waiting > 0 {
            *at_level.entry(in_review).or_default() += t - last;
            queued_minutes += t - last;
        }
        last = t;
        in_review += i64::from(b);
        waiting += i64::from(q);
        peak = peak.max(in_review);
    }
    let peak = peak.max(1) as u32;
    let held_longest = at_level
        .iter()
        .filter(|(level, _)| **level > 0)
        .max_by_key(|(level, minutes)| (**minutes, **level))
        .map(|(level, _)| *level as u32);
    Some(match held_longest {
        Some(staff) => Staff {
            staff,
            saturated: true,
            queued_days: queued_minutes as f64 / crate::clock::DAY as f64,
            peak,
        },
        None => Staff {
            staff: peak,
            saturated: false,
            queued_days: 0.0,
            peak,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn while_a_task_waits_every_reviewer_is_busy() {
        // Two reviewers: reviews back to back on two lanes, a third task waits 0..100.
        let busy = [(0, 100), (0, 150), (100, 300), (150, 200)];
        let queued = [(0, 100), (120, 150)];
        let s = estimate(&busy, &queued).unwrap();
        assert_eq!((s.staff, s.saturated, s.peak), (2, true, 2));
    }

    #[test]
    fn without_a_queue_the_peak_is_a_lower_bound() {
        let s = estimate(&[(0, 10), (5, 20), (6, 7)], &[]).unwrap();
        assert_eq!((s.staff, s.saturated, s.peak), (3, false, 3));
        assert!(estimate(&[], &[]).is_none());
    }
}
