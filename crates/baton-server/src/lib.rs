//! The agent's HTTP API (issue 15's foundation): `baton serve --listen ADDR` serves the runs
//! and audit log of the stack's store as JSON under `/api/v1/`, its OpenAPI document, a
//! placeholder page at `/`, and Prometheus metrics at `/metrics`; every API call carries a
//! bearer token whose role decides what it may do; failed logins are rate-limited per client;
//! TLS from certificate and key files.
//!
//! The server runs on a tokio runtime of its own, on the thread that calls [`Bound::run`], so
//! the binary's supervisor and schedule loops stay plain threads. Stores are blocking: every
//! call to one goes through `spawn_blocking`.
//!
//! Must not print (the binary says where it listens), must not return a token, a connection
//! string, or a value the engine stored (journal values may be sensitive: the API returns
//! addresses, actions, statuses and times only; plans and state objects only through
//! [`redact`]), and must not change anything itself: every action goes through the binary's
//! [`stacks::StackControl`] and [`workflows::WorkflowControl`].

pub mod access;
pub mod api;
pub mod apidoc;
pub mod http;
pub mod limiter;
pub mod metrics;
pub mod openapi;
pub mod redact;
pub mod runs;
pub mod stacks;
pub mod tls;
pub mod token;
pub mod ui;
pub mod workflows;

use baton_state::{StateError, StateStore, TokenStore};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls::ServerConfig;

pub use tls::TlsFiles;

/// The default `--listen`: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// How to serve.
#[derive(Clone, Debug)]
pub struct Opts {
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    /// Bad tokens a client may present within a minute before it is refused (429).
    pub login_failures: usize,
}

/// Where the stack's state store is. The store may not exist when the server starts (no apply
/// yet); the binary opens it once it does.
pub trait StateSource: Send + Sync + 'static {
    /// The store, or `None` while there is no state yet.
    fn state(&self) -> Result<Option<Arc<dyn StateStore>>, StateError>;
}

/// What the server reads.
#[derive(Clone)]
pub struct Stores {
    pub state: Arc<dyn StateSource>,
    pub tokens: Arc<dyn TokenStore>,
    /// The workflows' runs and actions (the binary's workflow engine).
    pub workflows: Arc<dyn workflows::WorkflowControl>,
    /// The stacks' plans, applies and the rest (the binary's engine).
    pub stacks: Arc<dyn stacks::StackControl>,
    /// What drawing a run needs of the engines.
    pub views: Arc<dyn runs::RunViews>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot use the TLS certificate file {path}: {message}")]
    TlsCert { path: PathBuf, message: String },
    #[error("cannot use the TLS key file {path}: {message}")]
    TlsKey { path: PathBuf, message: String },
    #[error("the TLS certificate {cert} and key {key} cannot be used together: {message}")]
    TlsPair {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: SocketAddr, message: String },
    #[error("cannot start the server's runtime: {0}")]
    Runtime(String),
}

/// A server whose listener is open and whose TLS files were read: nothing can fail any more
/// for a reason the user could fix, and [`Bound::local_addr`] says where it listens.
pub struct Bound {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    tls: Option<Arc<ServerConfig>>,
    app: api::App,
}

/// Reads the TLS files (if any) and opens the listener. Nothing is served until
/// [`Bound::run`].
pub fn bind(opts: &Opts, stores: Stores) -> Result<Bound, ServerError> {
    let tls = opts.tls.as_ref().map(tls::load).transpose()?;
    let listen_err = |e: std::io::Error| ServerError::Listen {
        addr: opts.listen,
        message: e.to_string(),
    };
    let listener = std::net::TcpListener::bind(opts.listen).map_err(listen_err)?;
    listener.set_nonblocking(true).map_err(listen_err)?;
    let addr = listener.local_addr().map_err(listen_err)?;
    Ok(Bound {
        listener,
        addr,
        tls,
        app: api::App::with_limit(stores, opts.login_failures),
    })
}

impl Bound {
    /// Where it listens (the port the system chose for `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https` with TLS, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Serves on a runtime of its own until `stop` is set (checked every 100 ms); connections
    /// still open then are dropped.
    pub fn run(self, stop: Arc<AtomicBool>) -> Result<(), ServerError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("baton-http")
            .enable_all()
            .build()
            .map_err(|e| ServerError::Runtime(e.to_string()))?;
        let addr = self.addr;
        let listener = {
            let _guard = rt.enter();
            tokio::net::TcpListener::from_std(self.listener).map_err(|e| ServerError::Listen {
                addr,
                message: e.to_string(),
            })?
        };
        let router = api::router(self.app);
        let acceptor = self.tls.map(tokio_rustls::TlsAcceptor::from);
        rt.block_on(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        // A failed accept (too many open files, a reset) ends that connection only.
                        let Ok((stream, peer)) = accepted else { continue };
                        tokio::spawn(connection(stream, peer, router.clone(), acceptor.clone()));
                    }
                    _ = tick.tick() => {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                    }
                }
            }
        });
        rt.shutdown_timeout(Duration::from_secs(1));
        Ok(())
    }
}

/// Serves one connection (after its TLS handshake, bounded in time).
async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: axum::Router,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
) {
    let _ = stream.set_nodelay(true);
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(api::Peer(peer));
            let mut router = router.clone();
            async move { tower_service::Service::call(&mut router, req).await }
        });
    let mut http = hyper::server::conn::http1::Builder::new();
    // A client that opens a connection and sends its headers slowly is dropped.
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    match acceptor {
        None => {
            let _ = http
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        }
        Some(acceptor) => {
            let handshake =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await;
            if let Ok(Ok(tls)) = handshake {
                let _ = http
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            }
        }
    }
}
