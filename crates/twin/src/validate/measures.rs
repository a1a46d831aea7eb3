//! The distances of the simulation-discovery literature (Simod's set, Chapela-Campa et
//! al., "Can I trust my simulation model?", 2023), between two logs of cases:
//!
//! - **n-gram distance**: each case's activity sequence, padded with two starts and an
//!   end, cut into 3-grams; the two logs' 3-gram frequencies compared (half the sum of the
//!   absolute differences: 0 for the same control flow, 1 for nothing in common);
//! - **absolute event distribution**: when the events happen, from the log's start;
//! - **relative event distribution**: when the events happen, from their case's start;
//! - **cycle time**: each finished case's duration.
//!
//! The last three are earth mover's distances (the Wasserstein-1 distance of the two
//! empirical distributions, computed exactly rather than on hourly bins), each in
//! working days of the calendar and in hours of the clock: a record's nights, weekends
//! and holidays are in its hours and not in its working days, and a twin that is right
//! on one and wrong on the other says where it is wrong.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde_json::json;

use crate::clock::{WorkClock, DAY};

/// One case: its events' times and activities, in order.
#[derive(Debug, Clone)]
pub struct Case {
    /// The events: time and activity (an index into the logs' shared alphabet).
    pub events: Vec<(NaiveDateTime, u32)>,
    /// Whether the case finished (completed or withdrawn) within the log.
    pub finished: bool,
}

/// A log: its cases and where its time starts.
#[derive(Debug, Clone, Default)]
pub struct Log {
    /// The cases.
    pub cases: Vec<Case>,
}

/// The distances between two logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measures {
    /// 3-gram distance, 0..1.
    pub ngram: f64,
    /// Absolute event distribution: working days, hours.
    pub aed: [f64; 2],
    /// Relative event distribution: working days, hours.
    pub red: [f64; 2],
    /// Cycle time: working days, hours.
    pub ctd: [f64; 2],
}

impl Measures {
    /// As JSON (`{"ngram": …, "aed": {"working_days": …, "hours": …}, …}`).
    pub fn json(&self) -> serde_json::Value {
        let pair = |p: [f64; 2]| json!({"working_days": p[0], "hours": p[1]});
        json!({
            "ngram": self.ngram,
            "absolute_event_distribution": pair(self.aed),
            "relative_event_distribution": pair(self.red),
            "cycle_time": pair(self.ctd),
        })
    }

    /// Each measure with its name and unit, in order.
    pub fn rows(&self) -> [(&'static str, f64); 7] {
        [
            ("n-gram distance (3-grams)", self.ngram),
            ("absolute event distribution, working days", self.aed[0]),
            ("absolute event distribution, hours", self.aed[1]),
            ("relative event distribution, working days", self.red[0]),
            ("relative event distribution, hours", self.red[1]),
            ("cycle time, working days", self.ctd[0]),
            ("cycle time, hours", self.ctd[1]),
        ]
    }
}

/// The distances between `a` (whose time starts at `a0`) and `b` (from `b0`).
pub fn measures(
    a: &Log,
    a0: NaiveDateTime,
    b: &Log,
    b0: NaiveDateTime,
    clock: &WorkClock,
) -> Measures {
    let wd = |t: NaiveDateTime, from: NaiveDateTime| {
        clock.minutes(t) as f64 / DAY as f64 - clock.minutes(from) as f64 / DAY as f64
    };
    let hours = |t: NaiveDateTime, from: NaiveDateTime| (t - from).num_seconds() as f64 / 3600.0;
    let unit = |f: &dyn Fn(NaiveDateTime, NaiveDateTime) -> f64| {
        let absolute = |l: &Log, origin| {
            l.cases
                .iter()
                .flat_map(|c| c.events.iter().map(move |(t, _)| f(*t, origin)))
                .collect::<Vec<f64>>()
        };
        let relative = |l: &Log| {
            l.cases
                .iter()
                .flat_map(|c| {
                    let start = c.events.first().map(|e| e.0);
                    c.events
                        .iter()
                        .filter_map(move |(t, _)| start.map(|s| f(*t, s)))
                })
                .collect::<Vec<f64>>()
        };
        let cycle = |l: &Log| {
            l.cases
                .iter()
                .filter(|c| c.finished)
                .filter_map(|c| Some(f(c.events.last()?.0, c.events.first()?.0)))
                .collect::<Vec<f64>>()
        };
        (
            wasserstein(absolute(a, a0), absolute(b, b0)),
            wasserstein(relative(a), relative(b)),
            wasserstein(cycle(a), cycle(b)),
        )
    };
    let (aw, rw, cw) = unit(&wd);
    let (ah, rh, ch) = unit(&hours);
    Measures {
        ngram: ngram(a, b),
        aed: [aw, ah],
        red: [rw, rh],
        ctd: [cw, ch],
    }
}

/// The Wasserstein-1 (earth mover's) distance between two samples' empirical
/// distributions: the area between their distribution functions. NaN when either is
/// empty (nothing to compare, which the report prints as such).
pub fn wasserstein(mut a: Vec<f64>, mut b: Vec<f64>) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut last = a[0].min(b[0]);
    let mut area = 0.0;
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        area += (i as f64 / na - j as f64 / nb).abs() * (next - last);
        last = next;
        while a.get(i).is_some_and(|x| *x <= next) {
            i += 1;
        }
        while b.get(j).is_some_and(|y| *y <= next) {
            j += 1;
        }
    }
    area
}

