//! The entry points the fuzz targets drive (`fuzz/fuzz_targets/`), and that the normal
//! test run replays over the committed corpora (`crates/testkit/tests/fuzz_corpus.rs`): arbitrary bytes
//! into every parser of the project's inputs. Each must return — an error is fine — and
//! never panic, hang or allocate without bound. How to run them: `docs/fuzzing.md`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use onewindow_core::plan::Plan;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shipped parallel workflow, compiled once: the fields forms and conditions are
/// checked against.
fn parallel() -> &'static Plan {
    static PLAN: OnceLock<Plan> = OnceLock::new();
    PLAN.get_or_init(|| {
        onewindow_core::plan::compile_file(&root().join("workflows/construction-parallel.yaml"))
            .map(|(p, _)| p)
            .unwrap_or_else(|d| panic!("the shipped workflow compiles: {d}"))
    })
}

/// Bytes as a workflow file in `workflows/` (so that `extends` and `calendar` resolve as
/// for a real one): loaded, compiled and, when it compiles, planned.
pub fn workflow(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = root().join("workflows/fuzzed.yaml");
    if let Ok((plan, _)) =
        onewindow_core::spec::load_str(&path, text).and_then(|l| onewindow_core::plan::compile(&l))
    {
        let _ = plan.schedule(&onewindow_core::plan::Options {
            limits: plan.default_limits,
            form: None,
            start: chrono::NaiveDate::from_ymd_opt(2026, 3, 2),
        });
    }
}

/// Bytes as a form for the parallel workflow.
pub fn form(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = onewindow_core::form::Form::parse(text, &parallel().fields);
    }
}

/// Bytes as a `when:` condition: parsed, checked against the parallel workflow's fields,
/// and evaluated on an empty form.
pub fn condition(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(expr) = onewindow_core::condition::parse(text) {
            let fields = &parallel().fields;
            if expr.check(fields).is_empty() {
                let _ = expr.eval(&onewindow_core::form::Form::default());
            }
        }
    }
}

/// Bytes as a scenario in `workflows/scenarios/` (its variants' workflows resolve there):
/// loaded and checked — not run.
pub fn scenario(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let path = root().join("workflows/scenarios/fuzzed.yaml");
        let _ = onewindow_simulate::scenario::load_str(&path, text);
    }
}

/// Bytes as stored records: an event envelope, a snapshot's project state, an answer.
pub fn codec(data: &[u8]) {
    use onewindow_store::codec::decode;
    let _ = decode::<onewindow_engine::Envelope>(data);
    let _ = decode::<onewindow_engine::Project>(data);
    let _ = decode::<onewindow_store::Recorded>(data);
    let _ = decode::<onewindow_store::Snapshot>(data);
}

/// Bytes as the protobuf body of the API's requests.
pub fn request(data: &[u8]) {
    use onewindow_server::pb;
    use prost::Message;
    let _ = pb::SubmitRequest::decode(data);
    let _ = pb::ApproveRequest::decode(data);
    let _ = pb::SupplementRequest::decode(data);
    let _ = pb::MaterialsForItem::decode(data);
    let _ = pb::WatchRequest::decode(data);
    let _ = pb::ListTasksRequest::decode(data);
    let _ = pb::DeployRequest::decode(data);
}

/// A fuzz target's entry point.
pub type Target = fn(&[u8]);

/// Every target by name, for the corpus replay.
pub const TARGETS: [(&str, Target); 6] = [
    ("workflow", workflow),
    ("form", form),
    ("condition", condition),
    ("scenario", scenario),
    ("codec", codec),
    ("request", request),
];

/// The committed corpus of a target.
pub fn corpus_dir(target: &str) -> PathBuf {
    root().join("fuzz/corpus").join(target)
}

/// Runs a target over every file of its corpus; the number of inputs run.
///
/// # Panics
/// Where the target panics: that is the finding.
pub fn replay(target: &str, run: Target) -> usize {
    let dir = corpus_dir(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path: &Path = &entry.path();
        if let Ok(bytes) = std::fs::read(path) {
            run(&bytes);
            n += 1;
        }
    }
    n
}
