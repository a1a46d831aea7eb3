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

use onewindow::plan;

fn bad_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/data/bad exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_bad_workflow_gives_exactly_its_diagnostics() {
    let files = bad_files();
    assert!(
        files.len() >= 15,
        "expected the whole set of bad files, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut expected: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .map(str::to_string)
            .collect();
        let messages: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# message: "))
            .collect();
        assert!(
            !expected.is_empty(),
            "{} has no `# expect:` lines",
            file.display()
        );
        let diags = match plan::compile_file(&file) {
            Ok(_) => {
                failures.push(format!("{}: compiled without errors", file.display()));
                continue;
            }
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
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows");
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
