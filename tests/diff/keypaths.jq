# The key paths of a `terraform show -json` plan document, normalised (see tests/diff/README.md,
# "Key paths"); crates/baton/tests/common/keypaths.rs applies the same rules to Baton's
# `plan --json`. Keep the two in step.
#
#   - every node below the root is a path: `.a.b` for object keys, `[]` for any array index;
#   - a key naming something the user named is `*`: the entries of `variables`, `outputs`,
#     `output_changes`, `module_calls` and a module call's `expressions`;
#   - inside a value every key is `*`: below `value`, `default`, `constant_value` and an output
#     change's `before`/`after`/`after_unknown`/`*_sensitive`; a resource object's values
#     (`change.before`/`after`/…, a resource's `values`/`sensitive_values`) keep their first
#     level (the schema's attribute names) and star everything deeper.
def keypath:
  reduce .[] as $s ({out: [], mode: "doc"};
    if ($s | type) == "number" then .out += ["[]"]
    elif .mode == "value" then .out += ["*"]
    elif .mode == "attr" then .out += [$s] | .mode = "value"
    else
      (.out | if length > 0 then .[-1] else "" end) as $p
      | (if ($p | IN("variables", "outputs", "output_changes", "module_calls"))
            or ($p == "expressions" and (.out | length) >= 3 and .out[-3] == "module_calls")
         then "*" else $s end) as $k
      | .mode = (if ($k | IN("value", "default", "constant_value")) then "value"
                 elif ($k | IN("before", "after", "after_unknown", "before_sensitive", "after_sensitive"))
                 then (if .out[0] == "output_changes" then "value" else "attr" end)
                 elif ($k | IN("values", "sensitive_values")) and $p == "[]" then "attr"
                 else "doc" end)
      | .out += [$k]
    end)
  | .out | map(if . == "[]" then . else "." + . end) | join("");

[paths | keypath] | unique
