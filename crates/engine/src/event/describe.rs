//! What an event says of itself: its kind as serialized (what watchers filter on), the
//! item it concerns, whether it moves a task, and its one line for people. Split from
//! `event.rs`, which holds the events themselves and their envelope.

use super::*;

impl Event {
    /// Every event type as serialized, in declaration order: what a watcher may filter on.
    pub const KINDS: [&'static str; 35] = [
        "submitted",
        "stage_opened",
        "stage_completed",
        "task_opened",
        "task_ready",
        "task_claimed",
        "task_approved",
        "task_rejected",
        "supplement_requested",
        "supplement_provided",
        "special_started",
        "special_ended",
        "extended",
        "resubmitted",
        "warned",
        "overdue",
        "materials_provided",
        "withdrawn",
        "completed",
        "site_checked",
        "step_signed",
        "step_completed",
        "step_overdue",
        "transferred",
        "delegated",
        "signer_added",
        "recalled",
        "returned",
        "reopened",
        "urged",
        "copied",
        "agent_assigned",
        "due_rederived",
        "migrated",
        "carded",
    ];

    /// The item the event is about, if any.
    pub fn item(&self) -> Option<&str> {
        use Event::*;
        match self {
            TaskOpened { item }
            | TaskReady { item, .. }
            | TaskClaimed { item }
            | TaskApproved { item, .. }
            | TaskRejected { item, .. }
            | SupplementRequested { item, .. }
            | SupplementProvided { item, .. }
            | SpecialStarted { item, .. }
            | SpecialEnded { item, .. }
            | Extended { item, .. }
            | Resubmitted { item, .. }
            | Warned { item, .. }
            | Overdue { item, .. }
            | StepSigned { item, .. }
            | StepCompleted { item, .. }
            | StepOverdue { item, .. }
            | Transferred { item, .. }
            | Delegated { item, .. }
            | SignerAdded { item, .. }
            | Recalled { item, .. }
            | Returned { item, .. }
            | Reopened { item, .. }
            | Urged { item, .. }
            | Copied { item, .. }
            | DueRederived { item, .. }
            | Carded { item, .. } => Some(item),
            _ => None,
        }
    }

