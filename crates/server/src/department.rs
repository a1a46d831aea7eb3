//! `onewindow.v1.Department`: a department's queue and its decisions — claim, approve,
//! reject, ask for a supplement, extend, special procedures — and the office's verbs
//! inside a task: sign a step, transfer, delegate, add a signer, recall a decision,
//! return to an earlier item. The push stream of ready tasks is in [`super::feed`].

use tonic::{Request, Response, Status};

use super::convert::*;
use super::status::invalid_argument;
use super::*;
use onewindow_engine::{Command, TaskState};

#[tonic::async_trait]
impl pb::department_server::Department for Api {
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

    async fn claim(
        &self,
        req: Request<pb::ItemCommand>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::Claim {
                item: item_id(r.item)?,
            })
        })
        .await
    }

    async fn approve(
        &self,
        req: Request<pb::ApproveRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::Approve {
                item: item_id(r.item)?,
                numbers: numbers(r.numbers)?,
            })
        })
        .await
    }

    async fn reject(
        &self,
        req: Request<pb::ReasonForItem>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::Reject {
                item: item_id(r.item)?,
                reason: checked_text("reason", r.reason)?,
            })
        })
        .await
    }

    async fn request_supplement(
        &self,
        req: Request<pb::SupplementRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::RequestSupplement {
                item: item_id(r.item)?,
                needed: material_ids("needed", r.needed)?,
                note: checked_text("note", r.note)?,
            })
        })
        .await
    }

    async fn extend(
        &self,
        req: Request<pb::ReasonForItem>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::Extend {
                item: item_id(r.item)?,
                reason: checked_text("reason", r.reason)?,
            })
        })
        .await
    }

    async fn start_special(
        &self,
        req: Request<pb::ReasonForItem>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::StartSpecial {
                item: item_id(r.item)?,
                kind: checked_text("reason", r.reason)?,
            })
        })
        .await
    }

    async fn end_special(
        &self,
        req: Request<pb::ItemCommand>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::EndSpecial {
                item: item_id(r.item)?,
            })
        })
        .await
    }

    async fn sign(
        &self,
        req: Request<pb::ReasonForItem>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::Sign {
                item: item_id(r.item)?,
                opinion: checked_text("reason", r.reason)?,
            })
        })
        .await
    }

    async fn transfer(
        &self,
        req: Request<pb::HandOverRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            input::id("to", &r.to)?;
            Ok(Command::Transfer {
                item: item_id(r.item)?,
                to: r.to,
            })
        })
        .await
    }

    async fn delegate(
        &self,
        req: Request<pb::HandOverRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            input::id("to", &r.to)?;
            Ok(Command::Delegate {
                item: item_id(r.item)?,
                to: r.to,
            })
        })
        .await
    }

    async fn add_signer(
        &self,
        req: Request<pb::AddSignerRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            input::id("reviewer", &r.reviewer)?;
            Ok(Command::AddSigner {
                item: item_id(r.item)?,
                reviewer: r.reviewer,
                before: r.before,
            })
        })
        .await
    }

    async fn recall(
        &self,
        req: Request<pb::ItemCommand>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::Recall {
                item: item_id(r.item)?,
            })
        })
        .await
    }

    async fn return_to(
        &self,
        req: Request<pb::ReturnRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            input::id("to", &r.to)?;
            Ok(Command::ReturnTo {
                item: item_id(r.item)?,
                to: r.to,
                reason: checked_text("reason", r.reason)?,
            })
        })
        .await
    }
}
