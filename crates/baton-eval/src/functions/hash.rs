//! The hash and crypto functions of Terraform's library: `md5`, `sha1`, `sha256`, `sha512`,
//! `base64sha256`, `base64sha512`, their `file*` variants, `bcrypt`, `uuid`, `uuidv5`, and
//! `rsadecrypt` (registered, but not supported yet: no RSA implementation is available).
//!
//! Strings are hashed as their UTF-8 bytes; files are read (streamed) the way Terraform's
//! `openFile` does, with `~` expansion and paths relative to `FnCtx::base_dir`. `bcrypt` and
//! `uuid` are impure: the call machinery makes them unknown during planning.
//!
//! Implementations receive known, unmarked, already-converted arguments (see the call
//! machinery in `functions/mod.rs`) and must never log argument values (passwords!).

use super::filesystem::gocompat::{go_quote, io_error_text, resolve};
use super::filesystem::open_path;
use super::util::str_arg;
use super::{FnCtx, FnError, FnResult, Function, Param, Registry, Ret};
use crate::types::Type;
use crate::value::Value;
use base64::Engine;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use uuid::Uuid;

pub(super) fn register(r: &mut Registry) {
    let string_fn = |name: &'static str, imp: super::Impl| {
        Function::new(
            name,
            vec![Param::new("str", Type::String)],
            Ret::Fixed(Type::String),
            imp,
        )
    };
    let file_fn = |name: &'static str, imp: super::Impl| {
        Function::new(
            name,
            vec![Param::new("path", Type::String)],
            Ret::Fixed(Type::String),
            imp,
        )
    };
    r.add(string_fn("md5", |_, a| hex_of::<Md5>(str_arg(a, 0)?)));
    r.add(string_fn("sha1", |_, a| hex_of::<Sha1>(str_arg(a, 0)?)));
    r.add(string_fn("sha256", |_, a| hex_of::<Sha256>(str_arg(a, 0)?)));
    r.add(string_fn("sha512", |_, a| hex_of::<Sha512>(str_arg(a, 0)?)));
    r.add(string_fn("base64sha256", |_, a| {
        b64_of::<Sha256>(str_arg(a, 0)?)
    }));
    r.add(string_fn("base64sha512", |_, a| {
        b64_of::<Sha512>(str_arg(a, 0)?)
    }));
    r.add(file_fn("filemd5", |c, a| {
        file_hash::<Md5>(c, a, Encoding::Hex)
    }));
    r.add(file_fn("filesha1", |c, a| {
        file_hash::<Sha1>(c, a, Encoding::Hex)
    }));
    r.add(file_fn("filesha256", |c, a| {
        file_hash::<Sha256>(c, a, Encoding::Hex)
    }));
    r.add(file_fn("filesha512", |c, a| {
        file_hash::<Sha512>(c, a, Encoding::Hex)
    }));
    r.add(file_fn("filebase64sha256", |c, a| {
        file_hash::<Sha256>(c, a, Encoding::Base64)
    }));
    r.add(file_fn("filebase64sha512", |c, a| {
        file_hash::<Sha512>(c, a, Encoding::Base64)
    }));
    r.add(
        Function::new(
            "bcrypt",
            vec![Param::new("str", Type::String)],
            Ret::Fixed(Type::String),
            bcrypt,
        )
        .variadic(Param::new("cost", Type::Number))
        .impure(),
    );
    r.add(Function::new("uuid", vec![], Ret::Fixed(Type::String), uuid).impure());
    r.add(Function::new(
        "uuidv5",
        vec![
            Param::new("namespace", Type::String),
            Param::new("name", Type::String),
        ],
        Ret::Fixed(Type::String),
        uuidv5,
    ));
    r.add(Function::new(
        "rsadecrypt",
        vec![
            Param::new("ciphertext", Type::String),
            Param::new("privatekey", Type::String),
        ],
        Ret::Fixed(Type::String),
        rsadecrypt,
    ));
}

/// A failure that Terraform reports as "Call to function ... failed: {msg}."
fn fail(msg: impl std::fmt::Display) -> FnError {
    FnError::new(format!("{msg}."))
}

fn hex_of<D: Digest>(s: &str) -> FnResult {
    Ok(Value::string(hex::encode(D::digest(s.as_bytes()))))
}

fn b64_of<D: Digest>(s: &str) -> FnResult {
    let enc = base64::engine::general_purpose::STANDARD.encode(D::digest(s.as_bytes()));
    Ok(Value::string(enc))
}

#[derive(Clone, Copy)]
enum Encoding {
    Hex,
    Base64,
}

