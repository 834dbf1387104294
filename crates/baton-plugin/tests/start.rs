//! Starting providers that fail before they can be used: each failure is a typed error that
//! carries the provider's stderr. Uses `/bin/sh` as a stand-in provider; the working provider
//! is tested against `baton-test-provider` (its `tests/client.rs`).

use std::time::Duration;

use baton_plugin::{PluginError, ProviderProcess, StartOpts};

fn sh(script: &str) -> StartOpts {
    let mut opts = StartOpts::new("/bin/sh");
    opts.args = vec!["-c".to_string(), script.to_string()];
    opts.handshake_timeout = Duration::from_secs(5);
    opts
}

#[tokio::test]
async fn a_provider_that_exits_at_once_is_a_crash_with_its_stderr() {
    let err = ProviderProcess::start(&sh("echo 'panic: provider exploded' >&2; exit 3"))
        .await
        .err()
        .expect("start fails");
    match &err {
        PluginError::Crashed { status, stderr, .. } => {
            assert!(status.contains('3'), "{status}");
            assert!(stderr.contains("panic: provider exploded"), "{stderr:?}");
        }
        other => panic!("expected Crashed, got {other:?}"),
    }
    assert!(err.is_retryable());
    assert!(
        err.to_string().contains("panic: provider exploded"),
        "{err}"
    );
}

#[tokio::test]
async fn a_bad_handshake_line_is_refused_with_the_stderr() {
    let err = ProviderProcess::start(&sh(
        "echo 'complaint on stderr' >&2; echo 'hello, I am not a plugin'; exec sleep 30",
    ))
    .await
    .err()
    .expect("start fails");
    match &err {
        PluginError::BadHandshake { line, stderr, .. } => {
            assert_eq!(line, "hello, I am not a plugin");
            assert!(stderr.contains("complaint on stderr"), "{stderr:?}");
        }
        other => panic!("expected BadHandshake, got {other:?}"),
    }
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn the_magic_cookie_and_protocol_versions_are_offered() {
    // The script refuses to start unless go-plugin's environment is there; it then echoes it
    // back on stderr and exits, so the crash error shows what it saw.
    let err = ProviderProcess::start(&sh(
        "test \"$TF_PLUGIN_MAGIC_COOKIE\" = d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2 || exit 9; \
         echo \"versions=$PLUGIN_PROTOCOL_VERSIONS\" >&2; \
         case \"$PLUGIN_CLIENT_CERT\" in '-----BEGIN CERTIFICATE-----'*) echo cert-ok >&2;; esac; exit 4",
    ))
    .await
    .err()
    .expect("start fails");
    let PluginError::Crashed { status, stderr, .. } = &err else {
        panic!("expected Crashed, got {err:?}");
    };
    assert!(status.contains('4'), "{status}");
    assert!(stderr.contains("versions=5,6"), "{stderr:?}");
    assert!(stderr.contains("cert-ok"), "{stderr:?}");
}

#[tokio::test]
async fn a_silent_provider_times_out() {
    let mut opts = sh("exec sleep 30");
    opts.handshake_timeout = Duration::from_millis(300);
    let err = ProviderProcess::start(&opts)
        .await
        .err()
        .expect("start fails");
    assert!(
        matches!(err, PluginError::HandshakeTimeout { .. }),
        "{err:?}"
    );
}
