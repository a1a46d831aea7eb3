//! Errors over HTTP: the gRPC status every handler returns, as the HTTP status
//! `google.rpc.Code` maps it to, with the typed reason in a JSON body.
//!
//! ```json
//! {"error": {"code": 400, "status": "FAILED_PRECONDITION", "reason": "illegal-transition",
//!            "message": "illegal-transition: …", "violations": [...], "notice": {...}}}
//! ```
//!
//! `reason` is what a program branches on: the engine's refusal code (the stable codes
//! of `engine::Refusal`), or for a bad input `invalid-argument` with the field in
//! `violations`, or the status name in lower case. `notice` is the one-time notice of an
//! incomplete submission, as `Window.PreReview` returns it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::pb;
use crate::NOTICE_TYPE_URL;

/// The HTTP status of a gRPC code, as `google.rpc.Code` documents the mapping.
pub(crate) fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            StatusCode::BAD_REQUEST
        }
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The status name as the proto spells it (`FAILED_PRECONDITION`).
pub(crate) fn code_name(code: Code) -> String {
    // tonic's Debug is the variant in CamelCase.
    let mut out = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// What a status says, typed: the reason, the field violations, the one-time notice.
pub(crate) struct Explained {
    pub(crate) reason: String,
    /// `(field, description)` for a bad input; `(type, subject, description)` flattened
    /// as `(subject, description)` for a refusal.
    pub(crate) violations: Vec<(String, String)>,
    pub(crate) notice: Option<pb::Notice>,
}

/// Reads a status's details (set by `server::status`) back into their types.
pub(crate) fn explain(status: &Status) -> Explained {
    let details = status.get_error_details();
    let mut violations = Vec::new();
    let mut reason = None;
    if let Some(bad) = details.bad_request() {
        for v in &bad.field_violations {
            violations.push((v.field.clone(), v.description.clone()));
        }
        reason = Some("invalid-argument".to_string());
    }
    if let Some(failed) = details.precondition_failure() {
        for v in &failed.violations {
            violations.push((v.subject.clone(), v.description.clone()));
        }
        if let Some(first) = failed.violations.first() {
            // The notice's violations are typed by what is missing; the refusal is one.
            reason.get_or_insert_with(|| match first.r#type.as_str() {
                "form" | "missing_material" | "missing_field" | "undecided_item"
                | "site_conflict" => "incomplete".to_string(),
                code => code.to_string(),
            });
        }
    }
    let notice = notice_of(status);
    if notice.is_some() {
        reason = Some("incomplete".to_string());
    }
    let reason = reason
        .or_else(|| refusal_code(status.message()))
        .unwrap_or_else(|| code_name(status.code()).to_lowercase().replace('_', "-"));
    Explained {
        reason,
        violations,
        notice,
    }
}

/// The engine's stable code a refusal's message starts with (`request-reused: …`).
fn refusal_code(message: &str) -> Option<String> {
    let (code, _) = message.split_once(": ")?;
    (!code.is_empty()
        && code
            .split('-')
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase())))
    .then(|| code.to_string())
}

/// The one-time notice an incomplete submission's status carries.
fn notice_of(status: &Status) -> Option<pb::Notice> {
    use prost::Message;
    let decoded = tonic_types::pb::Status::decode(status.details()).ok()?;
    let any = decoded
        .details
        .into_iter()
        .find(|d| d.type_url == NOTICE_TYPE_URL)?;
    pb::Notice::decode(any.value.as_slice()).ok()
}

/// The HTTP response for a status: its HTTP code and the JSON error body.
pub(crate) fn status_response(status: &Status) -> Response {
    let e = explain(status);
    let code = http_status(status.code());
    let mut body = json!({
        "code": code.as_u16(),
        "status": code_name(status.code()),
        "reason": e.reason,
        "message": status.message(),
    });
    if !e.violations.is_empty() {
        body["violations"] = e
            .violations
            .iter()
            .map(|(field, description)| json!({"field": field, "description": description}))
            .collect();
    }
    if let Some(n) = e.notice {
        body["notice"] = serde_json::to_value(n).unwrap_or_default();
    }
    let mut response = (code, axum::Json(json!({ "error": body }))).into_response();
    if status.code() == Code::Unavailable || status.code() == Code::ResourceExhausted {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
    }
    response
}
