//! The `serve` command: open the chosen store (sled, or PostgreSQL with `--store`), build
//! the server's configuration from the arguments, and run it until a signal.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use onewindow::store::disk::{Flush, Recovery, SledStore};
use onewindow::store::postgres::{Options, PgStore};
use onewindow::store::Store;

use crate::args::StoreArgs;

/// Opens the store the arguments name; for sled, also what its opening redid.
///
/// # Errors
/// A `--store` that is not a PostgreSQL URL, or a store that cannot be opened.
pub(crate) fn open_store(
    args: &StoreArgs,
    flush: Flush,
) -> Result<(Arc<dyn Store>, Option<Recovery>)> {
    match &args.store {
        Some(url) => {
            if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
                // The value is not repeated: it may hold a password.
                anyhow::bail!(
                    "--store takes a PostgreSQL URL (postgresql://user@host:port/database)"
                );
            }
            let store = PgStore::open(url, &Options::default())
                .with_context(|| format!("cannot open {}", args.describe()))?;
            Ok((Arc::new(store), None))
        }
        None => {
            // The record and the identity file live here: only the server's user reads it.
            if !args.data.exists() {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&args.data)
                    .with_context(|| format!("cannot create {}", args.data.display()))?;
            }
            let store = SledStore::open(&args.data, flush)?;
            let redone = store.recovery();
            Ok((Arc::new(store), Some(redone)))
        }
    }
}

