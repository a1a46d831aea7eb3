//! Property tests of the compiler, the analysis and the calendar.
//!
//! - On random DAG workflows the critical path equals a brute-force longest path (stage
//!   gates included), and the reported path is a real chain of that length.
//! - `parallelize` never lengthens a plan and keeps every document dependency.
//! - The compiler never panics on arbitrary text or on damaged real workflows.
//! - Working-day add and count are inverse of each other on the shipped calendars.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};
use onewindow_core::calendar::Calendar;
use onewindow_core::plan::{self, Options, Plan};
use onewindow_core::report;
use onewindow_core::spec::{self, LimitKind};
use proptest::prelude::*;

/// A generated workflow: per item a stage step, limits, milestone flag; edges between
/// earlier and later items as documents or `after` waits.
#[derive(Debug, Clone)]
struct Gen {
    items: Vec<(u8, u32, u32, bool)>, // (stage index, statutory, committed, milestone)
    edges: Vec<(usize, usize, bool)>, // (from, to, is_document)
}

fn gen_workflow(max_items: usize) -> impl Strategy<Value = Gen> {
    (1..=max_items)
        .prop_flat_map(|n| {
            let items =
                prop::collection::vec((0u8..2, 0u32..25, 0u32..25, prop::bool::weighted(0.15)), n);
            let edges = prop::collection::vec((0..n, 0..n, prop::bool::ANY), 0..(n * 2));
            (items, edges)
        })
        .prop_map(|(raw_items, raw_edges)| {
            // Stages never decrease along the item order, so edges (which go forward)
            // never point back to an earlier stage.
            let mut stage = 0u8;
            let items = raw_items
                .into_iter()
                .map(|(step, a, b, m)| {
                    stage = (stage + step).min(4);
                    (stage, a.max(b), a.min(b), m)
                })
                .collect();
            let edges = raw_edges.into_iter().filter(|(a, b, _)| a < b).collect();
            Gen { items, edges }
        })
}

const STAGES: [&str; 5] = [
    "attraction",
    "reserve",
    "approval",
    "construction",
    "acceptance",
];

fn to_yaml(g: &Gen) -> String {
    let mut y = String::from("departments: [{id: d}]\ndocuments:\n");
    for i in 0..g.items.len() {
        let _ = writeln!(y, "  - {{id: doc{i}}}");
    }
    y.push_str("items:\n");
    for (i, (stage, statutory, committed, milestone)) in g.items.iter().enumerate() {
        let _ = writeln!(y, "  - id: T{i}\n    stage: {}", STAGES[*stage as usize]);
        if *milestone {
            y.push_str("    kind: milestone\n");
        } else {
            let _ = writeln!(
                y,
                "    department: d\n    limit: {{statutory: {statutory}, committed: {committed}}}"
            );
        }
        let docs: Vec<String> = g
            .edges
            .iter()
            .filter(|e| e.1 == i && e.2)
            .map(|e| format!("doc{}", e.0))
            .collect();
        let after: Vec<String> = g
            .edges
            .iter()
            .filter(|e| e.1 == i && !e.2)
            .map(|e| format!("T{}", e.0))
            .collect();
        let _ = writeln!(
            y,
            "    produces: [doc{i}]\n    requires: {{documents: [{}]}}\n    after: [{}]",
            docs.join(", "),
            after.join(", ")
        );
    }
    y
}

fn compile_text(text: &str) -> Result<Plan, String> {
    let loaded = spec::load_str(Path::new("generated.yaml"), text).map_err(|d| d.to_string())?;
    plan::compile(&loaded)
        .map(|(p, _)| p)
        .map_err(|d| d.to_string())
}

fn duration(g: &Gen, i: usize, kind: LimitKind) -> u32 {
    let (_, s, c, m) = g.items[i];
    match (m, kind) {
        (true, _) => 0,
        (false, LimitKind::Statutory) => s,
        (false, LimitKind::Committed) => c,
    }
}

