//! The HTTPS client `baton init` lends to `baton_plugin::install` (its `Fetch`): GET only,
//! `https://` only (as Terraform for registries and mirrors), with timeouts on every request.
//! It trusts the platform's root certificates (the first CA bundle file Go looks for on
//! Linux, else the Mozilla roots built into the client) plus the PEM certificates in the file
//! named by `SSL_CERT_FILE`, which Go, and so Terraform, honours too.
//!
//! It must not decide anything about providers (URLs come from the library) nor retry: a
//! failure is reported with its cause and the library names the URL and the provider.

use std::time::Duration;

use baton_plugin::install::Fetch;
use ureq::tls::{parse_pem, Certificate, PemItem, RootCerts, TlsConfig};

/// The CA bundle files Go's crypto/x509 reads on Linux, in its order.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// A provider package may be large; anything bigger than this is refused.
const MAX_BODY: u64 = 2 << 30;

pub struct HttpsFetch {
    agent: ureq::Agent,
}

impl HttpsFetch {
    /// A client with the roots described above; `SSL_CERT_FILE` naming a file that cannot be
    /// read, or that holds no certificate, is an error.
    pub fn new() -> anyhow::Result<HttpsFetch> {
        let mut certs: Vec<Certificate<'static>> = Vec::new();
        if let Some(pem) = SYSTEM_BUNDLES.iter().find_map(|p| std::fs::read(p).ok()) {
            certs.extend(pem_certs(&pem));
        }
        if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
            let pem = std::fs::read(&file).map_err(|e| {
                anyhow::anyhow!("cannot read SSL_CERT_FILE {}: {e}", file.to_string_lossy())
            })?;
            let extra = pem_certs(&pem);
            if extra.is_empty() {
                anyhow::bail!(
                    "SSL_CERT_FILE {} holds no PEM certificate",
                    file.to_string_lossy()
                );
            }
            certs.extend(extra);
        }
        let roots = if certs.is_empty() {
            RootCerts::WebPki
        } else {
            RootCerts::new_with_certs(&certs)
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .https_only(true)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(600)))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(HttpsFetch { agent })
    }
}

fn pem_certs(pem: &[u8]) -> Vec<Certificate<'static>> {
    parse_pem(pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

impl Fetch for HttpsFetch {
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        if !url.starts_with("https://") {
            return Err("only https:// URLs are allowed".into());
        }
        let mut resp = self.agent.get(url).call().map_err(|e| e.to_string())?;
        resp.body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| e.to_string())
    }
}
