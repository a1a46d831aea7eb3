//! Putting the API on the network: [`run`] composes the server from a [`Config`], any
//! store and a listener; [`serve`] adds the services behind their interceptors, health
//! and reflection, TLS, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::auth::{self, Tokens};
use super::certs::CertRoles;
use super::supervision::spawn_ticker;
use super::{pb, Api, Clock};
use onewindow_core::plan;
use onewindow_engine::Policy;
use onewindow_store::service::Service;
use onewindow_store::Store;

/// Everything [`run`] needs besides the store and the listener.
pub struct Config {
    /// Workflows to deploy at start (every `*.yaml` that compiles; the others are logged
    /// and skipped), and where `Workflows.Deploy` compiles uploaded YAML as if it stood.
    pub workflows: PathBuf,
    /// The tokens file; generated with one development token per role if missing.
    pub tokens: PathBuf,
    /// Time between supervision runs.
    pub tick: Duration,
    /// The time of record.
    pub clock: Clock,
    /// Serve TLS with this certificate instead of plain HTTP/2.
    pub tls: Option<Tls>,
    /// Supervision's warning thresholds.
    pub policy: Policy,
    /// How many projects a node keeps in memory (the rest are read from the store when
    /// needed).
    pub cache_projects: usize,
    /// Also serve HTTP (the console, the JSON API, `/healthz`, `/readyz`, `/metrics`) on
    /// this listener.
    pub http: Option<std::net::TcpListener>,
    /// Requests per second per identity over gRPC and the JSON API (0: no limit).
    pub per_caller_rps: u32,
    /// Streams (watches, department queues) open at once per identity (0: no limit).
    pub streams_per_caller: u32,
    /// Sign a checkpoint of the audit trail with this key file's Ed25519 key (made,
    /// owner-only, if missing) every [`Config::checkpoint_every`]; `None`: none.
    pub audit_key: Option<PathBuf>,
    /// Time between checkpoints (taken only when something happened since the last).
    pub checkpoint_every: Duration,
    /// Seal issued documents with each department's key from this directory (made,
    /// owner-only, when a department first signs); `None`: documents are not sealed.
    pub document_keys: Option<PathBuf>,
    /// Timeouts and the cap on connections, on both ports.
    pub hygiene: super::Hygiene,
    /// Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` the HTTP side believes.
    pub trusted_proxies: super::TrustedProxies,
    /// Where callbacks may go and how their delivery retries.
    pub callbacks: super::callbacks::Policy,
    /// The forecast headline supervision's dashboard shows (written by `onewindow
    /// simulate forecast --publish FILE`); none: the dashboard says how to make one.
    pub forecast: Option<PathBuf>,
}

