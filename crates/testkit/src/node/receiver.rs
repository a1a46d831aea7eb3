//! A callback receiver, as a department system would run one: it records every delivery
//! (headers and raw body) and answers as the test says — 200, an error status, slowly,
//! or not at all (down: nothing listens on its port, so connections are refused).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};

/// One delivery as it arrived.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `Onewindow-Timestamp`.
    pub timestamp: String,
    /// `Onewindow-Signature`.
    pub signature: String,
    /// `Onewindow-Delivery`.
    pub delivery: String,
    /// The raw body.
    pub body: Vec<u8>,
    /// The status the receiver answered.
    pub answered: u16,
    /// When it arrived.
    pub received: std::time::SystemTime,
}

impl Delivery {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a delivery's body is JSON")
    }
}

#[derive(Default)]
struct Shared {
    got: Mutex<Vec<Delivery>>,
    status: AtomicU16,
    delay_ms: AtomicU64,
    started: AtomicU64,
}

/// A receiver on a local port.
pub struct Receiver {
    /// Where it listens (kept when it goes down and comes back).
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    serving: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(s) = self.serving.take() {
            s.abort();
        }
    }
}

impl Receiver {
    /// A receiver answering 200, on a free local port.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shared = Arc::new(Shared::default());
        shared.status.store(200, Ordering::SeqCst);
        Receiver {
            addr: listener.local_addr().unwrap(),
            serving: Some(tokio::spawn(serve(listener, shared.clone()))),
            shared,
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("http://{}/onewindow/events", self.addr)
    }

    /// The allow-list entry of its host and port.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Stops listening and drops every connection: deliveries are refused.
    pub async fn down(&mut self) {
        if let Some(s) = self.serving.take() {
            s.abort();
            let _ = s.await;
        }
    }

    /// Listens again on the same port.
    pub async fn up(&mut self) {
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        self.serving = Some(tokio::spawn(serve(listener, self.shared.clone())));
    }

    /// Answers every delivery from now on with `status`.
    pub fn answer(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Waits this long before answering.
    pub fn delay(&self, d: Duration) {
        self.shared
            .delay_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Deliveries begun (counted when they arrive, before any delay and the answer).
    pub fn started(&self) -> u64 {
        self.shared.started.load(Ordering::SeqCst)
    }

    /// Every delivery so far, in order of arrival.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.got.lock().unwrap().clone()
    }
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    // Connections are this task's: aborting it closes every one of them.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| answer(req, shared.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

async fn answer(
    req: hyper::Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (timestamp, signature, delivery) = (
        header("onewindow-timestamp"),
        header("onewindow-signature"),
        header("onewindow-delivery"),
    );
    shared.started.fetch_add(1, Ordering::SeqCst);
    let delay = shared.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let status = shared.status.load(Ordering::SeqCst);
    shared.got.lock().unwrap().push(Delivery {
        timestamp,
        signature,
        delivery,
        body,
        answered: status,
        received: std::time::SystemTime::now(),
    });
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    Ok(response)
}
