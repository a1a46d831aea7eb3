//! The headers every answer of the HTTP side carries, so that a browser holds the
//! console to what it is: pages of this origin, with this origin's stylesheet and
//! scripts only, never framed by another site, never sniffed into another type, never
//! kept in a shared computer's cache (a counter's PC is shared; its pages hold an
//! applicant's data), never sending a project's address to another site.
//!
//! | header | value | stops |
//! |---|---|---|
//! | `Content-Security-Policy` | [`CSP`]: `default-src 'self'`, no inline script, no plugins, no framing, forms only to this origin | injected markup running script; clickjacking; a form posting elsewhere |
//! | `X-Frame-Options` | `DENY` | clickjacking, in browsers without CSP level 2 |
//! | `X-Content-Type-Options` | `nosniff` | a JSON answer or an upload read as HTML or script |
//! | `Referrer-Policy` | `no-referrer` | project codes in URLs leaking to other sites |
//! | `Cache-Control` | `no-store` (the static stylesheet and scripts excepted) | pages kept on a shared PC |
//! | `Strict-Transport-Security` | when the browser speaks https | a later visit over plain http |

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::client::Client;

/// The content security policy of every answer. Styles and scripts come from this
/// origin only (no inline script: the print buttons are bound by `console.js`); SVG
/// charts use presentation attributes, not style attributes; the QR code of a permit is
/// inline SVG.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the security headers to an answer.
pub(crate) async fn headers(client: Client, request: Request, next: Next) -> Response {
    let cacheable = request.uri().path().starts_with("/console/static/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !cacheable {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if client.https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}
