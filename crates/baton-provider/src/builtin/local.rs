//! The `local` provider: `local_file` and `local_sensitive_file` resources and their data
//! sources, with hashicorp/local's schemas. A file deleted or edited outside Baton is reported
//! as gone by `read` (its content no longer matches the recorded checksum), so the next plan
//! recreates it.

use super::str_attr;
use crate::schema::{Attr, Schema};
use crate::{
    ApplyRequest, AttrDiag, DataSourceType, PlanRequest, PlanResponse, ProviderCtx, ProviderError,
    ResourceType,
};
use base64::Engine as _;
use baton_eval::{Type, Value};
use md5::Digest as _;
use std::collections::BTreeMap;
use std::path::Path;

const CONTENT_ATTRS: [&str; 4] = ["content", "sensitive_content", "content_base64", "source"];
const CHECKSUMS: [&str; 6] = [
    "content_md5",
    "content_sha1",
    "content_sha256",
    "content_base64sha256",
    "content_sha512",
    "content_base64sha512",
];

pub struct LocalFile {
    sensitive: bool,
    schema: Schema,
}

impl LocalFile {
    /// `local_file`, or `local_sensitive_file` when `sensitive`.
    pub fn new(sensitive: bool) -> LocalFile {
        let perm = if sensitive { "0700" } else { "0777" };
        let mut s = Schema::new()
            .attr(
                "filename",
                Attr::required(Type::String)
                    .force_new()
                    .describe("The path to the file to create."),
            )
            .attr(
                "file_permission",
                Attr::optional(Type::String)
                    .default(Value::string(perm))
                    .force_new(),
            )
            .attr(
                "directory_permission",
                Attr::optional(Type::String)
                    .default(Value::string(perm))
                    .force_new(),
            )
            .attr("source", Attr::optional(Type::String).force_new())
            .attr("id", Attr::computed(Type::String));
        if sensitive {
            s = s
                .attr(
                    "content",
                    Attr::optional(Type::String).sensitive().force_new(),
                )
                .attr(
                    "content_base64",
                    Attr::optional(Type::String).sensitive().force_new(),
                );
        } else {
            s = s
                .attr("content", Attr::optional(Type::String).force_new())
                .attr(
                    "sensitive_content",
                    Attr::optional(Type::String)
                        .sensitive()
                        .force_new()
                        .deprecated("Use the local_sensitive_file resource instead."),
                )
                .attr("content_base64", Attr::optional(Type::String).force_new());
        }
        for c in CHECKSUMS {
            s = s.attr(c, Attr::computed(Type::String));
        }
        LocalFile {
            sensitive,
            schema: s,
        }
    }

    fn content_attrs(&self) -> Vec<&'static str> {
        CONTENT_ATTRS
            .iter()
            .copied()
            .filter(|a| self.schema.attrs.contains_key(*a))
            .collect()
    }
}

/// Checksums of content, as hashicorp/local computes them.
fn checksums(content: &[u8]) -> BTreeMap<String, Value> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut m = BTreeMap::new();
    m.insert(
        "content_md5".into(),
        Value::string(hex::encode(md5::Md5::digest(content))),
    );
    m.insert(
        "content_sha1".into(),
        Value::string(hex::encode(sha1::Sha1::digest(content))),
    );
    let s256 = sha2::Sha256::digest(content);
    m.insert("content_sha256".into(), Value::string(hex::encode(s256)));
    m.insert(
        "content_base64sha256".into(),
        Value::string(b64.encode(s256)),
    );
    let s512 = sha2::Sha512::digest(content);
    m.insert("content_sha512".into(), Value::string(hex::encode(s512)));
    m.insert(
        "content_base64sha512".into(),
        Value::string(b64.encode(s512)),
    );
    m
}

fn parse_mode(s: &str) -> Option<u32> {
    if !(3..=4).contains(&s.len()) {
        return None;
    }
    u32::from_str_radix(s, 8).ok().filter(|m| *m <= 0o7777)
}

fn validate_mode(attr: &str, v: Option<&Value>, out: &mut Vec<AttrDiag>) {
    let Some(s) = v.and_then(|v| v.clone().unmark().0.as_str().map(str::to_string)) else {
        return;
    };
    if parse_mode(&s).is_none() {
        out.push(AttrDiag::error(
            Some(attr),
            "Invalid Attribute Value",
            format!("Attribute {attr} bad mode for file - string length should be 3 or 4 digits, and every digit an octal digit (0-7): {s:?}."),
        ));
    }
}

