//! Evaluation of the value nodes of the graph — input variables (with type constraints,
//! defaults, nullability, sensitivity and validation rules), locals, outputs and module call
//! expansions — shared by the plan and apply walks, for every instance of a module.
//!
//! Results go into the walk's [`EvalState`]; problems come back as diagnostics.

use crate::context::Context;
use crate::expand::{count_index, each_values, expand, placeholder_repeat, Expansion};
use crate::model::{CheckStatus, Checkable};
use crate::values::{CallExpansion, EvalState, InstanceScope, NamedValue, Repetition};
use baton_config::{CheckRule, ExprKind};
use baton_core::{Diagnostic, Diagnostics, InstanceKey, ModuleInstance, ModulePath, Sources};
use baton_eval::convert::convert_constraint;
use baton_eval::typeexpr::type_constraint;
use baton_eval::{Evaluator, FnCtx, Type, TypeConstraint, Value};

/// The conditions of one object instance to evaluate, and where they belong.
pub struct CheckSite<'a> {
    pub module: &'a ModuleInstance,
    /// What the conditions belong to (plan JSON's `checks` reports by object).
    pub object: Checkable,
    /// The resource instance key (`None` for everything else).
    pub key: Option<InstanceKey>,
    pub rules: &'a [CheckRule],
    /// The diagnostic summary of a failed condition ("Resource precondition failed").
    pub summary: &'a str,
    /// What the message names as checked ("terraform_data.a[0]", "var.x").
    pub subject: &'a str,
    /// `self` (postconditions).
    pub self_value: Option<&'a Value>,
    pub count: Option<Value>,
    pub each: Option<(Value, Value)>,
}

pub struct NodeEval<'a> {
    pub ctx: &'a Context,
    pub state: &'a EvalState,
    /// Impure functions return unknown while planning.
    pub planning: bool,
    /// `validate`: unknown expansions become placeholders instead of errors.
    pub validate_only: bool,
    /// What `plantimestamp()` returns: the plan's timestamp (see `FnCtx::plan_timestamp`).
    pub plan_timestamp: Option<&'a str>,
}

/// How a root variable's raw value is found: given its name, its type and whether
/// command-line text is taken literally, the value if one was given.
pub type RootValue<'f> = dyn Fn(&str, &Type, bool) -> Result<Option<Value>, Diagnostic> + 'f;

pub use crate::context::module_of;

impl<'a> NodeEval<'a> {
    pub fn scope<'s>(&'s self, mi: &'s ModuleInstance) -> InstanceScope<'s> {
        InstanceScope::new(self.state, self.ctx, mi)
    }