/// Longest path by enumerating every path (exponential; the inputs are small), over the
/// declared edges plus a stage gate from every item to every item of a later stage.
fn brute_force(g: &Gen, kind: LimitKind) -> u32 {
    let n = g.items.len();
    let waits = |a: usize, b: usize| {
        g.edges.iter().any(|e| e.0 == a && e.1 == b) || g.items[a].0 < g.items[b].0
    };
    fn walk(
        i: usize,
        n: usize,
        g: &Gen,
        kind: LimitKind,
        waits: &dyn Fn(usize, usize) -> bool,
    ) -> u32 {
        let here = duration(g, i, kind);
        let mut best = 0;
        for j in 0..n {
            if waits(i, j) {
                best = best.max(walk(j, n, g, kind, waits));
            }
        }
        here + best
    }
    (0..n)
        .map(|i| walk(i, n, g, kind, &waits))
        .max()
        .unwrap_or(0)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn critical_path_is_the_longest_path(g in gen_workflow(9)) {
        let plan = compile_text(&to_yaml(&g)).map_err(TestCaseError::fail)?;
        for kind in [LimitKind::Statutory, LimitKind::Committed] {
            let s = plan.schedule(&Options { limits: kind, form: None, start: None });
            prop_assert_eq!(s.total, brute_force(&g, kind));
            // The reported path is a chain of waits whose durations add up to the total.
            let path = &s.critical_path;
            let sum: u32 = path.iter().map(|&i| duration(&g, i, kind)).sum();
            prop_assert_eq!(sum, s.total, "path {:?}", path);
            for w in path.windows(2) {
                let linked = plan.graph.contains_edge((w[0] as u32).into(), (w[1] as u32).into())
                    || plan.items[w[0]].stage < plan.items[w[1]].stage;
                prop_assert!(linked, "{:?} is not a wait", w);
            }
            for it in &s.items {
                prop_assert!(it.earliest_finish <= s.total);
                prop_assert_eq!(it.latest_start - it.earliest_start, it.slack);
                if path.contains(&it.item) {
                    prop_assert_eq!(it.slack, 0);
                }
            }
        }
    }

    #[test]
    fn parallelize_never_lengthens_and_keeps_documents(g in gen_workflow(9)) {
        let plan = compile_text(&to_yaml(&g)).map_err(TestCaseError::fail)?;
        let (raw, removed) = report::parallelize(&plan, Path::new("."));
        let text = serde_yaml::to_string(&raw).unwrap();
        let par = compile_text(&text).map_err(TestCaseError::fail)?;
        prop_assert!(par.unjustified_after().is_empty());
        prop_assert_eq!(removed.len(), plan.unjustified_after().len());
        for kind in [LimitKind::Statutory, LimitKind::Committed] {
            let o = Options { limits: kind, form: None, start: None };
            prop_assert!(par.schedule(&o).total <= plan.schedule(&o).total);
        }
        for (a, b) in plan.items.iter().zip(&par.items) {
            prop_assert_eq!(&a.requires.documents, &b.requires.documents);
            prop_assert_eq!(&a.produces, &b.produces);
        }
    }

    #[test]
    fn compiler_never_panics_on_arbitrary_text(text in "\\PC{0,300}") {
        let _ = compile_text(&text);
    }

    #[test]
    fn compiler_never_panics_on_damaged_workflows(cut in 0usize..20_000, len in 0usize..200, insert in "[ :\\-\\[\\]{},'\"#a-z0-9\n]{0,12}") {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("workflows");
        let original = std::fs::read_to_string(dir.join("construction-parallel.yaml")).unwrap();
        let mut bytes = original.into_bytes();
        let at = cut.min(bytes.len());
        let end = (at + len).min(bytes.len());
        bytes.splice(at..end, insert.into_bytes());
        let text = String::from_utf8_lossy(&bytes).into_owned();
        // Loaded as if it stood beside the real one, so `calendar` resolves.
        if let Ok(loaded) = spec::load_str(&dir.join("damaged.yaml"), &text) {
            if let Err(d) = plan::compile(&loaded) {
                prop_assert!(d.has_errors());
                prop_assert!(d.0.iter().all(|x| x.line >= 1 && x.column >= 1));
            }
        }
    }

    #[test]
    fn add_and_count_are_inverse(offset in 0u64..1800, n in 0u32..300, span in 0u64..500) {
        let cal = shipped();
        let start = NaiveDate::from_ymd_opt(2023, 6, 1).unwrap() + Days::new(offset);
        let due = cal.add_working_days(start, n);
        prop_assert_eq!(cal.count_working_days(start, due.date), n);
        if n > 0 {
            prop_assert!(cal.is_working_day(due.date));
        }
        // Counting up to any date and adding back lands on the last working day at or
        // before it (or on the start, when none is in between).
        let end = start + Days::new(span);
        let k = cal.count_working_days(start, end);
        let back = cal.add_working_days(start, k).date;
        prop_assert!(back <= end);
        prop_assert_eq!(cal.count_working_days(back, end), 0);
        prop_assert_eq!(due.provisional, (1..=due.date.signed_duration_since(start).num_days())
            .any(|d| !cal.is_known(start + Days::new(d as u64))));
    }

    /// Calendar arithmetic is total and bounded: any start (chrono's whole range) and any
    /// number of days give an answer at once, never past the last year the platform
    /// computes with unless the start already is, and a clamped answer is provisional.
    #[test]
    fn calendar_arithmetic_is_bounded_for_any_input(
        day in -100_000i64..3_000_000,
        n in prop_oneof![0u32..2000, Just(u32::MAX), any::<u32>()],
        to in -100_000i64..3_000_000,
    ) {
        let cal = shipped();
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
        let at = |d: i64| if d >= 0 {
            epoch.checked_add_days(Days::new(d as u64)).unwrap_or(NaiveDate::MAX)
        } else {
            epoch.checked_sub_days(Days::new((-d) as u64)).unwrap_or(NaiveDate::MIN)
        };
        let (start, end) = (at(day), at(to));
        let last = onewindow_core::calendar::LAST_DATE;
        for due in [cal.add_working_days(start, n), cal.add_calendar_days(start, n)] {
            prop_assert!(due.date >= start.min(last));
            prop_assert!(due.date <= last.max(start));
            if due.date == last && n > 0 {
                prop_assert!(due.provisional);
            }
        }
        let counted = cal.count_working_days(start, end);
        prop_assert!(counted <= 366 * 200);
    }
}

fn shipped() -> &'static Calendar {
    static CAL: std::sync::OnceLock<Calendar> = std::sync::OnceLock::new();
    CAL.get_or_init(|| {
        Calendar::load_dir(
            &PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
                .join("workflows/calendars/cn"),
        )
        .unwrap()
    })
}
