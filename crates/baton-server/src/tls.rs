//! TLS from certificate and key files (PEM), with rustls and the `ring` provider: the server
//! configuration `baton serve --tls-cert FILE --tls-key FILE` listens with.
//!
//! Must not start anything: a bad file is an error naming it, found before the listener opens.

use crate::ServerError;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls::ServerConfig;

/// The files of `--tls-cert` and `--tls-key`.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM `CERTIFICATE` blocks).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Reads both files and checks that the key belongs to the certificate.
pub fn load(files: &TlsFiles) -> Result<Arc<ServerConfig>, ServerError> {
    let cert_err = |message: String| ServerError::TlsCert {
        path: files.cert.clone(),
        message,
    };
    readable(&files.cert).map_err(cert_err)?;
    let certs = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    if certs.is_empty() {
        return Err(cert_err(
            "no certificate in it (expected a PEM \"CERTIFICATE\" block)".into(),
        ));
    }
    let key_err = |message: String| ServerError::TlsKey {
        path: files.key.clone(),
        message,
    };
    readable(&files.key).map_err(key_err)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| {
        key_err(match e {
            rustls_pki_types::pem::Error::NoItemsFound => {
                "no private key in it (expected a PEM \"PRIVATE KEY\" block)".into()
            }
            e => e.to_string(),
        })
    })?;
    // rustls marks its *ring* provider deprecated because *ring* has no post-quantum key
    // exchange; the alternative (aws-lc-rs) needs cmake and a long C build on every machine
    // that builds Baton. Classical ECDHE (X25519, P-256/384) with TLS 1.2/1.3 until then.
    #[allow(deprecated)]
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let pair_err = |message: String| ServerError::TlsPair {
        cert: files.cert.clone(),
        key: files.key.clone(),
        message,
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| pair_err(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| pair_err(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A clear message for a file that cannot be read at all (missing, a directory, no access).
fn readable(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err("not a file".into()),
        Err(e) => Err(e.to_string()),
    }
}