/// The bytes a configuration asks to be written.
fn desired_content(ctx: &ProviderCtx, v: &Value) -> Result<Vec<u8>, ProviderError> {
    if let Some(c) = str_attr(v, "content").or_else(|| str_attr(v, "sensitive_content")) {
        return Ok(c.into_bytes());
    }
    if let Some(b) = str_attr(v, "content_base64") {
        return base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map_err(|e| {
                ProviderError::permanent(
                    "Invalid content_base64",
                    format!("content_base64 is not valid base64: {e}."),
                )
                .on_attr("content_base64")
            });
    }
    if let Some(src) = str_attr(v, "source") {
        let p = ctx.resolve(&src);
        return std::fs::read(&p)
            .map_err(|e| ProviderError::from_io("Cannot read source file", &e).on_attr("source"));
    }
    Err(ProviderError::permanent(
        "No content",
        "One of content, sensitive_content, content_base64 or source is required.",
    ))
}

#[cfg(unix)]
fn set_mode(p: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_p: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

fn write_file(ctx: &ProviderCtx, v: &Value) -> Result<Vec<u8>, ProviderError> {
    let filename = str_attr(v, "filename").ok_or_else(|| {
        ProviderError::permanent("Missing filename", "filename is required.").on_attr("filename")
    })?;
    let path = ctx.resolve(&filename);
    let content = desired_content(ctx, v)?;
    let dir_mode = str_attr(v, "directory_permission")
        .and_then(|m| parse_mode(&m))
        .unwrap_or(0o777);
    let file_mode = str_attr(v, "file_permission")
        .and_then(|m| parse_mode(&m))
        .unwrap_or(0o777);
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() && !parent.exists() {
            create_dirs(parent, dir_mode)
                .map_err(|e| ProviderError::from_io("Create local file error", &e))?;
        }
    }
    // Write to a temporary sibling and rename, so a kill never leaves a half-written file.
    // The sibling is named after the run (else this process): a run that repeats a write a
    // killed process left half done (a resume, or a worker taking over) writes the same
    // sibling and renames it away, leaving nothing behind.
    let tag = ctx
        .run_id
        .as_deref()
        .map(|r| {
            r.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| std::process::id().to_string());
    let tmp = path.with_file_name(format!(
        ".{}.baton-tmp-{tag}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
    ));
    std::fs::write(&tmp, &content)
        .and_then(|()| set_mode(&tmp, file_mode & !umask()))
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            ProviderError::from_io(
                format!("Create local file error: cannot write {}", path.display()),
                &e,
            )
        })?;
    Ok(content)
}

fn create_dirs(dir: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        std::fs::create_dir_all(dir)
    }
}

/// The process umask, read from /proc (0o022 when unknown), applied like Go's os.WriteFile.
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

