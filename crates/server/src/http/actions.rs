//! A verb of the table ([`crate::verbs`]) as a console form and back: the form a page
//! draws for a verb (one input per field, by its kind, with the choices the project
//! offers), and the message a posted form makes, run as the session's caller through the
//! table's `run` — the gRPC handler itself. The inbox and the counter both use it, so a
//! verb's form looks and reads the same wherever it is offered.

use maud::{html, Markup};

use super::page::command_fields;
use super::session::Session;
use super::Http;
use crate::pb;
use crate::verbs::{self, Field, Kind, Scene, Verb};
use onewindow_core::plan::Plan;
use onewindow_engine::Suspension;

/// The form of `verb` posting to `action`, its inputs from the verb's fields; `subject`
/// (an item's name) heads it where a page offers the verb on several items.
pub(crate) fn form(
    verb: &Verb,
    action: &str,
    session: &Session,
    scene: &Scene<'_>,
    next_number: Option<&str>,
    subject: Option<&str>,
) -> Markup {
    html! {
        form.card method="post" action=(action) {
            (command_fields(session))
            @if let Some(s) = subject {
                p { strong { (verb.zh) " " (verb.en) } " — " (s) }
            } @else if !verb.fields.is_empty() {
                p { strong { (verb.zh) " " (verb.en) } }
            }
            @for f in verb.fields { (field_input(f, verb.on_item, scene, next_number)) }
            button type="submit" id=(verb.name) { (verb.zh) " " (verb.en) }
        }
    }
}

/// What a page was sent back with after a verb ([`done_query`]): it says so above.
#[derive(serde::Deserialize, Default)]
pub(crate) struct Done {
    /// The verb just done (its name in the table).
    #[serde(default)]
    pub(crate) done: String,
    /// The item it was done on.
    #[serde(default)]
    pub(crate) item: String,
}

/// The query a page is sent back with after `verb` was done on `item`.
pub(crate) fn done_query(verb: &Verb, item: &str) -> String {
    format!(
        "done={}&item={}",
        super::page::urlencode(verb.name),
        super::page::urlencode(item)
    )
}

/// What a page says after a verb of `family` was done (nothing when `name` is no verb):
/// every action ends on a page that says what happened.
pub(crate) fn done_banner(family: verbs::Family, name: &str, item: &str, plan: &Plan) -> Markup {
    let Some(verb) = verbs::find(family, name) else {
        return html! {};
    };
    let subject = plan
        .items
        .iter()
        .find(|i| i.id == item)
        .map(|i| i.name.as_str());
    html! {
        div.ok-banner.done role="status" data-done=(verb.name) {
            "已办理 Done：" strong { (verb.zh) } " " (verb.en)
            @if let Some(s) = subject { " — " (s) }
        }
    }
}

/// Runs `verb` on `project` (and `item`) with what the form sent, as the session's caller.
pub(crate) async fn run(
    http: &Http,
    session: &Session,
    verb: &Verb,
    project: &str,
    item: &str,
    pairs: &[(String, String)],
) -> Result<pb::CommandResponse, tonic::Status> {
    let request_id = pairs
        .iter()
        .find(|(k, _)| k == "request_id")
        .map_or("", |(_, v)| v.as_str());
    let message = verb.message(request_id, project, item, |f| match f.kind {
        // One input per document: `number.{document}`.
        Kind::Numbers => pairs
            .iter()
            .filter_map(|(k, v)| Some(format!("{}={v}", k.strip_prefix("number.")?)))
            .collect(),
        _ => pairs
            .iter()
            .filter(|(k, _)| k == f.name)
            .map(|(_, v)| v.clone())
            .collect(),
    });
    verbs::run(&http.api, &session.caller, verb.rpc, message)
        .await
        .unwrap_or_else(|| Err(tonic::Status::unimplemented(verb.rpc)))
}

