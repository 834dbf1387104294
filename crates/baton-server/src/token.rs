//! API tokens: making a new one (`baton_` and 32 random bytes in unpadded base64url, from the
//! operating system's generator) and the digest stores keep (hex SHA-256), compared in
//! constant time.
//!
//! Must not log, print or keep a token: the binary prints a new one once, at creation.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every token starts with (so a leaked one is easy to recognise by scanners).
pub const PREFIX: &str = "baton_";

/// Random bytes in a token.
pub const RANDOM_BYTES: usize = 32;

/// The operating system's random generator failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot get random bytes from the operating system: {0}")]
pub struct RandomError(String);

/// A new token: [`PREFIX`] and [`RANDOM_BYTES`] random bytes in unpadded base64url.
pub fn new_token() -> Result<String, RandomError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The digest a store keeps for `token`: hex SHA-256 of its bytes.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether two digests are equal, in time that does not depend on where they differ.
pub fn same_digest(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_has_the_prefix_and_32_random_bytes() {
        let a = new_token().expect("random");
        let b = new_token().expect("random");
        assert!(a.starts_with(PREFIX), "{a}");
        let body = &a[PREFIX.len()..];
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .expect("base64url");
        assert_eq!(raw.len(), RANDOM_BYTES);
        assert_ne!(a, b, "two tokens are different");
    }

    #[test]
    fn the_digest_is_hex_sha256() {
        // sha256("abc"), the FIPS 180-2 example.
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(digest("baton_x").len(), 64);
        assert_ne!(digest("baton_x"), digest("baton_y"));
    }

    #[test]
    fn digests_compare_equal_only_when_equal() {
        let d = digest("baton_x");
        assert!(same_digest(&d, &digest("baton_x")));
        assert!(!same_digest(&d, &digest("baton_y")));
        assert!(!same_digest(&d, &d[..63]));
        assert!(!same_digest("", &d));
    }
}
