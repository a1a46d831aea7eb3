//! Connection hygiene on both ports: a connection that does not speak, or stops
//! speaking, is closed; the connections open at once are capped; and a flood of
//! unfinished connections cannot keep out a client that finishes its request.
//!
//! Every accepted TCP connection passes a [`Door`] (one per port) and is wrapped in a
//! [`Guarded`] stream that enforces, below HTTP and TLS:
//! - the **handshake**: the first [`HANDSHAKE_BYTES`] bytes must come within
//!   [`Hygiene::handshake`] — an HTTP/2 client preface is 24 bytes, an HTTP/1 request
//!   line with its first header more, a TLS ClientHello more still — so bare TCP that
//!   never speaks, and a handshake that stops half-way, are closed (the TLS handshake as
//!   a whole has the same bound; once HTTP/2's preface is in, its pings take over);
//! - **idleness**: no byte either way for [`Hygiene::idle`] closes it (between one and
//!   two bounds after the last byte: idleness is counted in rounds of a timer, so that a
//!   ready read or write costs nothing). A backstop; live connections are never that
//!   quiet: HTTP/2 pings every [`Hygiene::keepalive`] and the dashboard's stream sends a
//!   comment every 15 s.
//!
//! Above them hyper enforces the rest: an HTTP/1 request's headers must arrive within
//! [`Hygiene::header_read`] (also the idle keep-alive between requests), a body must
//! not pause longer than [`Hygiene::body`] between frames, and an HTTP/2 connection that
//! does not answer a ping within [`Hygiene::keepalive_timeout`] is closed.
//!
//! At most [`Hygiene::max_connections`] are open per port. When a new connection comes
//! to a full port, the **oldest connection that has not finished a request** is closed
//! to make room (half-open connections are what fills a port), and only when every open
//! connection has been served is the new one refused. Either way a warning is logged (at
//! most once every ten seconds) and counted (`onewindow_connections_evicted_total`,
//! `onewindow_connections_refused_total`), so `/healthz` keeps answering under a flood
//! and the operator sees why. The node raises its open-file limit to the hard limit on
//! start, and the default cap leaves room below it for the store and the other port.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// How many bytes a connection must send within the handshake's bound: an HTTP/2
/// client preface (`PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`) is exactly this long.
pub const HANDSHAKE_BYTES: u64 = 24;

/// The timeouts and the cap of both ports.
#[derive(Debug, Clone)]
pub struct Hygiene {
    /// Connections open at once per port; 0: derived from the open-file limit when the
    /// server starts ([`default_max_connections`]).
    pub max_connections: usize,
    /// The first [`HANDSHAKE_BYTES`] bytes (and a TLS handshake) must come within this.
    pub handshake: Duration,
    /// No byte either way for this long closes a connection.
    pub idle: Duration,
    /// An HTTP/1 request's headers must arrive within this (and a keep-alive connection
    /// waits this long for the next request).
    pub header_read: Duration,
    /// A request body may not pause longer than this between frames.
    pub body: Duration,
    /// HTTP/2: a ping this often…
    pub keepalive: Duration,
    /// …must be answered within this.
    pub keepalive_timeout: Duration,
}

impl Default for Hygiene {
    fn default() -> Hygiene {
        Hygiene {
            max_connections: 0,
            handshake: Duration::from_secs(10),
            idle: Duration::from_secs(120),
            header_read: Duration::from_secs(10),
            body: Duration::from_secs(10),
            keepalive: Duration::from_secs(20),
            keepalive_timeout: Duration::from_secs(10),
        }
    }
}

/// Raises the process's open-file limit to its hard limit; returns the soft limit now.
pub fn raise_open_files() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024)
}

/// The default cap per port, after raising the open-file limit to the hard limit:
/// 10,000, or less where that limit is low — each port gets at most two fifths of it,
/// leaving a fifth for the store, logs and files.
pub fn default_max_connections() -> usize {
    let files = raise_open_files();
    usize::try_from(files.saturating_mul(2) / 5)
        .unwrap_or(usize::MAX)
        .clamp(64, 10_000)
}

impl Hygiene {
    /// These settings with the cap derived when it was left at 0.
    pub fn resolved(mut self) -> Hygiene {
        if self.max_connections == 0 {
            self.max_connections = default_max_connections();
        }
        self
    }
}

