//! A project's record as people read it: one line in Chinese per event that concerns an
//! item — its rounds, supplements, extensions, special procedures, signatures, hand-overs,
//! returns, urgings — with the workflow's names for items, materials and documents. The
//! reviewer's desk shows the task's own, the window's project page the rejections and
//! supplements it must answer. Events that concern no item of interest are left out.

use maud::{html, Markup};

use super::page::item_name;
use onewindow_core::plan::Plan;
use onewindow_engine::{Envelope, Event};

/// One line of an item's history.
pub(crate) struct Line {
    /// When, as recorded (the city's civil time).
    pub(crate) at: String,
    /// What happened, in Chinese with the workflow's names.
    pub(crate) what: String,
}

/// The lines of `item`'s history, oldest first.
pub(crate) fn of_item(plan: &Plan, events: &[Envelope], item: &str) -> Vec<Line> {
    events
        .iter()
        .filter_map(|e| {
            let what = describe(plan, &e.event, Some(item))?;
            Some(Line {
                at: e.at.format("%Y-%m-%d %H:%M").to_string(),
                what,
            })
        })
        .collect()
}

/// One event of a project's record in Chinese: an item's, headed by the item's name, or
/// the project's own (submission, stages, materials, withdrawal, completion). `None` for
/// what people need not read (a task's opening, a due date derived again is said).
pub(crate) fn line(plan: &Plan, event: &Event) -> Option<String> {
    use onewindow_engine::Card;
    let stage = |s: &onewindow_core::plan::Stage| plan.stage_names[s.index()].clone();
    Some(match event {
        Event::Submitted { applicant, .. } => format!("受理申请：{applicant}"),
        Event::StageOpened { stage: s } => format!("进入「{}」阶段", stage(s)),
        Event::StageCompleted { stage: s } => format!("「{}」阶段办结", stage(s)),
        Event::MaterialsProvided { materials } => format!(
            "补交材料：{}",
            material_names(plan, materials.iter().map(|m| &m.material))
        ),
        Event::Withdrawn { reason } => format!("申请人撤回申请：{reason}"),
        Event::Completed => "项目办结".into(),
        Event::SiteChecked { findings, .. } => {
            format!("用地红线已对照一张蓝图审查，{} 项提示", findings.len())
        }
        Event::AgentAssigned { agent } => format!("指派代办员 {agent}"),
        Event::Migrated { .. } => "迁移到事项流程的新版本".into(),
        Event::DueRederived { item, old, new, .. } => format!(
            "「{}」办结时限因工作日历调整由 {old} 改为 {new}",
            item_name(plan, item)
        ),
        Event::Carded {
            item,
            card,
            deadline,
        } => {
            let name = item_name(plan, item);
            match (card, deadline) {
                (Card::Yellow, Some(d)) => {
                    format!("「{name}」超期，发出督办（黄牌），限 {d} 前办结")
                }
                (Card::Yellow, None) => format!("「{name}」超期，发出督办（黄牌）"),
                (Card::Red, _) => format!("「{name}」督办期满仍未办结，发出整改（红牌）"),
            }
        }
        Event::TaskOpened { .. } => return None,
        other => {
            let item = other.item()?;
            format!(
                "「{}」{}",
                item_name(plan, item),
                describe(plan, other, None)?
            )
        }
    })
}

/// The item's history as a table (nothing when there is none).
pub(crate) fn table(lines: &[Line]) -> Markup {
    html! {
        @if !lines.is_empty() {
            table.history {
                thead { tr { th { "时间 At" } th { "办理经过 What happened" } } }
                tbody { @for l in lines { tr { td { (l.at) } td { (l.what) } } } }
            }
        }
    }
}

fn material_names(plan: &Plan, ids: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let names: Vec<String> = ids
        .into_iter()
        .map(|id| {
            let id = id.as_ref();
            plan.materials
                .iter()
                .find(|m| m.id == id)
                .map_or_else(|| id.to_string(), |m| m.name.clone())
        })
        .collect();
    if names.is_empty() {
        "—".into()
    } else {
        names.join("、")
    }
}

fn due(d: &impl std::fmt::Display, provisional: bool) -> String {
    if provisional {
        format!("办结时限 {d}（暂定）")
    } else {
        format!("办结时限 {d}")
    }
}