    pub fn evaluator<'s>(&'s self, scope: &'s InstanceScope<'s>) -> Evaluator<'s> {
        Evaluator::new(
            scope,
            FnCtx {
                base_dir: &self.ctx.dir,
                sources: &self.ctx.sources,
                planning: self.planning,
                plan_timestamp: self.plan_timestamp,
            },
        )
    }

    /// Evaluates variable `name` of the module at `p` in each of its instances. Returns the
    /// root instance's value (for recording in the plan) and diagnostics.
    pub fn var(
        &self,
        p: &ModulePath,
        name: &str,
        root: &RootValue<'_>,
    ) -> (Option<Value>, Diagnostics) {
        let mut diags = Diagnostics::new();
        let mut root_value = None;
        let Some(m) = module_of(&self.ctx.config, p) else {
            return (None, diags);
        };
        let Some(v) = m.variables.get(name) else {
            return (None, diags);
        };
        let tc = match &v.type_expr {
            Some(e) => match type_constraint(e, &self.ctx.dir) {
                Ok(tc) => tc,
                Err(d) => {
                    diags.push(d.in_context(format!("variable \"{name}\"")));
                    return (None, diags);
                }
            },
            None => TypeConstraint::any(),
        };
        // A default that does not fit the type is a configuration error, whatever value the
        // variable is given (Terraform reports it when loading, so `validate` does too).
        if let (Some(d), Some(_)) = (&v.default, &v.type_expr) {
            let fits = crate::vars::eval_const(d, &self.ctx.dir).and_then(|dv| {
                convert_constraint(&dv, &tc).map(|_| ()).map_err(|e| {
                    Diagnostic::error(
                        "Invalid default value for variable",
                        format!("This default value is not compatible with the variable's type constraint: {e}."),
                    )
                    .at(d.span)
                })
            });
            if let Err(d) = fits {
                diags.push(d.in_context(format!("variable \"{name}\"")));
                return (None, diags);
            }
        }
        let literal = match &v.type_expr {
            None => true,
            Some(e) => matches!(&e.kind, ExprKind::Var(k) if k == "string"),
        };
        for mi in self.state.module_instances(p) {
            let raw = if p.is_root() {
                root(name, &tc.ty, literal)
            } else {
                self.module_input(&mi, name)
            };
            let raw = match raw {
                Ok(r) => r,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            let value = match self.finish_var(v, &tc, raw, p) {
                Ok(val) => val,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            self.state
                .set(&mi, NamedValue::Var(name.to_string()), value.clone());
            if p.is_root() {
                root_value = Some(value);
            }
            diags.extend(self.check_rules(CheckSite {
                module: &mi,
                object: Checkable::Var(name.to_string()),
                key: None,
                rules: &v.validations,
                summary: "Invalid value for variable",
                subject: &format!("var.{name}"),
                self_value: None,
                count: None,
                each: None,
            }));
        }
        (root_value, diags)
    }

    /// A child module's input: the call's argument evaluated in the parent instance.
    fn module_input(&self, mi: &ModuleInstance, name: &str) -> Result<Option<Value>, Diagnostic> {
        let Some(parent) = mi.parent() else {
            return Ok(None);
        };
        let Some((call_name, key)) = mi.0.last().cloned() else {
            return Ok(None);
        };
        let Some(pm) = module_of(&self.ctx.config, &parent.path()) else {
            return Ok(None);
        };
        let Some(call) = pm.module_calls.get(&call_name) else {
            return Ok(None);
        };
        let Some(input) = call.inputs.iter().find(|a| a.name == name) else {
            return Ok(None);
        };
        let mut scope = self.scope(&parent);
        if key.is_none() && (call.count.is_some() || call.for_each.is_some()) {
            // `validate`: the expansion is unknown and one placeholder instance stands for it.
            (scope.count_index, scope.each) =
                placeholder_repeat(call.count.is_some(), call.for_each.is_some());
        } else {
            scope.count_index = count_index(&key);
            if let Some(exp) = self.state.call(&parent, &call_name) {
                let ev = exp
                    .keys
                    .iter()
                    .find(|(k, _)| *k == key)
                    .and_then(|(_, v)| v.clone());
                scope.each = each_values(&key, &ev);
            }
        }
        let mut ev = self.evaluator(&scope);
        ev.eval(&input.expr)
            .map(Some)
            .map_err(|d| d.in_context(format!("module \"{call_name}\"")))
    }

    fn finish_var(
        &self,
        v: &baton_config::Variable,
        tc: &TypeConstraint,
        raw: Option<Value>,
        p: &ModulePath,
    ) -> Result<Value, Diagnostic> {
        let default = match &v.default {
            Some(e) => Some(crate::vars::eval_const(e, &self.ctx.dir)?),
            None => None,
        };
        let value = match raw {
            Some(r) if r.is_null() && !v.nullable => match &default {
                Some(d) => d.clone(),
                None => {
                    return Err(Diagnostic::error(
                        "Required variable not set",
                        format!("Unsuitable value for var.{}: the given value is null, and this variable does not allow null values.", v.name),
                    )
                    .at(v.def_span))
                }
            },
            Some(r) => r,
            None => match default {
                Some(d) => d,
                None => {
                    let detail = if p.is_root() {
                        format!("The root module input variable \"{}\" is not set, and has no default value. Use a --var or --var-file command line argument, a terraform.tfvars file or a TF_VAR_{} environment variable to provide a value for this variable.", v.name, v.name)
                    } else {
                        format!("The module input variable \"{}\" is not set, and has no default value: the module call must set it.", v.name)
                    };
                    return Err(Diagnostic::error("No value for required variable", detail).at(v.def_span));
                }
            },
        };
        let converted = convert_constraint(&value, tc).map_err(|e| {
            let loc = self.ctx.sources.location(v.def_span).unwrap_or_default();
            Diagnostic::error(
                "Invalid value for input variable",
                format!(
                    "The given value is not suitable for var.{} declared at {loc}: {e}.",
                    v.name
                ),
            )
            .at(v.def_span)
        })?;
        Ok(if v.sensitive {
            converted.mark_sensitive()
        } else {
            converted
        })
    }

    /// Evaluates the conditions of one object instance: each false condition is an error,
    /// and the outcome is recorded for plan JSON's `checks`.
    pub fn check_rules(&self, site: CheckSite<'_>) -> Diagnostics {
        let mut diags = Diagnostics::new();
        if site.rules.is_empty() {
            return diags;
        }
        let mut scope = self.scope(site.module);
        scope.self_value = site.self_value.cloned();
        scope.count_index = site.count;
        scope.each = site.each;
        let mut ev = self.evaluator(&scope);
        let mut status = CheckStatus::Pass;
        let mut problems = Vec::new();
        for r in site.rules {
            match check_rule(&mut ev, r, site.summary, site.subject, &self.ctx.sources) {
                Ok(s) => status = status.max(s),
                Err(f) => {
                    status = status.max(f.status);
                    problems.push(f.problem);
                    diags.push(f.diag);
                }
            }
        }
        self.state
            .record_check(site.module, site.object, site.key, status, problems);
        diags
    }

    pub fn local(&self, p: &ModulePath, name: &str) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(m) = module_of(&self.ctx.config, p) else {
            return diags;
        };
        let Some(l) = m.locals.get(name) else {
            return diags;
        };
        for mi in self.state.module_instances(p) {
            let scope = self.scope(&mi);
            let mut ev = self.evaluator(&scope);
            match ev.eval(&l.expr) {
                Ok(v) => self.state.set(&mi, NamedValue::Local(name.to_string()), v),
                Err(d) => diags.push(d.in_context("locals")),
            }
        }
        diags
    }

    pub fn output(&self, p: &ModulePath, name: &str) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(m) = module_of(&self.ctx.config, p) else {
            return diags;
        };
        let Some(o) = m.outputs.get(name) else {
            return diags;
        };
        for mi in self.state.module_instances(p) {
            // `validate` checks variable validations only, as Terraform's validate walk does.
            let d = if self.validate_only {
                Diagnostics::new()
            } else {
                self.check_rules(CheckSite {
                    module: &mi,
                    object: Checkable::Output(name.to_string()),
                    key: None,
                    rules: &o.preconditions,
                    summary: "Module output value precondition failed",
                    subject: &format!("output \"{name}\""),
                    self_value: None,
                    count: None,
                    each: None,
                })
            };
            if d.has_errors() {
                diags.extend(d);
                continue;
            }
            let scope = self.scope(&mi);
            let mut ev = self.evaluator(&scope);
            match ev.eval(&o.value) {
                Ok(v) => {
                    if v.contains_sensitive() && !o.sensitive && p.is_root() {
                        diags.push(sensitive_output_error(o));
                        continue;
                    }
                    // Root outputs are saved (in the plan's state snapshot, then the state),
                    // and their encoding has no infinity: Terraform fails there, after
                    // evaluating. `validate` saves nothing.
                    if p.is_root() && !self.validate_only && v.contains_infinity() {
                        diags.push(infinite_output_error(o, self.planning));
                        continue;
                    }
                    // Terraform marks a value sensitive by declaration only in the root
                    // module; a child module's output carries the marks its value has.
                    let v = if o.sensitive && p.is_root() {
                        v.mark_sensitive()
                    } else if self.validate_only && !p.is_root() {
                        // `validate` checks each module on its own: its callers see its
                        // outputs as unknown (and unmarked), as in Terraform.
                        Value::dynamic_unknown()
                    } else {
                        v
                    };
                    self.state.set(&mi, NamedValue::Output(name.to_string()), v);
                }
                Err(d) => diags.push(d.in_context(format!("output \"{name}\""))),
            }
        }
        diags
    }

    pub fn module_call(&self, p: &ModulePath, name: &str) -> Diagnostics {
        let mut diags = Diagnostics::new();
        let Some(m) = module_of(&self.ctx.config, p) else {
            return diags;
        };
        let Some(call) = m.module_calls.get(name) else {
            return diags;
        };
        if let Some(child) = module_of(&self.ctx.config, &p.child(name)) {
            for a in &call.inputs {
                if !child.variables.contains_key(&a.name) {
                    diags.push(
                        Diagnostic::error(
                            "Unsupported argument",
                            format!("An argument named \"{}\" is not expected here: module \"{name}\" declares no such variable.", a.name),
                        )
                        .at(a.name_span)
                        .in_context(format!("module \"{name}\"")),
                    );
                }
            }
            for v in child.variables.values() {
                if v.default.is_none() && !call.inputs.iter().any(|a| a.name == v.name) {
                    diags.push(
                        Diagnostic::error(
                            "Missing required argument",
                            format!(
                                "The argument \"{}\" is required, but no definition was found.",
                                v.name
                            ),
                        )
                        .at(call.def_span)
                        .in_context(format!("module \"{name}\"")),
                    );
                }
            }
        }
        for mi in self.state.module_instances(p) {
            let scope = self.scope(&mi);
            let mut ev = self.evaluator(&scope);
            match expand(
                &mut ev,
                call.count.as_ref(),
                call.for_each.as_ref(),
                self.validate_only,
            ) {
                Ok(exp) => {
                    // `validate` with an unknown expansion: one placeholder instance, without
                    // a key, under the call's repetition (see `values::aggregate`).
                    let exp = exp.unwrap_or_else(|| Expansion {
                        repetition: if call.count.is_some() {
                            Repetition::Count
                        } else if call.for_each.is_some() {
                            Repetition::ForEach
                        } else {
                            Repetition::Single
                        },
                        keys: vec![(None, None)],
                    });
                    self.state.set_call(
                        &mi,
                        name,
                        CallExpansion {
                            repetition: exp.repetition,
                            keys: exp.keys,
                        },
                    );
                }
                Err(d) => diags.push(d.in_context(format!("module \"{name}\""))),
            }
        }
        diags
    }
}

