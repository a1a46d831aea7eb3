//! The shipped workflows' forms and materials as requests, and the calls most tests
//! make with them.

use std::collections::HashMap;

use onewindow_server::pb;
use pb::window_client::WindowClient;
use pb::workflows_client::WorkflowsClient;

use super::{with, WINDOW};

/// A form's text value.
pub fn text(s: &str) -> pb::FieldValue {
    pb::FieldValue {
        value: Some(pb::field_value::Value::Text(s.into())),
    }
}

/// The deployed version of a workflow, by id.
pub async fn version_of(wf: &mut WorkflowsClient<tonic::transport::Channel>, id: &str) -> String {
    let list = wf
        .list(with(WINDOW, pb::ListWorkflowsRequest {}))
        .await
        .unwrap()
        .into_inner();
    list.workflows
        .into_iter()
        .find(|w| w.id == id)
        .unwrap_or_else(|| panic!("{id} is deployed"))
        .version
}

/// What the parallel construction workflow needs up to its construction stage.
pub const APPROVAL_MATERIALS: [&str; 16] = [
    "business_license",
    "project_info",
    "land_redline",
    "grant_payment",
    "cadastral_survey",
    "eia_report_form",
    "energy_report",
    "soil_plan",
    "design_scheme",
    "civil_defence_plan",
    "site_plan",
    "geotech_survey",
    "construction_drawings",
    "fire_design",
    "funding_commitment",
    "safety_measures",
];

/// References to materials by id.
pub fn refs(ids: &[&str]) -> Vec<pb::MaterialRef> {
    ids.iter()
        .map(|m| pb::MaterialRef {
            material: m.to_string(),
            ..Default::default()
        })
        .collect()
}

/// A filled-in complaint form.
pub fn complaint_form() -> HashMap<String, pb::FieldValue> {
    [
        ("complainant", "张三"),
        ("subject", "fees"),
        ("department_named", "某局"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), text(v)))
    .collect()
}

/// A complete form of the parallel construction workflow.
pub fn form() -> HashMap<String, pb::FieldValue> {
    let mut f = HashMap::new();
    for (k, v) in [
        ("project_name", "厂房"),
        ("enterprise", "某公司"),
        ("industry", "industrial"),
        ("land_supply", "grant"),
        ("eia_category", "report_form"),
    ] {
        f.insert(k.to_string(), text(v));
    }
    f.insert(
        "new_construction_land".into(),
        pb::FieldValue {
            value: Some(pb::field_value::Value::Flag(true)),
        },
    );
    f.insert(
        "special_fire".into(),
        pb::FieldValue {
            value: Some(pb::field_value::Value::Flag(true)),
        },
    );
    f.insert(
        "floor_area".into(),
        pb::FieldValue {
            value: Some(pb::field_value::Value::Number(32000.0)),
        },
    );
    f.insert(
        "investment".into(),
        pb::FieldValue {
            value: Some(pb::field_value::Value::Number(18000.0)),
        },
    );
    f
}

/// A project as the window sees it.
pub async fn window_project(
    window: &mut WindowClient<tonic::transport::Channel>,
    id: &str,
) -> pb::Project {
    window
        .get_project(with(WINDOW, pb::GetProjectRequest { project: id.into() }))
        .await
        .unwrap()
        .into_inner()
}

/// The window reports the milestones before approval (A01, R01): the approval stage opens.
pub async fn report_early_milestones(
    window: &mut WindowClient<tonic::transport::Channel>,
    project: &str,
) {
    for item in ["A01", "R01"] {
        let cmd = pb::ItemCommand {
            request_id: format!("{project}/{item}/report"),
            project: project.into(),
            item: item.into(),
            ..Default::default()
        };
        window.report_milestone(with(WINDOW, cmd)).await.unwrap();
    }
}

/// The window submits `project` on the parallel workflow's `version` with the shipped
/// form and every material, and reports the milestones before approval: its first
/// department's task (ndrc's I01) is ready.
pub async fn submit_for_approval(
    window: &mut WindowClient<tonic::transport::Channel>,
    version: &str,
    project: &str,
) {
    let submit = pb::SubmitRequest {
        request_id: format!("{project}/submit"),
        project: project.into(),
        version: version.into(),
        applicant: "a".into(),
        form: form(),
        materials: refs(&APPROVAL_MATERIALS),
        ..Default::default()
    };
    window.submit(with(WINDOW, submit)).await.unwrap();
    report_early_milestones(window, project).await;
}

/// The next `n` events of a watch (panics after a generous wait).
pub async fn next_events(stream: &mut tonic::Streaming<pb::Event>, n: usize) -> Vec<pb::Event> {
    let mut out = Vec::new();
    while out.len() < n {
        let e = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        out.push(e);
    }
    out
}
