//! Every diagnostic the compiler gives, checked against data: each file in
//! `tests/data/bad/` ends with the diagnostics it must produce, one per line,
//!
//! ```text
//! # expect: 12:17 error unknown-department planning
//! # expect: other-file.yaml:1:10 error extends-cycle
//! # message: dependency cycle: A -(d1)-> B -(d2)-> A
//! ```
//!
//! `expect` lines must match the diagnostics exactly (no more, no fewer; position,
//! severity, code and offending id); `message` lines are substrings that some message must
//! contain. A file in another place than the one checked is named before its position.

use std::path::{Path, PathBuf};

use onewindow_core::plan;

fn bad_files() -> Vec<PathBuf> {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("tests/data/bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/bad exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// One bad file against its inline expectations (`# expect:` lines: every diagnostic,
/// exactly; `# message:` lines: words some message must contain); what differs, if
/// anything.
fn check_bad(name: &str) -> Result<(), String> {
    let file = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .join("tests/data/bad")
        .join(name);
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{name}: {e}"))?;
    let mut expected: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(str::to_string)
        .collect();
    let messages: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# message: "))
        .collect();
    if expected.is_empty() {
        return Err(format!("{} has no `# expect:` lines", file.display()));
    }
    let diags = match plan::compile_file(&file) {
        Ok(_) => return Err(format!("{}: compiled without errors", file.display())),
        Err(d) => d,
    };
    assert!(diags.has_errors());
    let this = file.display().to_string();
    let mut got: Vec<String> = diags
        .0
        .iter()
        .map(|d| {
            let prefix = if d.file == this {
                String::new()
            } else {
                format!(
                    "{}:",
                    Path::new(&d.file).file_name().unwrap().to_string_lossy()
                )
            };
            let sev = format!("{:?}", d.severity).to_lowercase();
            let id = d.id.as_ref().map_or(String::new(), |i| format!(" {i}"));
            format!("{prefix}{}:{} {sev} {}{id}", d.line, d.column, d.code)
        })
        .collect();
    expected.sort();
    got.sort();
    let mut failures = Vec::new();
    if expected != got {
        failures.push(format!(
            "{}:\n  expected: {expected:#?}\n  got: {got:#?}\n  messages:\n{}",
            file.display(),
            diags
        ));
    }
    let all = diags.to_string();
    for m in messages {
        if !all.contains(m) {
            failures.push(format!(
                "{}: no message contains {m:?}:\n{all}",
                file.display()
            ));
        }
    }
    match failures.is_empty() {
        true => Ok(()),
        false => Err(failures.join("\n\n")),
    }
}

/// One named test per bad file, and the list they come from.
macro_rules! bad_workflows {
    ($($test:ident: $file:literal),* $(,)?) => {
        const BAD_FILES: &[&str] = &[$($file),*];
        mod bad {
            $(
                #[test]
                fn $test() {
                    if let Err(e) = super::check_bad($file) {
                        panic!("{e}");
                    }
                }
            )*
        }
    };
}

bad_workflows! {
    calendar: "calendar.yaml",
    conditions: "conditions.yaml",
    cycle_after: "cycle-after.yaml",
    cycle: "cycle.yaml",
    deep: "deep.yaml",
    duplicates: "duplicates.yaml",
    empty: "empty.yaml",
    enum_labels: "enum-labels.yaml",
    extends_cycle_a: "extends-cycle-a.yaml",
    extends_cycle_b: "extends-cycle-b.yaml",
    extends_device: "extends-device.yaml",
    extends_missing: "extends-missing.yaml",
    field_range: "field-range.yaml",
    huge_number: "huge-number.yaml",
    id_too_long: "id-too-long.yaml",
    limit_forms: "limit-forms.yaml",
    limits_too_large: "limits-too-large.yaml",
    limits: "limits.yaml",
    missing: "missing.yaml",
    numbering: "numbering.yaml",
    repeated_key: "repeated-key.yaml",
    stage_order: "stage-order.yaml",
    stages: "stages.yaml",
    supplied_twice: "supplied-twice.yaml",
    unknown_key: "unknown-key.yaml",
    unknown_refs: "unknown-refs.yaml",
    unsupplied: "unsupplied.yaml",
    variant: "variant.yaml",
    yaml_syntax: "yaml-syntax.yaml",
    zone: "zone.yaml",
}

/// A bad file added without its test (or a test whose file is gone) fails here.
#[test]
fn every_bad_file_has_its_named_test() {
    let on_disk: Vec<String> = bad_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut listed: Vec<String> = BAD_FILES.iter().map(|f| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn arbitrary_text_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    for text in [
        "",
        ":",
        "- - -",
        "items: 3",
        "items: [{id: [1]}]",
        "\u{0}\u{1}",
        "{{{{",
        "items:\n  - limit: {statutory: 99999999999999999999}",
    ] {
        let path = dir.path().join("w.yaml");
        std::fs::write(&path, text).unwrap();
        // Empty and trivially small files may compile (to an empty plan) or fail; either
        // way the answer is a value, with a position when it is an error.
        if let Err(d) = plan::compile_file(&path) {
            assert!(d.0.iter().all(|x| x.line >= 1 && x.column >= 1), "{d}");
        }
    }
}

#[test]
fn shipped_workflows_compile_without_warnings() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("workflows");
    for name in [
        "construction-parallel",
        "construction-serial",
        "construction-park",
        "complaint",
    ] {
        let (plan, warnings) = plan::compile_file(&dir.join(format!("{name}.yaml")))
            .unwrap_or_else(|d| panic!("{name}: {d}"));
        assert_eq!(plan.id, name);
        assert!(warnings.0.is_empty(), "{name}: {warnings}");
        assert_eq!(plan.calendar.id(), "cn");
    }
}
