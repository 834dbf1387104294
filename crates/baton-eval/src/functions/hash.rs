//! The hash and crypto functions of Terraform's library: `md5`, `sha1`, `sha256`, `sha512`,
//! `base64sha256`, `base64sha512`, their `file*` variants, `bcrypt`, `uuid`, `uuidv5`, and
//! `rsadecrypt` (PKCS #1 v1.5 over PKCS #1, PKCS #8 and OpenSSH keys, see `rsa_key`).
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

// ----- rsadecrypt -----

/// `rsadecrypt(ciphertext, privatekey)`: Terraform decodes the ciphertext with Go's
/// `base64.StdEncoding`, reads the key with `ssh.ParseRawPrivateKey` (a PEM block holding a
/// PKCS #1, PKCS #8 or unencrypted OpenSSH key; EC and DSA keys parse but are refused as
/// not RSA) and decrypts with `rsa.DecryptPKCS1v15`. The errors are Terraform's, including
/// Go's `encoding/asn1` messages for malformed keys.
fn rsadecrypt(_: &FnCtx<'_>, args: &[Value]) -> FnResult {
    let ciphertext = str_arg(args, 0)?;
    let key = str_arg(args, 1)?;
    let Some(ct) = go_b64_std_decode(ciphertext.as_bytes()) else {
        return Err(FnError::arg(
            0,
            format!(
                "Invalid value for \"ciphertext\" parameter: failed to decode input {}: cipher text must be base64-encoded.",
                go_quote(ciphertext.as_bytes())
            ),
        ));
    };
    let bad_key = |msg: String| {
        FnError::arg(
            1,
            format!("Invalid value for \"privatekey\" parameter: {msg}."),
        )
    };
    let rsa = match rsa_key::parse_raw_private_key(key.as_bytes()) {
        Ok(rsa_key::RawKey::Rsa(k)) => k,
        Ok(rsa_key::RawKey::Other(desc)) => {
            return Err(bad_key(format!("invalid private key type {desc}")))
        }
        Err(e) => return Err(bad_key(e.terraform_text())),
    };
    let out = rsa
        .decrypt_pkcs1v15(&ct)
        .ok_or_else(|| fail("failed to decrypt: crypto/rsa: decryption error"))?;
    Ok(Value::string(String::from_utf8_lossy(&out).into_owned()))
}

/// Go's `base64.StdEncoding.DecodeString`: padding required, `\r` and `\n` skipped,
/// non-zero trailing bits tolerated.
fn go_b64_std_decode(src: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let skip_nl = |si: &mut usize| {
        while *si < src.len() && (src[*si] == b'\n' || src[*si] == b'\r') {
            *si += 1;
        }
    };
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0usize;
    loop {
        let mut q = [0u32; 4];
        let mut j = 0usize;
        while j < 4 {
            skip_nl(&mut si);
            let Some(&c) = src.get(si) else {
                return if j == 0 { Some(out) } else { None };
            };
            si += 1;
            if let Some(v) = val(c) {
                q[j] = v;
                j += 1;
                continue;
            }
            if c != b'=' || j < 2 {
                return None;
            }
            if j == 2 {
                skip_nl(&mut si);
                if src.get(si) != Some(&b'=') {
                    return None;
                }
                si += 1;
            }
            skip_nl(&mut si);
            if si < src.len() {
                return None;
            }
            let n = (q[0] << 18) | (q[1] << 12) | (q[2] << 6) | q[3];
            let bytes = n.to_be_bytes();
            out.extend_from_slice(&bytes[1..j]);
            return Some(out);
        }
        let n = (q[0] << 18) | (q[1] << 12) | (q[2] << 6) | q[3];
        out.extend_from_slice(&n.to_be_bytes()[1..]);
    }
}

/// Private keys as Go's `ssh.ParseRawPrivateKey` reads them, with Go's error texts.
mod rsa_key {
    use num_bigint::{BigInt, BigUint, Sign};
    use num_traits::{One, Signed, Zero};

    /// An RSA private key, validated as Go's `rsa.PrivateKey.Validate` does.
    pub(super) struct RsaKey {
        n: BigUint,
        d: BigUint,
    }

    pub(super) enum RawKey {
        Rsa(RsaKey),
        /// A key of another kind, described for the error message.
        Other(String),
    }

    /// How Terraform reports a key that does not parse.
    pub(super) enum KeyError {
        Asn1Syntax(String),
        Asn1Structural(String),
        Other(String),
    }

    impl KeyError {
        pub(super) fn terraform_text(&self) -> String {
            match self {
                KeyError::Asn1Syntax(m) => {
                    format!("invalid ASN1 data in the given private key: {m}")
                }
                // Terraform means to rewrite these too, but misspells the text it replaces.
                KeyError::Asn1Structural(m) => format!("asn1: structure error: {m}"),
                KeyError::Other(m) => format!("invalid private key: {m}"),
            }
        }
    }

    fn other(m: impl Into<String>) -> KeyError {
        KeyError::Other(m.into())
    }

    /// An `encoding/asn1` error turned into the plain error text another package wraps.
    fn asn1_text(e: &KeyError) -> String {
        match e {
            KeyError::Asn1Syntax(m) => format!("asn1: syntax error: {m}"),
            KeyError::Asn1Structural(m) => format!("asn1: structure error: {m}"),
            KeyError::Other(m) => m.clone(),
        }
    }

    impl RsaKey {
        /// `rsa.DecryptPKCS1v15`; `None` is Go's `ErrDecryption`.
        pub(super) fn decrypt_pkcs1v15(&self, ct: &[u8]) -> Option<Vec<u8>> {
            let k = usize::try_from(self.n.bits().div_ceil(8)).ok()?;
            if k < 11 {
                return None;
            }
            // bigmod refuses more bytes than the modulus' 64-bit limbs hold, then c ≥ N.
            let limb_bytes = usize::try_from(self.n.bits().div_ceil(64)).ok()? * 8;
            if ct.len() > limb_bytes {
                return None;
            }
            let c = BigUint::from_bytes_be(ct);
            if c >= self.n {
                return None;
            }
            let m = c.modpow(&self.d, &self.n).to_bytes_be();
            if m.len() > k {
                return None;
            }
            let mut em = vec![0u8; k - m.len()];
            em.extend_from_slice(&m);
            if em[0] != 0 || em[1] != 2 {
                return None;
            }
            let index = em.iter().skip(2).position(|&b| b == 0)? + 2;
            if index < 10 {
                return None;
            }
            Some(em[index + 1..].to_vec())
        }
    }

