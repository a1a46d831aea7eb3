//! The body of a server-sent event stream, written in batches: the events that arrive
//! within [`WINDOW`] of the first go out in one write, and a comment keeps an idle stream
//! open through proxies every [`KEEP_ALIVE`].
//!
//! Why batches: a department's ready stream is told every task of the department, and a
//! city may hold hundreds of such streams open (SSE fan-out). One write per event per
//! stream made the streams' system calls and wakeups, not the commands, the server's
//! work (BENCHMARKS.md, "SSE fan-out"); ten milliseconds of delay on a stream that a
//! department system reads costs it nothing it could notice.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::Stream;

/// How long the first event of a batch waits for others.
pub(super) const WINDOW: Duration = Duration::from_millis(50);

/// How long an idle stream waits before a keep-alive comment.
pub(super) const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A batch is written at once when it reaches this size.
const MAX_BATCH: usize = 64 * 1024;

/// What a stream yields: an event's text of its own, or a task pushed to every stream of
/// its department, encoded once for them all.
pub(crate) enum Chunk {
    /// One event's text ([`frame`]).
    Text(String),
    /// A pushed task ([`crate::feed::Pushed::sse_frame`]).
    Pushed(std::sync::Arc<crate::feed::Pushed>),
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Text(s) => s.as_bytes(),
            Chunk::Pushed(p) => p.sse_frame().as_bytes(),
        }
    }
}

/// An error that ends a stream, as its last event.
pub(crate) fn error_frame(status: &tonic::Status) -> String {
    let data = serde_json::json!({
        "status": super::error::code_name(status.code()),
        "message": status.message(),
    });
    frame(None, "error", &data.to_string())
}

/// One event in the stream's text form (`id`, `event`, one `data` line: the JSON has no
/// newline).
pub(crate) fn frame(id: Option<&str>, event: &str, data: &str) -> String {
    let mut s = String::with_capacity(data.len() + event.len() + 24);
    if let Some(id) = id {
        s.push_str("id: ");
        s.push_str(id);
        s.push('\n');
    }
    s.push_str("event: ");
    s.push_str(event);
    s.push_str("\ndata: ");
    for line in data.lines() {
        s.push_str(line);
    }
    s.push_str("\n\n");
    s
}

/// The response of an event stream whose events are `frames`.
pub(crate) fn response(frames: impl Stream<Item = Chunk> + Send + 'static) -> Response {
    let body = Batched {
        inner: Box::pin(frames),
        buf: Vec::new(),
        window: None,
        keep_alive: Box::pin(tokio::time::sleep(KEEP_ALIVE)),
        done: false,
    };
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

struct Batched {
    inner: Pin<Box<dyn Stream<Item = Chunk> + Send>>,
    buf: Vec<u8>,
    window: Option<Pin<Box<tokio::time::Sleep>>>,
    keep_alive: Pin<Box<tokio::time::Sleep>>,
    done: bool,
}

impl Batched {
    fn emit(&mut self) -> Poll<Option<Result<Bytes, std::convert::Infallible>>> {
        self.window = None;
        self.keep_alive
            .as_mut()
            .reset(tokio::time::Instant::now() + KEEP_ALIVE);
        Poll::Ready(Some(Ok(Bytes::from(std::mem::take(&mut self.buf)))))
    }
}

impl Stream for Batched {
    type Item = Result<Bytes, std::convert::Infallible>;

    /// While a batch's window is open the events are not even looked at: they wait in
    /// their channel, so a stream wakes once per window (the first event, the timer), not
    /// once per event.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(w) = this.window.as_mut() {
                if w.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                while this.buf.len() < MAX_BATCH {
                    match this.inner.as_mut().poll_next(cx) {
                        Poll::Ready(Some(c)) => this.buf.extend_from_slice(c.bytes()),
                        Poll::Ready(None) => {
                            this.done = true;
                            break;
                        }
                        Poll::Pending => break,
                    }
                }
                return this.emit();
            }
            if this.done {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(c)) => {
                    this.buf.extend_from_slice(c.bytes());
                    this.window = Some(Box::pin(tokio::time::sleep(WINDOW)));
                }
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    return match this.keep_alive.as_mut().poll(cx) {
                        Poll::Ready(()) => {
                            this.buf.extend_from_slice(b":\n\n");
                            this.emit()
                        }
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }
}
