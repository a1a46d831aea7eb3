//! The task indexes a project's state implies: its open tasks by department and its
//! running tasks' due dates. The service keeps them in the store with every commit (only
//! the tasks that changed), so that a department's queue and supervision's deadlines are
//! queries on the store, not walks over every project in memory.

use chrono::NaiveDate;

use super::IndexKey;
use onewindow_core::plan::Plan;
use onewindow_engine::{Project, TaskState};

/// The index entries a project's state implies.
pub fn index_of(plan: &Plan, project: &Project) -> Vec<IndexKey> {
    let mut out = Vec::new();
    for i in 0..project.tasks().len() {
        task_index(plan, project, i, &mut out);
    }
    out
}

/// What of a task its index entries depend on.
pub(crate) type Indexed = (TaskState, Option<NaiveDate>);

pub(crate) fn indexed(project: &Project) -> Vec<Indexed> {
    project
        .tasks()
        .iter()
        .map(|t| (t.state, t.deadline()))
        .collect()
}

/// The index entries of one task.
fn task_index(plan: &Plan, project: &Project, i: usize, out: &mut Vec<IndexKey>) {
    let t = &project.tasks()[i];
    index_entries(plan, project.id(), i, (t.state, t.deadline()), out);
}

pub(crate) fn index_entries(
    plan: &Plan,
    project: &str,
    i: usize,
    task: Indexed,
    out: &mut Vec<IndexKey>,
) {
    let item = &plan.items[i];
    let (state, due) = task;
    if let (Some(d), true) = (item.department, state.is_open()) {
        out.push(IndexKey::Open {
            department: plan.departments[d].id.clone(),
            project: project.to_string(),
            item: item.id.clone(),
        });
    }
    if let (Some(due), TaskState::Ready | TaskState::Claimed) = (due, state) {
        out.push(IndexKey::Deadline {
            due,
            project: project.to_string(),
            item: item.id.clone(),
        });
    }
}

/// The index entries to remove and to add when a project goes from `before` (what its
/// tasks were, if it existed) to `after`: only the tasks that changed are looked at.
pub(crate) fn index_diff(
    plan: &Plan,
    before: Option<&[Indexed]>,
    after: &Project,
) -> (Vec<IndexKey>, Vec<IndexKey>) {
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for i in 0..after.tasks().len() {
        let y = &after.tasks()[i];
        let was = before.map(|b| b[i]);
        if was != Some((y.state, y.deadline())) {
            if let Some(was) = was {
                index_entries(plan, after.id(), i, was, &mut old);
            }
            task_index(plan, after, i, &mut new);
        }
    }
    let unindex = old.iter().filter(|k| !new.contains(k)).cloned().collect();
    let index = new.into_iter().filter(|k| !old.contains(k)).collect();
    (unindex, index)
}