/// Terraform's error for a root output holding an infinite number (`1 / 0`), which it cannot
/// serialize: when writing the plan file, or the state after an apply. The text is
/// Terraform's, its spelling ("occured") included.
fn infinite_output_error(o: &baton_config::Output, planning: bool) -> Diagnostic {
    let cause = format!(
        "Failed to serialize output value in state: An error occured while serializing output value \"{}\": cannot serialize infinity as JSON.",
        o.name
    );
    let (summary, detail) = if planning {
        (
            "Failed to write plan file",
            format!("The plan file could not be written: failed to write state snapshot: {cause}"),
        )
    } else {
        (
            "Failed to save state",
            format!("Error saving state: {cause}"),
        )
    };
    Diagnostic::error(summary, detail)
        .at(o.def_span)
        .in_context(format!("output \"{}\"", o.name))
}

pub(crate) fn sensitive_output_error(o: &baton_config::Output) -> Diagnostic {
    Diagnostic::error(
        "Output refers to sensitive values",
        "To reduce the risk of accidentally exporting sensitive data that was intended to be only internal, Baton requires that any root module output containing sensitive data be explicitly marked as sensitive, to confirm your intent.\n\nIf you do intend to export this data, annotate the output value as sensitive by adding the following argument:\n    sensitive = true",
    )
    .at(o.def_span)
    .in_context(format!("output \"{}\"", o.name))
}

