//! The engine's rules, checked against data: every file in `tests/scenarios/` names a
//! workflow and a list of steps, each a command with its time and actor and what must
//! come of it. See `tests/scenarios/README.md` for the format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use onewindow_core::form::{self, Value};
use onewindow_core::plan::{self, Plan};
use onewindow_engine::{Actor, Command, Engine, MaterialRef, Policy, Refusal, TaskState};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    workflow: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    policy: Option<Policy>,
    #[serde(default)]
    form: Option<String>,
    /// More workflows deployed beside the first (versions to migrate to).
    #[serde(default)]
    also: Vec<String>,
    steps: Vec<Step>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Step {
    #[serde(default)]
    at: Option<NaiveDateTime>,
    #[serde(default, rename = "as")]
    actor: Option<String>,
    #[serde(default, rename = "do")]
    command: Option<String>,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    item: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    needed: Vec<String>,
    #[serde(default)]
    materials: Option<serde_yaml::Value>,
    #[serde(default)]
    form: Option<BTreeMap<String, serde_yaml::Value>>,
    #[serde(default)]
    numbers: BTreeMap<String, String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    opinion: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    reviewer: Option<String>,
    #[serde(default)]
    before: bool,
    #[serde(default)]
    calendar: Option<String>,
    // Expectations.
    #[serde(default)]
    expect: Option<Vec<String>>,
    #[serde(default)]
    includes: Vec<String>,
    #[serde(default)]
    excludes: Vec<String>,
    #[serde(default)]
    refused: Option<String>,
    #[serde(default)]
    notice: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    state: BTreeMap<String, String>,
    #[serde(default)]
    due: BTreeMap<String, String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    overdue: Option<Vec<String>>,
    #[serde(default)]
    warnings: Option<Vec<String>>,
    #[serde(default)]
    notifies: Option<Vec<String>>,
    #[serde(default)]
    step: BTreeMap<String, String>,
    #[serde(default)]
    assignee: BTreeMap<String, String>,
}

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn actor(s: &str) -> Actor {
    match s {
        "window" => Actor::Window,
        "supervisor" => Actor::Supervisor,
        "system" => Actor::System,
        a if a.starts_with("agent:") => Actor::Agent(a["agent:".len()..].to_string()),
        a if a.contains('/') => {
            let (department, reviewer) = a.split_once('/').unwrap();
            Actor::Reviewer {
                department: department.to_string(),
                reviewer: reviewer.to_string(),
            }
        }
        dept => Actor::Department(dept.to_string()),
    }
}

fn form_values(plan: &Plan, raw: &BTreeMap<String, serde_yaml::Value>) -> BTreeMap<String, Value> {
    raw.iter()
        .map(|(k, v)| {
            let value = match plan.fields.iter().find(|f| &f.id == k) {
                Some(f) => {
                    form::coerce(&f.ty, v).unwrap_or_else(|_| Value::String(format!("{v:?}")))
                }
                None => Value::String(serde_yaml::to_string(v).unwrap().trim().to_string()),
            };
            (k.clone(), value)
        })
        .collect()
}

fn materials(plan: &Plan, v: &Option<serde_yaml::Value>) -> Vec<MaterialRef> {
    match v {
        None => Vec::new(),
        Some(serde_yaml::Value::String(s)) if s == "all" => plan
            .materials
            .iter()
            .map(|m| MaterialRef::named(&m.id))
            .collect(),
        Some(v) => {
            let ids: Vec<String> =
                serde_yaml::from_value(v.clone()).expect("materials: `all` or a list of ids");
            ids.iter().map(|m| MaterialRef::named(m)).collect()
        }
    }
}

/// A notice as the scenario files write it: item id → missing materials, then fields;
/// `if ITEM` → for an item whose condition waits for a missing field, `?field` for each
/// such field, then what it will need if it applies.
fn notice_map(notice: &onewindow_engine::Notice) -> BTreeMap<String, Vec<String>> {
    let items = notice.items.iter().map(|i| {
        (
            i.item.clone(),
            i.missing_materials
                .iter()
                .chain(&i.missing_fields)
                .cloned()
                .collect(),
        )
    });
    let conditional = notice.conditional.iter().map(|c| {
        (
            format!("if {}", c.item),
            c.undecided_fields
                .iter()
                .map(|f| format!("?{f}"))
                .chain(c.missing_materials.iter().cloned())
                .chain(c.missing_fields.iter().cloned())
                .collect(),
        )
    });
    items.chain(conditional).collect()
}

