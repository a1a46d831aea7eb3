//! The documentation's examples are part of the contract: every ```yaml block of
//! `docs/workflow-language.md` that starts with `# example:` must compile, and the
//! figures the text gives for some of them must be what the plan computes.

use std::path::{Path, PathBuf};

use onewindow_core::plan::{self, Options, Plan};
use onewindow_core::report;
use onewindow_core::spec::{self, LimitKind};

fn examples() -> Vec<(String, String)> {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let text = std::fs::read_to_string(root.join("docs/workflow-language.md")).unwrap();
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match (&mut block, line.trim_end()) {
            (None, "```yaml") => block = Some(String::new()),
            (Some(b), "```") => {
                if let Some(title) = b.lines().next().and_then(|l| l.strip_prefix("# example: ")) {
                    out.push((title.to_string(), b.clone()));
                }
                block = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            _ => {}
        }
    }
    out
}

fn compile(text: &str) -> Result<Plan, String> {
    // As if the example were a file in docs/, so relative paths resolve from there.
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("docs/example.yaml");
    let loaded = spec::load_str(&path, text).map_err(|d| d.to_string())?;
    plan::compile(&loaded)
        .map(|(p, _)| p)
        .map_err(|d| d.to_string())
}

fn example(title: &str) -> Plan {
    let (_, text) = examples()
        .into_iter()
        .find(|(t, _)| t == title)
        .unwrap_or_else(|| panic!("no example {title:?}"));
    compile(&text).unwrap()
}

const COMMITTED: Options<'static> = Options {
    limits: LimitKind::Committed,
    form: None,
    start: None,
};

#[test]
fn docs_examples_compile() {
    let all = examples();
    assert!(all.len() >= 14, "found only {} examples", all.len());
    for (title, text) in all {
        if let Err(e) = compile(&text) {
            panic!("example {title:?} does not compile:\n{e}");
        }
    }
}

#[test]
fn docs_figures_are_what_the_plan_computes() {
    let p = example("requires and produces");
    let s = p.schedule(&COMMITTED);
    assert_eq!(s.total, 16);
    let path: Vec<&str> = s
        .critical_path
        .iter()
        .map(|&i| p.items[i].id.as_str())
        .collect();
    assert_eq!(path, ["D1", "R1", "C1"]);
    assert_eq!(s.of(p.item_index("P1").unwrap()).unwrap().slack, 8);

    let p = example("after");
    assert_eq!(p.schedule(&COMMITTED).total, 51);
    let waits: Vec<(&str, &str)> = p
        .unjustified_after()
        .iter()
        .map(|&(a, b)| (p.items[a].id.as_str(), p.items[b].id.as_str()))
        .collect();
    assert_eq!(waits, [("I06", "I07")]);
    let (raw, _) = report::parallelize(&p, Path::new("."));
    let par = compile(&serde_yaml::to_string(&raw).unwrap()).unwrap();
    assert_eq!(par.schedule(&COMMITTED).total, 31);

    let slow = example("a variant (extends ../workflows/construction-parallel.yaml)");
    let base = compile("extends: ../workflows/construction-parallel.yaml\n").unwrap();
    assert!(slow.schedule(&COMMITTED).total > base.schedule(&COMMITTED).total);
}
