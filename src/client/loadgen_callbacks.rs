//! `loadgen --callbacks ADDR`: this process is every department's callback receiver while
//! the load runs — it listens on `ADDR`, registers one callback per department with the
//! department's token, and counts what arrives: events per second and each event's delay
//! from its commit (the event's time of record) to its arrival. The server must allow
//! the address (`serve --callback-allow ADDR --callback-allow-http`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use onewindow::server::pb;

/// What the receiver took.
#[derive(Default)]
pub(crate) struct Received {
    /// (arrival, delay from commit in seconds) per event.
    events: Mutex<Vec<(Instant, f64)>>,
}

impl Received {
    /// Events so far.
    pub(crate) fn count(&self) -> usize {
        self.events.lock().map_or(0, |e| e.len())
    }

    /// Events, the rate over `since` → the last arrival, and the delay's p50 and p99 (ms).
    pub(crate) fn summary(&self, since: Instant) -> (usize, f64, f64, f64) {
        let events = self.events.lock().map(|e| e.clone()).unwrap_or_default();
        let last = events.iter().map(|(t, _)| *t).max().unwrap_or(since);
        let seconds = last.duration_since(since).as_secs_f64().max(1e-9);
        let mut delays: Vec<f64> = events.iter().map(|(_, d)| *d).collect();
        delays.sort_by(f64::total_cmp);
        let pct = |q: f64| onewindow::stats::nearest_rank(&delays, q).unwrap_or(0.0) * 1000.0;
        (
            events.len(),
            events.len() as f64 / seconds,
            pct(0.5),
            pct(0.99),
        )
    }
}

/// Listens on `addr` and records every delivery's events; the delays are counted in the
/// city's `zone` (the events' times of record are its civil time).
pub(crate) async fn receive(addr: &str, zone: onewindow::calendar::Tz) -> Result<Arc<Received>> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--callbacks {addr}: cannot listen"))?;
    let received = Arc::new(Received::default());
    let r = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let r = r.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let r = r.clone();
                        async move {
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            take(&r, &body, zone);
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                                Bytes::new(),
                            )))
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(received)
}

fn take(r: &Received, body: &[u8], zone: onewindow::calendar::Tz) {
    use chrono::TimeZone;
    let now = Instant::now();
    let wall = chrono::Utc::now();
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let Some(events) = v["events"].as_array() else {
        return;
    };
    let Ok(mut out) = r.events.lock() else {
        return;
    };
    for e in events {
        let at = e["at"].as_str().unwrap_or_default();
        let delay = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .and_then(|t| zone.from_local_datetime(&t).earliest())
            .map_or(0.0, |t| {
                (wall - t.with_timezone(&chrono::Utc))
                    .num_microseconds()
                    .unwrap_or(0) as f64
                    / 1e6
            });
        out.push((now, delay.max(0.0)));
    }
}

/// Registers `url` for every department with its token; returns (token, callback id).
pub(crate) async fn register(
    servers: &str,
    departments: &[(String, String)],
    url: &str,
) -> Result<Vec<(String, String)>> {
    let mut made = Vec::new();
    let channel = super::channel(servers).await?;
    for (dept, token) in departments {
        let mut c = pb::callbacks_client::CallbacksClient::new(channel.clone());
        let mut req = tonic::Request::new(pb::RegisterCallbackRequest {
            url: url.to_string(),
            ..Default::default()
        });
        req.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        let cb = c
            .register(req)
            .await
            .with_context(|| format!("registering {dept}'s callback"))?
            .into_inner();
        made.push((token.clone(), cb.id));
    }
    Ok(made)
}

/// Removes the callbacks [`register`] made.
pub(crate) async fn remove(servers: &str, made: &[(String, String)]) -> Result<()> {
    let channel = super::channel(servers).await?;
    for (token, id) in made {
        let mut c = pb::callbacks_client::CallbacksClient::new(channel.clone());
        let mut req = tonic::Request::new(pb::CallbackId { id: id.clone() });
        req.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        c.remove(req).await?;
    }
    Ok(())
}