impl Config {
    /// The production defaults: the system clock, a supervision run a minute, no TLS.
    pub fn new(workflows: PathBuf, tokens: PathBuf) -> Config {
        Config {
            workflows,
            tokens,
            tick: Duration::from_secs(60),
            clock: Arc::new(chrono::Utc::now),
            tls: None,
            policy: Policy::default(),
            cache_projects: onewindow_store::cache::DEFAULT_CAPACITY,
            http: None,
            per_caller_rps: super::limits::DEFAULT_PER_SECOND,
            streams_per_caller: super::limits::DEFAULT_STREAMS,
            audit_key: None,
            checkpoint_every: Duration::from_secs(3600),
            document_keys: None,
            hygiene: super::Hygiene::default(),
            trusted_proxies: super::TrustedProxies::default(),
            callbacks: super::callbacks::Policy::default(),
            forecast: None,
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store could not be opened, restored or written.
    #[error("store: {0}")]
    Store(#[from] onewindow_store::Error),
    /// The workflows directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Workflows {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The tokens file could not be read or generated.
    #[error(transparent)]
    Tokens(#[from] auth::Error),
    /// The transport failed (TLS configuration, the listener).
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The HTTP listener could not be used.
    #[error("HTTP: {0}")]
    Http(#[source] std::io::Error),
    /// The certificate or key cannot serve TLS on the HTTP side.
    #[error("HTTP TLS: {0}")]
    HttpTls(String),
    /// The audit signing key could not be read or made.
    #[error("audit key: {0}")]
    AuditKey(#[from] onewindow_audit::checkpoint::Error),
    /// The callbacks' HTTP client could not be made (its TLS backend).
    #[error("callbacks: {0}")]
    Callbacks(String),
    /// A blocking start-up step was cancelled.
    #[error("start-up interrupted: {0}")]
    Interrupted(#[from] tokio::task::JoinError),
}

/// Runs the server on `listener` until `shutdown` resolves: opens the durable service
/// over `store` (restoring every project), deploys the workflows in
/// [`Config::workflows`], loads or generates the tokens, starts the supervision ticker,
/// and serves. On shutdown every watch stream, department feed and the ticker end at
/// once, and requests in flight finish before this returns.
///
/// # Errors
/// The store could not be opened, the workflows or tokens could not be read, or the
/// transport failed.
pub async fn run(
    config: Config,
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let Config {
        workflows,
        tokens,
        tick,
        clock,
        tls,
        policy,
        cache_projects,
        http,
        per_caller_rps,
        streams_per_caller,
        audit_key,
        checkpoint_every,
        document_keys,
        hygiene,
        trusted_proxies,
        callbacks,
        forecast,
    } = config;
    let hygiene = hygiene.resolved();
    tracing::info!(
        "at most {} connections per port; a request within {} s of connecting",
        hygiene.max_connections,
        hygiene.handshake.as_secs()
    );
    let audit_key = match audit_key {
        Some(path) => {
            let (key, made) = onewindow_audit::checkpoint::load_or_create_key(&path)?;
            if made {
                tracing::info!("made the audit signing key {}", path.display());
            }
            let witness = onewindow_audit::Witness::beside(&path);
            Some((Arc::new(key), witness))
        }
        None => None,
    };
    let (svc, tokens) = {
        let workflows = workflows.clone();
        tokio::task::spawn_blocking(move || open(store, policy, &workflows, &tokens)).await??
    };
    svc.set_cache_capacity(cache_projects);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let tokens = Arc::new(tokens);
    let hub = super::callbacks::Hub::new(callbacks).map_err(|e| Error::Callbacks(e.to_string()))?;
    let mut api = Api::new(
        Arc::new(svc),
        clock,
        workflows,
        stopped,
        tokens.clone(),
        hub,
    );
    api.zone = city_zone(&api.svc);
    api.limits = Arc::new(super::limits::Limits::new(
        per_caller_rps,
        streams_per_caller,
    ));
    api.document_keys = document_keys.map(|d| Arc::new(onewindow_audit::document::Keys::new(d)));
    api.audit_public = audit_key.as_ref().map(|(k, _)| k.verifying_key());
    api.audit_witness = audit_key.as_ref().map(|(_, w)| w.clone());
    let metrics = api.metrics.clone();
    api.svc
        .store()
        .observe_flushes(Arc::new(move |commits, took| {
            metrics.group_size.observe(commits as f64);
            metrics.flush_seconds.observe(took.as_secs_f64());
        }));
    spawn_ticker(api.clone(), tick);
    if let Some((key, witness)) = audit_key {
        super::checkpoints::spawn_checkpoints(api.clone(), key, witness, checkpoint_every);
    }
    api.spawn_follower();
    super::callbacks::deliver::spawn(api.clone());
    if let Some(listener) = http {
        listener.set_nonblocking(true).map_err(Error::Http)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(Error::Http)?;
        let mut stop = api.shutdown.clone();
        let stopped = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        let (api, tokens) = (api.clone(), tokens.clone());
        let settings = super::http::Settings {
            tls: tls.as_ref().map(http_tls).transpose()?,
            proxies: trusted_proxies,
            hygiene: hygiene.clone(),
            forecast: forecast.clone(),
        };
        tokio::spawn(async move {
            if let Err(e) = super::http::serve(api, tokens, listener, settings, stopped).await {
                tracing::error!("HTTP: {e}");
            }
        });
    }
    let shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down: ending streams, finishing requests in flight");
        let _ = stop.send(true);
    };
    serve(api, tokens, listener, tls, &hygiene, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The blocking part of start-up: restore, deploy, tokens.
fn open(
    store: Arc<dyn Store>,
    policy: Policy,
    workflows: &Path,
    tokens: &Path,
) -> Result<(Service<dyn Store>, Tokens), Error> {
    let (svc, opened) = Service::start(store, policy)?;
    tracing::info!(
        "store opened in {:.3} s: {} workflow version(s); projects are read when needed",
        opened.elapsed.as_secs_f64(),
        opened.workflows,
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(workflows)
        .map_err(|source| Error::Workflows {
            path: workflows.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut departments = std::collections::BTreeSet::new();
    for f in files {
        match plan::compile_file(&f) {
            Ok((p, _)) => {
                departments.extend(p.departments.iter().map(|d| d.id.clone()));
                let id = p.id.clone();
                let version = svc.deploy(p)?;
                tracing::info!("deployed {id} ({version}) from {}", f.display());
            }
            Err(d) => tracing::warn!("not deployed: {}\n{d}", f.display()),
        }
    }
    let tokens = if tokens.exists() {
        Tokens::load(tokens)?
    } else {
        let departments: Vec<String> = departments.into_iter().collect();
        let now = onewindow_core::calendar::city_now();
        let (t, initial) = Tokens::generate(tokens, &departments, now)?;
        tracing::warn!(
            "*** DEVELOPMENT TOKENS generated: their hashes in {}, the tokens themselves shown once in {} (owner-only) — copy what you need, delete it, and replace them before real use ***",
            tokens.display(),
            initial.display()
        );
        t
    };
    Ok((svc, tokens))
}

/// The HTTP side's TLS: the same certificate as the gRPC port, no client certificate
/// (browsers), HTTP/2 and HTTP/1.1 by ALPN.
fn http_tls(tls: &Tls) -> Result<Arc<tokio_rustls::rustls::ServerConfig>, Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let bad = |e: &dyn std::fmt::Display| Error::HttpTls(e.to_string());
    let certs = CertificateDer::pem_slice_iter(&tls.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    let key = PrivateKeyDer::from_pem_slice(&tls.key_pem).map_err(|e| bad(&e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| bad(&e))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| bad(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A server certificate and its private key, PEM-encoded: with them the server speaks TLS
/// (rustls) instead of plain HTTP/2, on the gRPC port and on the HTTP side.
#[derive(Debug, Clone)]
pub struct Tls {
    /// The certificate chain.
    pub cert_pem: Vec<u8>,
    /// The private key.
    pub key_pem: Vec<u8>,
    /// Require a client certificate chaining to this CA (PEM) on every connection.
    pub client_ca_pem: Option<Vec<u8>>,
    /// The roles client certificates act as (`server::certs`).
    pub client_roles: CertRoles,
}

/// Serves the API on `listener` until `shutdown` resolves; in-flight requests finish first.
///
/// # Errors
/// The transport failed.
pub(crate) async fn serve(
    api: Api,
    tokens: Arc<Tokens>,
    listener: tokio::net::TcpListener,
    tls: Option<Tls>,
    hygiene: &super::Hygiene,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    use pb::callbacks_server::CallbacksServer;
    use pb::department_server::DepartmentServer;
    use pb::supervision_server::SupervisionServer;
    use pb::window_server::WindowServer;
    use pb::workflows_server::WorkflowsServer;

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<WindowServer<Api>>().await;
    health.set_serving::<DepartmentServer<Api>>().await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the descriptor set compiled into the binary is valid");
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .expect("the descriptor set compiled into the binary is valid");

    // Every connection through the port's door (the handshake's and idleness's bounds,
    // the cap); the door sets TCP_NODELAY (without it small HTTP/2 frames wait for
    // delayed ACKs: ~40 ms per call).
    let door = super::connections::Door::new("grpc", hygiene, api.metrics.doors.grpc.clone());
    let incoming = door.clone().incoming(listener);
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(hygiene.keepalive))
        .http2_keepalive_timeout(Some(hygiene.keepalive_timeout));
    let mut certs = CertRoles::none();
    if let Some(tls) = tls {
        let identity = tonic::transport::Identity::from_pem(tls.cert_pem, tls.key_pem);
        let mut config = tonic::transport::ServerTlsConfig::new()
            .identity(identity)
            .timeout(hygiene.handshake);
        if let Some(ca) = tls.client_ca_pem {
            // Required, not optional: a connection without a valid certificate (unknown
            // CA, expired, not yet valid) fails in the handshake.
            config = config
                .client_ca_root(tonic::transport::Certificate::from_pem(ca))
                .client_auth_optional(false);
            certs = tls.client_roles;
        }
        builder = builder.tls_config(config)?;
    }
    let certs = Arc::new(certs);
    let failures = api.metrics.auth_failures.clone();
    let limits = api.limits.clone();
    builder
        .layer(super::connections::ServedLayer(door))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            hygiene.body,
        ))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(WorkflowsServer::with_interceptor(
            api.clone(),
            auth::admit(
                tokens.clone(),
                certs.clone(),
                auth::ANY,
                failures.clone(),
                limits.clone(),
            ),
        ))
        .add_service(WindowServer::with_interceptor(
            api.clone(),
            auth::admit(
                tokens.clone(),
                certs.clone(),
                auth::WINDOW,
                failures.clone(),
                limits.clone(),
            ),
        ))
        .add_service(DepartmentServer::with_interceptor(
            api.clone(),
            auth::admit(
                tokens.clone(),
                certs.clone(),
                auth::DEPARTMENT,
                failures.clone(),
                limits.clone(),
            ),
        ))
        .add_service(SupervisionServer::with_interceptor(
            api.clone(),
            auth::admit(
                tokens.clone(),
                certs.clone(),
                auth::SUPERVISOR,
                failures.clone(),
                limits.clone(),
            ),
        ))
        .add_service(CallbacksServer::with_interceptor(
            api,
            auth::admit(tokens, certs, super::callbacks::ADMIT, failures, limits),
        ))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// The address a listener is bound to, for printing.
pub fn bound(listener: &tokio::net::TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}

/// The city's zone, for what is not one project's (pages' today, supervision's horizon,
/// checkpoints): the zone the deployed workflows' calendars name. A city keeps one; should
/// its calendars name several, the most used is taken and the others are logged (each
/// project still counts in its own calendar's zone).
fn city_zone(svc: &onewindow_store::service::Service<dyn Store>) -> onewindow_core::calendar::Tz {
    let mut zones: std::collections::HashMap<onewindow_core::calendar::Tz, usize> =
        std::collections::HashMap::new();
    for v in svc.versions() {
        if let Some(plan) = svc.plan(&v) {
            *zones.entry(plan.calendar.zone()).or_default() += 1;
        }
    }
    let mut by_use: Vec<(onewindow_core::calendar::Tz, usize)> = zones.into_iter().collect();
    by_use.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.name().cmp(b.0.name())));
    if by_use.len() > 1 {
        tracing::warn!(
            "the deployed calendars name several time zones ({}); the city's pages count days in {}",
            by_use.iter().map(|z| z.0.name()).collect::<Vec<_>>().join(", "),
            by_use[0].0.name()
        );
    }
    by_use
        .first()
        .map_or(onewindow_core::calendar::DEFAULT_ZONE, |z| z.0)
}