    // ----- PEM -----

    struct Block {
        typ: String,
        headers: Vec<(String, String)>,
        bytes: Vec<u8>,
    }

    impl Block {
        fn header(&self, key: &str) -> Option<&str> {
            self.headers
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        }
    }

    /// Go's `getLine`: up to the next `\n`, right-trimmed of spaces, tabs and `\r`.
    fn get_line(data: &[u8]) -> (&[u8], &[u8]) {
        let (line, rest) = match data.iter().position(|&b| b == b'\n') {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (data, &data[data.len()..]),
        };
        let mut end = line.len();
        while end > 0 && matches!(line[end - 1], b' ' | b'\t' | b'\r') {
            end -= 1;
        }
        (&line[..end], rest)
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    /// Go's `pem.Decode`: the first well-formed block, or `None`.
    fn pem_decode(data: &[u8]) -> Option<Block> {
        const START: &[u8] = b"\n-----BEGIN ";
        const END: &[u8] = b"\n-----END ";
        const EOL: &[u8] = b"-----";
        let mut rest = data;
        loop {
            if rest.starts_with(&START[1..]) {
                rest = &rest[START.len() - 1..];
            } else if let Some(i) = find(rest, START) {
                rest = &rest[i + START.len()..];
            } else {
                return None;
            }
            let (type_line, r) = get_line(rest);
            rest = r;
            let Some(typ) = type_line.strip_suffix(EOL) else {
                continue;
            };
            let mut headers = Vec::new();
            loop {
                if rest.is_empty() {
                    return None;
                }
                let (line, next) = get_line(rest);
                let Some(colon) = line.iter().position(|&b| b == b':') else {
                    break;
                };
                let key = String::from_utf8_lossy(line[..colon].trim_ascii()).into_owned();
                let val = String::from_utf8_lossy(line[colon + 1..].trim_ascii()).into_owned();
                headers.push((key, val));
                rest = next;
            }
            let (end_index, trailer_index) = if headers.is_empty() && rest.starts_with(&END[1..]) {
                (0, END.len() - 1)
            } else {
                match find(rest, END) {
                    Some(i) => (i, i + END.len()),
                    None => continue,
                }
            };
            let trailer = &rest[trailer_index..];
            let trailer_len = typ.len() + EOL.len();
            if trailer.len() < trailer_len {
                continue;
            }
            let (end_trailer, rest_of_line) = trailer.split_at(trailer_len);
            if !end_trailer.starts_with(typ) || !end_trailer.ends_with(EOL) {
                continue;
            }
            if !get_line(rest_of_line).0.is_empty() {
                continue;
            }
            let b64: Vec<u8> = rest[..end_index]
                .iter()
                .copied()
                .filter(|&b| b != b' ' && b != b'\t')
                .collect();
            let Some(bytes) = super::go_b64_std_decode(&b64) else {
                continue;
            };
            return Some(Block {
                typ: String::from_utf8_lossy(typ).into_owned(),
                headers,
                bytes,
            });
        }
    }

    /// `ssh.ParseRawPrivateKey`.
    pub(super) fn parse_raw_private_key(pem: &[u8]) -> Result<RawKey, KeyError> {
        let block = pem_decode(pem).ok_or_else(|| other("ssh: no key found"))?;
        if block
            .header("Proc-Type")
            .is_some_and(|v| v.contains("ENCRYPTED"))
        {
            return Err(other("ssh: this private key is passphrase protected"));
        }
        match block.typ.as_str() {
            "RSA PRIVATE KEY" => parse_pkcs1(&block.bytes).map(RawKey::Rsa),
            "PRIVATE KEY" => parse_pkcs8(&block.bytes),
            "EC PRIVATE KEY" => parse_ec(&block.bytes, None).map(|()| ec_key()),
            "DSA PRIVATE KEY" => parse_dsa(&block.bytes),
            "OPENSSH PRIVATE KEY" => parse_openssh(&block.bytes),
            t => Err(other(format!(
                "ssh: unsupported key type {}",
                super::go_quote(t.as_bytes())
            ))),
        }
    }

    fn ec_key() -> RawKey {
        RawKey::Other("*ecdsa.PrivateKey".into())
    }

    // ----- DER, as Go's encoding/asn1 reads it -----

    const SEQUENCE: u32 = 16;
    const INTEGER: u32 = 2;
    const OCTET_STRING: u32 = 4;
    const OID: u32 = 6;
    const BIT_STRING: u32 = 3;
    /// `%+v` of the default `fieldParameters`, which Go prints in "tags don't match".
    const PARAMS: &str = "{optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> stringType:0 timeType:0 set:false omitEmpty:false}";

    fn syntax(m: &str) -> KeyError {
        KeyError::Asn1Syntax(m.into())
    }
    fn structural(m: impl Into<String>) -> KeyError {
        KeyError::Asn1Structural(m.into())
    }

    /// Go's `parseBase128Int`: at most 5 bytes, minimally encoded, within `i32`.
    fn base128(b: &[u8], mut off: usize) -> Result<(u32, usize), KeyError> {
        let mut v: u64 = 0;
        let mut shifted = 0;
        while let Some(&c) = b.get(off) {
            if shifted == 5 {
                return Err(structural("base 128 integer too large"));
            }
            if shifted == 0 && c == 0x80 {
                return Err(syntax("integer is not minimally encoded"));
            }
            v = (v << 7) | u64::from(c & 0x7f);
            off += 1;
            shifted += 1;
            if c & 0x80 == 0 {
                return u32::try_from(v)
                    .ok()
                    .filter(|&v| v <= i32::MAX as u32)
                    .map(|v| (v, off))
                    .ok_or_else(|| structural("base 128 integer too large"));
            }
        }
        Err(syntax("truncated base 128 integer"))
    }

    struct TagLen {
        class: u8,
        tag: u32,
        length: usize,
        compound: bool,
    }

    fn parse_tag_len(b: &[u8], mut off: usize) -> Result<(TagLen, usize), KeyError> {
        let first = *b
            .get(off)
            .ok_or_else(|| other("asn1: internal error in parseTagAndLength"))?;
        off += 1;
        let mut t = TagLen {
            class: first >> 6,
            tag: u32::from(first & 0x1f),
            length: 0,
            compound: first & 0x20 != 0,
        };
        if t.tag == 0x1f {
            let (v, next) = base128(b, off)?;
            off = next;
            t.tag = v;
            if t.tag < 0x1f {
                return Err(syntax("non-minimal tag"));
            }
        }
        let l = *b
            .get(off)
            .ok_or_else(|| syntax("truncated tag or length"))?;
        off += 1;
        if l & 0x80 == 0 {
            t.length = usize::from(l & 0x7f);
        } else {
            let n = l & 0x7f;
            if n == 0 {
                return Err(syntax("indefinite length found (not DER)"));
            }
            for _ in 0..n {
                let c = *b
                    .get(off)
                    .ok_or_else(|| syntax("truncated tag or length"))?;
                off += 1;
                if t.length >= 1 << 23 {
                    return Err(structural("length too large"));
                }
                t.length = (t.length << 8) | usize::from(c);
                if t.length == 0 {
                    return Err(structural("superfluous leading zeros in length"));
                }
            }
            if t.length < 0x80 {
                return Err(structural("non-minimal length"));
            }
        }
        Ok((t, off))
    }

    /// One element of the expected universal `tag`: its content and the next offset, or
    /// `None` for an absent optional element. `name` is the Go type name in messages.
    fn element<'a>(
        b: &'a [u8],
        off: usize,
        tag: u32,
        optional: bool,
        name: &str,
    ) -> Result<Option<(&'a [u8], usize)>, KeyError> {
        if off == b.len() {
            return if optional {
                Ok(None)
            } else {
                Err(syntax("sequence truncated"))
            };
        }
        let (t, start) = parse_tag_len(b, off)?;
        let compound = tag == SEQUENCE;
        if t.class != 0 || t.tag != tag || t.compound != compound {
            if optional {
                return Ok(None);
            }
            return Err(structural(format!(
                "tags don't match ({tag} vs {{class:{} tag:{} length:{} isCompound:{}}}) {PARAMS} {name} @{start}",
                t.class, t.tag, t.length, t.compound
            )));
        }
        let end = start
            .checked_add(t.length)
            .filter(|&e| e <= b.len())
            .ok_or_else(|| syntax("data truncated"))?;
        Ok(Some((&b[start..end], end)))
    }