const START: u32 = u32::MAX;
const END: u32 = u32::MAX - 1;

fn grams(l: &Log) -> HashMap<(u32, u32, u32), f64> {
    let mut h = HashMap::new();
    let mut total = 0.0;
    for c in &l.cases {
        let seq: Vec<u32> = [START, START]
            .into_iter()
            .chain(c.events.iter().map(|e| e.1))
            .chain([END])
            .collect();
        for w in seq.windows(3) {
            *h.entry((w[0], w[1], w[2])).or_insert(0.0) += 1.0;
            total += 1.0;
        }
    }
    for v in h.values_mut() {
        *v /= total;
    }
    h
}

/// Half the sum of the absolute differences of the two logs' 3-gram frequencies.
pub fn ngram(a: &Log, b: &Log) -> f64 {
    let (ga, gb) = (grams(a), grams(b));
    if ga.is_empty() || gb.is_empty() {
        return f64::NAN;
    }
    let mut d: f64 = ga
        .iter()
        .map(|(k, p)| (p - gb.get(k).copied().unwrap_or(0.0)).abs())
        .sum();
    d += gb
        .iter()
        .filter(|(k, _)| !ga.contains_key(*k))
        .map(|(_, q)| q)
        .sum::<f64>();
    d / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earth_movers_distance_of_a_shift_is_the_shift() {
        let a: Vec<f64> = (0..100).map(f64::from).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 2.5).collect();
        assert!((wasserstein(a.clone(), b) - 2.5).abs() < 1e-9);
        assert_eq!(wasserstein(a.clone(), a.clone()), 0.0);
        // Different sizes: {0, 1} against {0, 0, 1, 1} is the same distribution.
        assert_eq!(wasserstein(vec![0.0, 1.0], vec![0.0, 0.0, 1.0, 1.0]), 0.0);
        assert!((wasserstein(vec![0.0], vec![1.0, 3.0]) - 2.0).abs() < 1e-9);
        assert!(wasserstein(vec![], a).is_nan());
    }

    #[test]
    fn the_ngram_distance_is_zero_for_the_same_flow_and_one_for_none_in_common() {
        let t = NaiveDateTime::default();
        let case = |acts: &[u32]| Case {
            events: acts.iter().map(|a| (t, *a)).collect(),
            finished: true,
        };
        let a = Log {
            cases: vec![case(&[1, 2, 3]), case(&[1, 3, 2])],
        };
        let b = Log {
            cases: vec![
                case(&[1, 3, 2]),
                case(&[1, 2, 3]),
                case(&[1, 2, 3]),
                case(&[1, 3, 2]),
            ],
        };
        let c = Log {
            cases: vec![case(&[7, 8])],
        };
        assert!(ngram(&a, &b).abs() < 1e-12);
        assert!((ngram(&a, &c) - 1.0).abs() < 1e-12);
    }
}
