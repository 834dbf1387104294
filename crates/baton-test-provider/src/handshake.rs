//! The plugin side of the go-plugin handshake: check the offered protocol versions, listen on
//! a Unix socket, make a server certificate when the client sent its own (automatic mTLS), print
//! the handshake line and serve gRPC until killed.
//!
//! Certificates are pinned, not chained: the peer must present exactly the certificate it
//! announced. Must not print anything else on stdout (stdout is the handshake channel).

use std::io::Write;
use std::sync::Arc;

use base64::Engine;
use magma_protocol::{tfplugin5::provider_server as v5, tfplugin6::provider_server as v6};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::net::UnixListener;

use crate::provider::BatonTest;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serve the `batontest` provider under the go-plugin protocol until the client calls
/// `GRPCController.Shutdown` or the process is killed. Speaks protocol 6 when offered, else 5;
/// `BATONTEST_PROTOCOL=5` makes it choose 5 (for tests of a client's protocol 5 path).
pub async fn serve() -> Result<(), BoxError> {
    let versions = std::env::var("PLUGIN_PROTOCOL_VERSIONS").unwrap_or_default();
    let offered = |v: &str| versions.split(',').any(|o| o.trim() == v);
    let forced = std::env::var("BATONTEST_PROTOCOL")
        .ok()
        .filter(|p| !p.is_empty());
    let protocol = match forced.as_deref() {
        Some("5") if offered("5") => 5,
        None if offered("6") => 6,
        None if offered("5") => 5,
        _ => {
            return Err(format!(
                "no supported protocol version offered (PLUGIN_PROTOCOL_VERSIONS={versions:?}, \
                 BATONTEST_PROTOCOL={forced:?}; this provider speaks 6 and 5)"
            )
            .into())
        }
    };
    let dir = std::env::var_os("PLUGIN_UNIX_SOCKET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let socket = dir.join(format!("batontest-{}-{nanos}.sock", std::process::id()));
    let listener = UnixListener::bind(&socket)?;

    let client_cert = std::env::var("PLUGIN_CLIENT_CERT")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let (controller, shutdown) = crate::controller::Controller::new();
    let router = tonic::transport::Server::builder().add_service(controller);
    let router = match protocol {
        6 => router.add_service(v6::ProviderServer::new(BatonTest::default())),
        _ => router.add_service(v5::ProviderServer::new(BatonTest::default())),
    };
    let shutdown = async {
        let _ = shutdown.await;
    };
    match client_cert {
        None => {
            announce(protocol, &socket, "")?;
            let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
            router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await?;
        }
        Some(pem) => {
            let client_der = pem_to_der(&pem)?;
            let key = rcgen::KeyPair::generate()?;
            let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, "localhost");
            let cert = params.self_signed(&key)?;
            let server_der = cert.der().to_vec();
            // aws-lc-rs, not ring: go-plugin's certificates are ECDSA P-521, which ring cannot
            // verify, and Go sends no client certificate when the server cannot check it.
            let provider_crypto = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let verifier = Arc::new(PinnedClient {
                cert: client_der,
                provider: provider_crypto.clone(),
            });
            let mut config = rustls::ServerConfig::builder_with_provider(provider_crypto)
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
                .with_client_cert_verifier(verifier)
                .with_single_cert(
                    vec![CertificateDer::from(server_der.clone())],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
                )?;
            config.alpn_protocols = vec![b"h2".to_vec()];
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            let (tx, rx) = tokio::sync::mpsc::channel(16);
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        break;
                    };
                    let acceptor = acceptor.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        match acceptor.accept(stream).await {
                            Ok(tls) => {
                                let _ = tx.send(Ok::<_, std::io::Error>(tls)).await;
                            }
                            Err(err) => eprintln!("batontest: TLS handshake failed: {err}"),
                        }
                    });
                }
            });
            announce(
                protocol,
                &socket,
                &base64::engine::general_purpose::STANDARD_NO_PAD.encode(&server_der),
            )?;
            router
                .serve_with_incoming_shutdown(
                    tokio_stream::wrappers::ReceiverStream::new(rx),
                    shutdown,
                )
                .await?;
        }
    }
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

/// Print the go-plugin handshake line: core version 1, the app protocol, unix socket, grpc.
fn announce(protocol: u32, socket: &std::path::Path, cert: &str) -> Result<(), BoxError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "1|{protocol}|unix|{}|grpc|{cert}", socket.display())?;
    out.flush()?;
    Ok(())
}

fn pem_to_der(pem: &str) -> Result<Vec<u8>, BoxError> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    Ok(base64::engine::general_purpose::STANDARD.decode(body)?)
}

/// Accepts exactly one client certificate: the one announced in `PLUGIN_CLIENT_CERT`.
#[derive(Debug)]
struct PinnedClient {
    cert: Vec<u8>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ClientCertVerifier for PinnedClient {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_slice() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
