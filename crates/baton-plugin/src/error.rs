//! The typed failures of talking to a provider plugin. Context lives in fields (the executable,
//! its stderr, the RPC), not in formatted strings.
//!
//! No recovery logic here: callers decide whether to retry (see [`PluginError::is_retryable`]).

use std::path::PathBuf;

/// A provider plugin failed to start, to handshake, or to answer.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot start provider {path}: {source}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The provider exited before completing the handshake.
    #[error(
        "provider {path} exited before the plugin handshake ({status}); its stderr:\n{stderr}"
    )]
    Crashed {
        path: PathBuf,
        /// How it ended, as the OS reports it (`exit status: 1`, `signal: 9`).
        status: String,
        stderr: String,
    },
    /// The first line on the provider's stdout was not a go-plugin handshake we can use.
    #[error("provider {path} sent an invalid plugin handshake {line:?}: {reason}; its stderr:\n{stderr}")]
    BadHandshake {
        path: PathBuf,
        line: String,
        reason: crate::handshake::HandshakeError,
        stderr: String,
    },
    #[error("provider {path} did not complete the plugin handshake within {seconds}s; its stderr:\n{stderr}")]
    HandshakeTimeout {
        path: PathBuf,
        seconds: u64,
        stderr: String,
    },
    #[error("cannot prepare the plugin TLS certificate: {0}")]
    Certificate(String),
    #[error("cannot connect to provider {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: tonic::transport::Error,
    },
    /// The gRPC call failed (transport error, or the provider crashed mid-call).
    #[error("provider call {method} failed: {status}; provider stderr:\n{stderr}")]
    Rpc {
        method: &'static str,
        status: Box<tonic::Status>,
        stderr: String,
    },
    /// The call did not finish within `StartOpts::call_timeout`.
    #[error("provider call {method} did not finish within {seconds}s; provider stderr:\n{stderr}")]
    CallTimeout {
        method: &'static str,
        seconds: f64,
        stderr: String,
    },
    /// The provider answered with error diagnostics.
    #[error("provider call {method} returned errors: {}", summaries(.diagnostics))]
    Diagnostics {
        method: &'static str,
        diagnostics: Vec<crate::schema::Diagnostic>,
    },
    /// The provider's schema has no such resource type or data source.
    #[error("provider {path} has no {kind} type {name:?}")]
    UnknownType {
        path: PathBuf,
        kind: &'static str,
        name: String,
    },
    /// The provider has no function of that name.
    #[error("provider {path} has no function {name:?}")]
    UnknownFunction { path: PathBuf, name: String },
    /// A provider function refused its arguments (CallFunction's FunctionError), or was
    /// called with the wrong number of them.
    #[error("provider function {name}: {text}{}", argument_suffix(*.argument))]
    Function {
        name: String,
        text: String,
        /// The index of the argument at fault, when the function says.
        argument: Option<i64>,
    },
    /// A value could not be encoded for, or decoded from, the wire.
    #[error("provider call {method}: {source}")]
    Value {
        method: &'static str,
        #[source]
        source: crate::msgpack::ValueError,
    },
    /// The provider's answer does not fit the protocol (a type that does not parse, an
    /// unknown nesting mode).
    #[error("provider call {method} returned an invalid answer: {detail}")]
    InvalidResponse {
        method: &'static str,
        detail: String,
    },
}

fn summaries(diags: &[crate::schema::Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| d.summary.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

fn argument_suffix(argument: Option<i64>) -> String {
    match argument {
        Some(i) => format!(" (argument {i})"),
        None => String::new(),
    }
}

impl PluginError {
    /// Whether running the action again (with a fresh provider process) may succeed: a crash,
    /// a hang or a broken connection may be transient; a bad handshake or an error diagnostic
    /// is not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PluginError::Crashed { .. }
                | PluginError::HandshakeTimeout { .. }
                | PluginError::Connect { .. }
                | PluginError::Rpc { .. }
                | PluginError::CallTimeout { .. }
        )
    }
}
