//! Shell quoting, the one piece of text every layer of this crate builds scripts with (the
//! remote shells of `channel`, the batched reads of `fileread`, the resources' scripts). A
//! leaf: it must not depend on anything else in the crate.

/// `s` as one POSIX shell word (single-quoted; a `'` inside becomes `'\''`).
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(sh_quote("echo 'a'"), r"'echo '\''a'\'''");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", sh_quote("it's $HOME `x` \"q\"")))
            .output()
            .expect("sh runs");
        assert_eq!(out.stdout, b"it's $HOME `x` \"q\"");
    }
}
