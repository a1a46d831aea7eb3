//! The printable permit (电子证照) at the window: a document an approval issued, with its
//! number, holder, issuing department and time, and its seal — the department's
//! signature — as a QR code and as text, so that a bank or another city holding the
//! paper can check it offline (`onewindow document verify`). The seal comes from the
//! gRPC API's project view (`pb::IssuedDocument::seal`): the page signs nothing itself.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup, PreEscaped};

use super::case::{load, status_page};
use super::page::{department_name, urlencode, Page};
use super::session::{Refused, Session};
use super::Http;
use crate::pb;

pub(super) fn router() -> Router<Http> {
    Router::new().route(
        "/console/window/projects/{project}/documents/{document}",
        get(permit),
    )
}

/// The documents a project has been issued, each linking to its printable page (for the
/// project's page).
pub(super) fn issued_list(p: &pb::Project, plan: &onewindow_core::plan::Plan) -> Markup {
    html! {
        @if !p.documents.is_empty() {
            h2 { "证照 Documents issued" }
            ul #documents { @for d in &p.documents {
                li {
                    a href={ "/console/window/projects/" (urlencode(&p.id)) "/documents/" (urlencode(&d.document)) } {
                        (document_name(plan, &d.document))
                    }
                    " — " (d.number) " · " (department_name(plan, &d.department)) " · " (d.issued_at.replacen('T', " ", 1))
                }
            } }
        }
    }
}

fn document_name(plan: &onewindow_core::plan::Plan, id: &str) -> String {
    plan.documents
        .iter()
        .find(|d| d.id == id)
        .map_or_else(|| id.to_string(), |d| d.name.clone())
}

/// The seal as an SVG QR code; `None` when it does not fit one (it always does: a seal
/// is a few hundred characters of base64url).
fn qr(seal: &str) -> Option<Markup> {
    let code = qrcode::QrCode::new(seal.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .build();
    // Our own SVG, drawn from base64url characters only: nothing of the request in it.
    Some(PreEscaped(svg))
}

async fn permit(
    State(http): State<Http>,
    session: Session,
    Path((id, document)): Path<(String, String)>,
) -> Result<Response, Refused> {
    super::case::applicant_side(&session)?;
    let (p, plan) = match load(&http, &session, &id).await {
        Ok(x) => x,
        Err(s) => return Ok(status_page(&session, &s)),
    };
    let Some(d) = p.documents.iter().find(|d| d.document == document) else {
        return Ok(super::page::not_found(
            "no such document issued to this project",
        ));
    };
    let body = html! {
        section.doc #permit {
            h1 { (document_name(&plan, &d.document)) }
            table.meta {
                tr { td { "证号 Number" } td #number { strong { (d.number) } } }
                tr { td { "项目代码 Project code" } td { (p.id) } }
                tr { td { "申请人 Holder" } td { (p.applicant) } }
                tr { td { "发证部门 Issued by" } td { (department_name(&plan, &d.department)) } }
                tr { td { "发证时间 Issued at" } td { (d.issued_at.replacen('T', " ", 1)) } }
            }
            @if d.seal.is_empty() {
                p.hint { "本服务器未配置签章密钥，此证照无电子签章。 This server signs no documents." }
            } @else {
                h2 { "电子签章 Seal" }
                div #qr { @if let Some(q) = qr(&d.seal) { (q) } }
                p.hint { "扫码或用发证部门公钥离线核验 Scan, or check offline with the issuing department's public key: " code { "onewindow document verify '…' --public-key KEY.pem" } }
                pre #seal { (d.seal) }
            }
            p.noprint {
                button type="button" data-print { "打印 Print" }
                " " a href={ "/console/window/projects/" (urlencode(&p.id)) } { "项目详情 Project" }
            }
        }
    };
    Ok(Page::new(&d.number, Some(&session))
        .render(body)
        .into_response())
}