/// What a door counts, for `/metrics`.
#[derive(Clone, Default)]
pub(crate) struct DoorMetrics {
    /// Connections open now.
    pub(crate) open: Gauge,
    /// New connections refused at a full port.
    pub(crate) refused: Counter,
    /// Unfinished connections closed to make room.
    pub(crate) evicted: Counter,
    /// Connections closed for silence (handshake or idleness).
    pub(crate) timed_out: Counter,
}

/// One open connection, as its door knows it.
struct Conn {
    seq: u64,
    peer: SocketAddr,
    killed: AtomicBool,
    waker: AtomicWaker,
}

impl Conn {
    fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.waker.wake();
    }
}

#[derive(Default)]
struct State {
    open: usize,
    next: u64,
    /// Connections that have not finished a request, oldest first.
    unfinished: BTreeMap<u64, Arc<Conn>>,
    by_peer: HashMap<SocketAddr, u64>,
}

/// The connections of one port.
pub(crate) struct Door {
    port: &'static str,
    limit: usize,
    handshake: Duration,
    idle: Duration,
    state: Mutex<State>,
    metrics: DoorMetrics,
    warned: Mutex<Option<std::time::Instant>>,
}

impl Door {
    /// The door of `port` (`grpc` or `http`: the name in logs and metrics).
    pub(crate) fn new(port: &'static str, hygiene: &Hygiene, metrics: DoorMetrics) -> Arc<Door> {
        Arc::new(Door {
            port,
            limit: hygiene.max_connections.max(1),
            handshake: hygiene.handshake,
            idle: hygiene.idle,
            state: Mutex::default(),
            metrics,
            warned: Mutex::new(None),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Logs a warning at most once every ten seconds.
    fn warn(&self, what: std::fmt::Arguments<'_>) {
        let mut last = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            *last = Some(std::time::Instant::now());
            tracing::warn!(port = self.port, "{what}");
        }
    }

    /// Lets a new connection in: at a full port the oldest unfinished one is closed
    /// for it, or, when every open one has finished a request, it is refused (`None`).
    pub(crate) fn admit(self: &Arc<Self>, stream: TcpStream, peer: SocketAddr) -> Option<Guarded> {
        let conn = {
            let mut state = self.lock();
            if state.open >= self.limit {
                let oldest = state.unfinished.pop_first();
                match oldest {
                    Some((_, old)) => {
                        state.by_peer.remove(&old.peer);
                        state.open -= 1;
                        old.kill();
                        self.metrics.evicted.inc();
                        self.warn(format_args!(
                            "{} connections open, the most allowed: closing the oldest that has not finished a request to let a new one in (onewindow_connections_evicted_total)",
                            self.limit
                        ));
                    }
                    None => {
                        drop(state);
                        self.metrics.refused.inc();
                        self.warn(format_args!(
                            "{} connections open, the most allowed, all of them served: refusing new connections (onewindow_connections_refused_total)",
                            self.limit
                        ));
                        return None;
                    }
                }
            }
            state.open += 1;
            state.next += 1;
            let conn = Arc::new(Conn {
                seq: state.next,
                peer,
                killed: AtomicBool::new(false),
                waker: AtomicWaker::new(),
            });
            state.unfinished.insert(conn.seq, conn.clone());
            state.by_peer.insert(peer, conn.seq);
            self.metrics.open.set(state.open as i64);
            conn
        };
        let _ = stream.set_nodelay(true);
        Some(Guarded {
            stream,
            conn,
            door: self.clone(),
            deadline: Box::pin(tokio::time::sleep(self.handshake)),
            spoke: false,
            heard: 0,
            moves: 0,
            round_start: 0,
        })
    }

    /// The connection from `peer` has finished a request: it is no longer the first to
    /// be closed for a newcomer.
    pub(crate) fn served(&self, peer: &SocketAddr) {
        let mut state = self.lock();
        if let Some(seq) = state.by_peer.remove(peer) {
            state.unfinished.remove(&seq);
        }
    }

    fn closed(&self, conn: &Conn) {
        if conn.killed.load(Ordering::Acquire) {
            // Already counted out when it was closed for a newcomer.
            return;
        }
        let mut state = self.lock();
        state.open = state.open.saturating_sub(1);
        if state.unfinished.remove(&conn.seq).is_some() {
            state.by_peer.remove(&conn.peer);
        }
        self.metrics.open.set(state.open as i64);
    }

    /// The connections `listener` accepts, each through this door. An accept that fails
    /// (out of file descriptors) is logged and retried after a pause, never a busy loop.
    pub(crate) fn incoming(
        self: Arc<Self>,
        listener: TcpListener,
    ) -> impl futures_util::Stream<Item = io::Result<Guarded>> + Send + 'static {
        futures_util::stream::unfold((listener, self), |(listener, door)| async move {
            let guarded = door.accept(&listener).await;
            Some((Ok(guarded), (listener, door)))
        })
    }

    /// The next connection let in.
    pub(crate) async fn accept(self: &Arc<Self>, listener: &TcpListener) -> Guarded {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    if let Some(g) = self.admit(stream, peer) {
                        return g;
                    }
                }
                Err(e) => {
                    self.warn(format_args!("accepting a connection failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// A connection let in by a [`Door`]: closed when silent too long, or when its door
/// closes it for a newcomer.
///
/// Cheap on the hot path: a read or write that is ready costs one atomic load and one
/// counter increment; the timer is looked at only when the connection would wait. So
/// idleness is measured in rounds of the timer: a round with no byte either way after
/// the handshake came closes the connection, which is therefore closed between one and
/// two idle bounds after its last byte.
pub struct Guarded {
    stream: TcpStream,
    conn: Arc<Conn>,
    door: Arc<Door>,
    /// The handshake's deadline until the first [`HANDSHAKE_BYTES`] bytes, then the end
    /// of an idle round.
    deadline: Pin<Box<Sleep>>,
    spoke: bool,
    /// Bytes read so far, counted until the handshake's are in.
    heard: u64,
    /// Bytes moved (reads and writes that moved any), and their count when the current
    /// idle round began.
    moves: u64,
    round_start: u64,
}

impl Guarded {
    /// The peer's address.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.conn.peer
    }

    /// The local address.
    pub(crate) fn local(&self) -> Option<SocketAddr> {
        self.stream.local_addr().ok()
    }

    /// Before an operation: `Err` when the door closed the connection for a newcomer.
    fn killed(&self) -> io::Result<()> {
        if self.conn.killed.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed to let a new connection in",
            ));
        }
        Ok(())
    }

    /// When the operation would wait: `Err` when the connection has been silent past its
    /// bound; otherwise the task is registered to be woken by the timer or the door.
    fn waiting(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        self.conn.waker.register(cx.waker());
        self.killed()?;
        while self.deadline.as_mut().poll(cx).is_ready() {
            let silent = if self.spoke {
                self.moves == self.round_start
            } else {
                true
            };
            if silent {
                self.door.metrics.timed_out.inc();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    if self.spoke {
                        "idle too long"
                    } else {
                        "no request in time"
                    },
                ));
            }
            // Something moved during the round: another round.
            self.round_start = self.moves;
            let next = Instant::now() + self.door.idle;
            self.deadline.as_mut().reset(next);
        }
        Ok(())
    }

    fn moved(&mut self, n: usize, read: bool) {
        if n > 0 {
            self.moves = self.moves.wrapping_add(1);
            if read && !self.spoke {
                self.heard += n as u64;
                if self.heard < HANDSHAKE_BYTES {
                    return;
                }
                // The handshake's bytes are in: from now on the idle rounds count.
                self.spoke = true;
                self.round_start = self.moves;
                let next = Instant::now() + self.door.idle;
                self.deadline.as_mut().reset(next);
            }
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.door.closed(&self.conn);
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.killed()?;
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.moved(buf.filled().len() - before, true);
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                this.waiting(cx)?;
                Poll::Pending
            }
            other => other,
        }
    }
}

