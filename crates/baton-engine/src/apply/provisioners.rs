//! The `local-exec` provisioners of a resource, run after create or before destroy. Each is
//! prepared (its configuration evaluated, with `self` and the instance's keys, into a
//! [`PreparedCommand`]) and then run ([`run_command`], which needs only the command and the
//! [`Worker`]), one after the other, so a provisioner's configuration sees what the ones before
//! it did.
//!
//! Must not print: provisioner output goes to the [`Observer`]. Running a command must not
//! touch the evaluation state or the configuration.

use super::perform::Worker;
use super::walk::{InstanceKeys, Runner, VisitResult};
use crate::body::eval_body;
use crate::model::ResourceChange;
use crate::{Event, Observer};
use baton_config::{OnFailure, Provisioner, ProvisionerWhen, Resource};
use baton_core::{Diagnostic, Diagnostics, InstanceAddr, Span};
use baton_eval::Value;
use baton_provider::exec::{run, CommandSpec};
use std::path::PathBuf;
use std::time::Duration;

/// One provisioner's command, its configuration evaluated.
#[derive(Clone, Debug)]
pub(super) struct PreparedCommand {
    pub(super) addr: InstanceAddr,
    /// The provisioner's kind (`local-exec`).
    pub(super) kind: String,
    pub(super) command: String,
    pub(super) interpreter: Option<Vec<String>>,
    pub(super) cwd: PathBuf,
    pub(super) env: Vec<(String, String)>,
    /// Its configuration holds a sensitive value: the command and its output are not shown.
    pub(super) sensitive: bool,
    pub(super) quiet: bool,
    pub(super) on_failure: OnFailure,
    /// Where the provisioner is written, and the resource it belongs to, for errors.
    pub(super) span: Span,
    pub(super) context: String,
}

impl Runner<'_> {
    /// Runs the resource's provisioners of kind `when`, with `self` and the instance's
    /// `count.index`/`each.*` (`keys`), each with the action's time limit (`timeout`).
    pub(super) fn provisioners(
        &self,
        c: &ResourceChange,
        r: &Resource,
        self_value: &Value,
        when: ProvisionerWhen,
        keys: &InstanceKeys,
        timeout: Option<Duration>,
    ) -> VisitResult {
        for p in r.provisioners.iter().filter(|p| p.when == when) {
            let cmd = self.prepare_command(c, r, p, self_value, keys)?;
            run_command(&cmd, &self.worker, timeout, self.observer)?;
        }
        Ok(())
    }

    /// Evaluates one provisioner's configuration.
    fn prepare_command(
        &self,
        c: &ResourceChange,
        r: &Resource,
        p: &Provisioner,
        self_value: &Value,
        keys: &InstanceKeys,
    ) -> Result<PreparedCommand, Diagnostics> {
        let (count, each) = keys;
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
        let mut env = Vec::new();
        if let Some(entries) = cfg
            .get_attr("environment")
            .and_then(|v| v.as_entries().cloned())
        {
            for (k, v) in entries {
                if let Some(s) = v.as_str() {
                    env.push((k, s.to_string()));
                }
            }
        }
        Ok(PreparedCommand {
            addr: c.addr.clone(),
            kind: p.kind.clone(),
            command,
            interpreter,
            cwd,
            env,
            sensitive,
            quiet,
            on_failure: p.on_failure.clone(),
            span: p.def_span,
            context: r.describe(),
        })
    }
}

/// Runs one prepared provisioner command, its output going to `observer`. A failure is an
/// error unless the provisioner says to continue.
pub(super) fn run_command(
    cmd: &PreparedCommand,
    w: &Worker,
    timeout: Option<Duration>,
    observer: &dyn Observer,
) -> VisitResult {
    let mut spec = CommandSpec::shell(&cmd.command, cmd.interpreter.clone(), cmd.cwd.clone());
    spec.cancel = w.ctx.cancel.clone();
    spec.run_tag = w.ctx.run_id.clone();
    spec.timeout = timeout;
    spec.env.extend(cmd.env.iter().cloned());
    observer.event(Event::ProvisionerStart {
        addr: cmd.addr.clone(),
        kind: cmd.kind.clone(),
    });
    if !cmd.quiet && !cmd.sensitive {
        observer.event(Event::ProvisionerOutput {
            addr: cmd.addr.clone(),
            kind: cmd.kind.clone(),
            line: format!("Executing: {:?}", spec.argv),
        });
    }
    let out = run(&spec, |_, line| {
        if !cmd.sensitive {
            observer.event(Event::ProvisionerOutput {
                addr: cmd.addr.clone(),
                kind: cmd.kind.clone(),
                line: line.to_string(),
            });
        }
    });
    if cmd.sensitive {
        observer.event(Event::ProvisionerOutput {
            addr: cmd.addr.clone(),
            kind: cmd.kind.clone(),
            line: "(output suppressed due to sensitive value in config)".into(),
        });
    }
    let failed = match &out {
        Ok(o) if o.success() => None,
        Ok(o) if o.timed_out => {
            Some("timed out (the command and everything it started were killed)".to_string())
        }
        Ok(o) => Some(match o.code {
            Some(code) => format!("exit status {code}"),
            None => "killed".to_string(),
        }),
        Err(e) => Some(e.to_string()),
    };
    let Some(why) = failed else {
        return Ok(());
    };
    if cmd.on_failure == OnFailure::Continue {
        return Ok(());
    }
    let shown = if cmd.sensitive {
        "(sensitive value)".to_string()
    } else {
        format!("{:?}", cmd.command)
    };
    Err(Diagnostic::error(
        "local-exec provisioner error",
        format!("Error running command {shown}: {why}."),
    )
    .at(cmd.span)
    .in_context(cmd.context.clone())
    .into())
}

fn local_exec_schema() -> baton_provider::Schema {
    use baton_eval::Type;
    use baton_provider::{Attr, Schema};
    Schema::new()
        .attr("command", Attr::required(Type::String))
        .attr("interpreter", Attr::optional(Type::list(Type::String)))
        .attr("environment", Attr::optional(Type::map(Type::String)))
        .attr("working_dir", Attr::optional(Type::String))
        .attr("quiet", Attr::optional(Type::Bool))
}
