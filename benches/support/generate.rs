//! The generated 10,000-item workflow the compile benchmark measures.

use std::fmt::Write as _;

/// Items in the generated workflow.
pub const ITEMS: usize = 10_000;
const STAGES: [&str; 5] = [
    "attraction",
    "reserve",
    "approval",
    "construction",
    "acceptance",
];

/// A deterministic workflow: item i produces `doc{i}` and requires up to three documents
/// of recent earlier items; one item in ten also waits explicitly (`after`) for another,
/// one in fifty has a condition. Returns the text and the number of dependencies.
pub fn generate() -> (String, usize) {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    };
    let mut y = String::with_capacity(ITEMS * 260);
    y.push_str("workflow: generated\ncalendar: calendars/cn\nform:\n  fields:\n    - {id: size, type: number}\n    - {id: kind, type: enum, values: [a, b, c]}\ndepartments:\n");
    for d in 0..30 {
        let _ = writeln!(y, "  - {{id: dept{d}, name: Department {d}}}");
    }
    y.push_str("materials:\n  - {id: form_pack}\ndocuments:\n");
    for i in 0..ITEMS {
        let _ = writeln!(y, "  - {{id: doc{i}}}");
    }
    y.push_str("items:\n");
    let mut deps = 0;
    for i in 0..ITEMS {
        let stage = STAGES[i * STAGES.len() / ITEMS];
        let statutory = 1 + next(30);
        let committed = 1 + next(statutory);
        let _ = write!(
            y,
            "  - id: item{i}\n    department: dept{}\n    stage: {stage}\n    limit: {{statutory: {statutory}, committed: {committed}}}\n    produces: [doc{i}]\n",
            next(30)
        );
        let mut docs = Vec::new();
        if i > 0 {
            for _ in 0..3 {
                let d = i - 1 - next(i.min(200));
                if !docs.contains(&d) {
                    docs.push(d);
                }
            }
        }
        deps += docs.len();
        let list: Vec<String> = docs.iter().map(|d| format!("doc{d}")).collect();
        let _ = writeln!(
            y,
            "    requires: {{materials: [form_pack], documents: [{}]}}",
            list.join(", ")
        );
        if i > 10 && i % 10 == 0 {
            let _ = writeln!(y, "    after: [item{}]", i - 1 - next(10));
            deps += 1;
        }
        if i % 50 == 0 {
            let _ = writeln!(
                y,
                "    when: \"size > {} or kind in ['a', 'b']\"",
                next(1000)
            );
        }
    }
    (y, deps)
}
