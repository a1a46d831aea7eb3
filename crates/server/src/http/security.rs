//! The headers every answer of the HTTP side carries, so that a browser holds the
//! console to what it is: pages of this origin, with this origin's stylesheet and
//! scripts only, never framed by another site, never sniffed into another type, never
//! kept in a shared computer's cache (a counter's PC is shared; its pages hold an
//! applicant's data), never sending a project's address to another site.
//!
//! | header | value | stops |
//! |---|---|---|
//! | `Content-Security-Policy` | pages: [`CSP`] — `default-src 'self'`, no inline script, no plugins, no framing, forms only to this origin; everything else: [`CSP_NOT_A_PAGE`] — nothing loads, nothing frames | injected markup running script; clickjacking; a form posting elsewhere |
//! | `X-Frame-Options` | `DENY` | clickjacking, in browsers without CSP level 2 |
//! | `X-Content-Type-Options` | `nosniff` | a JSON answer or an upload read as HTML or script |
//! | `Referrer-Policy` | `no-referrer` | project codes in URLs leaking to other sites |
//! | `Cache-Control` | `no-store` (the static stylesheet and scripts excepted) | pages kept on a shared PC |
//! | `Strict-Transport-Security` | when the browser speaks https | a later visit over plain http |

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response};

use super::client::TrustedProxies;

/// The content security policy of every answer. Styles and scripts come from this
/// origin only (no inline script: the print buttons are bound by `console.js`); SVG
/// charts use presentation attributes, not style attributes; the QR code of a permit is
/// inline SVG.
pub(crate) const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy of every answer that is not a page (JSON, metrics, scripts, styles):
/// nothing may load from it, nothing may frame it. Shorter than [`CSP`], which matters
/// on the JSON API's many small answers.
pub(crate) const CSP_NOT_A_PAGE: &str = "default-src 'none'; frame-ancestors 'none'";

/// The layer that adds the security headers to every answer. A plain tower layer rather
/// than a middleware function: it runs on every request of the JSON API, and a function
/// middleware boxes each request's future and clones the handlers' state.
#[derive(Clone)]
pub(crate) struct SecurityLayer {
    proxies: Arc<TrustedProxies>,
    tls: bool,
}

impl SecurityLayer {
    /// Headers for a side behind `proxies`, serving TLS itself when `tls`.
    pub(crate) fn new(proxies: Arc<TrustedProxies>, tls: bool) -> SecurityLayer {
        SecurityLayer { proxies, tls }
    }
}

impl<S> tower::Layer<S> for SecurityLayer {
    type Service = Security<S>;

    fn layer(&self, inner: S) -> Security<S> {
        Security {
            inner,
            layer: self.clone(),
        }
    }
}

/// See [`SecurityLayer`].
#[derive(Clone)]
pub(crate) struct Security<S> {
    inner: S,
    layer: SecurityLayer,
}

impl<S, B, R> tower::Service<Request<B>> for Security<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = WithHeaders<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let cacheable = request.uri().path().starts_with("/console/static/");
        let https = self.layer.tls
            || request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|peer| {
                    self.layer
                        .proxies
                        .client(peer.0.ip(), request.headers(), false)
                        .https
                });
        WithHeaders {
            inner: self.inner.call(request),
            cacheable,
            https,
        }
    }
}

pin_project_lite::pin_project! {
    /// An answer on its way, to which the headers are added.
    pub(crate) struct WithHeaders<F> {
        #[pin]
        inner: F,
        cacheable: bool,
        https: bool,
    }
}

impl<F, R, E> Future for WithHeaders<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = match this.inner.poll(cx) {
            Poll::Ready(Ok(r)) => r,
            other => return other,
        };
        add(response.headers_mut(), *this.cacheable, *this.https);
        Poll::Ready(Ok(response))
    }
}

/// The headers themselves.
fn add(h: &mut axum::http::HeaderMap, cacheable: bool, https: bool) {
    let page = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(if page { CSP } else { CSP_NOT_A_PAGE }),
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
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}
