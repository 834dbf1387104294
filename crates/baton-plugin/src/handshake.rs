//! The go-plugin handshake line a plugin prints on stdout once it listens:
//! `CORE-VERSION|APP-PROTOCOL-VERSION|NETWORK-TYPE|NETWORK-ADDR|PROTOCOL|SERVER-CERT`, e.g.
//! `1|6|unix|/tmp/plugin123|grpc|MIIB…` (the certificate is base64 DER, usually unpadded, and
//! empty when the plugin does not do TLS).
//!
//! Pure parsing: no I/O, no process handling.

use std::path::PathBuf;

use base64::Engine;

/// The plugin protocol version a provider chose from those offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    V5,
    V6,
}

/// Where the plugin listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Network {
    Unix(PathBuf),
    Tcp(String),
}

/// A parsed handshake line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handshake {
    pub protocol: Protocol,
    pub network: Network,
    /// The server's certificate (DER), for automatic mTLS; `None` when the plugin serves
    /// without TLS.
    pub server_cert: Option<Vec<u8>>,
}

/// Why a handshake line was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("expected 6 '|'-separated fields, found {0}")]
    FieldCount(usize),
    #[error("unsupported go-plugin core protocol version {0:?} (Baton speaks 1)")]
    CoreVersion(String),
    #[error("unsupported provider protocol version {0:?} (Baton speaks 5 and 6)")]
    ProtocolVersion(String),
    #[error("unsupported network type {0:?}")]
    Network(String),
    #[error("unsupported RPC protocol {0:?} (Baton speaks grpc)")]
    RpcProtocol(String),
    #[error("the server certificate is not valid base64")]
    Certificate,
}

/// Parses one handshake line (trailing newline allowed).
pub fn parse(line: &str) -> Result<Handshake, HandshakeError> {
    let fields: Vec<&str> = line.trim_end_matches(['\r', '\n']).split('|').collect();
    let [core, app, net, addr, rpc, cert] = fields[..] else {
        return Err(HandshakeError::FieldCount(fields.len()));
    };
    if core != "1" {
        return Err(HandshakeError::CoreVersion(core.to_string()));
    }
    let protocol = match app {
        "5" => Protocol::V5,
        "6" => Protocol::V6,
        other => return Err(HandshakeError::ProtocolVersion(other.to_string())),
    };
    let network = match net {
        "unix" => Network::Unix(PathBuf::from(addr)),
        "tcp" => Network::Tcp(addr.to_string()),
        other => return Err(HandshakeError::Network(other.to_string())),
    };
    if rpc != "grpc" {
        return Err(HandshakeError::RpcProtocol(rpc.to_string()));
    }
    let server_cert = if cert.is_empty() {
        None
    } else {
        let unpadded = cert.trim_end_matches('=');
        Some(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(unpadded)
                .map_err(|_| HandshakeError::Certificate)?,
        )
    };
    Ok(Handshake {
        protocol,
        network,
        server_cert,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_unix_grpc_line_with_a_certificate() {
        let h = parse("1|6|unix|/tmp/plugin1|grpc|AAEC\n").expect("valid line");
        assert_eq!(h.protocol, Protocol::V6);
        assert_eq!(h.network, Network::Unix(PathBuf::from("/tmp/plugin1")));
        assert_eq!(h.server_cert, Some(vec![0, 1, 2]));
    }

    #[test]
    fn accepts_padded_base64_and_no_certificate() {
        assert_eq!(
            parse("1|5|tcp|127.0.0.1:1234|grpc|AAE=")
                .expect("valid")
                .server_cert,
            Some(vec![0, 1])
        );
        let h = parse("1|5|tcp|127.0.0.1:1234|grpc|").expect("valid");
        assert_eq!(h.protocol, Protocol::V5);
        assert_eq!(h.server_cert, None);
    }

    #[test]
    fn refuses_what_baton_cannot_speak() {
        assert_eq!(parse("hello"), Err(HandshakeError::FieldCount(1)));
        assert_eq!(
            parse("2|6|unix|/s|grpc|"),
            Err(HandshakeError::CoreVersion("2".into()))
        );
        assert_eq!(
            parse("1|4|unix|/s|grpc|"),
            Err(HandshakeError::ProtocolVersion("4".into()))
        );
        assert_eq!(
            parse("1|6|unix|/s|netrpc|"),
            Err(HandshakeError::RpcProtocol("netrpc".into()))
        );
        assert_eq!(
            parse("1|6|unix|/s|grpc|!!"),
            Err(HandshakeError::Certificate)
        );
    }
}