impl Guarded {
    fn write_with(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        self.killed()?;
        match write(Pin::new(&mut self.stream), cx) {
            Poll::Ready(Ok(n)) => {
                self.moved(n, false);
                Poll::Ready(Ok(n))
            }
            Poll::Pending => {
                self.waiting(cx)?;
                Poll::Pending
            }
            other => other,
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_with(cx, |s, cx| s.poll_write(cx, data))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_with(cx, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for Guarded {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::TcpConnectInfo {
            local_addr: self.local(),
            remote_addr: Some(self.peer()),
        }
    }
}

/// A tower layer for the gRPC port: each request marks its connection as served (the
/// connection's remote address, as tonic puts it in the request, names it).
#[derive(Clone)]
pub(crate) struct ServedLayer(pub(crate) Arc<Door>);

impl<S> tower::Layer<S> for ServedLayer {
    type Service = Served<S>;

    fn layer(&self, inner: S) -> Served<S> {
        Served {
            inner,
            door: self.0.clone(),
        }
    }
}

/// See [`ServedLayer`].
#[derive(Clone)]
pub(crate) struct Served<S> {
    inner: S,
    door: Arc<Door>,
}

impl<S, B> tower::Service<axum::http::Request<B>> for Served<S>
where
    S: tower::Service<axum::http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: axum::http::Request<B>) -> Self::Future {
        use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
        let ext = req.extensions();
        let peer = ext
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr)
            .or_else(|| {
                ext.get::<TlsConnectInfo<TcpConnectInfo>>()
                    .and_then(|i| i.get_ref().remote_addr())
            });
        if let Some(peer) = peer {
            self.door.served(&peer);
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn hygiene(max: usize) -> Hygiene {
        Hygiene {
            max_connections: max,
            handshake: Duration::from_millis(300),
            // Idle well above the quiet pause below, so that a loaded machine's stall
            // does not look like idleness; the waits for a close are generous for the
            // same reason.
            idle: Duration::from_millis(2000),
            ..Hygiene::default()
        }
    }

    /// Accepts on `listener` and echoes what each connection says until it ends.
    fn echo(door: Arc<Door>, listener: TcpListener) {
        tokio::spawn(async move {
            loop {
                let mut g = door.accept(&listener).await;
                let door = door.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = g.read(&mut buf).await {
                        if n == 0 || g.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        door.served(&g.peer());
                    }
                });
            }
        });
    }

