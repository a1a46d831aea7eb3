//! `onewindow.v1.Department`: a department's queue and its decisions — claim, approve,
//! reject, ask for a supplement, extend, special procedures. The push stream of ready
//! tasks is in [`super::feed`].

use tonic::{Request, Response, Status};

use super::convert::*;
use super::*;
use crate::engine::Command;
use auth::Role;

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
        let Role::Department(dept) = &who.role else {
            return Err(Status::permission_denied(
                "only a department lists its tasks",
            ));
        };
        let r = req.into_inner();
        let state = r.state;
        let tasks = self.tasks(|d, t| {
            let s = t.state.as_str();
            d == dept
                && if state.is_empty() {
                    t.is_open()
                } else {
                    s == state
                }
        });
        // Pages in (project, workflow order); the token is the last `project/item` sent.
        let size = if r.page_size == 0 {
            100
        } else {
            r.page_size.min(1000)
        } as usize;
        let start = match r.page_token.as_str() {
            "" => 0,
            t => tasks
                .iter()
                .position(|x| format!("{}/{}", x.project, x.item) == t)
                .map_or(tasks.len(), |p| p + 1),
        };
        let page: Vec<pb::Task> = tasks.into_iter().skip(start).take(size + 1).collect();
        let (page, next_page_token) = if page.len() > size {
            let page = page[..size].to_vec();
            let last = &page[size - 1];
            let token = format!("{}/{}", last.project, last.item);
            (page, token)
        } else {
            (page, String::new())
        };
        Ok(Response::new(pb::ListTasksResponse {
            tasks: page,
            next_page_token,
        }))
    }

    async fn claim(
        &self,
        req: Request<pb::ItemCommand>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| Ok(Command::Claim { item: r.item })).await
    }

    async fn approve(
        &self,
        req: Request<pb::ApproveRequest>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| {
            Ok(Command::Approve {
                item: r.item,
                numbers: r.numbers.into_iter().collect(),
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
                item: r.item,
                reason: r.reason,
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
                item: r.item,
                needed: r.needed,
                note: r.note,
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
                item: r.item,
                reason: r.reason,
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
                item: r.item,
                kind: r.reason,
            })
        })
        .await
    }

    async fn end_special(
        &self,
        req: Request<pb::ItemCommand>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        self.act(req, |r| Ok(Command::EndSpecial { item: r.item }))
            .await
    }
}