/// Terraform's `makeFileHashFunction`: errors are Go's own (`open x: no such file or
/// directory`), without the hint `file` gives.
fn file_hash<D: Digest>(ctx: &FnCtx<'_>, args: &[Value], enc: Encoding) -> FnResult {
    use std::io::Read;
    let path = str_arg(args, 0)?;
    let shown = open_path(path).map_err(fail)?;
    let mut f = std::fs::File::open(resolve(ctx, shown.as_bytes()))
        .map_err(|e| fail(format!("open {shown}: {}", io_error_text(&e))))?;
    let mut hasher = D::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(format!("read {shown}: {}", io_error_text(&e)))),
        };
        hasher.update(&buf[..n]);
    }
    let sum = hasher.finalize();
    Ok(Value::string(match enc {
        Encoding::Hex => hex::encode(sum),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(sum),
    }))
}

/// `bcrypt(str, cost...)` as golang.org/x/crypto's `GenerateFromPassword` does it: the `$2a$`
/// prefix, a cost below 4 meaning 10, passwords over 72 bytes rejected.
fn bcrypt(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let password = str_arg(args, 0)?;
    let mut cost: i64 = 10;
    if let Some(c) = args.get(1) {
        cost = c
            .as_number()
            .and_then(|n| n.to_i64())
            .ok_or_else(|| fail(GO_INT_ERR))?;
    }
    if args.len() > 2 {
        return Err(fail("bcrypt() takes no more than two arguments"));
    }
    if password.len() > 72 {
        return Err(fail(
            "error occured generating password bcrypt: password length exceeds 72 bytes",
        ));
    }
    if cost < 4 {
        cost = 10;
    }
    if cost > 31 {
        return Err(fail(format!(
            "error occured generating password crypto/bcrypt: cost {cost} is outside allowed range (4,31)"
        )));
    }
    let cost = u32::try_from(cost).map_err(|_| fail(GO_INT_ERR))?;
    let parts = bcrypt::hash_with_result(password.as_bytes(), cost)
        .map_err(|e| fail(format!("error occured generating password {e}")))?;
    Ok(Value::string(
        parts.format_for_version(bcrypt::Version::TwoA),
    ))
}

/// gocty's message for a number that does not fit a Go `int`.
const GO_INT_ERR: &str =
    "value must be a whole number, between -9223372036854775808 and 9223372036854775807";

fn uuid(_: &FnCtx<'_>, _: &[Value]) -> FnResult {
    Ok(Value::string(Uuid::new_v4().hyphenated().to_string()))
}

fn uuidv5(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let ns = str_arg(args, 0)?;
    let name = str_arg(args, 1)?;
    let namespace = match ns {
        "dns" => Uuid::NAMESPACE_DNS,
        "url" => Uuid::NAMESPACE_URL,
        "oid" => Uuid::NAMESPACE_OID,
        "x500" => Uuid::NAMESPACE_X500,
        other => parse_google_uuid(other.as_bytes())
            .map_err(|e| fail(format!("uuidv5() doesn't support namespace {other} ({e})")))?,
    };
    Ok(Value::string(
        Uuid::new_v5(&namespace, name.as_bytes())
            .hyphenated()
            .to_string(),
    ))
}

/// github.com/google/uuid's `Parse`: the 36-character form, optionally in braces (which are
/// not checked) or after `urn:uuid:`, or 32 hex digits.
fn parse_google_uuid(s: &[u8]) -> Result<Uuid, String> {
    const BAD: &str = "invalid UUID format";
    let s = match s.len() {
        36 => s,
        45 => {
            let prefix = &s[..9];
            if !prefix.eq_ignore_ascii_case(b"urn:uuid:") {
                return Err(format!("invalid urn prefix: {}", go_quote(prefix)));
            }
            &s[9..]
        }
        38 => &s[1..],
        32 => {
            let mut bytes = [0u8; 16];
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = xtob(s[i * 2], s[i * 2 + 1]).ok_or(BAD)?;
            }
            return Ok(Uuid::from_bytes(bytes));
        }
        n => return Err(format!("invalid UUID length: {n}")),
    };
    if s[8] != b'-' || s[13] != b'-' || s[18] != b'-' || s[23] != b'-' {
        return Err(BAD.into());
    }
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    let mut bytes = [0u8; 16];
    for (b, x) in bytes.iter_mut().zip(AT) {
        *b = xtob(s[x], s[x + 1]).ok_or(BAD)?;
    }
    Ok(Uuid::from_bytes(bytes))
}

