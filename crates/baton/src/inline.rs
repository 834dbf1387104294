//! Values written inline in human output: a primitive value as Terraform shows it, and a
//! string quoted as HCL writes it. Shared by the plan renderer and the value differ.
//!
//! A sensitive value is never written: it is `(sensitive value)`.

use baton_eval::{Kind, Value};

pub const KNOWN_AFTER: &str = "(known after apply)";
pub const SENSITIVE: &str = "(sensitive value)";

/// A primitive value inline.
pub fn primitive(v: &Value) -> String {
    if v.is_sensitive() {
        return SENSITIVE.into();
    }
    if !v.is_known() {
        return KNOWN_AFTER.into();
    }
    match v.kind() {
        Kind::Null(_) => "null".into(),
        Kind::Bool(b) => b.to_string(),
        Kind::Number(n) => n.to_string(),
        Kind::String(s) => quote(s),
        _ => String::new(),
    }
}

/// A string quoted the way HCL writes it.
pub fn quote(s: &str) -> String {
    let q = serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""));
    q.replace("${", "$${").replace("%{", "%%{")
}