/// `onewindow serve`.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub(crate) listen: String,
    /// Also serve HTTP here: `/healthz`, `/readyz`, `/metrics` (Prometheus); `off` for
    /// none.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) http: String,
    /// The tokens file (generated with development tokens if missing; default
    /// `tokens.yaml` in the data directory). Several nodes on one database share one.
    #[arg(long)]
    pub(crate) tokens: Option<PathBuf>,
    /// Workflows to deploy at start (every *.yaml that compiles).
    #[arg(long, default_value = "workflows")]
    pub(crate) workflows: PathBuf,
    /// Seconds between supervision runs.
    #[arg(long, default_value_t = 60)]
    pub(crate) tick_seconds: u64,
    /// Projects kept in memory; the others are read from the store when needed.
    #[arg(long, default_value_t = onewindow::store::cache::DEFAULT_CAPACITY)]
    pub(crate) cache_projects: usize,
    /// Requests per second per identity (a token's role) over gRPC and the JSON API;
    /// over it, RESOURCE_EXHAUSTED with a retry hint. 0: no limit.
    #[arg(long, default_value_t = onewindow::server::limits::DEFAULT_PER_SECOND)]
    pub(crate) per_caller_rps: u32,
    /// Streams (watches, department queues) one identity may hold open at once; over
    /// it, RESOURCE_EXHAUSTED. 0: no limit.
    #[arg(long, default_value_t = onewindow::server::limits::DEFAULT_STREAMS)]
    pub(crate) streams_per_caller: u32,
    /// The Ed25519 key that signs the audit trail's checkpoints (made, owner-only, if
    /// missing; default `audit.key` in the data directory). Nodes on one database share
    /// one key, as they share the tokens file.
    #[arg(long)]
    pub(crate) audit_key: Option<PathBuf>,
    /// Seconds between signed checkpoints of the audit trail (taken only when something
    /// happened; one node of a cluster takes them). 0: none.
    #[arg(long, default_value_t = 3600)]
    pub(crate) checkpoint_seconds: u64,
    /// Where the departments' document signing keys are (one `<department>.key` each,
    /// made owner-only when a department first signs; default `keys` in the data
    /// directory). Nodes on one database share it.
    #[arg(long)]
    pub(crate) document_keys: Option<PathBuf>,
    /// Test mode: read "now" from this file instead of the clock, so tests can move time
    /// forward: an instant (RFC 3339, `2026-03-01T23:30:00Z`), or a civil time
    /// (`YYYY-MM-DDTHH:MM:SS`) in the default city zone, Asia/Shanghai.
    #[arg(long, hide = true)]
    pub(crate) clock_file: Option<PathBuf>,
    /// Serve TLS (rustls) with this PEM certificate chain (with `--tls-key`).
    #[arg(long, requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Require a client certificate chaining to this CA (PEM) on every gRPC connection:
    /// department systems authenticate by certificate (with `--tls-cert`).
    #[arg(long, requires = "tls_cert")]
    pub(crate) tls_client_ca: Option<PathBuf>,
    /// Which client certificate acts as which role (YAML: `certificates:` a list of
    /// `name` — the subject's CN or a DNS name — and `role`); certificates not listed
    /// authenticate with a bearer token.
    #[arg(long, requires = "tls_client_ca")]
    pub(crate) tls_client_roles: Option<PathBuf>,
    /// A reverse proxy (an address or a network, `10.0.0.5` or `10.0.0.0/24`; repeat for
    /// several) whose `X-Forwarded-For` and `X-Forwarded-Proto` the HTTP side believes:
    /// per-address limits and logs then see the client behind it, and cookies are
    /// `Secure` when the browser speaks https to it. Nobody else's are believed.
    #[arg(long = "trusted-proxy", value_name = "ADDR[/PREFIX]")]
    pub(crate) trusted_proxies: Vec<String>,
    /// Connections open at once on each port; over it the oldest that has not finished a
    /// request is closed for the newcomer. Default: 10,000, less where the open-file
    /// limit is low.
    #[arg(long)]
    pub(crate) max_connections: Option<usize>,
    /// A host callbacks may be sent to: `host`, `host:port`, `*.domain` or
    /// `*.domain:port` (repeat for several). None: the server sends no callbacks, and
    /// registering one is refused.
    #[arg(long = "callback-allow", value_name = "HOST[:PORT]")]
    pub(crate) callback_allow: Vec<String>,
    /// Accept `http://` callback URLs too (receivers on the city's own network); HTTPS
    /// only otherwise.
    #[arg(long)]
    pub(crate) callback_allow_http: bool,
    /// Attempts before a delivery's events become dead letters.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) callback_attempts: u32,
    /// The wait after a callback's first failure, in milliseconds; it doubles at each
    /// failure in a row, up to `--callback-backoff-max-ms`.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub(crate) callback_backoff_ms: u64,
    /// The longest wait between a callback's attempts, in milliseconds.
    #[arg(long, default_value_t = 600_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub(crate) callback_backoff_max_ms: u64,
    /// How long a receiver has to answer a delivery, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=300_000))]
    pub(crate) callback_timeout_ms: u64,
    /// The forecast headline supervision's dashboard shows: the file `onewindow simulate
    /// forecast --publish FILE` writes (docs/twin.md).
    #[arg(long, value_name = "FILE")]
    pub(crate) forecast: Option<PathBuf>,
}