/// Runs one scenario: its steps and how many of them were checked against the fold.
fn run(path: &Path) -> Result<(usize, usize), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let sc: Scenario = serde_yaml::from_str(&text).map_err(|e| format!("scenario: {e}"))?;
    let _ = &sc.description;
    let dir = path.parent().unwrap();
    let (plan, _) = plan::compile_file(&dir.join(&sc.workflow)).map_err(|d| d.to_string())?;
    let default_form: BTreeMap<String, serde_yaml::Value> = match &sc.form {
        Some(f) => {
            serde_yaml::from_str(&std::fs::read_to_string(dir.join(f)).map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?
        }
        None => BTreeMap::new(),
    };
    let mut engine = Engine::new(sc.policy.unwrap_or_default());
    let stem = |f: &str| {
        Path::new(f)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    // Versions are content hashes; summaries name them by their file instead.
    let mut names: Vec<(String, String)> = Vec::new();
    let version = engine.deploy(plan);
    names.push((version.clone(), stem(&sc.workflow)));
    let mut versions_of: BTreeMap<String, String> = BTreeMap::new();
    for f in &sc.also {
        let (p, _) = plan::compile_file(&dir.join(f)).map_err(|d| d.to_string())?;
        let v = engine.deploy(p);
        names.push((v.clone(), stem(f)));
        versions_of.insert(f.clone(), v);
    }
    versions_of.insert(sc.workflow.clone(), version.clone());
    let plan = engine.plan(&version).unwrap().clone();
    let mut now: Option<NaiveDateTime> = None;
    let mut folds = 0;
    for (n, step) in sc.steps.iter().enumerate() {
        let fail = |m: String| {
            format!(
                "step {} ({}): {m}",
                n + 1,
                step.command.as_deref().unwrap_or("check")
            )
        };
        if step.at.is_some() {
            now = step.at;
        }
        let at = now.ok_or_else(|| fail("no time given yet".into()))?;
        let project = step.project.clone().unwrap_or_else(|| "P1".to_string());
        let who = actor(step.actor.as_deref().unwrap_or("window"));
        let item = || step.item.clone().expect("this command needs `item`");
        // What a step without events would silently ignore is refused: a check-only step
        // and pre-review emit no events and no refusal (pre-review answers a notice).
        let eventless = matches!(step.command.as_deref(), None | Some("pre_review"));
        let ignored = [
            ("expect", step.expect.is_some()),
            ("includes", !step.includes.is_empty()),
            ("excludes", !step.excludes.is_empty()),
            ("refused", step.refused.is_some()),
            ("notifies", step.notifies.is_some()),
            ("notice", step.command.is_none() && step.notice.is_some()),
        ];
        if let Some((key, _)) = ignored.iter().find(|(_, set)| eventless && *set) {
            return Err(fail(format!(
                "`{key}` means nothing on a step without a command's events"
            )));
        }
        let result = match step.command.as_deref() {
            None => None,
            Some("pre_review") => {
                let f = form_values(&plan, step.form.as_ref().unwrap_or(&default_form));
                let notice = engine
                    .pre_review(&version, &f, &materials(&plan, &step.materials))
                    .unwrap();
                if let Some(expected) = &step.notice {
                    let mut got: BTreeMap<String, Vec<String>> = notice_map(&notice);
                    if !notice.form.is_empty() {
                        got.insert(
                            "form".into(),
                            notice.form.iter().map(|p| p.field.clone()).collect(),
                        );
                    }
                    if &got != expected {
                        return Err(fail(format!(
                            "notice:\n  expected {expected:?}\n  got      {got:?}"
                        )));
                    }
                    if expected.is_empty() != notice.complete {
                        return Err(fail(format!("notice complete = {}", notice.complete)));
                    }
                }
                None
            }
            Some("deploy_calendar") => {
                let cal_dir = dir.join(step.calendar.as_ref().expect("needs `calendar`"));
                let cal = onewindow_core::calendar::Calendar::load_dir(&cal_dir)
                    .map_err(|e| fail(e.to_string()))?;
                Some(engine.deploy_calendar(&cal, "calendar deployed", at))
            }
            Some(cmd) => {
                let command = match cmd {
                    "submit" => Command::Submit {
                        version: version.clone(),
                        submission: onewindow_engine::Submission {
                            applicant: "申请人".into(),
                            agent: step.agent.clone(),
                            form: form_values(&plan, step.form.as_ref().unwrap_or(&default_form)),
                            materials: materials(&plan, &step.materials),
                            site: None,
                        },
                    },
                    "claim" => Command::Claim { item: item() },
                    "approve" => Command::Approve {
                        item: item(),
                        numbers: step.numbers.clone(),
                    },
                    "report" => Command::ReportMilestone {
                        item: item(),
                        numbers: step.numbers.clone(),
                    },
                    "reject" => Command::Reject {
                        item: item(),
                        reason: step.reason.clone().unwrap_or_default(),
                    },
                    "request_supplement" => Command::RequestSupplement {
                        item: item(),
                        needed: step.needed.clone(),
                        note: step.note.clone().unwrap_or_default(),
                    },
                    "provide_supplement" => Command::ProvideSupplement {
                        item: item(),
                        materials: materials(&plan, &step.materials),
                    },
                    "start_special" => Command::StartSpecial {
                        item: item(),
                        kind: step.kind.clone().unwrap_or_default(),
                    },
                    "end_special" => Command::EndSpecial { item: item() },
                    "extend" => Command::Extend {
                        item: item(),
                        reason: step.reason.clone().unwrap_or_default(),
                    },
                    "resubmit" => Command::Resubmit {
                        item: item(),
                        materials: materials(&plan, &step.materials),
                    },
                    "provide_materials" => Command::ProvideMaterials {
                        materials: materials(&plan, &step.materials),
                    },
                    "withdraw" => Command::Withdraw {
                        reason: step.reason.clone().unwrap_or_default(),
                    },
                    "tick" => Command::Tick,
                    "sign" => Command::Sign {
                        item: item(),
                        opinion: step.opinion.clone().unwrap_or_default(),
                    },
                    "transfer" => Command::Transfer {
                        item: item(),
                        to: step.to.clone().expect("transfer needs `to`"),
                    },
                    "delegate" => Command::Delegate {
                        item: item(),
                        to: step.to.clone().expect("delegate needs `to`"),
                    },
                    "add_signer" => Command::AddSigner {
                        item: item(),
                        reviewer: step.reviewer.clone().expect("add_signer needs `reviewer`"),
                        before: step.before,
                    },
                    "recall" => Command::Recall { item: item() },
                    "return_to" => Command::ReturnTo {
                        item: item(),
                        to: step.to.clone().expect("return_to needs `to`"),
                        reason: step.reason.clone().unwrap_or_default(),
                    },
                    "urge" => Command::Urge {
                        item: item(),
                        note: step.note.clone().unwrap_or_default(),
                    },
                    "migrate" => Command::Migrate {
                        version: versions_of
                            .get(step.to.as_deref().expect("migrate needs `to`"))
                            .cloned()
                            .ok_or_else(|| fail("`to`: a workflow of `also`".into()))?,
                    },
                    "assign_agent" => Command::AssignAgent {
                        agent: step.agent.clone().expect("assign_agent needs `agent`"),
                    },
                    other => return Err(fail(format!("unknown command `{other}`"))),
                };
                let target = if cmd == "tick" && step.project.is_none() {
                    "*".to_string()
                } else {
                    project.clone()
                };
                // A refused command changes nothing anywhere: no event in any project's
                // log (a tick runs over every project), and the state it was sent to as it
                // was.
                let events_before = engine.all_events().count();
                let state_before = engine.project(&project).map(|v| v.project.clone());
                let r = engine.execute(&target, &who, command, at);
                if r.is_err() {
                    if engine.all_events().count() != events_before {
                        return Err(fail("a refused command wrote events".into()));
                    }
                    if engine.project(&project).map(|v| v.project.clone()) != state_before {
                        return Err(fail("a refused command changed the state".into()));
                    }
                }
                Some(r)
            }
        };
        match (&result, &step.refused) {
            (Some(Err(r)), Some(code)) => {
                if r.code() != code {
                    return Err(fail(format!(
                        "refused with {} ({r}), expected {code}",
                        r.code()
                    )));
                }
                if let (Refusal::Incomplete(notice), Some(expected)) = (r, &step.notice) {
                    let got: BTreeMap<String, Vec<String>> = notice_map(notice);
                    if &got != expected {
                        return Err(fail(format!(
                            "notice:\n  expected {expected:?}\n  got      {got:?}"
                        )));
                    }
                }
            }
            (Some(Err(r)), None) => return Err(fail(format!("refused: {r}"))),
            (Some(Ok(_)), Some(code)) => {
                return Err(fail(format!("accepted, expected refusal {code}")))
            }
            _ => {}
        }
        if let Some(Ok(out)) = &result {
            if let Some(want) = &step.notifies {
                let got: Vec<String> = out
                    .effects
                    .iter()
                    .filter_map(|e| match e {
                        onewindow_engine::Effect::NotifyDepartment { department, .. } => {
                            Some(department.clone())
                        }
                        _ => None,
                    })
                    .collect();
                if &got != want {
                    return Err(fail(format!("departments told {got:?}, expected {want:?}")));
                }
            }
            let got: Vec<String> = out
                .events
                .iter()
                .map(|e| {
                    names
                        .iter()
                        .fold(e.event.summary(), |s, (v, n)| s.replace(v.as_str(), n))
                })
                .collect();
            if let Some(expected) = &step.expect {
                if &got != expected {
                    return Err(fail(format!(
                        "events:\n  expected {expected:#?}\n  got      {got:#?}"
                    )));
                }
            }
            let mut pos = 0;
            for want in &step.includes {
                match got[pos..].iter().position(|g| g == want) {
                    Some(k) => pos += k + 1,
                    None => return Err(fail(format!("no `{want}` (in order) among {got:#?}"))),
                }
            }
            for not in &step.excludes {
                if got.iter().any(|g| g.starts_with(not.as_str())) {
                    return Err(fail(format!("unexpected `{not}` among {got:#?}")));
                }
            }
        }
        if !step.state.is_empty()
            || !step.due.is_empty()
            || step.status.is_some()
            || !step.step.is_empty()
            || !step.assignee.is_empty()
        {
            let view = engine
                .project(&project)
                .ok_or_else(|| fail(format!("no project {project}")))?;
            for (item, want) in &step.state {
                let got = view
                    .task_state(item)
                    .ok_or_else(|| fail(format!("no item {item}")))?;
                if got.to_string() != *want {
                    return Err(fail(format!("{item} is {got}, expected {want}")));
                }
            }
            for (item, want) in &step.due {
                let got = view
                    .task(item)
                    .and_then(|t| t.due)
                    .map_or("none".to_string(), |d| d.to_string());
                if got != *want {
                    return Err(fail(format!("{item} due {got}, expected {want}")));
                }
            }
            for (item, want) in &step.step {
                let i = view
                    .plan
                    .item_index(item)
                    .ok_or_else(|| fail(format!("no item {item}")))?;
                let k = usize::from(view.project.tasks()[i].step);
                let got = view.plan.items[i]
                    .steps
                    .get(k)
                    .map_or("none", |s| s.id.as_str());
                if got != want {
                    return Err(fail(format!("{item} at step {got}, expected {want}")));
                }
            }
            for (item, want) in &step.assignee {
                let got = view
                    .task(item)
                    .and_then(|t| t.assignee.clone())
                    .unwrap_or_else(|| "none".into());
                if got != *want {
                    return Err(fail(format!("{item} held by {got}, expected {want}")));
                }
            }
            if let Some(want) = &step.status {
                let got = format!("{:?}", view.project.status()).to_lowercase();
                if got != *want {
                    return Err(fail(format!("status {got}, expected {want}")));
                }
            }
        }
        // After every step, the state the engine reports is the fold of its events.
        if let Some(view) = engine.project(&project) {
            let folded = onewindow_engine::fold_versions(
                |v| engine.plan(v).cloned(),
                engine.events(&project),
            );
            if folded.as_ref() != Some(view.project) {
                return Err(fail("fold(events) differs from the engine's state".into()));
            }
            folds += 1;
        }
        let rows = |rows: Vec<onewindow_engine::supervision::TaskRow>| -> Vec<String> {
            rows.into_iter()
                .map(|r| format!("{}/{}", r.project, r.item))
                .collect()
        };
        if let Some(want) = &step.overdue {
            let got = rows(engine.overdue());
            if &got != want {
                return Err(fail(format!("overdue list {got:?}, expected {want:?}")));
            }
        }
        if let Some(want) = &step.warnings {
            let got = rows(engine.warnings());
            if &got != want {
                return Err(fail(format!("warning list {got:?}, expected {want:?}")));
            }
        }
        let _ = TaskState::Ready;
    }
    Ok((sc.steps.len(), folds))
}

/// One named test per scenario file, and the list they come from.
macro_rules! scenarios {
    ($($test:ident: $file:literal),* $(,)?) => {
        const SCENARIOS: &[&str] = &[$($file),*];
        mod scenario {
            $(
                #[test]
                fn $test() {
                    let path = super::root().join("tests/scenarios").join($file);
                    if let Err(e) = super::run(&path) {
                        panic!("{}: {e}", $file);
                    }
                }
            )*
        }
    };
}

scenarios! {
    after_waits: "after-waits.yaml",
    calendar_deployed: "calendar-deployed.yaml",
    cards: "cards.yaml",
    condition: "condition.yaml",
    extension: "extension.yaml",
    full_life: "full-life.yaml",
    later_materials: "later-materials.yaml",
    migrate: "migrate.yaml",
    office_countersign: "office-countersign.yaml",
    office_deemed_acceptance: "office-deemed-acceptance.yaml",
    office_recall: "office-recall.yaml",
    office_return: "office-return.yaml",
    office_transfer_delegate: "office-transfer-delegate.yaml",
    office_urge_agent: "office-urge-agent.yaml",
    one_time_notice_conditions: "one-time-notice-conditions.yaml",
    overdue_while_suspended: "overdue-while-suspended.yaml",
    parallel_join: "parallel-join.yaml",
    permissions: "permissions.yaml",
    pre_review: "pre-review.yaml",
    rejection: "rejection.yaml",
    special_procedure: "special-procedure.yaml",
    supervision: "supervision.yaml",
    supplement_holiday: "supplement-holiday.yaml",
    time_of_record: "time-of-record.yaml",
    withdraw: "withdraw.yaml",
}

/// A scenario added without its test (or a test whose file is gone) fails here; and
/// over the whole set, every step after a project's first submission is checked against
/// the fold (only pre-review steps before it have no project to fold).
#[test]
fn every_scenario_has_its_named_test_and_is_checked_against_the_fold() {
    let dir = root().join("tests/scenarios");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".yaml"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SCENARIOS.iter().map(|f| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
    let (mut steps, mut folds) = (0, 0);
    for f in SCENARIOS {
        if let Ok((s, k)) = run(&dir.join(f)) {
            steps += s;
            folds += k;
        }
    }
    assert!(
        folds * 10 >= steps * 9,
        "only {folds} of {steps} steps checked against the fold"
    );
}

/// A step that would silently ignore an expectation is refused: the event expectations
/// of a check-only step and of pre-review (which has no events), and a notice expected
/// of a check-only step.
#[test]
fn expectations_a_step_cannot_have_are_refused() {
    let workflow = root().join("tests/scenarios/workflows/waits.yaml");
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("expect", "expect: [\"TaskReady S1\"]"),
        ("includes", "includes: [\"TaskReady S1\"]"),
        ("refused", "refused: not_allowed"),
        ("notifies", "notifies: [a]"),
        ("notice", "notice: {}"),
    ];
    for (key, line) in cases {
        let path = dir.path().join(format!("{key}.yaml"));
        let text = format!(
            "workflow: {}\nsteps:\n  - at: 2025-06-03T09:00:00\n    do: submit\n    form: {{height: 60}}\n  - {line}\n",
            workflow.display()
        );
        std::fs::write(&path, text).unwrap();
        let err = run(&path).expect_err(key);
        assert!(
            err.contains(&format!("`{key}` means nothing")),
            "{key}: {err}"
        );
    }
    // The same file without the stray key runs.
    let path = dir.path().join("fine.yaml");
    let text = format!(
        "workflow: {}\nsteps:\n  - at: 2025-06-03T09:00:00\n    do: submit\n    form: {{height: 60}}\n  - state: {{S1: ready}}\n",
        workflow.display()
    );
    std::fs::write(&path, text).unwrap();
    assert_eq!(run(&path), Ok((2, 2)));
}