/// A condition that did not pass: its status (`Fail` or `Error`), the message for `checks`
/// and the diagnostic to report.
pub(crate) struct RuleFailure {
    pub status: CheckStatus,
    pub problem: String,
    pub diag: Diagnostic,
}

/// Evaluates one condition: `Pass` or `Unknown` (it depends on a value known only after
/// apply), or the failure with the rule's message.
pub(crate) fn check_rule(
    ev: &mut Evaluator<'_>,
    r: &CheckRule,
    summary: &str,
    subject: &str,
    sources: &Sources,
) -> Result<CheckStatus, Box<RuleFailure>> {
    let error = |diag: Diagnostic| {
        Box::new(RuleFailure {
            status: CheckStatus::Error,
            problem: diag.summary.clone(),
            diag,
        })
    };
    let c = ev.eval(&r.condition).map_err(error)?;
    if c.is_null() {
        return Err(error(
            Diagnostic::error(
                "Invalid condition result",
                "Condition expression must return either true or false, not null.",
            )
            .at(r.condition.span),
        ));
    }
    let (c, _) = c.unmark();
    if !c.is_known() {
        return Ok(CheckStatus::Unknown);
    }
    let ok = baton_eval::convert::convert(&c, &Type::Bool)
        .ok()
        .and_then(|b| b.as_bool())
        .ok_or_else(|| {
            error(
                Diagnostic::error(
                    "Invalid condition result",
                    "Condition expression must return either true or false.",
                )
                .at(r.condition.span),
            )
        })?;
    if ok {
        return Ok(CheckStatus::Pass);
    }
    let msg = match &r.error_message {
        Some(m) => match ev.eval(m) {
            Ok(v) if v.contains_sensitive() => {
                "The error message included a sensitive value, so it will not be displayed."
                    .to_string()
            }
            Ok(v) => baton_eval::convert::convert(&v, &Type::String)
                .ok()
                .and_then(|s| s.as_str().map(str::to_string))
                .unwrap_or_default(),
            Err(d) => format!("(the error message could not be evaluated: {})", d.summary),
        },
        None => String::new(),
    };
    let loc = sources.location(r.span).unwrap_or_default();
    Err(Box::new(RuleFailure {
        status: CheckStatus::Fail,
        problem: msg.clone(),
        diag: Diagnostic::error(
            summary,
            format!("{msg}\n\nThis was checked by the condition for {subject} at {loc}."),
        )
        .at(r.condition.span),
    }))
}