/// Runs the server until a signal.
///
/// # Errors
/// A store, certificate or listener that cannot be opened, or the server failing.
pub(crate) fn serve(args: ServeArgs) -> Result<ExitCode> {
    let ServeArgs {
        store,
        listen,
        http,
        tokens,
        workflows,
        tick_seconds,
        cache_projects,
        per_caller_rps,
        streams_per_caller,
        audit_key,
        checkpoint_seconds,
        document_keys,
        clock_file,
        tls_cert,
        tls_key,
        tls_client_ca,
        tls_client_roles,
        trusted_proxies,
        max_connections,
        callback_allow,
        callback_allow_http,
        callback_attempts,
        callback_backoff_ms,
        callback_backoff_max_ms,
        callback_timeout_ms,
        forecast,
    } = args;
    let trusted_proxies = trusted_proxies
        .iter()
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .with_context(|| format!("--trusted-proxy {p}: not an address or a network"))
        })
        .collect::<Result<Vec<_>>>()?;
    let store = &store;
    let tls = match (tls_cert, tls_key) {
        (Some(c), Some(k)) => Some(onewindow::server::Tls {
            cert_pem: std::fs::read(&c).with_context(|| format!("cannot read {}", c.display()))?,
            key_pem: std::fs::read(&k).with_context(|| format!("cannot read {}", k.display()))?,
            client_ca_pem: match &tls_client_ca {
                Some(ca) => Some(
                    std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?,
                ),
                None => None,
            },
            client_roles: match &tls_client_roles {
                Some(f) => onewindow::server::certs::CertRoles::load(f)?,
                None => onewindow::server::certs::CertRoles::none(),
            },
        }),
        _ => None,
    };
    use onewindow::server;
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let tokens = tokens.unwrap_or_else(|| store.data.join("tokens.yaml"));
    let (opened, redone) = open_store(store, Flush::Group)?;
    if let Some(redone) = redone.filter(|r| r.answers + r.index_entries > 0) {
        tracing::info!(
            "data {}: redid {} answer(s) and {} index entries of commits interrupted by the last stop",
            store.describe(),
            redone.answers,
            redone.index_entries
        );
    }
    let mut config = server::Config::new(workflows.to_path_buf(), tokens);
    config.tick = std::time::Duration::from_secs(tick_seconds.max(1));
    config.forecast = forecast;
    config.cache_projects = cache_projects;
    config.per_caller_rps = per_caller_rps;
    config.streams_per_caller = streams_per_caller;
    config.document_keys = Some(document_keys.unwrap_or_else(|| store.data.join("keys")));
    if checkpoint_seconds > 0 {
        config.audit_key = Some(audit_key.unwrap_or_else(|| store.data.join("audit.key")));
        config.checkpoint_every = std::time::Duration::from_secs(checkpoint_seconds);
    }
    config.tls = tls;
    config.trusted_proxies = server::TrustedProxies::new(trusted_proxies);
    config.callbacks = server::callbacks::Policy {
        allow: callback_allow,
        allow_http: callback_allow_http,
        attempts: callback_attempts,
        backoff: std::time::Duration::from_millis(callback_backoff_ms),
        backoff_max: std::time::Duration::from_millis(
            callback_backoff_max_ms.max(callback_backoff_ms),
        ),
        timeout: std::time::Duration::from_millis(callback_timeout_ms),
        ..server::callbacks::Policy::default()
    };
    config
        .callbacks
        .check_allow_list()
        .map_err(|e| anyhow::anyhow!("--callback-allow: {e}"))?;
    if let Some(n) = max_connections {
        config.hygiene.max_connections = n;
    }
    if http != "off" {
        let listener = std::net::TcpListener::bind(&http)
            .with_context(|| format!("cannot listen on {http} (HTTP)"))?;
        tracing::info!(
            "HTTP (/healthz, /readyz, /metrics) on http://{}",
            listener.local_addr()?
        );
        config.http = Some(listener);
    }
    if let Some(path) = clock_file {
        // An instant (RFC 3339, `2026-03-01T23:30:00Z`), or a civil time read in the
        // default city zone; the real clock when the file says neither.
        config.clock = std::sync::Arc::new(move || {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let text = text.trim();
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|t| t.to_utc())
                .ok()
                .or_else(|| {
                    let civil = text.parse::<chrono::NaiveDateTime>().ok()?;
                    civil
                        .and_local_timezone(onewindow::calendar::DEFAULT_ZONE)
                        .earliest()
                        .map(|t| t.to_utc())
                })
                .unwrap_or_else(chrono::Utc::now)
        });
    }
    let tls = config.tls.is_some();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = server::bound(&listener).context("no local address")?;
        println!(
            "listening on {}://{addr}",
            if tls { "https" } else { "http" }
        );
        use std::io::Write;
        std::io::stdout().flush()?;
        server::run(config, opened, listener, signalled()).await?;
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C, or SIGTERM where there are signals.
async fn signalled() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
