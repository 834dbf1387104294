//! `baton token create | list | revoke`, and the HTTP API of `baton serve` started beside the
//! agent's loops: the stores it reads (opened once they exist, so serving never creates a
//! state file), the listen address and TLS files, and its thread.
//!
//! Must not print a token except the new one `token create` makes (its last line), and must
//! not block the agent's loops: the server runs on a thread and runtime of its own.

use super::Env;
use crate::cli::{ServeArgs, TokenCommand};
use anyhow::{anyhow, bail};
use baton_backend::Location;
use baton_server::{ServerError, StateSource, Stores, TlsFiles};
use baton_state::{Role, StateError, StateStore, TokenRecord, TokenStore};
use serde_json::json;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub fn token(env: &Env, c: &TokenCommand) -> anyhow::Result<ExitCode> {
    let location = env.workflow_location()?.clone();
    match c {
        TokenCommand::Create { role, name } => {
            let Some(role) = Role::parse(role) else {
                bail!("--role {role:?}: one of viewer, operator, approver, admin");
            };
            check_name(name)?;
            let tokens = open_tokens(&location)?;
            let token = baton_server::token::new_token()?;
            let rec = TokenRecord {
                name: name.clone(),
                role,
                hash: baton_server::token::digest(&token),
                created_at: baton_state::stamp::now_rfc3339(),
            };
            if !tokens.create(&rec)? {
                bail!(
                    "a token named {name} exists already; `baton token revoke {name}` removes it"
                );
            }
            audit(
                env,
                "token create",
                format!("created token {name} with role {role}"),
            );
            eprintln!(
                "Token {name} (role {role}) created in {}. It is shown once, below; keep it secret.",
                tokens.describe()
            );
            outln!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { json } => {
            let list = match existing_tokens(&location)? {
                Some(t) => t.list()?,
                None => Vec::new(),
            };
            if *json {
                let v: Vec<_> = list
                    .iter()
                    .map(|t| json!({ "name": t.name, "role": t.role.as_str(), "created_at": t.created_at }))
                    .collect();
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else if list.is_empty() {
                outln!("No tokens. `baton token create --role viewer --name NAME` makes one.");
            } else {
                for t in &list {
                    outln!("{:<24} {:<9} {}", t.name, t.role.as_str(), t.created_at);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { name } => {
            let revoked = match existing_tokens(&location)? {
                Some(t) => t.revoke(name)?,
                None => false,
            };
            if !revoked {
                bail!("there is no token named {name} (`baton token list` lists them)");
            }
            audit(env, "token revoke", format!("revoked token {name}"));
            outln!("Token {name} revoked.");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A token name: 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !ok {
        bail!("--name {name:?}: 1 to 64 letters, digits, '.', '_', '-' or '@'");
    }
    Ok(())
}

fn open_tokens(location: &Location) -> anyhow::Result<Box<dyn TokenStore>> {
    location
        .open_tokens()
        .map_err(|e| anyhow!("cannot open the token store: {e}"))
}

/// The token store if it exists (reading never creates `.baton/tokens.db`).
fn existing_tokens(location: &Location) -> anyhow::Result<Option<Box<dyn TokenStore>>> {
    if location.sqlite_tokens_path().is_some_and(|p| !p.exists()) {
        return Ok(None);
    }
    open_tokens(location).map(Some)
}

/// Records a token change in the stack's audit log (who, and what, never the token).
fn audit(env: &Env, command: &str, outcome: String) {
    match env.open_store() {
        Ok(store) => super::audit::record(
            env,
            &*store,
            super::audit::Record {
                command,
                run_id: None,
                plan: None,
                plan_digest: None,
                policy: serde_json::Value::Null,
                outcome,
                changes: Vec::new(),
            },
        ),
        Err(e) => eprintln!("Warning: could not append to the audit log: {e:#}"),
    }
}

/// The HTTP API of a running `baton serve`.
pub struct Api {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Api {
    /// Stops serving and waits for the server's thread.
    pub fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

/// Opens the listener (and reads the TLS files) of `baton serve` and serves on a thread of its
/// own. A bad `--listen`, TLS file, or an address given with `--listen` that cannot be used is
/// an error (nothing starts); when the default address is taken, the agent runs without the
/// API and says so.
pub fn start_api(env: &Env, a: &ServeArgs) -> anyhow::Result<Option<Api>> {
    let given = a.listen.is_some();
    let text = a.listen.as_deref().unwrap_or(baton_server::DEFAULT_LISTEN);
    let listen: SocketAddr = text
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            anyhow!("--listen {text:?}: give an address and port, e.g. 127.0.0.1:8080, [::1]:8080 or localhost:8080")
        })?;
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: env.path(cert),
            key: env.path(key),
        }),
        _ => None,
    };
    let location = env.workflow_location()?.clone();
    let state: Arc<dyn StateSource> = Arc::new(LazyState {
        location: env.location()?.clone(),
        opened: Mutex::new(Vec::new()),
        next: std::sync::atomic::AtomicUsize::new(0),
    });
    let stores = Stores {
        state: Arc::clone(&state),
        tokens: Arc::new(LazyTokens {
            location: location.clone(),
            opened: Mutex::new(None),
        }),
        workflows: Arc::new(super::api_workflows::Workflows::new(
            env.clone(),
            location.clone(),
        )),
        stacks: Arc::new(super::api_stacks::Stacks::new(
            env,
            super::services::stacks(env, &a.stacks)?,
            state,
        )),
        views: Arc::new(super::api::Views {
            queue: location.clone(),
            board: env.board().ok(),
        }),
    };
    let opts = baton_server::Opts {
        listen,
        tls,
        login_failures: a.login_failures,
    };
    let bound = match baton_server::bind(&opts, stores) {
        Ok(b) => b,
        Err(ServerError::Listen { addr, message }) if !given => {
            eprintln!(
                "Warning: the HTTP API is not served: cannot listen on {addr}: {message} (choose an address with --listen)."
            );
            return Ok(None);
        }
        Err(e) => return Err(anyhow!(e)),
    };
    eprintln!(
        "Serving the HTTP API on {}://{}/ (metrics at /metrics; every call needs a token: `baton token create`).",
        bound.scheme(),
        bound.local_addr()
    );
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("baton-http".into())
        .spawn(move || {
            if let Err(e) = bound.run(flag) {
                eprintln!("Error: the HTTP API stopped: {e}");
            }
        })
        .map_err(|e| anyhow!("cannot start the HTTP API's thread: {e}"))?;
    Ok(Some(Api { stop, thread }))
}

/// How many handles on the stack's state store the API reads through: an SQLite store's
/// handle is one connection behind a lock, so concurrent requests spread over several.
const STATE_HANDLES: usize = 4;

/// The stack's state store, opened once it exists, as a few handles taken in turn.
struct LazyState {
    location: Location,
    opened: Mutex<Vec<Arc<dyn StateStore>>>,
    next: std::sync::atomic::AtomicUsize,
}

impl StateSource for LazyState {
    fn state(&self) -> Result<Option<Arc<dyn StateStore>>, StateError> {
        let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        if opened.is_empty() {
            if let Location::Sqlite(p) = &self.location {
                if !p.exists() {
                    return Ok(None);
                }
            }
            for _ in 0..STATE_HANDLES {
                opened.push(Arc::from(self.location.open_state()?));
            }
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % opened.len();
        Ok(opened.get(i).map(Arc::clone))
    }
}

/// The token store, opened once it exists (no tokens until then).
struct LazyTokens {
    location: Location,
    opened: Mutex<Option<Arc<dyn TokenStore>>>,
}

impl LazyTokens {
    fn get(&self) -> Result<Option<Arc<dyn TokenStore>>, StateError> {
        let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = &*opened {
            return Ok(Some(Arc::clone(s)));
        }
        if self
            .location
            .sqlite_tokens_path()
            .is_some_and(|p| !p.exists())
        {
            return Ok(None);
        }
        let store: Arc<dyn TokenStore> = Arc::from(self.location.open_tokens()?);
        *opened = Some(Arc::clone(&store));
        Ok(Some(store))
    }
}

impl TokenStore for LazyTokens {
    fn describe(&self) -> String {
        self.location.describe()
    }

    fn create(&self, token: &TokenRecord) -> Result<bool, StateError> {
        let store: Arc<dyn TokenStore> = match self.get()? {
            Some(s) => s,
            None => Arc::from(self.location.open_tokens()?),
        };
        store.create(token)
    }

    fn list(&self) -> Result<Vec<TokenRecord>, StateError> {
        Ok(match self.get()? {
            Some(s) => s.list()?,
            None => Vec::new(),
        })
    }

    fn find(&self, hash: &str) -> Result<Option<TokenRecord>, StateError> {
        match self.get()? {
            Some(s) => s.find(hash),
            None => Ok(None),
        }
    }

    fn revoke(&self, name: &str) -> Result<bool, StateError> {
        match self.get()? {
            Some(s) => s.revoke(name),
            None => Ok(false),
        }
    }
}
