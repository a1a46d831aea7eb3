//! From every error to a gRPC status, in one place: engine refusals, bad arguments, the
//! one-time notice as typed details.

use tonic::Status;

use super::convert::*;
use onewindow_engine::{self as engine, Refusal};

/// The type URL of the one-time notice sent as an error detail.
pub const NOTICE_TYPE_URL: &str = "type.googleapis.com/onewindow.v1.Notice";

/// FAILED_PRECONDITION for an incomplete submission. The one-time notice travels typed in
/// the status details, twice: as the API's own `onewindow.v1.Notice` (everything, for
/// clients built from the .proto), and as a standard `google.rpc.PreconditionFailure`
/// with one violation per missing thing (for generic tools). The message says it in
/// words.
pub(super) fn incomplete_status(code: &str, reason: String, n: &engine::notice::Notice) -> Status {
    use prost::Message;
    let mut violations = Vec::new();
    let mut words = Vec::new();
    for f in &n.form {
        violations.push(tonic_types::pb::precondition_failure::Violation {
            r#type: "form".into(),
            subject: f.field.clone(),
            description: f.problem.clone(),
        });
        words.push(format!("form field {}: {}", f.field, f.problem));
    }
    for i in &n.items {
        for m in &i.missing_materials {
            violations.push(tonic_types::pb::precondition_failure::Violation {
                r#type: "missing_material".into(),
                subject: format!("{}/{m}", i.item),
                description: format!("{} ({}) requires material {m}", i.item, i.department),
            });
        }
        for f in &i.missing_fields {
            violations.push(tonic_types::pb::precondition_failure::Violation {
                r#type: "missing_field".into(),
                subject: format!("{}/{f}", i.item),
                description: format!("{} ({}) requires form field {f}", i.item, i.department),
            });
        }
        let mut missing: Vec<&str> = i.missing_materials.iter().map(String::as_str).collect();
        missing.extend(i.missing_fields.iter().map(String::as_str));
        words.push(format!("{} needs {}", i.item, missing.join(", ")));
    }
    for c in &n.conditional {
        violations.push(tonic_types::pb::precondition_failure::Violation {
            r#type: "undecided_item".into(),
            subject: c.item.clone(),
            description: format!(
                "whether {} ({}) applies depends on {} (`{}`)",
                c.item,
                c.department,
                c.undecided_fields.join(", "),
                c.condition
            ),
        });
        let mut missing: Vec<&str> = c.missing_materials.iter().map(String::as_str).collect();
        missing.extend(c.missing_fields.iter().map(String::as_str));
        words.push(if missing.is_empty() {
            format!("{} applies if `{}`", c.item, c.condition)
        } else {
            format!(
                "{} applies if `{}` and then needs {}",
                c.item,
                c.condition,
                missing.join(", ")
            )
        });
    }
    for c in n.site.iter().filter(|c| c.blocking) {
        violations.push(tonic_types::pb::precondition_failure::Violation {
            r#type: "site_conflict".into(),
            subject: format!("{}/{}", c.layer, c.rule),
            description: c.message.clone(),
        });
        words.push(format!("the site: {} ({})", c.rule, c.plan));
    }
    let message = truncate(
        &format!("{code}: {reason}: {}", words.join("; ")),
        MAX_MESSAGE * 4,
    );
    let status = tonic_types::pb::Status {
        code: tonic::Code::FailedPrecondition as i32,
        message: message.clone(),
        details: vec![
            prost_types::Any {
                type_url: NOTICE_TYPE_URL.into(),
                value: notice_pb(n.clone()).encode_to_vec(),
            },
            prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.PreconditionFailure".into(),
                value: tonic_types::pb::PreconditionFailure { violations }.encode_to_vec(),
            },
        ],
    };
    Status::with_details(
        tonic::Code::FailedPrecondition,
        message,
        status.encode_to_vec().into(),
    )
}

/// The longest status message the server sends, in bytes.
pub const MAX_MESSAGE: usize = 1000;

/// `text` cut to at most `max` bytes on a character boundary, with `…` when cut: how
/// inputs appear in messages.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A refusal whose ids that came in the request (a project, an item, a version, a
/// material, a request id) are cut to [`ECHO`] bytes, as every message quotes its input:
/// never whole.
fn echoed(r: &Refusal) -> Refusal {
    let cut = |s: &String| truncate(s, ECHO);
    match r {
        Refusal::UnknownProject(p) => Refusal::UnknownProject(cut(p)),
        Refusal::ProjectExists(p) => Refusal::ProjectExists(cut(p)),
        Refusal::UnknownVersion(v) => Refusal::UnknownVersion(cut(v)),
        Refusal::UnknownItem(i) => Refusal::UnknownItem(cut(i)),
        Refusal::NotApplicable(i) => Refusal::NotApplicable(cut(i)),
        Refusal::RequestReused(id) => Refusal::RequestReused(cut(id)),
        Refusal::UnknownReference { kind, id } => Refusal::UnknownReference {
            kind: kind.clone(),
            id: cut(id),
        },
        other => other.clone(),
    }
}

/// How many bytes of an input a message quotes.
pub const ECHO: usize = 40;