/// What a reviewer fills in for one field of a verb, by its kind.
pub(crate) fn field_input(
    f: &Field,
    on_item: bool,
    scene: &Scene<'_>,
    next_number: Option<&str>,
) -> Markup {
    let plan = scene.plan;
    let it = &plan.items[scene.item];
    let label = html! { (f.zh) " " (f.en) };
    match f.kind {
        Kind::Text => html! {
            label { (label) textarea name=(f.name) required[f.required] maxlength="2000" {} }
        },
        Kind::Person => html! {
            label { (label) input type="text" name=(f.name) required[f.required] maxlength="64" pattern="[A-Za-z0-9_.:-]+"; }
        },
        Kind::Flag => html! {
            label { input type="checkbox" name=(f.name) value="true"; " " (label) }
        },
        // Where a return may go, and for each what it re-opens: the items after it that
        // have started, whose decisions and documents the return voids.
        Kind::EarlierItem => {
            let targets = verbs::returnable_items(plan, scene.project, scene.item);
            html! {
                label { (label)
                    select name=(f.name) required[f.required] {
                        @for &j in &targets { option value=(plan.items[j].id) { (plan.items[j].name) } }
                    }
                }
                ul.hint.reopens {
                    @for &j in &targets {
                        @let reopened: Vec<&str> = plan.dependents(j).into_iter()
                            .filter(|&d| d != scene.item && !matches!(scene.project.tasks()[d].state,
                                onewindow_engine::TaskState::Pending | onewindow_engine::TaskState::Waiting | onewindow_engine::TaskState::NotApplicable))
                            .map(|d| plan.items[d].name.as_str()).collect();
                        li { "退回至「" (plan.items[j].name) "」将重新办理该事项"
                            @if !reopened.is_empty() { "，并重新开启：" (reopened.join("、")) }
                            "。 Returning re-opens it and what has started after it." }
                    }
                }
            }
        }
        Kind::SpecialProcedure => html! {
            label { (label)
                select name=(f.name) required[f.required] {
                    @for sp in &it.special_procedures { option value=(sp.kind) { (sp.kind) } }
                }
            }
        },
        // What a department may ask for: the item's own materials first.
        Kind::MaterialIds => {
            let own = &it.requires.materials;
            html! {
                label { (label)
                    select name=(f.name) multiple size="6" required[f.required] {
                        @if !own.is_empty() {
                            optgroup label="本事项材料 This item's materials" {
                                @for &m in own { option value=(plan.materials[m].id) { (plan.materials[m].name) } }
                            }
                        }
                        optgroup label="其他材料 Other materials" {
                            @for (m, x) in plan.materials.iter().enumerate() {
                                @if !own.contains(&m) { option value=(x.id) { (x.name) } }
                            }
                        }
                    }
                }
            }
        }
        // What the window hands in: what a supplement asks for, an item's own materials
        // for a resubmission, any material later on — ticked where the project asks.
        Kind::Materials => {
            let (choices, ticked): (Vec<usize>, bool) =
                match &scene.project.tasks()[scene.item].suspension {
                    Some((Suspension::Supplement { needed }, _)) if on_item => (
                        needed
                            .iter()
                            .filter_map(|n| plan.materials.iter().position(|m| &m.id == n))
                            .collect(),
                        true,
                    ),
                    _ if on_item => (it.requires.materials.clone(), true),
                    _ => ((0..plan.materials.len()).collect(), false),
                };
            html! {
                fieldset {
                    legend { (label) }
                    @for m in choices {
                        label.check { input type="checkbox" name=(f.name) value=(plan.materials[m].id) checked[ticked]; " " (plan.materials[m].name) }
                    }
                }
            }
        }
        // One number per document the item issues; blank draws the department's next
        // number, shown as the number it would be now (the pattern's placeholders mean
        // nothing to a clerk).
        Kind::Numbers => html! {
            @for d in it.produces.iter().map(|d| &plan.documents[*d]) {
                @if let Some(next) = next_number {
                    label { (d.name) " 文号 number"
                        input type="text" name={ "number." (d.id) } maxlength=(onewindow_core::plan::numbering::MAX_NUMBER_CHARS) placeholder="留空则自动取号 Blank: numbered for you"; }
                    p.hint { "留空则按本部门编号规则取下一个号，如 " (next) " — leave blank for the department's next number" }
                } @else {
                    label { (d.name) " 文号 number（必填 required）"
                        input type="text" name={ "number." (d.id) } required maxlength=(onewindow_core::plan::numbering::MAX_NUMBER_CHARS) placeholder="如 发改能审〔2026〕5号"; }
                }
            }
        },
    }
}