#[cfg(test)]
mod tests {
    use super::infinite_output_error;
    use baton_config::{Expr, ExprKind, Output};
    use baton_core::{FileId, Span};

    fn output(name: &str) -> Output {
        let span = Span {
            file: FileId(0),
            start: 0,
            end: 1,
        };
        Output {
            name: name.to_string(),
            def_span: span,
            value: Expr::new(ExprKind::Null, span),
            description: None,
            sensitive: false,
            ephemeral: false,
            depends_on: Vec::new(),
            preconditions: Vec::new(),
        }
    }

    /// Terraform 1.11's texts (differential case 144 for the plan; an output unknown until
    /// the apply, e.g. `1 / terraform_data.a.output` with `input = 0`, for the apply).
    #[test]
    fn infinite_output_errors_read_like_terraform() {
        let d = infinite_output_error(&output("x"), true);
        assert_eq!(d.summary, "Failed to write plan file");
        assert_eq!(
            d.detail,
            "The plan file could not be written: failed to write state snapshot: Failed to serialize output value in state: An error occured while serializing output value \"x\": cannot serialize infinity as JSON."
        );
        assert_eq!(d.context.as_deref(), Some("output \"x\""));
        let d = infinite_output_error(&output("y"), false);
        assert_eq!(d.summary, "Failed to save state");
        assert_eq!(
            d.detail,
            "Error saving state: Failed to serialize output value in state: An error occured while serializing output value \"y\": cannot serialize infinity as JSON."
        );
    }
}