/// The gRPC status for a store error: only what may pass is UNAVAILABLE (retry); damaged
/// or impossible data is DATA_LOSS; an id the store cannot take is INVALID_ARGUMENT.
pub fn store_status(e: &onewindow_store::Error) -> Status {
    use onewindow_store::Error;
    let message = truncate(&format!("store: {e}"), MAX_MESSAGE);
    match e {
        Error::Backend(_) | Error::Engine(_) | Error::Drawn(_) => Status::unavailable(message),
        Error::Corrupt(_) | Error::Inconsistent(_) => Status::data_loss(message),
        Error::Foreign(_) => Status::internal(message),
        Error::InvalidId(_) => invalid_argument(format!("id: {message}")),
    }
}

/// INVALID_ARGUMENT for a message of the form `field: what is wrong`, with the field path
/// also as a structured `google.rpc.BadRequest` violation, so clients need not parse text.
pub(crate) fn invalid_argument(message: impl Into<String>) -> Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let message = truncate(&message.into(), MAX_MESSAGE);
    let (field, description) = message.split_once(": ").unwrap_or(("", message.as_str()));
    let details = ErrorDetails::with_bad_request_violation(field, description);
    Status::with_error_details(tonic::Code::InvalidArgument, message.clone(), details)
}

/// The gRPC status for an engine refusal: the code says what kind of problem, the message
/// is the engine's reason, prefixed with its stable code (cut to [`MAX_MESSAGE`] bytes:
/// an input is never echoed whole). The table is documented in the proto's header.
pub fn refusal_status(r: &Refusal) -> Status {
    use tonic::Code;
    use tonic_types::{ErrorDetails, StatusExt};
    let message = truncate(&format!("{}: {}", r.code(), echoed(r)), MAX_MESSAGE);
    if let Refusal::Incomplete(notice) = r {
        return incomplete_status(r.code(), r.to_string(), notice);
    }
    // Every refusal carries its code and subjects as a google.rpc.ErrorInfo (each value
    // cut short: a subject may be an id the request made up).
    let subjects: std::collections::HashMap<String, String> = r
        .subjects()
        .into_iter()
        .map(|(k, v)| (k.to_string(), truncate(&v, 200)))
        .collect();
    let mut details = ErrorDetails::with_error_info(r.code(), ERROR_DOMAIN, subjects);
    // A bad value also names its field (google.rpc.BadRequest), as every other
    // INVALID_ARGUMENT does.
    let mut bad = |field: &str| {
        details.add_bad_request_violation(field, message.clone());
        (Code::InvalidArgument, format!("{field}: {message}"))
    };
    let (code, message) = match r {
        Refusal::RequestReused(_) | Refusal::ProjectExists(_) => {
            (Code::AlreadyExists, message.clone())
        }
        // The server's clock is wrong, not the request: try again later.
        Refusal::BeforeRecord { .. } | Refusal::TimeOutOfRange(_) => {
            (Code::Unavailable, message.clone())
        }
        Refusal::UnknownProject(_) | Refusal::UnknownItem(_) | Refusal::UnknownVersion(_) => {
            (Code::NotFound, message.clone())
        }
        Refusal::NotAllowed { .. }
        | Refusal::NotYourTask { .. }
        | Refusal::NotAssignee { .. }
        | Refusal::NotSigner { .. } => (Code::PermissionDenied, message.clone()),
        // Urging is limited: try again tomorrow.
        Refusal::UrgedRecently(_) => (Code::ResourceExhausted, message.clone()),
        Refusal::ReasonRequired => bad("reason"),
        Refusal::UnknownReference { kind, .. } => bad(kind),
        Refusal::NumberRequired { document, .. } | Refusal::BadNumber { document, .. } => {
            bad(&format!("numbers.{document}"))
        }
        Refusal::Incomplete(_) => unreachable!("answered above"),
        Refusal::NotApplicable(_)
        | Refusal::IllegalTransition { .. }
        | Refusal::AlreadyExtended(_)
        | Refusal::NoExtension(_)
        | Refusal::Delegated { .. }
        | Refusal::DependentStarted { .. }
        | Refusal::NotUpstream { .. }
        | Refusal::Closed(_) => {
            // The engine's reason also as a google.rpc.PreconditionFailure: type = the
            // refusal's stable code, subject = the item concerned.
            let subject = match r {
                Refusal::NotApplicable(i)
                | Refusal::AlreadyExtended(i)
                | Refusal::NoExtension(i) => i.clone(),
                Refusal::IllegalTransition { item, .. }
                | Refusal::Delegated { item, .. }
                | Refusal::DependentStarted { item, .. }
                | Refusal::NotUpstream { item, .. } => item.clone(),
                _ => String::new(),
            };
            details.add_precondition_failure_violation(r.code(), subject, r.to_string());
            (Code::FailedPrecondition, message.clone())
        }
    };
    Status::with_error_details(code, truncate(&message, MAX_MESSAGE), details)
}

/// The domain of the API's `google.rpc.ErrorInfo`: its reasons are the engine's refusal
/// codes.
pub const ERROR_DOMAIN: &str = "onewindow.v1";