impl ResourceType for LocalFile {
    fn type_name(&self) -> &'static str {
        if self.sensitive {
            "local_sensitive_file"
        } else {
            "local_file"
        }
    }

    fn schema(&self) -> &Schema {
        &self.schema
    }

    fn validate(&self, config: &Value) -> Vec<AttrDiag> {
        let mut out = Vec::new();
        let candidates = self.content_attrs();
        let set: Vec<&str> = candidates
            .iter()
            .copied()
            .filter(|a| config.get_attr(a).is_some_and(|v| !v.is_null()))
            .collect();
        if set.is_empty() {
            out.push(AttrDiag::error(
                None,
                "Invalid Attribute Combination",
                format!(
                    "No attribute specified when one (and only one) of [{}] is required.",
                    candidates.join(",")
                ),
            ));
        } else if set.len() > 1 {
            out.push(AttrDiag::error(
                Some(set[1]),
                "Invalid Attribute Combination",
                format!(
                    "2 attributes specified when one (and only one) of [{}] is required.",
                    candidates.join(",")
                ),
            ));
        }
        validate_mode(
            "file_permission",
            config.get_attr("file_permission"),
            &mut out,
        );
        validate_mode(
            "directory_permission",
            config.get_attr("directory_permission"),
            &mut out,
        );
        out
    }

    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        let resp = crate::plan::default_plan(&self.schema, &req);
        if req.prior.is_some() && resp.requires_replace.is_empty() {
            return Ok(resp);
        }
        // A new object: everything computed is known only after apply.
        let mut m = super::attrs(&resp.planned);
        m.insert("id".into(), Value::unknown(Type::String));
        for c in CHECKSUMS {
            m.insert(c.into(), Value::unknown(Type::String));
        }
        Ok(PlanResponse {
            planned: Value::object(m),
            requires_replace: resp.requires_replace,
            warnings: Vec::new(),
        })
    }

    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        let Some(planned) = req.planned else {
            // Delete: remove the file; one already gone is fine.
            if let Some(prior) = req.prior {
                if let Some(f) = str_attr(prior, "filename") {
                    let p = req.ctx.resolve(&f);
                    match std::fs::remove_file(&p) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(ProviderError::from_io(
                                format!("Delete local file error: cannot remove {}", p.display()),
                                &e,
                            ))
                        }
                    }
                }
            }
            return Ok(None);
        };
        let content = write_file(req.ctx, planned)?;
        let mut m = super::attrs(planned);
        m.extend(checksums(&content));
        m.insert(
            "id".into(),
            Value::string(hex::encode(sha1::Sha1::digest(&content))),
        );
        Ok(Some(Value::object(m)))
    }

    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        let Some(f) = str_attr(state, "filename") else {
            return Ok(None);
        };
        let p = ctx.resolve(&f);
        let content = match std::fs::read(&p) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ProviderError::from_io(
                    format!("Read local file error: cannot read {}", p.display()),
                    &e,
                ))
            }
        };
        let id = hex::encode(sha1::Sha1::digest(&content));
        if str_attr(state, "id").as_deref() != Some(id.as_str()) {
            // Edited outside Baton: the recorded object no longer exists.
            return Ok(None);
        }
        Ok(Some(state.clone()))
    }
}

pub struct LocalFileData {
    sensitive: bool,
    schema: Schema,
}

impl LocalFileData {
    pub fn new(sensitive: bool) -> LocalFileData {
        let mut s = Schema::new()
            .attr("filename", Attr::required(Type::String))
            .attr("id", Attr::computed(Type::String));
        let content = Attr::computed(Type::String);
        let content_b64 = Attr::computed(Type::String);
        if sensitive {
            s = s
                .attr("content", content.sensitive())
                .attr("content_base64", content_b64.sensitive());
        } else {
            s = s
                .attr("content", content)
                .attr("content_base64", content_b64);
        }
        for c in CHECKSUMS {
            s = s.attr(c, Attr::computed(Type::String));
        }
        LocalFileData {
            sensitive,
            schema: s,
        }
    }
}

impl DataSourceType for LocalFileData {
    fn type_name(&self) -> &'static str {
        if self.sensitive {
            "local_sensitive_file"
        } else {
            "local_file"
        }
    }
    fn schema(&self) -> &Schema {
        &self.schema
    }
    fn read(&self, ctx: &ProviderCtx, config: &Value) -> Result<Value, ProviderError> {
        let f = str_attr(config, "filename").ok_or_else(|| {
            ProviderError::permanent("Missing filename", "filename is required.")
                .on_attr("filename")
        })?;
        let p = ctx.resolve(&f);
        let content = std::fs::read(&p).map_err(|e| {
            ProviderError::permanent(
                "Read local file data source error",
                format!("The file at given path cannot be read.\n\nOriginal Error: open {f}: {e}"),
            )
            .on_attr("filename")
        })?;
        let mut m = checksums(&content);
        m.insert("filename".into(), Value::string(f.as_str()));
        m.insert(
            "id".into(),
            Value::string(hex::encode(sha1::Sha1::digest(&content))),
        );
        let text = String::from_utf8_lossy(&content).into_owned();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&content);
        let (text, b64) = if self.sensitive {
            (
                Value::string(text).mark_sensitive(),
                Value::string(b64).mark_sensitive(),
            )
        } else {
            (Value::string(text), Value::string(b64))
        };
        m.insert("content".into(), text);
        m.insert("content_base64".into(), b64);
        Ok(Value::object(m))
    }
}
