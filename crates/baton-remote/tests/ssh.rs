//! SSH sessions against real sshd servers (`baton_remote::testing::TestSshd`): commands and
//! their output, stdin, one master connection per host, host key checking (unknown, accepted
//! when new, changed), unreachable hosts, refused authentication, two hosts at once.
//!
//! These tests start their own servers on loopback ports; they must not use the user's
//! known_hosts (every connection names a host key or a temporary known_hosts file).

use std::process::Command;
use std::sync::Arc;

use baton_remote::ssh::{Connection, HostKeyChecking, Session, Sessions, SshError};
use baton_remote::testing::TestSshd;

fn sshd() -> TestSshd {
    TestSshd::start().expect("sshd starts")
}

#[test]
fn a_command_returns_its_exit_code_stdout_and_stderr() {
    let server = sshd();
    let sessions = Sessions::new();
    let s = sessions.get(&server.connection().expect("connection"));
    let out = s
        .run("echo out; echo 'it''s' err >&2; exit 3", None)
        .expect("runs");
    assert_eq!(out.code, 3);
    assert_eq!(out.stdout_text(), "out\n");
    assert_eq!(out.stderr_text(), "its err\n");
    let quoted = s
        .run("printf '%s|' \"a b\" 'c'\"'\"'d' $HOME", None)
        .expect("runs");
    assert_eq!(quoted.stdout_text(), "a b|c'd|/root|");
    assert_eq!(quoted.code, 0);
}

#[test]
fn stdin_reaches_the_command() {
    let server = sshd();
    let s = Session::new(server.connection().expect("connection"));
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let out = s.run("wc -c; echo done >&2", Some(&data)).expect("runs");
    assert_eq!(out.stdout_text().trim(), "200000");
    assert_eq!(out.stderr_text(), "done\n");
    let out = s.run("cat", Some(b"hello\n")).expect("runs");
    assert_eq!(out.stdout, b"hello\n");
    // No stdin: the command reads end of file at once instead of waiting.
    let out = s.run("cat; echo eof", None).expect("runs");
    assert_eq!(out.stdout_text(), "eof\n");
}

