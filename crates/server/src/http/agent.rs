//! The agent's portal (代办员): the projects assigned to them — only those, as the API
//! answers an agent — each with what it waits for from the applicant (a supplement, a
//! resubmission after 不予许可, a milestone to report), linking to the project's page,
//! where the agent acts through the window's verbs the engine allows an agent.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::html;

use super::page::{self, project_status_name, stage_name, urlencode, Page};
use super::session::{Refused, Session};
use super::{request, Http};
use crate::auth::Role;
use crate::pb;
use crate::pb::window_server::Window;
use crate::verbs::{Family, Scene};

pub(super) fn router() -> Router<Http> {
    Router::new().route("/console/agent", get(home))
}

async fn home(State(http): State<Http>, session: Session) -> Result<Response, Refused> {
    let Role::Agent(agent) = &session.caller.role else {
        return Err(Refused::Forbidden(
            "只有代办员使用此页 Only agents have this page.".into(),
        ));
    };
    let listed = http
        .api
        .list_projects(request(
            &session.caller,
            pb::ListProjectsRequest {
                page_size: 200,
                ..Default::default()
            },
        ))
        .await
        .map(|r| r.into_inner().projects);
    // Per project: what the applicant's side may do now, by the window's verbs that
    // act on an item (their names) and the items they concern.
    let waiting = |id: &str| -> Vec<String> {
        let Some(state) = http.api.svc.project(id) else {
            return Vec::new();
        };
        let Some(plan) = http.api.svc.plan(state.version()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in 0..plan.items.len() {
            let scene = Scene {
                plan: &plan,
                project: &state,
                item: i,
            };
            for v in crate::verbs::all()
                .filter(|v| v.family == Family::Window && v.on_item && v.name != "urge")
            {
                if (v.when)(&scene) {
                    out.push(format!("{}：{}", v.zh, plan.items[i].name));
                }
            }
        }
        out
    };
    let body = html! {
        h1 { "我的项目 My projects — 代办员 " (agent) }
        @match &listed {
            Err(s) => { (page::refusal(s, None, session.lang)) }
            Ok(projects) => {
                table #agent-projects {
                    thead { tr { th { "项目代码 Code" } th { "事项流程 Workflow" } th { "阶段 Stage" } th { "状态 Status" } th { "待申请人办理 Waiting on the applicant" } } }
                    tbody {
                        @if projects.is_empty() { tr.empty { td colspan="5" { "暂无指派给您的项目 No project is assigned to you" } } }
                        @for p in projects {
                            @let plan = http.api.plan(&p.version).ok();
                            tr data-project=(p.id) {
                                td { a href={ "/console/window/projects/" (urlencode(&p.id)) } { (p.id) } }
                                td { (plan.as_ref().map_or(p.workflow.as_str(), |pl| pl.name.as_str())) }
                                td { (plan.as_ref().map_or_else(|| "—".to_string(), |pl| stage_name(pl, &p.stage))) }
                                td { (project_status_name(&p.status)) }
                                td { @let w = waiting(&p.id);
                                    @if w.is_empty() { "—" } @else { ul { @for x in &w { li { (x) } } } } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(Page::new("我的项目", Some(&session))
        .render(body)
        .into_response())
}