    /// The event's type as serialized (`task_ready`, …).
    pub fn kind(&self) -> &'static str {
        use Event::*;
        match self {
            Submitted { .. } => "submitted",
            StageOpened { .. } => "stage_opened",
            StageCompleted { .. } => "stage_completed",
            TaskOpened { .. } => "task_opened",
            TaskReady { .. } => "task_ready",
            TaskClaimed { .. } => "task_claimed",
            TaskApproved { .. } => "task_approved",
            TaskRejected { .. } => "task_rejected",
            SupplementRequested { .. } => "supplement_requested",
            SupplementProvided { .. } => "supplement_provided",
            SpecialStarted { .. } => "special_started",
            SpecialEnded { .. } => "special_ended",
            Extended { .. } => "extended",
            Resubmitted { .. } => "resubmitted",
            Warned { .. } => "warned",
            Overdue { .. } => "overdue",
            MaterialsProvided { .. } => "materials_provided",
            Withdrawn { .. } => "withdrawn",
            Completed => "completed",
            SiteChecked { .. } => "site_checked",
            StepSigned { .. } => "step_signed",
            StepCompleted { .. } => "step_completed",
            StepOverdue { .. } => "step_overdue",
            Transferred { .. } => "transferred",
            Delegated { .. } => "delegated",
            SignerAdded { .. } => "signer_added",
            Recalled { .. } => "recalled",
            Returned { .. } => "returned",
            Reopened { .. } => "reopened",
            Urged { .. } => "urged",
            Copied { .. } => "copied",
            AgentAssigned { .. } => "agent_assigned",
            DueRederived { .. } => "due_rederived",
            Migrated { .. } => "migrated",
            Carded { .. } => "carded",
        }
    }

    /// Whether the event moves a task from one state to another (what throughput counts).
    pub fn is_task_transition(&self) -> bool {
        use Event::*;
        matches!(
            self,
            TaskOpened { .. }
                | TaskReady { .. }
                | TaskClaimed { .. }
                | TaskApproved { .. }
                | TaskRejected { .. }
                | SupplementRequested { .. }
                | SupplementProvided { .. }
                | SpecialStarted { .. }
                | SpecialEnded { .. }
                | Resubmitted { .. }
                | StepCompleted { .. }
                | Recalled { .. }
                | Returned { .. }
                | Reopened { .. }
        )
    }

    /// One line for people and for scenario files, e.g. `task-ready I02 due 2025-01-27`.
    pub fn summary(&self) -> String {
        use Event::*;
        let due = |d: &Option<NaiveDate>, p: bool| match d {
            Some(d) => format!(" due {d}{}", if p { "?" } else { "" }),
            None => String::new(),
        };
        match self {
            Submitted { workflow, .. } => format!("submitted ({workflow})"),
            StageOpened { stage } => format!("stage-opened {}", stage.id()),
            StageCompleted { stage } => format!("stage-completed {}", stage.id()),
            TaskOpened { item } => format!("task-opened {item}"),
            TaskReady {
                item,
                due: d,
                provisional,
                ..
            } => format!("task-ready {item}{}", due(d, *provisional)),
            TaskClaimed { item } => format!("claimed {item}"),
            TaskApproved {
                item, documents, ..
            } => format!(
                "approved {item} [{}]",
                documents
                    .iter()
                    .map(|d| d.document.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TaskRejected { item, reason, .. } => format!("rejected {item}: {reason}"),
            SupplementRequested { item, needed, .. } => {
                format!("supplement-requested {item} [{}]", needed.join(", "))
            }
            SupplementProvided {
                item,
                suspended,
                due: d,
                provisional,
                ..
            } => {
                format!(
                    "supplement-provided {item} +{suspended}{}",
                    due(&Some(*d), *provisional)
                )
            }
            SpecialStarted { item, kind, .. } => format!("special-started {item} {kind}"),
            SpecialEnded {
                item,
                suspended,
                due: d,
                provisional,
                ..
            } => {
                format!(
                    "special-ended {item} +{suspended}{}",
                    due(&Some(*d), *provisional)
                )
            }
            Extended {
                item,
                days,
                due: d,
                provisional,
                ..
            } => format!("extended {item} +{days}{}", due(d, *provisional)),
            Resubmitted {
                item,
                due: d,
                provisional,
                ..
            } => format!("resubmitted {item}{}", due(&Some(*d), *provisional)),
            Warned {
                item,
                due: d,
                remaining,
            } => format!("warned {item} due {d} ({remaining} left)"),
            Overdue { item, due: d } => format!("overdue {item} due {d}"),
            MaterialsProvided { materials } => format!(
                "materials-provided [{}]",
                materials
                    .iter()
                    .map(|m| m.material.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Withdrawn { reason } => format!("withdrawn: {reason}"),
            Completed => "completed".to_string(),
            SiteChecked {
                blueprint,
                findings,
                ..
            } => format!(
                "site-checked {blueprint}: {}",
                if findings.is_empty() {
                    "no conflict".to_string()
                } else {
                    findings
                        .iter()
                        .map(|f| f.rule.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
            StepSigned {
                item,
                step,
                reviewer,
                pass,
                on_behalf,
                ..
            } => format!(
                "signed {item} {step} by {reviewer}{}{}",
                on_behalf
                    .as_ref()
                    .map_or(String::new(), |d| format!(" for {d}")),
                if *pass { "" } else { " (rejects)" }
            ),
            StepCompleted {
                item,
                step,
                deemed,
                next_due,
            } => format!(
                "step-completed {item} {step}{}{}",
                if *deemed { " (deemed accepted)" } else { "" },
                next_due.map_or(String::new(), |d| format!(" next due {d}"))
            ),
            StepOverdue { item, step, due: d } => format!("step-overdue {item} {step} due {d}"),
            Transferred { item, from, to } => format!(
                "transferred {item} {}to {to}",
                from.as_ref()
                    .map_or(String::new(), |f| format!("from {f} "))
            ),
            Delegated { item, from, to } => format!("delegated {item} from {from} to {to}"),
            SignerAdded {
                item,
                step,
                reviewer,
                by,
                before,
            } => format!(
                "signer-added {item} {step} {reviewer} {} {by}",
                if *before { "before" } else { "after" }
            ),
            Recalled {
                item,
                due: d,
                provisional,
            } => format!("recalled {item}{}", due(&Some(*d), *provisional)),
            Returned {
                item,
                by,
                due: d,
                provisional,
                ..
            } => format!("returned {item} by {by}{}", due(&Some(*d), *provisional)),
            Reopened { item, because } => format!("reopened {item} (because of {because})"),
            Urged { item, .. } => format!("urged {item}"),
            Copied {
                item,
                step,
                departments,
            } => format!("copied {item} {step} to [{}]", departments.join(", ")),
            AgentAssigned { agent } => format!("agent-assigned {agent}"),
            DueRederived {
                item,
                old,
                old_provisional,
                new,
                provisional,
                ..
            } => format!(
                "due-rederived {item} {old}{} -> {new}{}",
                if *old_provisional { "?" } else { "" },
                if *provisional { "?" } else { "" }
            ),
            Migrated {
                from, to, summary, ..
            } => {
                let list = |what: &str, v: &Vec<String>| {
                    if v.is_empty() {
                        String::new()
                    } else {
                        format!(" {what} [{}]", v.join(", "))
                    }
                };
                format!(
                    "migrated {from} -> {to}{}{}{}{}",
                    list("added", &summary.added),
                    list("removed", &summary.removed),
                    list("cancelled", &summary.cancelled),
                    list("limits changed", &summary.limits_changed)
                )
            }
            Carded {
                item,
                card,
                deadline,
            } => format!(
                "{}-card {item}{}",
                card.as_str(),
                deadline.map_or(String::new(), |d| format!(" until {d}"))
            ),
        }
    }
}