/// What `event` says about `item` (any item when `None`), or `None` when it says
/// nothing about it.
fn describe(plan: &Plan, event: &Event, item: Option<&str>) -> Option<String> {
    let about = |i: &str| item.is_none_or(|it| it == i);
    Some(match event {
        Event::TaskReady {
            item: i,
            limit,
            due: d,
            provisional,
            ..
        } if about(i) => {
            let milestone = plan
                .items
                .iter()
                .find(|x| x.id == *i)
                .is_some_and(|x| x.kind == onewindow_core::spec::ItemKind::Milestone);
            match d {
                _ if milestone => "可由窗口登记完成".into(),
                Some(d) => format!("开始办理，时限 {limit} 个工作日，{}", due(d, *provisional)),
                None => format!("开始办理，时限 {limit} 个工作日"),
            }
        }
        Event::TaskClaimed { item: i } if about(i) => "已签收".into(),
        Event::TaskApproved {
            item: i, documents, ..
        } if about(i) => {
            let docs: Vec<String> = documents
                .iter()
                .map(|d| {
                    let name = plan
                        .documents
                        .iter()
                        .find(|x| x.id == d.document)
                        .map_or(d.document.as_str(), |x| x.name.as_str());
                    if d.number.is_empty() {
                        name.to_string()
                    } else {
                        format!("{name}（{}）", d.number)
                    }
                })
                .collect();
            if docs.is_empty() {
                "准予许可".into()
            } else {
                format!("准予许可，出具 {}", docs.join("、"))
            }
        }
        Event::TaskRejected {
            item: i, reason, ..
        } if about(i) => format!("不予许可：{reason}"),
        Event::SupplementRequested {
            item: i,
            needed,
            note,
            ..
        } if about(i) => {
            let mut s = format!("一次性告知补正：{}", material_names(plan, needed));
            if !note.is_empty() {
                s.push_str(&format!("。说明：{note}"));
            }
            s.push_str("（暂停计时）");
            s
        }
        Event::SupplementProvided {
            item: i,
            materials,
            suspended,
            due: d,
            provisional,
            ..
        } if about(i) => format!(
            "补正材料已交：{}；暂停 {suspended} 个工作日，{}",
            material_names(plan, materials.iter().map(|m| &m.material)),
            due(d, *provisional)
        ),
        Event::SpecialStarted { item: i, kind, .. } if about(i) => {
            format!("启动特别程序：{kind}（暂停计时）")
        }
        Event::SpecialEnded {
            item: i,
            suspended,
            due: d,
            provisional,
            ..
        } if about(i) => format!(
            "特别程序结束；暂停 {suspended} 个工作日，{}",
            due(d, *provisional)
        ),
        Event::Extended {
            item: i,
            days,
            reason,
            ..
        } if about(i) => format!("延期 {days} 个工作日：{reason}"),
        Event::Resubmitted {
            item: i,
            materials,
            due: d,
            provisional,
            ..
        } if about(i) => format!(
            "重新申请（新一轮），材料：{}；{}",
            material_names(plan, materials.iter().map(|m| &m.material)),
            due(d, *provisional)
        ),
        Event::Warned {
            item: i, remaining, ..
        } if about(i) => format!("预警：剩余 {remaining} 个工作日"),
        Event::Overdue { item: i, due: d } if about(i) => format!("超期：办结时限 {d} 已过"),
        Event::StepSigned {
            item: i,
            step,
            reviewer,
            opinion,
            pass,
            on_behalf,
        } if about(i) => {
            let verdict = if *pass { "签署" } else { "投反对票" };
            let behalf = on_behalf
                .as_ref()
                .map(|b| format!("（受 {b} 委派）"))
                .unwrap_or_default();
            format!(
                "{reviewer}{behalf}{verdict}「{}」：{opinion}",
                step_name(plan, i, step)
            )
        }
        Event::StepCompleted {
            item: i,
            step,
            deemed,
            ..
        } if about(i) => {
            if *deemed {
                format!("「{}」环节逾期视为通过", step_name(plan, i, step))
            } else {
                format!("「{}」环节完成", step_name(plan, i, step))
            }
        }
        Event::Transferred { item: i, from, to } if about(i) => match from {
            Some(f) => format!("由 {f} 转办给 {to}"),
            None => format!("转办给 {to}"),
        },
        Event::Delegated { item: i, from, to } if about(i) => {
            format!("{from} 委派 {to} 提出意见")
        }
        Event::SignerAdded {
            item: i,
            reviewer,
            by,
            before,
            ..
        } if about(i) => {
            let when = if *before { "之前" } else { "之后" };
            format!("{by} 加签 {reviewer}（在其{when}签署）")
        }
        Event::Recalled { item: i, .. } if about(i) => "部门撤回决定，重新办理".into(),
        Event::Returned {
            item: i, reason, ..
        } if about(i) => format!("退回至本事项重新办理：{reason}"),
        Event::Reopened { item: i, because } if about(i) => {
            format!("因「{}」退回而重新办理", item_name(plan, because))
        }
        Event::Urged { item: i, note } if about(i) => format!("催办：{note}"),
        Event::Copied {
            item: i,
            departments,
            ..
        } if about(i) => {
            let names: Vec<String> = departments
                .iter()
                .map(|d| super::page::department_name(plan, d))
                .collect();
            format!("抄送 {}", names.join("、"))
        }
        _ => return None,
    })
}

fn step_name(plan: &Plan, item: &str, step: &str) -> String {
    plan.items
        .iter()
        .find(|i| i.id == item)
        .and_then(|i| i.steps.iter().find(|s| s.id == step))
        .map_or_else(|| step.to_string(), |s| s.name.clone())
}
