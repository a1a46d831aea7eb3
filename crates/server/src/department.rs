//! `onewindow.v1.Department`: a department's queue and its decisions — claim, approve,
//! reject, ask for a supplement, extend, special procedures — and the office's verbs
//! inside a task: sign a step, transfer, delegate, add a signer, recall a decision,
//! return to an earlier item. The push stream of ready tasks is in [`super::feed`].

use tonic::{Request, Response, Status};

use super::convert::*;
use super::status::invalid_argument;
use super::*;
use crate::verbs::{verbs, Field, Kind};
use onewindow_engine::{Command, TaskState};

verbs! {
    impl pb::department_server::Department, client pb::department_client::DepartmentClient<tonic::transport::Channel>, family Department {
    type StreamReadyStream = TaskStream;

    async fn stream_ready(
        &self,
        req: Request<pb::StreamReadyRequest>,
    ) -> Result<Response<TaskStream>, Status> {
        self.stream_ready_tasks(req)
    }

    async fn list_tasks(
        &self,
        req: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let who = caller(&req)?;
        let Some(dept) = who.role.department() else {
            return Err(Status::permission_denied(
                "only a department lists its tasks",
            ));
        };
        let r = req.into_inner();
        let states: Vec<&str> = TaskState::ALL.iter().map(|s| s.as_str()).collect();
        input::one_of("state", &r.state, &states, true)?;
        // Pages in (project, workflow order); the token is `{item index}.{project}` of the
        // last task sent, and the next page starts after it.
        let after = match r.page_token.as_str() {
            "" => None,
            t => Some(
                t.split_once('.')
                    .and_then(|(i, p)| Some((p.to_string(), i.parse::<usize>().ok()?)))
                    .filter(|(p, _)| input::id("page_token", p).is_ok())
                    .ok_or_else(|| {
                        invalid_argument("page_token: not a token a listing of tasks gave")
                    })?,
            ),
        };
        let state = r.state;
        // Open tasks come from the store's index; any other state needs every project.
        let open_state = state.is_empty()
            || TaskState::ALL
                .iter()
                .any(|s| s.as_str() == state && s.is_open());
        let keep = |d: &str, t: &onewindow_engine::Task| {
            d == dept
                && if state.is_empty() {
                    t.is_open()
                } else {
                    t.state.as_str() == state
                }
        };
        let tasks = if open_state {
            self.indexed_open_tasks(Some(dept), keep)?
        } else {
            self.indexed_tasks_of_every_project(keep)
        };
        let size = if r.page_size == 0 {
            100
        } else {
            r.page_size.min(1000)
        } as usize;
        let mut page: Vec<(usize, pb::Task)> = tasks
            .into_iter()
            .filter(|(i, t)| {
                after
                    .as_ref()
                    .is_none_or(|(p, a)| (t.project.as_str(), *i) > (p.as_str(), *a))
            })
            .take(size + 1)
            .collect();
        let next_page_token = if page.len() > size {
            page.truncate(size);
            let (i, last) = &page[size - 1];
            format!("{i}.{}", last.project)
        } else {
            String::new()
        };
        let page: Vec<pb::Task> = page.into_iter().map(|(_, t)| t).collect();
        Ok(Response::new(pb::ListTasksResponse {
            tasks: page,
            next_page_token,
        }))
    }

    }

    claim(ItemCommand) "Department.Claim" "claim"
        "/api/v1/projects/{project}/items/{item}/claim" true
        "签收" "Claim" when ready, DEPARTMENT D: "Claim a ready task (签收)"
        [] |r| Ok(Command::Claim { item: item_id(r.item)? });
    approve(ApproveRequest) "Department.Approve" "approve"
        "/api/v1/projects/{project}/items/{item}/approve" true
        "准予许可" "Approve" when decidable, DEPARTMENT D: "Approve, issuing the item's documents"
        [Field::new("numbers", Kind::Numbers, "文号", "Document number").flag("number")]
        |r| Ok(Command::Approve { item: item_id(r.item)?, numbers: numbers(r.numbers)? });
    reject(ReasonForItem) "Department.Reject" "reject"
        "/api/v1/projects/{project}/items/{item}/reject" true
        "不予许可" "Reject" when deciding, DEPARTMENT D: "Reject with a reason (不予许可)"
        [Field::new("reason", Kind::Text, "不予许可理由", "Reason (the applicant is told)").required()]
        |r| Ok(Command::Reject { item: item_id(r.item)?, reason: checked_text("reason", r.reason)? });
    request_supplement(SupplementRequest) "Department.RequestSupplement" "supplement"
        "/api/v1/projects/{project}/items/{item}/request-supplement" true
        "一次性告知补正" "Ask for a supplement" when deciding, DEPARTMENT D:
        "Ask for a supplement, naming what is missing; the clock stops"
        [
            Field::new("needed", Kind::MaterialIds, "所需材料", "Materials needed").required(),
            Field::new("note", Kind::Text, "说明", "Note for the applicant").alias("reason"),
        ]
        |r| Ok(Command::RequestSupplement {
            item: item_id(r.item)?,
            needed: material_ids("needed", r.needed)?,
            note: checked_text("note", r.note)?,
        });
    extend(ReasonForItem) "Department.Extend" "extend"
        "/api/v1/projects/{project}/items/{item}/extend" true
        "延期" "Extend once" when extendable, DEPARTMENT D: "Extend the limit once, with a reason (延期)"
        [Field::new("reason", Kind::Text, "延期理由", "Reason").required()]
        |r| Ok(Command::Extend { item: item_id(r.item)?, reason: checked_text("reason", r.reason)? });
    start_special(ReasonForItem) "Department.StartSpecial" "special-start"
        "/api/v1/projects/{project}/items/{item}/special/start" true
        "启动特别程序" "Start a special procedure" when special_possible, DEPARTMENT D:
        "Start a special procedure (特别程序: hearing, expert review…); the clock stops"
        [Field::new("reason", Kind::SpecialProcedure, "特别程序", "Procedure").flag("procedure").required()]
        |r| Ok(Command::StartSpecial { item: item_id(r.item)?, kind: checked_text("reason", r.reason)? });
    end_special(ItemCommand) "Department.EndSpecial" "special-end"
        "/api/v1/projects/{project}/items/{item}/special/end" true
        "结束特别程序" "End the special procedure" when in_special, DEPARTMENT D:
        "End the special procedure; the clock runs again"
        [] |r| Ok(Command::EndSpecial { item: item_id(r.item)? });
    sign(ReasonForItem) "Department.Sign" "sign"
        "/api/v1/projects/{project}/items/{item}/sign" true
        "签署意见" "Sign" when signing, DEPARTMENT D:
        "Sign the current step with an opinion (受理, 审查; 会签/或签/票签)"
        [Field::new("reason", Kind::Text, "意见", "Opinion").flag("opinion").required()]
        |r| Ok(Command::Sign { item: item_id(r.item)?, opinion: checked_text("reason", r.reason)? });
    transfer(HandOverRequest) "Department.Transfer" "transfer"
        "/api/v1/projects/{project}/items/{item}/transfer" true
        "转办" "Transfer" when open, DEPARTMENT D: "Hand the task to another reviewer (转办)"
        [Field::new("to", Kind::Person, "接办人", "Reviewer who takes it").required()]
        |r| {
            input::id("to", &r.to)?;
            Ok(Command::Transfer { item: item_id(r.item)?, to: r.to })
        };
    delegate(HandOverRequest) "Department.Delegate" "delegate"
        "/api/v1/projects/{project}/items/{item}/delegate" true
        "委派" "Delegate" when deciding, DEPARTMENT D:
        "Ask another reviewer for an opinion; the task comes back (委派)"
        [Field::new("to", Kind::Person, "受托人", "Reviewer asked").required()]
        |r| {
            input::id("to", &r.to)?;
            Ok(Command::Delegate { item: item_id(r.item)?, to: r.to })
        };
    add_signer(AddSignerRequest) "Department.AddSigner" "add-signer"
        "/api/v1/projects/{project}/items/{item}/signers" true
        "加签" "Add a signer" when signing, DEPARTMENT D:
        "Add a signer to the current step, before or after the caller (加签)"
        [
            Field::new("reviewer", Kind::Person, "加签人", "Reviewer added").required(),
            Field::new("before", Kind::Flag, "在我之前签", "Before me (I sign after them)"),
        ]
        |r| {
            input::id("reviewer", &r.reviewer)?;
            Ok(Command::AddSigner { item: item_id(r.item)?, reviewer: r.reviewer, before: r.before })
        };
    recall(ItemCommand) "Department.Recall" "recall"
        "/api/v1/projects/{project}/items/{item}/recall" true
        "撤回决定" "Recall the decision" when decided, DEPARTMENT D:
        "Withdraw the department's own decision (撤回)"
        [] |r| Ok(Command::Recall { item: item_id(r.item)? });
    return_to(ReturnRequest) "Department.ReturnTo" "return"
        "/api/v1/projects/{project}/items/{item}/return" true
        "退回" "Return to an earlier item" when returnable, DEPARTMENT D:
        "Return the project to an earlier item whose document must change (退回)"
        [
            Field::new("to", Kind::EarlierItem, "退回至", "Earlier item").required(),
            Field::new("reason", Kind::Text, "退回理由", "Reason").required(),
        ]
        |r| {
            input::id("to", &r.to)?;
            Ok(Command::ReturnTo { item: item_id(r.item)?, to: r.to, reason: checked_text("reason", r.reason)? })
        };
}

/// Who calls the department's verbs, for the document.
const D: &str = "a department (its own tasks only)";
