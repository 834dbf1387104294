//! OPA's `rego.metadata.rule()` and `rego.metadata.chain()`, which regorus lacks (it does not
//! read METADATA comments at all): trivy/defsec-style policies describe each check in a
//! `# METADATA` comment block (YAML) and read it back to build their findings.
//!
//! Before compiling, the METADATA blocks of every file are read (a block annotates the
//! `package` or rule that follows it; `scope:` may say `package`, `subpackages`, `rule` or
//! `document`), and each call in a rule is replaced in place by a reference of the same
//! length (padded with spaces) to a rule appended after the end of the file whose value is
//! that rule's annotations or chain: every line and column of the user's text is unchanged.
//!
//! Known differences from OPA: the annotations are the YAML as written plus `scope` (OPA
//! also normalizes `related_resources` and `schemas`); `document` scope is taken as the
//! rule's own. The appended rules are named `__baton_md_N` and show in `data.<package>`.
//!
//! Reads the source text and regorus's AST as JSON; never evaluates anything.

use crate::rules::ModuleInfo;
use serde_json::{json, Map, Value as Json};
use std::collections::BTreeMap;

/// The package-level annotations of every loaded file: `package` scope for the package
/// itself, `subpackages` for it and every package below it.
#[derive(Debug, Default)]
pub(crate) struct PackageAnnotations {
    package: BTreeMap<Vec<String>, Json>,
    subpackages: BTreeMap<Vec<String>, Json>,
}

impl PackageAnnotations {
    /// Reads the package annotations of `(text, module)` pairs.
    pub(crate) fn read<'a>(files: impl IntoIterator<Item = (&'a str, &'a ModuleInfo)>) -> Self {
        let mut out = PackageAnnotations::default();
        for (text, module) in files {
            for block in blocks(text) {
                if !block.before_package {
                    continue;
                }
                let target = if block.scope == "subpackages" {
                    &mut out.subpackages
                } else {
                    &mut out.package
                };
                target.insert(module.package.clone(), block.annotations);
            }
        }
        out
    }
}

/// The source of one module with its `rego.metadata.*()` calls replaced, or `None` when it
/// has none. `counter` numbers the appended rules across files.
pub(crate) fn rewrite(
    text: &str,
    module_ast: &Json,
    module: &ModuleInfo,
    packages: &PackageAnnotations,
    counter: &mut usize,
) -> Option<String> {
    let rule_blocks: Vec<Block> = blocks(text)
        .into_iter()
        .filter(|b| !b.before_package)
        .collect();
    let mut out = text.as_bytes().to_vec();
    let mut appended = String::new();
    for rule in module_ast["rules"].as_array().into_iter().flatten() {
        // `default` rules have no body to call anything from.
        let Some(spec) = rule.get("Spec") else {
            continue;
        };
        let Some(line) = spec["span"]["line"].as_u64() else {
            continue;
        };
        let mut calls = Vec::new();
        find_calls(&spec["bodies"], &mut calls);
        find_calls(&spec["head"], &mut calls);
        if calls.is_empty() {
            continue;
        }
        let name = module
            .rules
            .iter()
            .find(|r| u64::from(r.line) == line)
            .map(|r| r.name.clone())?;
        let own = rule_blocks
            .iter()
            .find(|b| u64::from(b.target_line) == line)
            .map(|b| b.annotations.clone());
        for (start, end, which) in calls {
            let value = match which {
                Which::Rule => own.clone().unwrap_or_else(|| json!({})),
                Which::Chain => chain(&module.package, &name, own.as_ref(), packages),
            };
            let reference = format!("__baton_md_{counter}");
            *counter += 1;
            if reference.len() > end - start {
                return None;
            }
            let slot = out.get_mut(start..end)?;
            slot.fill(b' ');
            slot[..reference.len()].copy_from_slice(reference.as_bytes());
            appended.push_str(&format!("\n{reference} = {value}\n"));
        }
    }
    if appended.is_empty() {
        return None;
    }
    let mut out = String::from_utf8(out).ok()?;
    out.push('\n');
    out.push_str(&appended);
    Some(out)
}