    fn check_integer(c: &[u8]) -> Result<(), KeyError> {
        if c.is_empty() {
            return Err(structural("empty integer"));
        }
        if c.len() > 1 && ((c[0] == 0 && c[1] & 0x80 == 0) || (c[0] == 0xff && c[1] & 0x80 == 0x80))
        {
            return Err(structural("integer not minimally-encoded"));
        }
        Ok(())
    }

    fn int64_of(c: &[u8]) -> Result<i64, KeyError> {
        check_integer(c)?;
        if c.len() > 8 {
            return Err(structural("integer too large"));
        }
        let mut v: i64 = 0;
        for &b in c {
            v = (v << 8) | i64::from(b);
        }
        // Sign-extend.
        let shift = 64 - 8 * c.len() as u32;
        Ok(if shift == 64 {
            0
        } else {
            (v << shift) >> shift
        })
    }

    fn bigint_of(c: &[u8]) -> Result<BigInt, KeyError> {
        check_integer(c)?;
        Ok(BigInt::from_signed_bytes_be(c))
    }

    /// Reads consecutive fields of a SEQUENCE's content.
    struct Fields<'a> {
        b: &'a [u8],
        off: usize,
    }

    impl<'a> Fields<'a> {
        fn next(
            &mut self,
            tag: u32,
            optional: bool,
            name: &str,
        ) -> Result<Option<&'a [u8]>, KeyError> {
            match element(self.b, self.off, tag, optional, name)? {
                Some((c, end)) => {
                    self.off = end;
                    Ok(Some(c))
                }
                None => Ok(None),
            }
        }
        fn req(&mut self, tag: u32, name: &str) -> Result<&'a [u8], KeyError> {
            self.next(tag, false, name)?
                .ok_or_else(|| syntax("sequence truncated"))
        }
        fn int(&mut self) -> Result<i64, KeyError> {
            int64_of(self.req(INTEGER, "int")?)
        }
        fn big(&mut self) -> Result<BigInt, KeyError> {
            bigint_of(self.req(INTEGER, "")?)
        }
    }

    /// The top-level SEQUENCE of a structure named `name`, and what follows it.
    fn top<'a>(der: &'a [u8], name: &str) -> Result<(Fields<'a>, &'a [u8]), KeyError> {
        let (content, end) =
            element(der, 0, SEQUENCE, false, name)?.ok_or_else(|| syntax("sequence truncated"))?;
        Ok((Fields { b: content, off: 0 }, &der[end..]))
    }

    struct Pkcs1 {
        version: i64,
        n: BigInt,
        e: i64,
        d: BigInt,
        primes: Vec<BigInt>,
    }

    fn unmarshal_pkcs1(der: &[u8]) -> Result<(Pkcs1, &[u8]), KeyError> {
        let (mut f, rest) = top(der, "pkcs1PrivateKey")?;
        let version = f.int()?;
        let n = f.big()?;
        let e = f.int()?;
        let d = f.big()?;
        let p = f.big()?;
        let q = f.big()?;
        for _ in 0..3 {
            if let Some(c) = f.next(INTEGER, true, "")? {
                bigint_of(c)?;
            }
        }
        let mut primes = vec![p, q];
        if let Some(seq) = f.next(SEQUENCE, true, "")? {
            let mut items = Fields { b: seq, off: 0 };
            while items.off < seq.len() {
                let c = items.req(SEQUENCE, "pkcs1AdditionalRSAPrime")?;
                let mut g = Fields { b: c, off: 0 };
                let prime = g.big()?;
                g.big()?;
                g.big()?;
                primes.push(prime);
            }
        }
        Ok((
            Pkcs1 {
                version,
                n,
                e,
                d,
                primes,
            },
            rest,
        ))
    }

    /// An `ecPrivateKey`: version, private key bytes and the curve, if named.
    type EcKey<'a> = (i64, &'a [u8], Option<Vec<u64>>);

    fn unmarshal_ec(der: &[u8]) -> Result<EcKey<'_>, KeyError> {
        let (mut f, _) = top(der, "ecPrivateKey")?;
        let version = f.int()?;
        let private = f.req(OCTET_STRING, "")?;
        let mut curve = None;
        // [0] EXPLICIT OBJECT IDENTIFIER, [1] EXPLICIT BIT STRING, both optional.
        for (ctx_tag, inner) in [(0u32, OID), (1, BIT_STRING)] {
            if f.off == f.b.len() {
                break;
            }
            let (t, start) = parse_tag_len(f.b, f.off)?;
            if t.class != 2 || t.tag != ctx_tag || !t.compound {
                continue;
            }
            let end = start
                .checked_add(t.length)
                .filter(|&e| e <= f.b.len())
                .ok_or_else(|| syntax("data truncated"))?;
            let (c, _) = element(&f.b[start..end], 0, inner, false, "")?
                .ok_or_else(|| syntax("sequence truncated"))?;
            if inner == OID {
                curve = Some(oid_of(c)?);
            }
            f.off = end;
        }
        Ok((version, private, curve))
    }

    /// Go's `parseObjectIdentifier`.
    fn oid_of(c: &[u8]) -> Result<Vec<u64>, KeyError> {
        if c.is_empty() {
            return Err(syntax("zero length OBJECT IDENTIFIER"));
        }
        let (first, mut off) = base128(c, 0)?;
        let first = u64::from(first);
        let mut parts = if first < 80 {
            vec![first / 40, first % 40]
        } else {
            vec![2, first - 80]
        };
        while off < c.len() {
            let (v, next) = base128(c, off)?;
            parts.push(u64::from(v));
            off = next;
        }
        Ok(parts)
    }

    struct Pkcs8<'a> {
        algorithm: Vec<u64>,
        /// The algorithm's parameters (any DER), possibly empty.
        params: &'a [u8],
        key: &'a [u8],
    }

    fn unmarshal_pkcs8(der: &[u8]) -> Result<Pkcs8<'_>, KeyError> {
        let (mut f, _) = top(der, "pkcs8")?;
        f.int()?;
        let algo = f.req(SEQUENCE, "AlgorithmIdentifier")?;
        let mut a = Fields { b: algo, off: 0 };
        let algorithm = oid_of(a.req(OID, "ObjectIdentifier")?)?;
        let params = &algo[a.off..];
        if !params.is_empty() {
            // Optional ANY: its header must still fit.
            let (t, start) = parse_tag_len(algo, a.off)?;
            start
                .checked_add(t.length)
                .filter(|&e| e <= algo.len())
                .ok_or_else(|| syntax("data truncated"))?;
        }
        let key = f.req(OCTET_STRING, "")?;
        Ok(Pkcs8 {
            algorithm,
            params,
            key,
        })
    }

    /// `x509.ParsePKCS1PrivateKey`.
    fn parse_pkcs1(der: &[u8]) -> Result<RsaKey, KeyError> {
        let key = match unmarshal_pkcs1(der) {
            Ok((_, rest)) if !rest.is_empty() => return Err(syntax("trailing data")),
            Ok((k, _)) => k,
            Err(e) => {
                if unmarshal_ec(der).is_ok() {
                    return Err(other("x509: failed to parse private key (use ParseECPrivateKey instead for this key format)"));
                }
                if unmarshal_pkcs8(der).is_ok() {
                    return Err(other("x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)"));
                }
                return Err(e);
            }
        };
        if key.version > 1 {
            return Err(other("x509: unsupported private key version"));
        }
        let positive = |x: &BigInt| x.sign() == Sign::Plus;
        if !positive(&key.n) || !positive(&key.d) || !key.primes[..2].iter().all(positive) {
            return Err(other("x509: private key contains zero or negative value"));
        }
        if !key.primes.iter().all(positive) {
            return Err(other("x509: private key contains zero or negative prime"));
        }
        validate(&key.n, key.e, &key.d, &key.primes)
    }

    /// `rsa.PrivateKey.Validate`.
    fn validate(n: &BigInt, e: i64, d: &BigInt, primes: &[BigInt]) -> Result<RsaKey, KeyError> {
        if e < 2 {
            return Err(other("crypto/rsa: public exponent too small"));
        }
        if e > i64::from(i32::MAX) {
            return Err(other("crypto/rsa: public exponent too large"));
        }
        let mut modulus = BigInt::one();
        for p in primes {
            if *p <= BigInt::one() {
                return Err(other("crypto/rsa: invalid prime value"));
            }
            modulus *= p;
        }
        if modulus != *n {
            return Err(other("crypto/rsa: invalid modulus"));
        }
        let de = BigInt::from(e) * d;
        for p in primes {
            let pm1 = p - BigInt::one();
            // Go's Mod is Euclidean (never negative).
            let mut c = &de % &pm1;
            if c.is_negative() {
                c += &pm1;
            }
            if !c.is_one() {
                return Err(other("crypto/rsa: invalid exponents"));
            }
        }
        match (n.to_biguint(), d.to_biguint()) {
            (Some(n), Some(d)) if !n.is_zero() => Ok(RsaKey { n, d }),
            _ => Err(other("crypto/rsa: invalid modulus")),
        }
    }

    fn dotted(oid: &[u64]) -> String {
        oid.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
    }

    /// `x509.ParsePKCS8PrivateKey`.
    fn parse_pkcs8(der: &[u8]) -> Result<RawKey, KeyError> {
        let p = match unmarshal_pkcs8(der) {
            Ok(p) => p,
            Err(e) => {
                if unmarshal_ec(der).is_ok() {
                    return Err(other("x509: failed to parse private key (use ParseECPrivateKey instead for this key format)"));
                }
                if unmarshal_pkcs1(der).is_ok() {
                    return Err(other("x509: failed to parse private key (use ParsePKCS1PrivateKey instead for this key format)"));
                }
                return Err(e);
            }
        };
        match p.algorithm.as_slice() {
            [1, 2, 840, 113549, 1, 1, 1] => parse_pkcs1(p.key).map(RawKey::Rsa).map_err(|e| {
                other(format!(
                    "x509: failed to parse RSA private key embedded in PKCS#8: {}",
                    asn1_text(&e)
                ))
            }),
            [1, 2, 840, 10045, 2, 1] => {
                // The curve named by the algorithm's parameters, if they are an OID.
                let named = element(p.params, 0, OID, false, "")
                    .ok()
                    .flatten()
                    .and_then(|(c, _)| oid_of(c).ok());
                parse_ec(p.key, named).map(|()| ec_key()).map_err(|e| {
                    other(format!(
                        "x509: failed to parse EC private key embedded in PKCS#8: {}",
                        asn1_text(&e)
                    ))
                })
            }
            [1, 3, 101, 112] => {
                if !p.params.is_empty() {
                    return Err(other("x509: invalid Ed25519 private key parameters"));
                }
                let (seed, _) = element(p.key, 0, OCTET_STRING, false, "")
                    .and_then(|x| x.ok_or_else(|| syntax("sequence truncated")))
                    .map_err(|e| {
                        other(format!(
                            "x509: invalid Ed25519 private key: {}",
                            asn1_text(&e)
                        ))
                    })?;
                if seed.len() != 32 {
                    return Err(other(format!(
                        "x509: invalid Ed25519 private key length: {}",
                        seed.len()
                    )));
                }
                Ok(RawKey::Other("ed25519.PrivateKey".into()))
            }
            [1, 3, 101, 110] => Ok(RawKey::Other("*ecdh.PrivateKey".into())),
            oid => Err(other(format!(
                "x509: PKCS#8 wrapping contained private key with unknown algorithm: {}",
                dotted(oid)
            ))),
        }
    }

    /// `x509.ParseECPrivateKey`, as far as it can fail. In PKCS #8 the curve named by the
    /// algorithm's parameters (`named`) comes first.
    fn parse_ec(der: &[u8], named: Option<Vec<u64>>) -> Result<(), KeyError> {
        let (version, private, curve) = match unmarshal_ec(der) {
            Ok(x) => x,
            Err(e) => {
                if unmarshal_pkcs8(der).is_ok() {
                    return Err(other("x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)"));
                }
                if unmarshal_pkcs1(der).is_ok() {
                    return Err(other("x509: failed to parse private key (use ParsePKCS1PrivateKey instead for this key format)"));
                }
                return Err(other(format!(
                    "x509: failed to parse EC private key: {}",
                    asn1_text(&e)
                )));
            }
        };
        if version != 1 {
            return Err(other(format!(
                "x509: unknown EC private key version {version}"
            )));
        }
        // The curves' orders (P-224, P-256, P-384, P-521).
        let order = match named.or(curve).as_deref() {
            Some([1, 3, 132, 0, 33]) => "ffffffffffffffffffffffffffff16a2e0b8f03e13dd29455c5c2a3d",
            Some([1, 2, 840, 10045, 3, 1, 7]) => {
                "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"
            }
            Some([1, 3, 132, 0, 34]) => "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
            Some([1, 3, 132, 0, 35]) => "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
            _ => return Err(other("x509: unknown elliptic curve")),
        };
        let n = BigUint::parse_bytes(order.as_bytes(), 16).unwrap_or_default();
        if BigUint::from_bytes_be(private) >= n {
            return Err(other("x509: invalid elliptic curve private key value"));
        }
        let size = usize::try_from(n.bits().div_ceil(8)).unwrap_or(usize::MAX);
        let mut key = private;
        while key.len() > size {
            if key[0] != 0 {
                return Err(other("x509: invalid private key length"));
            }
            key = &key[1..];
        }
        Ok(())
    }

    /// `ssh.ParseDSAPrivateKey`.
    fn parse_dsa(der: &[u8]) -> Result<RawKey, KeyError> {
        let parsed = top(der, "").and_then(|(mut f, rest)| {
            f.int()?;
            for _ in 0..5 {
                f.big()?;
            }
            Ok(rest)
        });
        match parsed {
            Err(e) => Err(other(format!(
                "ssh: failed to parse DSA key: {}",
                asn1_text(&e)
            ))),
            Ok(rest) if !rest.is_empty() => Err(other("ssh: garbage after DSA key")),
            Ok(_) => Ok(RawKey::Other("*dsa.PrivateKey".into())),
        }
    }

    // ----- OpenSSH -----

    const SHORT_READ: &str = "ssh: short read";
    const PARSE_ERROR: &str = "ssh: parse error in message type 0";

    /// The SSH wire format of `ssh.Unmarshal`.
    struct Wire<'a>(&'a [u8]);

    impl<'a> Wire<'a> {
        fn start(data: &'a [u8]) -> Result<Wire<'a>, KeyError> {
            if data.is_empty() {
                return Err(other(PARSE_ERROR));
            }
            Ok(Wire(data))
        }
        fn u32(&mut self) -> Result<u32, KeyError> {
            if self.0.len() < 4 {
                return Err(other(SHORT_READ));
            }
            let (h, t) = self.0.split_at(4);
            self.0 = t;
            Ok(u32::from_be_bytes([h[0], h[1], h[2], h[3]]))
        }
        fn string(&mut self) -> Result<&'a [u8], KeyError> {
            let n = usize::try_from(self.u32()?).unwrap_or(usize::MAX);
            if self.0.len() < n {
                return Err(other(SHORT_READ));
            }
            let (h, t) = self.0.split_at(n);
            self.0 = t;
            Ok(h)
        }
        /// A `string` field of struct `ty` (Go reports those by name).
        fn text(&mut self, field: &str, ty: &str) -> Result<&'a [u8], KeyError> {
            self.string().map_err(|_| {
                other(format!(
                    "ssh: unmarshal error for field {field} of type {ty}"
                ))
            })
        }
        fn mpint(&mut self) -> Result<BigInt, KeyError> {
            let b = self.string()?;
            Ok(BigInt::from_signed_bytes_be(b))
        }
        fn rest(&mut self) -> &'a [u8] {
            std::mem::take(&mut self.0)
        }
        fn end(&self) -> Result<(), KeyError> {
            if self.0.is_empty() {
                Ok(())
            } else {
                Err(other(PARSE_ERROR))
            }
        }
    }

    fn check_padding(pad: &[u8]) -> Result<(), KeyError> {
        for (i, &b) in pad.iter().enumerate() {
            if usize::from(b) != i + 1 {
                return Err(other("ssh: padding not as expected"));
            }
        }
        Ok(())
    }

    /// `parseOpenSSHPrivateKey` with `unencryptedOpenSSHKey`.
    fn parse_openssh(key: &[u8]) -> Result<RawKey, KeyError> {
        const MAGIC: &[u8] = b"openssh-key-v1\0";
        let Some(rest) = key.strip_prefix(MAGIC) else {
            return Err(other("ssh: invalid openssh private key format"));
        };
        const ENCRYPTED: &str = "openSSHEncryptedPrivateKey";
        let mut w = Wire::start(rest)?;
        let cipher = w.text("CipherName", ENCRYPTED)?;
        let kdf = w.text("KdfName", ENCRYPTED)?;
        let kdf_opts = w.text("KdfOpts", ENCRYPTED)?;
        let num_keys = w.u32()?;
        w.string()?;
        let block = w.string()?;
        w.end()?;
        if num_keys != 1 {
            return Err(other("ssh: multi-key files are not supported"));
        }
        if kdf != b"none" || cipher != b"none" {
            return Err(other("ssh: this private key is passphrase protected"));
        }
        if !kdf_opts.is_empty() {
            return Err(other("ssh: invalid openssh private key"));
        }
        let malformed = || other("ssh: malformed OpenSSH key");
        let mut pk = Wire::start(block).map_err(|_| malformed())?;
        let check1 = pk.u32().map_err(|_| malformed())?;
        let check2 = pk.u32().map_err(|_| malformed())?;
        let keytype = pk.string().map_err(|_| malformed())?;
        let body = pk.rest();
        if check1 != check2 {
            return Err(malformed());
        }
        match keytype {
            b"ssh-rsa" => {
                let mut k = Wire::start(body)?;
                let n = k.mpint()?;
                let e = k.mpint()?;
                let d = k.mpint()?;
                k.mpint()?;
                let p = k.mpint()?;
                let q = k.mpint()?;
                k.text("Comment", "")?;
                check_padding(k.rest())?;
                // Go takes `int(E.Int64())`: the low 64 bits, two's complement.
                let e = {
                    let (sign, digits) = e.to_u64_digits();
                    let low = digits.first().copied().unwrap_or(0);
                    let v = low as i64;
                    if sign == Sign::Minus {
                        v.wrapping_neg()
                    } else {
                        v
                    }
                };
                validate(&n, e, &d, &[p, q]).map(RawKey::Rsa)
            }
            b"ssh-ed25519" => {
                let mut k = Wire::start(body)?;
                k.string()?;
                let private = k.string()?;
                k.text("Comment", "")?;
                if private.len() != 64 {
                    return Err(other("ssh: private key unexpected length"));
                }
                check_padding(k.rest())?;
                let bytes: Vec<String> =
                    private.iter().map(|b| format!("%!t(uint8={b})")).collect();
                Ok(RawKey::Other(format!("&[{}]", bytes.join(" "))))
            }
            b"ecdsa-sha2-nistp256" | b"ecdsa-sha2-nistp384" | b"ecdsa-sha2-nistp521" => {
                Ok(ec_key())
            }
            _ => Err(other("ssh: unhandled key type")),
        }
    }
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
            plan_timestamp: None,
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

    const PKCS1: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIICXAIBAAKBgQC049+rWJAeO4ef0hds7HsZqLeFJ31ed3kA4XKQkn34AGFNRdm0\n94BEngL3oa5S07oZf76NaTlhzaIZ1rDj90G4ZwBP1W4rUT5TQrIW/DEgLCfKx4P5\ngSplFRT/nxnwuAAIGzlVP3eNlNes68RsYyf8zaewHeJjAoa1hU5MrlPczwIDAQAB\nAoGAFuw9nugVM0+V60HjaBE7tE+2GfCcKYl4Uw0+yGVYA0KBEhrE8PLgVVG0zI63\nmZVtIugWTLNF60f0v9N+DRV7RV1Z5YnkLAfr/dnM6hWcAPHSULv1yyNWq9KK8HzH\n+gIEg2AD62/NeH1snpfV8jH3hIZ42qzssEK5npPUQ7uL0eECQQDlPltvYmnLU/9b\nic0jySptPzsc1MiW7ucWKrp4cSp6BP9gnqiAIhG76tXK/CY1C08uhoyJE0Jo6yhg\nmpQLfO3fAkEAygC/imW0gxwOHzwkp4vKyAZKPaQHi0RdYGP3LEFNUQuLSVhDpLRC\n0yBwxpKDxVEIzTtOAMbz+9mXpAtO2egPEQJAMZnAZuVARsIx6jhyrl+EUobv31ka\n3a1rSpyMJCs4KZaTOvCZPMAiXip9f6H3ElsUEtkB51bHc7QN1Hkdty6cuQJBAI49\noKKPo2B/LOKJszXXld7rrvNgwX8rkKUDP1WGVi8vddEbueYMmNGaEk+BdBBJU21Q\nyUh6z+sT+VemLsv6QEECQFrpIP9XD+zF22LmqDPMBeyHEvK+JRxtAYJebP3/6hnf\nTf3NoN32OJsJhXBm4pIHa1NFh6pa4i/QOn4tEpC48kM=\n-----END RSA PRIVATE KEY-----\n";
    const PKCS8: &str = "-----BEGIN PRIVATE KEY-----\nMIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBALTj36tYkB47h5/S\nF2zsexmot4UnfV53eQDhcpCSffgAYU1F2bT3gESeAvehrlLTuhl/vo1pOWHNohnW\nsOP3QbhnAE/VbitRPlNCshb8MSAsJ8rHg/mBKmUVFP+fGfC4AAgbOVU/d42U16zr\nxGxjJ/zNp7Ad4mMChrWFTkyuU9zPAgMBAAECgYAW7D2e6BUzT5XrQeNoETu0T7YZ\n8JwpiXhTDT7IZVgDQoESGsTw8uBVUbTMjreZlW0i6BZMs0XrR/S/034NFXtFXVnl\nieQsB+v92czqFZwA8dJQu/XLI1ar0orwfMf6AgSDYAPrb814fWyel9XyMfeEhnja\nrOywQrmek9RDu4vR4QJBAOU+W29iactT/1uJzSPJKm0/OxzUyJbu5xYqunhxKnoE\n/2CeqIAiEbvq1cr8JjULTy6GjIkTQmjrKGCalAt87d8CQQDKAL+KZbSDHA4fPCSn\ni8rIBko9pAeLRF1gY/csQU1RC4tJWEOktELTIHDGkoPFUQjNO04AxvP72ZekC07Z\n6A8RAkAxmcBm5UBGwjHqOHKuX4RShu/fWRrdrWtKnIwkKzgplpM68Jk8wCJeKn1/\nofcSWxQS2QHnVsdztA3UeR23Lpy5AkEAjj2goo+jYH8s4omzNdeV3uuu82DBfyuQ\npQM/VYZWLy910Ru55gyY0ZoST4F0EElTbVDJSHrP6xP5V6Yuy/pAQQJAWukg/1cP\n7MXbYuaoM8wF7IcS8r4lHG0Bgl5s/f/qGd9N/c2g3fY4mwmFcGbikgdrU0WHqlri\nL9A6fi0SkLjyQw==\n-----END PRIVATE KEY-----\n";
    const OPENSSH_RSA: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAlwAAAAdzc2gtcn\nNhAAAAAwEAAQAAAIEAv8CF1dowbQTttqaipMxYmU60DAPBBdjdvzqbW5cijC+5atUox80X\nXnWdV9P3ZftEobuFQYpxjHkefBvX7+kXSQPI10MK1bD1xhFpyEginAf3mQaaTpQSWsUBR7\nx+0B7tY81vpWqyVt68D2QhkplWI3HZ2XYEpPNH9k3f8wDvsp0AAAIAMd4B1jHeAdYAAAAH\nc3NoLXJzYQAAAIEAv8CF1dowbQTttqaipMxYmU60DAPBBdjdvzqbW5cijC+5atUox80XXn\nWdV9P3ZftEobuFQYpxjHkefBvX7+kXSQPI10MK1bD1xhFpyEginAf3mQaaTpQSWsUBR7x+\n0B7tY81vpWqyVt68D2QhkplWI3HZ2XYEpPNH9k3f8wDvsp0AAAADAQABAAAAgQC0IKqYpY\npwHv0fY5HNtZhVC7Xew3gDgiFsjiV6+JKflgVb8jmI14RoW5we8SOqTUu/kmQvmVnpV63n\ncFB9Mj2H2yh/H9RlOb7+CxBlxxs3+uxe8cmQB3Ad69mM2/ilgR/j5u3YVwMIwqoXdWHdAB\nUQ/JdlvV0QuQDvcHUwEA68AQAAAEA1sqEhx1vz4MlAbWCwIOqiYzmUfmTZjo0KwULg9MlF\nS1z1pN9SlBjvmfubq3r6ok99B3ifVNJToXi85T7yteZTAAAAQQD0JlptKsCoS9ENKoRl2F\nnAwSeY/csbg6+fgM7gCRPchp2uj7V/1lhtMkwvUjXPBSEDddiLwm6/23Ejjq9bqvvdAAAA\nQQDJDxvhOJlf3s0jdRHaiO+rV6sRy2lNiyL889pbqd+/PmJtPh3nhMmcFyKQ5uevaYFvRU\nXF3tH+lx2eVKe9BoXBAAAAB3Jvb3RAdm0BAgM=\n-----END OPENSSH PRIVATE KEY-----\n";
    const OPENSSH_ED25519: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACAAGV1ef8jxDLQR4TpnqMSU5JbgQD6RiChdBaakKhkITgAAAJDH0Sgwx9Eo\nMAAAAAtzc2gtZWQyNTUxOQAAACAAGV1ef8jxDLQR4TpnqMSU5JbgQD6RiChdBaakKhkITg\nAAAECrzAzwY1sAn4XZ9sM+ZSqgdEjV5sejxNy64HeJqHKm9QAZXV5/yPEMtBHhOmeoxJTk\nluBAPpGIKF0FpqQqGQhOAAAAB3Jvb3RAdm0BAgMEBQY=\n-----END OPENSSH PRIVATE KEY-----\n";
    const EC: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIJ5FSDCKE58Wb1qBf17QAx/BJx+n/klQSSzPn+Gp16pboAoGCCqGSM49\nAwEHoUQDQgAEx8/ErWXPBhNqfnZq9hy+g/hBtXcPR1He9H4ma8D/KV1C2v948cVl\nGhEr6YxLUmiMxxX+XTDuWjiS3yFy5xG2Ew==\n-----END EC PRIVATE KEY-----\n";
    const EC_PKCS8: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnkVIMIoTnxZvWoF/\nXtADH8EnH6f+SVBJLM+f4anXqluhRANCAATHz8StZc8GE2p+dmr2HL6D+EG1dw9H\nUd70fiZrwP8pXULa/3jxxWUaESvpjEtSaIzHFf5dMO5aOJLfIXLnEbYT\n-----END PRIVATE KEY-----\n";
    const CT1: &str = "ERIhxcYpvVXJTXffvpDHw/oHlHtQ5iuYLlXaQCnPi543CDp2i9Va2FYTjHiGFwmmLzI/IO5BSZXRNhZpdVBNRfetgYiIw+ikB0dZOCU2nHLdSEURD+VfnBGT8YjN/cxrZ0d98O+9Jx7iTXGKS++FggqlPbY7GAFbJMDUKdpnNYM=";
    const CT_SSH: &str = "G8IIs14RhdV7Sohb9558DYbKnwB5x6lTIeG6Llg7AkfXpwVNpIPW3fk1lVRVlx4bVcYRG/uK24zUs0h8CTfVlxAAqc/xzya6Ps/5WUoEIRe8VcKXL7qb6SOAEehFyK65Zah6sssvEM9CTANBQYxcCtcniwIJP+d0mUMGxd33pEo=";
    const ED25519_MESSAGE: &str = "Invalid value for \"privatekey\" parameter: invalid private key type &[%!t(uint8=171) %!t(uint8=204) %!t(uint8=12) %!t(uint8=240) %!t(uint8=99) %!t(uint8=91) %!t(uint8=0) %!t(uint8=159) %!t(uint8=133) %!t(uint8=217) %!t(uint8=246) %!t(uint8=195) %!t(uint8=62) %!t(uint8=101) %!t(uint8=42) %!t(uint8=160) %!t(uint8=116) %!t(uint8=72) %!t(uint8=213) %!t(uint8=230) %!t(uint8=199) %!t(uint8=163) %!t(uint8=196) %!t(uint8=220) %!t(uint8=186) %!t(uint8=224) %!t(uint8=119) %!t(uint8=137) %!t(uint8=168) %!t(uint8=114) %!t(uint8=166) %!t(uint8=245) %!t(uint8=0) %!t(uint8=25) %!t(uint8=93) %!t(uint8=94) %!t(uint8=127) %!t(uint8=200) %!t(uint8=241) %!t(uint8=12) %!t(uint8=180) %!t(uint8=17) %!t(uint8=225) %!t(uint8=58) %!t(uint8=103) %!t(uint8=168) %!t(uint8=196) %!t(uint8=148) %!t(uint8=228) %!t(uint8=150) %!t(uint8=224) %!t(uint8=64) %!t(uint8=62) %!t(uint8=145) %!t(uint8=136) %!t(uint8=40) %!t(uint8=93) %!t(uint8=5) %!t(uint8=166) %!t(uint8=164) %!t(uint8=42) %!t(uint8=25) %!t(uint8=8) %!t(uint8=78)].";

    /// The keys were made with `openssl genrsa -traditional 1024`, `openssl pkcs8 -topk8`,
    /// `ssh-keygen -t rsa -b 1024` and `ssh-keygen -t ed25519`; the ciphertexts with
    /// `openssl pkeyutl -encrypt` of "hello world". Expectations are Terraform 1.11's.
    #[test]
    fn rsadecrypt_decrypts_pkcs1_pkcs8_and_openssh_keys() {
        assert_eq!(ok("rsadecrypt", vec![s(CT1), s(PKCS1)]), "hello world");
        assert_eq!(ok("rsadecrypt", vec![s(CT1), s(PKCS8)]), "hello world");
        assert_eq!(
            ok("rsadecrypt", vec![s(CT_SSH), s(OPENSSH_RSA)]),
            "hello world"
        );
        // Text before the PEM block and a newline in the base64 are skipped, as in Go.
        let junk = format!("junk\n{PKCS1}");
        assert_eq!(
            ok("rsadecrypt", vec![s(&format!("{CT1}\n")), s(&junk)]),
            "hello world"
        );
    }

    #[test]
    fn rsadecrypt_errors() {
        let key_err = |ct: &str, key: &str| err("rsadecrypt", vec![s(ct), s(key)]);
        let p = "Invalid value for \"privatekey\" parameter: ";
        assert_eq!(
            key_err("aGk=x", PKCS1),
            "Invalid value for \"ciphertext\" parameter: failed to decode input \"aGk=x\": cipher text must be base64-encoded."
        );
        assert_eq!(
            key_err(CT1, "nope"),
            format!("{p}invalid private key: ssh: no key found.")
        );
        let dec = "failed to decrypt: crypto/rsa: decryption error.";
        assert_eq!(key_err(CT_SSH, PKCS1), dec);
        assert_eq!(key_err("aGl=", PKCS1), dec);
        assert_eq!(key_err("", PKCS1), dec);
        assert_eq!(
            key_err(CT1, &PKCS1.replace("RSA PRIVATE KEY", "PRIVATE KEY")),
            format!("{p}invalid private key: x509: failed to parse private key (use ParsePKCS1PrivateKey instead for this key format).")
        );
        assert_eq!(
            key_err(CT1, &PKCS8.replace("PRIVATE KEY", "RSA PRIVATE KEY")),
            format!("{p}invalid private key: x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format).")
        );
        assert_eq!(
            key_err(CT1, &EC.replace("EC PRIVATE KEY", "RSA PRIVATE KEY")),
            format!("{p}invalid private key: x509: failed to parse private key (use ParseECPrivateKey instead for this key format).")
        );
        let pem = |t: &str, body: &str| format!("-----BEGIN {t}-----\n{body}\n-----END {t}-----\n");
        let asn1 = |m: &str| format!("{p}invalid ASN1 data in the given private key: {m}.");
        assert_eq!(
            key_err(CT1, &pem("RSA PRIVATE KEY", "MAA=")),
            asn1("sequence truncated")
        );
        assert_eq!(
            key_err(CT1, &pem("RSA PRIVATE KEY", "MAUCAQA=")),
            asn1("data truncated")
        );
        assert_eq!(
            key_err(CT1, &pem("RSA PRIVATE KEY", "MAMCAQAA")),
            asn1("sequence truncated")
        );
        assert_eq!(
            key_err(CT1, &pem("PRIVATE KEY", "MAA=")),
            asn1("sequence truncated")
        );
        assert_eq!(
            key_err(CT1, &pem("RSA PRIVATE KEY", "aGVsbG8=")),
            format!("{p}asn1: structure error: tags don't match (16 vs {{class:1 tag:8 length:101 isCompound:true}}) {{optional:false explicit:false application:false private:false defaultValue:<nil> tag:<nil> stringType:0 timeType:0 set:false omitEmpty:false}} pkcs1PrivateKey @2.")
        );
        assert_eq!(
            key_err(CT1, &pem("EC PRIVATE KEY", "MAA=")),
            format!("{p}invalid private key: x509: failed to parse EC private key: asn1: syntax error: sequence truncated.")
        );
        assert_eq!(
            key_err(CT1, &pem("DSA PRIVATE KEY", "MAA=")),
            format!("{p}invalid private key: ssh: failed to parse DSA key: asn1: syntax error: sequence truncated.")
        );
        assert_eq!(
            key_err(CT1, &pem("FOO", "aGVsbG8=")),
            format!("{p}invalid private key: ssh: unsupported key type \"FOO\".")
        );
        assert_eq!(
            key_err(CT1, "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nMAA=\n-----END RSA PRIVATE KEY-----\n"),
            format!("{p}invalid private key: ssh: this private key is passphrase protected.")
        );
        assert_eq!(
            key_err(CT1, &pem("OPENSSH PRIVATE KEY", "aGVsbG8=")),
            format!("{p}invalid private key: ssh: invalid openssh private key format.")
        );
        assert_eq!(
            key_err(CT1, &pem("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEA")),
            format!("{p}invalid private key: ssh: parse error in message type 0.")
        );
        assert_eq!(
            key_err(CT1, &pem("OPENSSH PRIVATE KEY", "b3BlbnNzaC1rZXktdjEAAAAA")),
            format!("{p}invalid private key: ssh: unmarshal error for field CipherName of type openSSHEncryptedPrivateKey.")
        );
        // Terraform prints the key with Go's `%t`; for an OpenSSH Ed25519 key that is
        // deterministic (its 64 bytes).
        assert_eq!(key_err(CT1, OPENSSH_ED25519), ED25519_MESSAGE);
        // For EC keys it prints memory addresses: Baton names the type instead.
        assert_eq!(
            key_err(CT1, EC),
            format!("{p}invalid private key type *ecdsa.PrivateKey.")
        );
        assert_eq!(
            key_err(CT1, EC_PKCS8),
            format!("{p}invalid private key type *ecdsa.PrivateKey.")
        );
    }
}