    /// Whether the server closed the connection (a read ends or fails) within `wait`;
    /// what it echoes meanwhile is passed over.
    async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
        let mut buf = [0u8; 64];
        let closed = async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(wait, closed).await.is_ok()
    }

    #[tokio::test]
    async fn silent_and_idle_connections_are_closed_a_full_door_makes_room() {
        let metrics = DoorMetrics::default();
        let door = Door::new("test", &hygiene(3), metrics.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        echo(door.clone(), listener);

        // Never speaks, or stops half-way through a handshake: closed after its bound.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        assert!(closed_within(&mut silent, Duration::from_secs(20)).await);
        assert!(closed_within(&mut half, Duration::from_secs(20)).await);
        // Speaks, then goes quiet: closed when idle too long, not before.
        let mut quiet = TcpStream::connect(addr).await.unwrap();
        let hello = [b'h'; HANDSHAKE_BYTES as usize];
        quiet.write_all(&hello).await.unwrap();
        let mut echoed = [0u8; HANDSHAKE_BYTES as usize];
        quiet.read_exact(&mut echoed).await.unwrap();
        let mut buf = [0u8; 2];
        tokio::time::sleep(Duration::from_millis(400)).await;
        quiet.write_all(b"ok").await.unwrap();
        quiet.read_exact(&mut buf).await.unwrap();
        assert!(closed_within(&mut quiet, Duration::from_secs(20)).await);
        assert!(metrics.timed_out.get() >= 3);

        // Full: the oldest connection that was never served is closed for a newcomer.
        let mut served = TcpStream::connect(addr).await.unwrap();
        served.write_all(&hello).await.unwrap();
        served.read_exact(&mut echoed).await.unwrap();
        let mut a = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _b = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        assert!(closed_within(&mut a, Duration::from_secs(10)).await);
        assert_eq!(metrics.evicted.get(), 1);
        c.write_all(b"y").await.unwrap();
        c.read_exact(&mut buf[..1]).await.unwrap();
        assert_eq!(&buf[..1], b"y", "the newcomer is served");
        served.write_all(b"z").await.unwrap();
        served.read_exact(&mut buf[..1]).await.unwrap();
        assert_eq!(&buf[..1], b"z", "a served connection is kept");
        assert!(metrics.open.get() <= 3);
    }
}
