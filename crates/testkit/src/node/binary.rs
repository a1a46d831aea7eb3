//! The real binary serving on sled (or a PostgreSQL store), for what only a process
//! shows: restarts, kill -9, signals, TLS, the CLI. The binary is the `onewindow`
//! package's, found beside the test binary that runs (`target/<profile>/onewindow`, as
//! cargo lays them out), since only that package's own tests are told its path.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::write_tokens;

/// The checkout: the shipped workflows, the test data, the examples.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `onewindow` binary of this build: `target/<profile>/onewindow`, beside the
/// `deps/` directory the running test binary is in.
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let bin = profile.join("onewindow");
    assert!(bin.exists(), "no {} (cargo test builds it)", bin.display());
    bin
}

/// What one run of the command line said.
pub struct Ran {
    /// Whether it exited with success.
    pub ok: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Ran {
    /// Both streams, for a message or a search that does not care which.
    pub fn said(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs the binary with `args` from the checkout (relative paths are the repository's)
/// and waits for it.
pub fn cli(args: &[&str]) -> Ran {
    let out = Command::new(binary())
        .args(args)
        .current_dir(root())
        .output()
        .expect("the binary runs");
    Ran {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The real binary serving: its process, its gRPC address, its directory.
pub struct Server {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:port` of its gRPC side.
    pub addr: String,
    /// Its HTTP side (console, JSON API, `/metrics`).
    pub http: std::net::SocketAddr,
    /// Its directory (data in `data/`), kept when it is killed.
    pub dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Kills the server (SIGKILL) and keeps its directory.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.take().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// [`start_binary_with`] no extra arguments.
pub fn start_binary() -> Server {
    start_binary_with(&[])
}

/// The binary on a fresh directory, with `extra` arguments to `serve`.
pub fn start_binary_with(extra: &[&str]) -> Server {
    start_binary_in(tempfile::tempdir().unwrap(), extra)
}

/// Starts the real binary on a directory of the caller's (its data in `data/`, sled).
pub fn start_binary_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
    let tokens = write_tokens(dir.path());
    serve(dir, &tokens, extra)
}

/// Starts the real binary as one node of a city on a PostgreSQL database, with the
/// tokens file the nodes share (its own sled directory stays unused).
pub fn start_node(store: &str, tokens: &std::path::Path, extra: &[&str]) -> Server {
    let mut args = vec!["--store", store];
    args.extend_from_slice(extra);
    serve(tempfile::tempdir().unwrap(), tokens, &args)
}

/// `onewindow serve` on port 0 with its data in `dir/data`, once it prints its address.
pub fn serve(dir: tempfile::TempDir, tokens: &std::path::Path, extra: &[&str]) -> Server {
    serve_env(dir, tokens, extra, &[])
}

/// [`serve`] with environment variables set for the server (`TZ`, …).
pub fn serve_env(
    dir: tempfile::TempDir,
    tokens: &std::path::Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Server {
    let root = root();
    // The HTTP side on a port chosen here, so that a test can read its `/metrics` (the
    // server prints only its gRPC address).
    let http = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let mut child = Command::new(binary())
        .envs(env.iter().copied())
        .args(["serve", "--listen", "127.0.0.1:0", "--http"])
        .arg(http.to_string())
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--tokens")
        .arg(tokens)
        .args(extra)
        .current_dir(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the server prints its address, not {line:?}"))
        .to_string();
    Server {
        child,
        addr,
        http,
        dir: Some(dir),
    }
}

/// A port free on the loopback now (the operating system's choice for a listener that
/// is closed at once): for a server told its port in advance.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
