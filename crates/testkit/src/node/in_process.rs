//! `server::run` in process on a fresh memory store (the default: fast, stderr visible,
//! debuggable), on a clock the test moves.

use onewindow_server::pb;
use pb::workflows_client::WorkflowsClient;

use super::{root, with, write_tokens, WINDOW};

/// A server running in this process on the memory store, stopped when dropped.
pub struct InProcess {
    /// `http://127.0.0.1:port`.
    pub addr: String,
    /// The server's clock: the time of record of every command, moved by the test.
    pub clock: TestClock,
    /// The HTTP side (console, JSON API, metrics).
    pub http: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts `server::run` in process on a fresh memory store with the shipped workflows.
pub async fn start() -> InProcess {
    start_configured(|_| {}).await
}

/// [`start`], with the configuration changed by `configure` first (the tick, the policy).
/// The server's clock is a [`TestClock`] standing at 2025-03-03 09:00 until the test
/// moves it.
pub async fn start_configured(configure: impl FnOnce(&mut onewindow_server::Config)) -> InProcess {
    let root = root();
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        onewindow_server::Config::new(root.join("workflows"), write_tokens(dir.path()));
    let clock = TestClock::at("2025-03-03T09:00:00");
    config.clock = clock.clock();
    config.http = Some(std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    configure(&mut config);
    let http = config
        .http
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .expect("the in-process server serves HTTP");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let store = std::sync::Arc::new(onewindow_store::memory::MemoryStore::new());
    tokio::spawn(onewindow_server::run(config, store, listener, async move {
        let _ = stopped.await;
    }));
    // Ready once it answers: restoring and deploying come before serving.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(mut c) = WorkflowsClient::connect(addr.clone()).await {
            // Serving once it answers at all: a test with identities of its own is
            // refused the fixed window token, which is an answer too.
            match c.list(with(WINDOW, pb::ListWorkflowsRequest {})).await {
                Ok(_) => break,
                Err(s) if s.code() == tonic::Code::Unauthenticated => break,
                Err(_) => {}
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the in-process server serves within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    InProcess {
        addr,
        clock,
        http,
        stop: Some(stop),
        _dir: dir,
    }
}

/// A clock the test moves: the server's time of record reads it. It stands still, or
/// moves on by a step at every read (like a real clock, so that commands racing on one
/// project read different times).
#[derive(Clone)]
pub struct TestClock(std::sync::Arc<std::sync::Mutex<(chrono::NaiveDateTime, chrono::Duration)>>);

impl TestClock {
    /// A clock standing at `at` (`YYYY-MM-DDTHH:MM:SS`, Beijing time).
    pub fn at(at: &str) -> TestClock {
        TestClock(std::sync::Arc::new(std::sync::Mutex::new((
            at.parse().unwrap(),
            chrono::Duration::zero(),
        ))))
    }

    /// Moves it to `at`.
    pub fn set(&self, at: &str) {
        self.0.lock().unwrap().0 = at.parse().unwrap();
    }

    /// From now on every read moves it on by `step`.
    pub fn step_every_read(&self, step: chrono::Duration) {
        self.0.lock().unwrap().1 = step;
    }

    /// The clock as the server takes it: the civil times the test gives are Beijing
    /// time (the shipped calendar's zone), the server reads them as instants.
    pub fn clock(&self) -> onewindow_server::Clock {
        let now = self.0.clone();
        std::sync::Arc::new(move || {
            let mut g = now.lock().unwrap();
            let (t, step) = *g;
            g.0 = t + step;
            t.and_local_timezone(onewindow_core::calendar::DEFAULT_ZONE)
                .earliest()
                .expect("a Beijing time")
                .to_utc()
        })
    }
}
