//! A throwaway PostgreSQL server for tests and benchmarks: its own cluster in a temporary
//! directory, on a private port and socket directory, torn down when dropped.
//!
//! It uses the server programs of Debian's `postgresql` package (`initdb`, `pg_ctl`, from
//! the `PATH` or `/usr/lib/postgresql/<version>/bin`). When they are missing and this
//! runs as root on a Debian system, it installs the package itself (once, under a lock,
//! so that test binaries running in parallel do not race each other) — a test that needs
//! PostgreSQL prepares it rather than skip. As root, the cluster runs as the `postgres`
//! user the package creates (PostgreSQL refuses to run as root).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running throwaway server.
pub struct Scratch {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// Why a throwaway server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// PostgreSQL's server programs are not installed and could not be installed.
    #[error("PostgreSQL's server programs are missing ({0}); install them with `apt-get install -y postgresql`")]
    Missing(String),
    /// A step failed, with what it printed.
    #[error("{step}: {output}")]
    Failed {
        /// The step.
        step: String,
        /// What it printed.
        output: String,
    },
    /// The file system.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn run(step: &str, cmd: &mut Command) -> Result<(), Error> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Failed {
            step: step.to_string(),
            output: e.to_string(),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Failed {
            step: step.to_string(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        })
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The directory holding `initdb` and `pg_ctl`.
fn find_bin() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .collect();
    // The newest version first (directory names are major versions).
    candidates.sort_by_key(|p| {
        std::cmp::Reverse(
            p.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

/// Installs Debian's `postgresql` package, once, under a lock shared by every process.
fn install() -> Result<PathBuf, Error> {
    if !is_root() || !Path::new("/usr/bin/apt-get").exists() {
        return Err(Error::Missing("not root, or not a Debian system".into()));
    }
    let lock = std::env::temp_dir().join("onewindow-install-postgresql.lock");
    run(
        "apt-get install postgresql",
        Command::new("flock").arg(&lock).arg("sh").arg("-c").arg(
            "command -v /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
             { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql \
               || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; }; }",
        ),
    )?;
    find_bin().ok_or_else(|| Error::Missing("installed, but initdb was not found".into()))
}

impl Scratch {
    /// Creates and starts a new cluster (fsync on: commits are as durable as in
    /// production, which is what a benchmark of durable commits must measure).
    ///
    /// # Errors
    /// PostgreSQL is missing and cannot be installed, or a step failed.
    pub fn start() -> Result<Scratch, Error> {
        let bin = match find_bin() {
            Some(b) => b,
            None => install()?,
        };
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "onewindow-pg-{}-{n}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir)?;
        let as_postgres = is_root();
        let mut scratch = Scratch {
            bin,
            dir,
            port: free_port()?,
            as_postgres,
        };
        if as_postgres {
            run(
                "chown",
                Command::new("chown").arg("postgres:").arg(&scratch.dir),
            )?;
        }
        run(
            "initdb",
            scratch
                .command("initdb")
                .arg("-D")
                .arg(scratch.data())
                .args(["-A", "trust", "-U", "postgres", "-E", "UTF8"])
                .args(["--locale=C", "--no-sync"]),
        )?;
        // The port was free a moment ago; another process may take it meanwhile.
        let mut attempts = 0;
        loop {
            match scratch.start_server() {
                Ok(()) => return Ok(scratch),
                Err(e) if attempts >= 3 => return Err(e),
                Err(_) => {
                    attempts += 1;
                    scratch.port = free_port()?;
                }
            }
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn start_server(&self) -> Result<(), Error> {
        let started = run(
            "pg_ctl start",
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.join("server.log"))
                .arg("-w")
                .arg("-o")
                .arg(format!(
                    "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
                    self.port,
                    self.dir.display()
                ))
                .arg("start"),
        );
        started.map_err(|e| {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            Error::Failed {
                step: "pg_ctl start".into(),
                output: format!("{e}\nserver log:\n{log}"),
            }
        })
    }

    /// The connection URL of the `postgres` database.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// The connection URL of a database of this server.
    pub fn url_of(&self, database: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a new, empty database and returns its URL.
    ///
    /// # Errors
    /// `psql` failed.
    pub fn create_database(&self, name: &str) -> Result<String, Error> {
        self.psql(&format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url_of(name))
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server at once, as a crash would (`-m immediate`: no checkpoint; what
    /// was committed is recovered from the WAL at the next start).
    ///
    /// # Errors
    /// `pg_ctl` failed.
    pub fn kill(&self) -> Result<(), Error> {
        run(
            "pg_ctl stop",
            self.command("pg_ctl").arg("-D").arg(self.data()).args([
                "-m",
                "immediate",
                "-w",
                "stop",
            ]),
        )
    }

    /// Starts the server again (after [`Scratch::kill`]).
    ///
    /// # Errors
    /// `pg_ctl` failed.
    pub fn restart(&self) -> Result<(), Error> {
        self.start_server()
    }

    /// Runs `psql` with one command against the server and returns what it printed
    /// (unaligned, tuples only).
    ///
    /// # Errors
    /// `psql` failed.
    pub fn psql(&self, sql: &str) -> Result<String, Error> {
        self.psql_in("postgres", sql)
    }

    /// Runs SQL with `psql` in one database, returning its unaligned output.
    ///
    /// # Errors
    /// `psql` failed.
    pub fn psql_in(&self, database: &str, sql: &str) -> Result<String, Error> {
        let out = self
            .command("psql")
            .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-U", "postgres"])
            .args(["-p", &self.port.to_string(), "-d", database, "-c", sql])
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(Error::Failed {
                step: format!("psql {sql}"),
                output: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Where a program of the server's installation is (`pgbench`, `psql`).
    pub fn program(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> Result<u16, Error> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