fn chain(
    package: &[String],
    rule: &str,
    own: Option<&Json>,
    packages: &PackageAnnotations,
) -> Json {
    let mut path: Vec<String> = package.to_vec();
    path.push(rule.to_string());
    let mut first = Map::new();
    first.insert("path".into(), json!(path));
    if let Some(a) = own {
        first.insert("annotations".into(), a.clone());
    }
    let mut out = vec![Json::Object(first)];
    for len in (1..=package.len()).rev() {
        let prefix = &package[..len];
        for annotations in [
            (len == package.len())
                .then(|| packages.package.get(prefix))
                .flatten(),
            packages.subpackages.get(prefix),
        ]
        .into_iter()
        .flatten()
        {
            out.push(json!({"path": prefix, "annotations": annotations}));
        }
    }
    Json::Array(out)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Rule,
    Chain,
}

/// Calls of `rego.metadata.rule()`/`chain()` under `node`: byte range and which.
fn find_calls(node: &Json, out: &mut Vec<(usize, usize, Which)>) {
    match node {
        Json::Object(map) => {
            if let Some(call) = map.get("Call") {
                let no_params = call["params"].as_array().is_some_and(Vec::is_empty);
                let which = match dotted(&call["fcn"]).as_deref() {
                    Some("rego.metadata.rule") => Some(Which::Rule),
                    Some("rego.metadata.chain") => Some(Which::Chain),
                    _ => None,
                };
                let span = (call["span"]["start"].as_u64(), call["span"]["end"].as_u64());
                if let (true, Some(w), (Some(s), Some(e))) = (no_params, which, span) {
                    if let (Ok(s), Ok(e)) = (usize::try_from(s), usize::try_from(e)) {
                        out.push((s, e, w));
                    }
                    return;
                }
            }
            for v in map.values() {
                find_calls(v, out);
            }
        }
        Json::Array(items) => items.iter().for_each(|i| find_calls(i, out)),
        _ => {}
    }
}

fn dotted(fcn: &Json) -> Option<String> {
    if let Some(v) = fcn.get("Var") {
        return v["value"].as_str().map(str::to_string);
    }
    let d = fcn.get("RefDot")?;
    let field = d["field"].as_array()?.get(1)?.as_str()?;
    Some(format!("{}.{field}", dotted(&d["refr"])?))
}

/// One `# METADATA` block: its annotations (with `scope`), and the line (1-based) of the
/// statement it annotates.
#[derive(Debug)]
struct Block {
    annotations: Json,
    scope: String,
    target_line: u32,
    before_package: bool,
}

fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "# METADATA" {
            i += 1;
            continue;
        }
        let mut yaml = String::new();
        let mut j = i + 1;
        while j < lines.len() && lines[j].trim_start().starts_with('#') {
            let l = lines[j].trim_start().trim_start_matches('#');
            yaml.push_str(l.strip_prefix(' ').unwrap_or(l));
            yaml.push('\n');
            j += 1;
        }
        while j < lines.len() && lines[j].trim().is_empty() {
            j += 1;
        }
        i = j;
        let Ok(Some(Json::Object(mut map))) = serde_yaml::from_str::<Option<Json>>(&yaml) else {
            continue;
        };
        let Some(target) = lines.get(j) else {
            continue;
        };
        let before_package = target.trim_start().starts_with("package ");
        let scope = map
            .get("scope")
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| if before_package { "package" } else { "rule" }.to_string());
        map.insert("scope".into(), Json::String(scope.clone()));
        let Ok(target_line) = u32::try_from(j + 1) else {
            continue;
        };
        out.push(Block {
            annotations: Json::Object(map),
            scope,
            target_line,
            before_package,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_annotate_the_statement_that_follows() {
        let text = "# METADATA\n# title: P\n# custom:\n#   id: X-1\npackage p\n\n# METADATA\n# title: Deny\n\ndeny contains 1 if true\n";
        let b = blocks(text);
        assert_eq!(b.len(), 2);
        assert!(b[0].before_package);
        assert_eq!(
            b[0].annotations,
            json!({"title": "P", "custom": {"id": "X-1"}, "scope": "package"})
        );
        assert_eq!(b[1].target_line, 10);
        assert_eq!(b[1].annotations, json!({"title": "Deny", "scope": "rule"}));
    }
}
