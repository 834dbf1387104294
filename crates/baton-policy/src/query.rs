//! `baton policy eval`: one ad-hoc Rego query over policy directories and an input document,
//! for debugging policies. The input is used as given (no redaction): the user supplied it.

use crate::eval::to_rego;
use crate::load::build_corpus;
use baton_core::{Diagnostic, Diagnostics, Sources};
use serde_json::Value as Json;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The name regorus gives the query text in its errors.
const REGORUS_QUERY_FILE: &str = "<query.rego>";

/// Evaluates `query` (e.g. `data.terraform.tags.deny`) with the policies, tests and data of
/// `dirs` loaded. Returns the results in the shape `opa eval --format json` prints:
/// `{"result": [{"expressions": [{"value": …, "text": …, "location": …}], "bindings": {…}}]}`,
/// and `{}` when the query is undefined.
pub fn eval_query(
    dirs: &[PathBuf],
    input: Option<&Json>,
    query: &str,
    sources: &Sources,
) -> Result<Json, Diagnostics> {
    let (mut corpus, diags) = build_corpus(dirs, std::path::Path::new(""), true, sources);
    if diags.has_errors() {
        return Err(diags);
    }
    let query_id = sources.add("<query>", Path::new("<query>"), query.to_string());
    corpus
        .files
        .insert(REGORUS_QUERY_FILE.to_string(), query_id);
    if let Some(input) = input {
        match to_rego(input) {
            Ok(v) => corpus.engine.set_input(v),
            Err(e) => {
                return Err(Diagnostic::error(
                    "Invalid policy input",
                    format!("The input document cannot be given to the policies: {e}"),
                )
                .into())
            }
        }
    }
    let mut engine = corpus.engine.clone();
    // `[path, value] := walk(x)` and extensions' output arguments, as in policies.
    let query = crate::calls::rewrite_query(query).unwrap_or_else(|| query.to_string());
    let result = catch_unwind(AssertUnwindSafe(|| engine.eval_query(query, false)));
    match result {
        Ok(Ok(results)) => serde_json::to_value(&results).map_err(|e| {
            Diagnostic::error(
                "Cannot show the query result",
                format!("The result cannot be written as JSON: {e}"),
            )
            .into()
        }),
        Ok(Err(err)) => Err(corpus.diagnostic(&err, "Query failed", "", sources).into()),
        Err(_) => Err(Diagnostic::error(
            "Query failed",
            "The Rego engine panicked while evaluating the query.",
        )
        .into()),
    }
}