fn xtob(a: u8, b: u8) -> Option<u8> {
    let h = |c: u8| (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    Some(h(a)? << 4 | h(b)?)
}

/// `rsadecrypt` needs RSA (PKCS #1 v1.5) and PEM/OpenSSH key parsing, which Baton does not
/// have yet. The base64 check of the ciphertext, which Terraform makes first, is kept.
fn rsadecrypt(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let ciphertext = str_arg(args, 0)?;
    if base64::engine::general_purpose::STANDARD
        .decode(ciphertext)
        .is_err()
    {
        return Err(FnError::arg(
            0,
            format!(
                "Invalid value for \"ciphertext\" parameter: failed to decode input {}: cipher text must be base64-encoded.",
                go_quote(ciphertext.as_bytes())
            ),
        ));
    }
    Err(fail("rsadecrypt is not supported by Baton yet"))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::call_fn;
    use super::*;

    fn s(v: &str) -> Value {
        Value::string(v)
    }

    fn ok(name: &str, args: Vec<Value>) -> String {
        match call_fn(name, args) {
            Ok(v) => v.as_str().map(str::to_string).unwrap_or_default(),
            Err(e) => format!("ERR: {}", e.message),
        }
    }

    fn err(name: &str, args: Vec<Value>) -> String {
        match call_fn(name, args) {
            Ok(v) => format!("unexpected success: {v:?}"),
            Err(e) => e.message,
        }
    }

    struct Scratch(std::path::PathBuf);

    impl Scratch {
        fn new() -> Scratch {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "baton-hash-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&dir).expect("scratch dir");
            Scratch(dir)
        }
        fn file(&self, name: &str, data: &[u8]) -> String {
            let p = self.0.join(name);
            std::fs::write(&p, data).expect("write");
            p.to_string_lossy().into_owned()
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn string_hashes() {
        assert_eq!(
            ok("md5", vec![s("hello\n")]),
            "b1946ac92492d2347c6235b4d2611184"
        );
        assert_eq!(ok("md5", vec![s("")]), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            ok("sha1", vec![s("hello\n")]),
            "f572d396fae9206628714fb2ce00f72e94f2258f"
        );
        assert_eq!(
            ok("sha256", vec![s("hello\n")]),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(
            ok("sha512", vec![s("hello\n")]),
            "e7c22b994c59d9cf2b48e549b1e24666636045930d3da7c1acb299d1c3b7f931f94aae41edda2c2b207a36e10f8bcb8d45223e54878f5b316e7ce3b6bc019629"
        );
        assert_eq!(
            ok("base64sha256", vec![s("hello\n")]),
            "WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM="
        );
        assert_eq!(
            ok("base64sha512", vec![s("hello\n")]),
            "58IrmUxZ2c8rSOVJseJGZmNgRZMNPafBrLKZ0cO3+TH5Sq5B7dosKyB6NuEPi8uNRSI+VIePWzFufOO2vAGWKQ=="
        );
        assert_eq!(
            ok("sha1", vec![s("é")]),
            "bf15be717ac1b080b4f1c456692825891ff5073d"
        );
        assert_eq!(
            ok("md5", vec![Value::int(12)]),
            "c20ad4d76fe97759aa27a0c99bff6710"
        );
        let marked = call_fn("md5", vec![s("x").mark_sensitive()]).expect("hashes");
        assert!(marked.is_sensitive());
    }

    #[test]
    fn file_hashes() {
        let d = Scratch::new();
        let a = d.file("a.txt", b"hello\n");
        assert_eq!(
            ok("filemd5", vec![s(&a)]),
            "b1946ac92492d2347c6235b4d2611184"
        );
        assert_eq!(
            ok("filesha1", vec![s(&a)]),
            "f572d396fae9206628714fb2ce00f72e94f2258f"
        );
        assert_eq!(
            ok("filesha256", vec![s(&a)]),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
        );
        assert_eq!(
            ok("filesha512", vec![s(&a)]),
            "e7c22b994c59d9cf2b48e549b1e24666636045930d3da7c1acb299d1c3b7f931f94aae41edda2c2b207a36e10f8bcb8d45223e54878f5b316e7ce3b6bc019629"
        );
        assert_eq!(
            ok("filebase64sha256", vec![s(&a)]),
            "WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM="
        );
        assert_eq!(
            ok("filebase64sha512", vec![s(&a)]),
            "58IrmUxZ2c8rSOVJseJGZmNgRZMNPafBrLKZ0cO3+TH5Sq5B7dosKyB6NuEPi8uNRSI+VIePWzFufOO2vAGWKQ=="
        );
        let bin = d.file("bin", b"\xff\xfe");
        assert_eq!(
            ok("filemd5", vec![s(&bin)]),
            hex::encode(Md5::digest(b"\xff\xfe"))
        );
        let nope = d.0.join("nope").to_string_lossy().into_owned();
        assert_eq!(
            err("filemd5", vec![s(&nope)]),
            format!("open {nope}: no such file or directory.")
        );
        let dir = d.0.to_string_lossy().into_owned();
        assert_eq!(
            err("filesha256", vec![s(&dir)]),
            format!("read {dir}: is a directory.")
        );
        assert_eq!(
            err("filesha1", vec![s("~x")]),
            "failed to expand ~: cannot expand user-specific home dir."
        );
    }

    #[test]
    fn bcrypt_hashes_and_verifies() {
        let h = ok("bcrypt", vec![s("x"), Value::int(4)]);
        assert!(h.starts_with("$2a$04$"), "{h}");
        assert_eq!(h.len(), 60);
        assert!(bcrypt::verify("x", &h).unwrap_or(false));
        let low = ok("bcrypt", vec![s("x"), Value::int(3)]);
        assert!(low.starts_with("$2a$10$"), "{low}");
        assert_ne!(ok("bcrypt", vec![s("x"), Value::int(4)]), h);
        assert_eq!(
            err("bcrypt", vec![s("x"), Value::int(32)]),
            "error occured generating password crypto/bcrypt: cost 32 is outside allowed range (4,31)."
        );
        assert_eq!(
            err("bcrypt", vec![s("x"), Value::int(10), Value::int(11)]),
            "bcrypt() takes no more than two arguments."
        );
        assert_eq!(
            err("bcrypt", vec![s(&"a".repeat(73)), Value::int(4)]),
            "error occured generating password bcrypt: password length exceeds 72 bytes."
        );
        let half = crate::number::Number::parse("1.5").expect("number");
        assert_eq!(
            err("bcrypt", vec![s("x"), Value::number(half)]),
            format!("{GO_INT_ERR}.")
        );
    }

    #[test]
    fn bcrypt_and_uuid_are_unknown_while_planning() {
        let sources = baton_core::Sources::new();
        let dir = std::env::temp_dir();
        let ctx = FnCtx {
            base_dir: &dir,
            sources: &sources,
            planning: true,
        };
        for name in ["bcrypt", "uuid"] {
            let f = super::super::registry().get(name).expect("registered");
            let args = if name == "bcrypt" {
                vec![s("x")]
            } else {
                vec![]
            };
            let v = super::super::call(f, &ctx, args).expect("unknown");
            assert!(!v.is_known());
            assert_eq!(v.ty(), Type::String);
        }
    }

    #[test]
    fn uuid_v4() {
        let a = ok("uuid", vec![]);
        let b = ok("uuid", vec![]);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn uuid_v5_like_terraform() {
        let id = "05b16a01-46c6-56dd-bd6e-c6dfb4a1427a";
        assert_eq!(ok("uuidv5", vec![s("dns"), s("x")]), id);
        assert_eq!(
            ok("uuidv5", vec![s("url"), s("x")]),
            "4cd605e7-afa2-5360-b5b9-c5e9fb5c76f4"
        );
        assert_eq!(
            ok("uuidv5", vec![s("oid"), s("")]),
            "0a68eb57-c88a-5f34-9e9d-27f85e68af4f"
        );
        assert_eq!(
            ok("uuidv5", vec![s("x500"), s("é")]),
            "d13e05fb-cfd5-575b-8154-f5979b02b254"
        );
        for ns in [
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}",
            "x6ba7b810-9dad-11d1-80b4-00c04fd430c8y",
            "urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "6ba7b8109dad11d180b400c04fd430c8",
            "6BA7B810-9DAD-11D1-80B4-00C04FD430C8",
        ] {
            assert_eq!(ok("uuidv5", vec![s(ns), s("x")]), id, "{ns}");
        }
        assert_eq!(
            err("uuidv5", vec![s("DNS"), s("x")]),
            "uuidv5() doesn't support namespace DNS (invalid UUID length: 3)."
        );
        assert_eq!(
            err("uuidv5", vec![s("6ba7b810-9dad-11d1-80b4-00c04fd430cx"), s("x")]),
            "uuidv5() doesn't support namespace 6ba7b810-9dad-11d1-80b4-00c04fd430cx (invalid UUID format)."
        );
        assert_eq!(
            err("uuidv5", vec![s("urn:uuix:6ba7b810-9dad-11d1-80b4-00c04fd430c8"), s("x")]),
            "uuidv5() doesn't support namespace urn:uuix:6ba7b810-9dad-11d1-80b4-00c04fd430c8 (invalid urn prefix: \"urn:uuix:\")."
        );
    }

    #[test]
    fn rsadecrypt_is_a_known_gap() {
        assert_eq!(
            err("rsadecrypt", vec![s("x"), s("y")]),
            "Invalid value for \"ciphertext\" parameter: failed to decode input \"x\": cipher text must be base64-encoded."
        );
        assert_eq!(
            err("rsadecrypt", vec![s("eA=="), s("y")]),
            "rsadecrypt is not supported by Baton yet."
        );
    }
}
