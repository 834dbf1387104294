//! The `local-exec` provisioners of a resource, run after create or before destroy.
//!
//! Must not print: provisioner output goes to the [`Observer`].

use super::runner::{InstanceKeys, Runner, VisitResult};
use crate::body::eval_body;
use crate::model::ResourceChange;
use crate::Event;
use baton_config::{OnFailure, ProvisionerWhen, Resource};
use baton_core::Diagnostic;
use baton_eval::Value;
use baton_provider::exec::{run, CommandSpec};
use baton_provider::ProviderCtx;

impl Runner<'_> {
    /// Runs the `local-exec` provisioners of `when` for an object.
    /// Runs the resource's provisioners of kind `when`, with `self` and the instance's
    /// `count.index`/`each.*` (`keys`).
    pub(super) fn provisioners(
        &self,
        c: &ResourceChange,
        r: &Resource,
        self_value: &Value,
        when: ProvisionerWhen,
        keys: &InstanceKeys,
        pctx: &ProviderCtx,
    ) -> VisitResult {
        let (count, each) = keys;
        for p in r.provisioners.iter().filter(|p| p.when == when) {
            let nodes = self.nodes();
            let mut scope = nodes.scope(&c.addr.module);
            scope.self_value = Some(self_value.clone());
            scope.count_index = count.clone();
            scope.each = each.clone();
            let mut ev = nodes.evaluator(&scope);
            let schema = local_exec_schema();
            let (cfg, d) = eval_body(
                &mut ev,
                &p.body,
                &schema,
                p.def_span,
                &format!("provisioner \"{}\"", p.kind),
            );
            if d.has_errors() {
                return Err(d);
            }
            let sensitive = cfg.contains_sensitive();
            let cfg = cfg.unmark_deep().0;
            let command = cfg
                .get_attr("command")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let interpreter = cfg
                .get_attr("interpreter")
                .and_then(|v| {
                    v.as_seq().map(|s| {
                        s.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect::<Vec<_>>()
                    })
                })
                .filter(|v| !v.is_empty());
            let quiet = cfg
                .get_attr("quiet")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let cwd = cfg
                .get_attr("working_dir")
                .and_then(|v| v.as_str().map(|s| self.worker.ctx.resolve(s)))
                .unwrap_or_else(|| self.ctx.dir.clone());
            let mut spec = CommandSpec::shell(&command, interpreter, cwd);
            spec.cancel = self.worker.ctx.cancel.clone();
            spec.run_tag = pctx.run_id.clone();
            spec.timeout = pctx.timeout;
            if let Some(env) = cfg
                .get_attr("environment")
                .and_then(|v| v.as_entries().cloned())
            {
                for (k, v) in env {
                    if let Some(s) = v.as_str() {
                        spec.env.push((k, s.to_string()));
                    }
                }
            }
            self.observer.event(Event::ProvisionerStart {
                addr: c.addr.clone(),
                kind: p.kind.clone(),
            });
            if !quiet && !sensitive {
                self.observer.event(Event::ProvisionerOutput {
                    addr: c.addr.clone(),
                    kind: p.kind.clone(),
                    line: format!("Executing: {:?}", spec.argv),
                });
            }
            let observer = self.observer;
            let addr = c.addr.clone();
            let kind = p.kind.clone();
            let out = run(&spec, |_, line| {
                if !sensitive {
                    observer.event(Event::ProvisionerOutput {
                        addr: addr.clone(),
                        kind: kind.clone(),
                        line: line.to_string(),
                    });
                }
            });
            if sensitive {
                self.observer.event(Event::ProvisionerOutput {
                    addr: c.addr.clone(),
                    kind: p.kind.clone(),
                    line: "(output suppressed due to sensitive value in config)".into(),
                });
            }
            let failed = match &out {
                Ok(o) if o.success() => None,
                Ok(o) if o.timed_out => Some(
                    "timed out (the command and everything it started were killed)".to_string(),
                ),
                Ok(o) => Some(match o.code {
                    Some(code) => format!("exit status {code}"),
                    None => "killed".to_string(),
                }),
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = failed {
                if p.on_failure == OnFailure::Continue {
                    continue;
                }
                let shown = if sensitive {
                    "(sensitive value)".to_string()
                } else {
                    format!("{command:?}")
                };
                return Err(Diagnostic::error(
                    "local-exec provisioner error",
                    format!("Error running command {shown}: {why}."),
                )
                .at(p.def_span)
                .in_context(r.describe())
                .into());
            }
        }
        Ok(())
    }
}

pub(super) fn local_exec_schema() -> baton_provider::Schema {
    use baton_eval::Type;
    use baton_provider::{Attr, Schema};
    Schema::new()
        .attr("command", Attr::required(Type::String))
        .attr("interpreter", Attr::optional(Type::list(Type::String)))
        .attr("environment", Attr::optional(Type::map(Type::String)))
        .attr("working_dir", Attr::optional(Type::String))
        .attr("quiet", Attr::optional(Type::Bool))
}
