//! Waiting for a condition instead of a fixed time: a test's outcome never depends on
//! the machine's speed, only how long it takes.

use super::http;

/// Waits until `check` gives a value, asking every 100 ms, for at most `secs` seconds
/// (generous: the machine's speed decides how long a test takes, never whether it
/// passes), and panics naming `what` when it never does.
pub async fn eventually<T, F>(what: &str, secs: u64, mut check: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {secs} s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// One sample of a server's `/metrics` (`name` with its labels as written, e.g.
/// `onewindow_ticker_rounds_total`), if it is there.
pub async fn metric(server: std::net::SocketAddr, name: &str) -> Option<f64> {
    let body = http(server, "GET", "/metrics", &[], "").await.body;
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The rounds of supervision a server's ticker has finished.
pub async fn ticker_rounds(server: std::net::SocketAddr) -> u64 {
    metric(server, "onewindow_ticker_rounds_total")
        .await
        .expect("the ticker's rounds on /metrics") as u64
}

/// Waits until the ticker of the server whose HTTP side is `server` has finished `n`
/// more rounds than it had when called.
pub async fn more_ticks(server: std::net::SocketAddr, n: u64) {
    let from = ticker_rounds(server).await;
    eventually("the ticker's rounds", 60, || async {
        (ticker_rounds(server).await >= from + n).then_some(())
    })
    .await
}