#[test]
fn many_commands_on_one_host_share_one_master_connection() {
    let server = sshd();
    let sessions = Sessions::new();
    let conn = server.connection().expect("connection");
    let first = sessions.get(&conn);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = sessions.get(&conn);
            assert!(Arc::ptr_eq(&s, &first), "one session per connection");
            std::thread::spawn(move || {
                for i in 0..5 {
                    let out = s.run(&format!("echo {t}-{i}"), None).expect("runs");
                    assert_eq!(out.stdout_text(), format!("{t}-{i}\n"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(server.accepted_logins(), 1, "{}", server.log());
    let socket = first.control_path().expect("a control socket");
    assert!(socket.exists());
    let check = Command::new("ssh")
        .arg("-O")
        .arg("check")
        .arg("-o")
        .arg(format!("ControlPath={}", socket.display()))
        .arg("127.0.0.1")
        .output()
        .expect("ssh -O check");
    assert!(check.status.success(), "{check:?}");
    // The key given as a file is not copied; nothing but the socket stays in the directory.
    let dir = socket.parent().expect("socket directory");
    let files: Vec<_> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(!files.iter().any(|f| f == "identity"), "{files:?}");

    // Dropping the pool and its sessions closes the master.
    drop(first);
    drop(sessions);
    assert!(!socket.exists(), "the master is closed on drop");
}

#[test]
fn a_private_key_given_as_text_is_only_on_disk_while_connecting() {
    let server = sshd();
    let mut conn = server.connection().expect("connection");
    conn.private_key_file = None;
    conn.private_key = Some(server.client_key_text().expect("key"));
    let shown = format!("{conn:?}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    let s = Session::new(conn);
    let out = s.run("echo ok", None).expect("runs");
    assert_eq!(out.stdout_text(), "ok\n");
    let socket = s.control_path().expect("socket");
    let dir = socket.parent().expect("dir");
    assert!(!dir.join("identity").exists());
}

#[test]
fn an_unknown_host_key_is_refused_naming_host_and_fingerprint() {
    let server = sshd();
    let known = tempfile::tempdir().expect("tempdir");
    let mut conn = server.connection().expect("connection");
    conn.host_key = None;
    conn.known_hosts = Some(known.path().join("known_hosts"));
    let err = Session::new(conn)
        .run("echo must-not-run", None)
        .expect_err("refused");
    let fp = server.host_key_fingerprint().expect("fingerprint");
    match &err {
        SshError::HostKeyUnknown { host, fingerprint } => {
            assert_eq!(host, &format!("127.0.0.1:{}", server.port()));
            assert_eq!(fingerprint, &fp);
        }
        other => panic!("expected HostKeyUnknown, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&fp) && msg.contains("127.0.0.1"), "{msg}");
    assert!(!err.retryable());
    assert!(server.log().matches("Accepted ").count() == 0);
}

#[test]
fn accept_new_records_a_new_host_key_but_a_changed_one_is_refused() {
    let mut server = sshd();
    let known = tempfile::tempdir().expect("tempdir");
    let known_hosts = known.path().join("known_hosts");
    let mut conn = server.connection().expect("connection");
    conn.host_key = None;
    conn.known_hosts = Some(known_hosts.clone());
    conn.strict_host_key_checking = HostKeyChecking::AcceptNew;
    {
        let s = Session::new(conn.clone());
        let out = s.run("echo first", None).expect("accepted");
        assert_eq!(out.stdout_text(), "first\n");
    }
    let recorded = std::fs::read_to_string(&known_hosts).expect("known_hosts written");
    let key = server.host_key_line().expect("host key");
    let key_b64 = key.split_whitespace().nth(1).expect("key");
    assert!(recorded.contains(key_b64), "{recorded}");
    // Known now: strict checking accepts it too.
    let mut strict = conn.clone();
    strict.strict_host_key_checking = HostKeyChecking::Yes;
    Session::new(strict.clone())
        .run("true", None)
        .expect("known host accepted");

    let old_key = key.clone();
    server.restart_with_new_host_key().expect("restart");
    let new_fp = server.host_key_fingerprint().expect("fingerprint");
    for c in [conn.clone(), strict] {
        let err = Session::new(c).run("echo no", None).expect_err("refused");
        match &err {
            SshError::HostKeyChanged { host, fingerprint } => {
                assert_eq!(host, &format!("127.0.0.1:{}", server.port()));
                assert_eq!(fingerprint, &new_fp);
            }
            other => panic!("expected HostKeyChanged, got {other:?}"),
        }
        assert!(err.to_string().contains(&new_fp), "{err}");
    }
    // The pinned old key is refused as changed as well.
    let mut pinned = server.connection().expect("connection");
    pinned.host_key = Some(old_key);
    let err = Session::new(pinned)
        .run("echo no", None)
        .expect_err("refused");
    assert!(
        matches!(err, SshError::HostKeyChanged { .. }),
        "expected HostKeyChanged, got {err:?}"
    );
    // And the new key, pinned, is accepted.
    let out = Session::new(server.connection().expect("connection"))
        .run("echo new", None)
        .expect("runs");
    assert_eq!(out.stdout_text(), "new\n");
}

#[test]
fn an_unreachable_port_is_unreachable_and_retryable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut conn = Connection::new("127.0.0.1", "root");
    conn.port = port;
    conn.agent = false;
    conn.host_key = Some(
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKJ8ZNeTpG4b3WzO2vWb0ySgqX9Bz4bV4pR4mD7X2qfb".into(),
    );
    let err = Session::new(conn)
        .run("true", None)
        .expect_err("unreachable");
    assert!(
        matches!(&err, SshError::Unreachable { host, .. } if host == &format!("127.0.0.1:{port}")),
        "{err:?}"
    );
    assert!(err.retryable());
}

#[test]
fn a_key_the_host_does_not_authorize_is_an_auth_error() {
    let server = sshd();
    let other = sshd();
    let mut conn = server.connection().expect("connection");
    conn.private_key_file = Some(other.client_key_path());
    let err = Session::new(conn).run("true", None).expect_err("refused");
    assert!(
        matches!(&err, SshError::Auth { user, .. } if user == "root"),
        "{err:?}"
    );
    assert!(!err.retryable());
}

#[test]
fn two_hosts_in_parallel() {
    let a = sshd();
    let b = sshd();
    let sessions = Arc::new(Sessions::new());
    let threads: Vec<_> = [&a, &b]
        .iter()
        .map(|server| {
            let conn = server.connection().expect("connection");
            let port = server.port();
            let sessions = Arc::clone(&sessions);
            std::thread::spawn(move || {
                let s = sessions.get(&conn);
                for _ in 0..3 {
                    let out = s.run("echo $SSH_CONNECTION", None).expect("runs");
                    let fields: Vec<String> = out
                        .stdout_text()
                        .split_whitespace()
                        .map(str::to_string)
                        .collect();
                    assert_eq!(fields.get(3), Some(&port.to_string()));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(a.accepted_logins(), 1);
    assert_eq!(b.accepted_logins(), 1);
}

#[test]
fn a_master_that_went_away_is_made_again() {
    let server = sshd();
    let s = Session::new(server.connection().expect("connection"));
    assert_eq!(s.run("echo 1", None).expect("runs").stdout_text(), "1\n");
    let socket = s.control_path().expect("socket");
    let exit = Command::new("ssh")
        .arg("-O")
        .arg("exit")
        .arg("-o")
        .arg(format!("ControlPath={}", socket.display()))
        .arg("127.0.0.1")
        .output()
        .expect("ssh -O exit");
    assert!(exit.status.success(), "{exit:?}");
    assert_eq!(s.run("echo 2", None).expect("runs").stdout_text(), "2\n");
    assert_eq!(server.accepted_logins(), 2, "{}", server.log());
}

#[test]
fn a_connection_lost_during_a_command_is_unreachable() {
    let mut server = sshd();
    let s = Arc::new(Session::new(server.connection().expect("connection")));
    s.connect().expect("connects");
    let running = {
        let s = Arc::clone(&s);
        std::thread::spawn(move || s.run("echo started; sleep 30", None))
    };
    std::thread::sleep(std::time::Duration::from_millis(500));
    server.restart_with_new_host_key().expect("restart");
    let err = running
        .join()
        .expect("thread")
        .expect_err("the connection was lost");
    assert!(err.retryable(), "{err:?}");
}

#[test]
fn a_command_exiting_255_is_its_own_exit_code() {
    let server = sshd();
    let s = Session::new(server.connection().expect("connection"));
    let out = s.run("echo bye >&2; exit 255", None).expect("runs");
    assert_eq!(out.code, 255);
    assert_eq!(out.stderr_text(), "bye\n");
}

#[test]
fn a_pinned_key_of_another_type_is_not_the_host_expected() {
    let server = sshd();
    let mut conn = server.connection().expect("connection");
    conn.host_key = Some("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV9U2W/aEvZmlPw0LQkSg=".into());
    let err = Session::new(conn).run("true", None).expect_err("refused");
    match &err {
        SshError::HostKeyChanged { fingerprint, .. } => {
            assert_eq!(fingerprint, &server.host_key_fingerprint().expect("fp"));
        }
        other => panic!("expected HostKeyChanged, got {other:?}"),
    }
}
