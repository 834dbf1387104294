//! Provider sets and provider settings belong to a run, not to the process: runs started at
//! once in one process, each with its own set of providers ([`RunRequest::providers`],
//! [`baton_engine::load_with_providers`]) and its own `provider` block settings, each see only
//! their own. A test provider (`echo`, one resource type) echoes the settings it is given into
//! the objects it makes and records every call's settings, so what reached it can be checked.

use baton_core::{Diagnostics, Sources};
use baton_engine::lifecycle::{self, Approval, RunHooks, RunKind, RunOutcome, RunRequest};
use baton_engine::plan::PlanOpts;
use baton_engine::vars::CliVar;
use baton_engine::{NoObserver, Observer, Plan};
use baton_eval::{Type, Value};
use baton_provider::{
    ApplyRequest, Attr, PlanRequest, PlanResponse, ProviderCtx, ProviderError, ProviderInfo,
    Registry, ResourceType, Schema,
};
use baton_state::sqlite::SqliteStore;
use baton_state::StateStore;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Barrier, Mutex};

const ECHO: ProviderInfo = ProviderInfo {
    name: "echo",
    source: "example.com/test/echo",
};

/// `echo_note`: `input` as configured, `greeting` the `greeting` setting of its provider
/// (null without one), `id` fixed.
struct EchoNote {
    schema: Schema,
    /// Every call made: its kind and the provider settings it came with.
    calls: Mutex<Vec<(&'static str, Option<Value>)>>,
}

impl EchoNote {
    fn new() -> EchoNote {
        EchoNote {
            schema: Schema::new()
                .attr("id", Attr::computed(Type::String))
                .attr("input", Attr::optional(Type::String))
                .attr("greeting", Attr::computed(Type::String)),
            calls: Mutex::new(Vec::new()),
        }
    }

    fn record(&self, call: &'static str, ctx: &ProviderCtx) {
        if let Ok(mut c) = self.calls.lock() {
            c.push((call, ctx.config.clone()));
        }
    }

    fn calls(&self) -> Vec<(&'static str, Option<Value>)> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

fn greeting(ctx: &ProviderCtx) -> Value {
    ctx.config
        .as_ref()
        .and_then(|c| c.get_attr("greeting"))
        .cloned()
        .unwrap_or_else(|| Value::null(Type::String))
}

fn note(id: Value, input: Value, greeting: Value) -> Value {
    let mut m = BTreeMap::new();
    m.insert("id".to_string(), id);
    m.insert("input".to_string(), input);
    m.insert("greeting".to_string(), greeting);
    Value::object(m)
}

fn attr(v: &Value, name: &str) -> Value {
    v.get_attr(name)
        .cloned()
        .unwrap_or_else(|| Value::null(Type::String))
}

impl ResourceType for EchoNote {
    fn type_name(&self) -> &'static str {
        "echo_note"
    }
    fn schema(&self) -> &Schema {
        &self.schema
    }
    fn plan(&self, req: PlanRequest<'_>) -> Result<PlanResponse, ProviderError> {
        self.record("plan", req.ctx);
        let id = req
            .prior
            .map(|p| attr(p, "id"))
            .unwrap_or_else(|| Value::unknown(Type::String));
        Ok(PlanResponse {
            planned: note(id, attr(req.config, "input"), greeting(req.ctx)),
            requires_replace: Vec::new(),
            warnings: Vec::new(),
        })
    }
    fn apply(&self, req: ApplyRequest<'_>) -> Result<Option<Value>, ProviderError> {
        self.record("apply", req.ctx);
        Ok(req
            .planned
            .map(|p| note(Value::string("note"), attr(p, "input"), greeting(req.ctx))))
    }
    fn read(&self, ctx: &ProviderCtx, state: &Value) -> Result<Option<Value>, ProviderError> {
        self.record("read", ctx);
        Ok(Some(state.clone()))
    }
}

/// The built-in providers and `echo`, whose block takes an optional `greeting`.
fn with_echo(echo: &Arc<EchoNote>) -> Arc<Registry> {
    let mut set = (*Registry::builtin()).clone();
    set.add_provider(
        ECHO,
        Schema::new().attr("greeting", Attr::optional(Type::String)),
    );
    set.add_resource(ECHO, echo.clone());
    Arc::new(set)
}

const CONFIG: &str = r#"variable "who" {
  type    = string
  default = "world"
}

locals {
  greeting = "hello ${var.who}"
}

provider "echo" {
  greeting = local.greeting
}

resource "echo_note" "a" {
  input = "x"
}

resource "terraform_data" "t" {
  input = echo_note.a.greeting
}

output "greeting" {
  value = terraform_data.t.output
}
"#;

#[derive(Default)]
struct Hooks {
    diags: Mutex<Vec<String>>,
}

impl RunHooks for Hooks {
    fn observer(&self) -> &dyn Observer {
        &NoObserver
    }
    fn diagnostics(&self, d: &Diagnostics) {
        if let Ok(mut all) = self.diags.lock() {
            all.extend(d.iter().map(|d| format!("{}: {}", d.summary, d.detail)));
        }
    }
    fn approve(&self, _what: Approval, _plan: &Plan) -> bool {
        true
    }
}

fn stack(root: &Path, name: &str, config: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).expect("stack dir");
    std::fs::write(dir.join("main.tf"), config).expect("config");
    dir
}

/// Applies the configuration in `dir` with `providers` and variables `vars`; the outcome and
/// diagnostics.
fn apply(dir: &Path, providers: Arc<Registry>, vars: &[(&str, &str)]) -> (RunOutcome, Vec<String>) {
    let opts = PlanOpts {
        vars: vars
            .iter()
            .map(|(k, v)| CliVar::Assign(k.to_string(), v.to_string()))
            .collect(),
        ..PlanOpts::default()
    };
    let mut req = RunRequest::new(dir, "default", RunKind::Apply(opts));
    req.providers = providers;
    let hooks = Hooks::default();
    let store = SqliteStore::open(&dir.join(".baton").join("state.db")).expect("open store");
    let outcome = lifecycle::run(&store, &req, &hooks).expect("the run starts");
    (outcome, hooks.diags.into_inner().unwrap_or_default())
}

fn greeting_output(outcome: &RunOutcome, diags: &[String]) -> String {
    let RunOutcome::Ran(ran) = outcome else {
        panic!("the run did not run: {diags:?}")
    };
    assert!(ran.succeeded(), "{:?}", ran.report.diags);
    let (v, _) = ran
        .report
        .outputs
        .get("greeting")
        .expect("a greeting output");
    v.as_str().expect("a string").to_string()
}

#[test]
fn runs_at_once_use_their_own_provider_sets_and_settings() {
    let root = tempfile::tempdir().expect("temporary directory");
    let alice = stack(root.path(), "alice", CONFIG);
    let bob = stack(root.path(), "bob", CONFIG);
    let plain = stack(root.path(), "plain", CONFIG);
    let (echo_a, echo_b) = (Arc::new(EchoNote::new()), Arc::new(EchoNote::new()));
    let (set_a, set_b) = (with_echo(&echo_a), with_echo(&echo_b));
    let start = Barrier::new(3);
    let (a, b, p) = std::thread::scope(|s| {
        let a = s.spawn(|| {
            start.wait();
            let first = apply(&alice, set_a.clone(), &[("who", "alice")]);
            // A second run of the same stack with other settings: planned again, in place.
            let second = apply(&alice, set_a.clone(), &[("who", "carol")]);
            (first, second)
        });
        let b = s.spawn(|| {
            start.wait();
            apply(&bob, set_b.clone(), &[("who", "bob")])
        });
        // The built-in set: `echo_note` does not exist there.
        let p = s.spawn(|| {
            start.wait();
            apply(
                &plain,
                baton_engine::providers::builtin(),
                &[("who", "nobody")],
            )
        });
        (
            a.join().expect("alice's thread"),
            b.join().expect("bob's thread"),
            p.join().expect("plain's thread"),
        )
    });

    let ((first, d1), (second, d2)) = a;
    assert_eq!(greeting_output(&first, &d1), "hello alice");
    assert_eq!(greeting_output(&second, &d2), "hello carol");
    let (outcome, d) = b;
    assert_eq!(greeting_output(&outcome, &d), "hello bob");

    let (outcome, d) = p;
    assert!(
        matches!(outcome, RunOutcome::Invalid(_)),
        "the built-in set has no echo_note"
    );
    assert!(
        d.iter()
            .any(|x| x.starts_with("Invalid resource type: The resource type \"echo_note\"")),
        "{d:?}"
    );

    // Each set's provider saw its own runs' settings only, in every kind of call: alice's
    // first run planned and created, her second refreshed, planned and updated.
    let settings = |who: &str| {
        let mut m = BTreeMap::new();
        m.insert(
            "greeting".to_string(),
            Value::string(format!("hello {who}")),
        );
        Some(Value::object(m))
    };
    let shown = |calls: Vec<(&'static str, Option<Value>)>| -> Vec<(&'static str, String)> {
        calls
            .into_iter()
            .map(|(c, v)| (c, format!("{:?}", v.map(|v| v.to_json()))))
            .collect()
    };
    let want = |calls: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        calls
            .iter()
            .map(|(c, who)| (*c, format!("{:?}", settings(who).map(|v| v.to_json()))))
            .collect()
    };
    assert_eq!(
        shown(echo_a.calls()),
        want(&[
            ("plan", "alice"),
            ("plan", "alice"),
            ("apply", "alice"),
            ("read", "carol"),
            ("plan", "carol"),
            ("plan", "carol"),
            ("apply", "carol"),
        ])
    );
    assert_eq!(
        shown(echo_b.calls()),
        want(&[("plan", "bob"), ("plan", "bob"), ("apply", "bob")])
    );

    // State names the test provider.
    let store = SqliteStore::open(&alice.join(".baton").join("state.db")).expect("open store");
    let snap = store.current().expect("current state");
    let obj = snap
        .objects
        .iter()
        .find(|(k, _)| k.addr.to_string() == "echo_note.a")
        .map(|(_, o)| o)
        .expect("echo_note.a in state");
    assert_eq!(obj.provider, "provider[\"example.com/test/echo\"]");
}

/// Loads `config` with the built-in set and `echo`; the diagnostics' summaries.
fn load_errors(config: &str) -> Vec<String> {
    let root = tempfile::tempdir().expect("temporary directory");
    let dir = stack(root.path(), "s", config);
    let echo = Arc::new(EchoNote::new());
    let (ctx, d) = baton_engine::load_with_providers(
        &dir,
        "default",
        &Sources::new(),
        &baton_config::RealFs,
        with_echo(&echo),
    );
    assert!(ctx.is_none() || !d.has_errors());
    d.iter()
        .filter(|d| d.severity == baton_core::Severity::Error)
        .map(|d| d.summary.clone())
        .collect()
}

#[test]
fn provider_blocks_are_checked_when_loading() {
    // An argument the provider's schema lacks, as Terraform reports it for a provider whose
    // schema is empty (`provider "terraform" { foo = 1 }`).
    let unknown = "provider \"echo\" {\n  colour = \"red\"\n}\n\nresource \"echo_note\" \"a\" {}\n";
    assert_eq!(load_errors(unknown), ["Unsupported argument"]);
    let builtin =
        "provider \"terraform\" {\n  foo = 1\n}\n\nresource \"terraform_data\" \"a\" {}\n";
    assert_eq!(load_errors(builtin), ["Unsupported argument"]);
    // A reference to something undeclared.
    let undeclared =
        "provider \"echo\" {\n  greeting = var.nope\n}\n\nresource \"echo_note\" \"a\" {}\n";
    assert_eq!(
        load_errors(undeclared),
        ["Reference to undeclared input variable"]
    );
    // A block for a provider the set lacks is left alone (no type of it can be used).
    let other = "provider \"aws\" {\n  region = \"x\"\n}\n\nresource \"echo_note\" \"a\" {}\n";
    assert!(load_errors(other).is_empty());
}

#[test]
fn provider_settings_are_evaluated_before_planning() {
    let root = tempfile::tempdir().expect("temporary directory");
    let run = |name: &str, config: &str| {
        let dir = stack(root.path(), name, config);
        let echo = Arc::new(EchoNote::new());
        let (outcome, diags) = apply(&dir, with_echo(&echo), &[]);
        (outcome, diags, echo.calls())
    };

    // A value of the wrong type is an error before any provider call.
    let wrong = "provider \"echo\" {\n  greeting = [\"a\"]\n}\n\nresource \"echo_note\" \"a\" {}\n";
    let (outcome, diags, calls) = run("wrong", wrong);
    assert!(matches!(outcome, RunOutcome::Invalid(_)), "{diags:?}");
    assert!(
        diags
            .iter()
            .any(|d| d.starts_with("Incorrect attribute value type")),
        "{diags:?}"
    );
    assert!(calls.is_empty(), "{calls:?}");

    // Settings that depend on a resource cannot be evaluated before planning.
    let late = "resource \"terraform_data\" \"t\" {\n  input = \"a\"\n}\n\nprovider \"echo\" {\n  greeting = terraform_data.t.output\n}\n\nresource \"echo_note\" \"a\" {}\n";
    let (outcome, diags, calls) = run("late", late);
    assert!(matches!(outcome, RunOutcome::Invalid(_)), "{diags:?}");
    assert!(
        diags.iter().any(|d| d.starts_with(
            "Unsupported provider configuration: The settings of provider \"echo\" depend on terraform_data.t."
        )),
        "{diags:?}"
    );
    assert!(calls.is_empty(), "{calls:?}");
    // ...which `validate` accepts, as Terraform's does.
    let echo = Arc::new(EchoNote::new());
    let (ctx, d) = baton_engine::load_with_providers(
        &root.path().join("late"),
        "default",
        &Sources::new(),
        &baton_config::RealFs,
        with_echo(&echo),
    );
    let ctx = ctx.unwrap_or_else(|| panic!("{d:?}"));
    let validate = PlanOpts {
        validate_only: true,
        ..PlanOpts::default()
    };
    let (_, d) = baton_engine::plan::plan(
        &ctx,
        &baton_state::Snapshot::default(),
        &validate,
        &NoObserver,
    );
    assert!(!d.has_errors(), "{d:?}");

    // A failing variable the settings need is reported (the walk that would report it does
    // not run), once.
    let invalid_var = "variable \"n\" {\n  type = number\n}\n\nprovider \"echo\" {\n  greeting = \"${var.n}\"\n}\n\nresource \"echo_note\" \"a\" {}\n";
    let dir = stack(root.path(), "invalid_var", invalid_var);
    let echo = Arc::new(EchoNote::new());
    let (outcome, diags) = apply(&dir, with_echo(&echo), &[("n", "not a number")]);
    assert!(matches!(outcome, RunOutcome::Invalid(_)), "{diags:?}");
    assert_eq!(
        diags
            .iter()
            .filter(|d| d.starts_with("Invalid value for"))
            .count(),
        1,
        "{diags:?}"
    );
    assert!(echo.calls().is_empty());

    // Without a block, the provider gets no settings.
    let bare = "resource \"echo_note\" \"a\" {\n  input = \"y\"\n}\n";
    let (outcome, diags, calls) = run("bare", bare);
    assert!(matches!(outcome, RunOutcome::Ran(_)), "{diags:?}");
    assert!(!calls.is_empty());
    assert!(calls.iter().all(|(_, c)| c.is_none()), "{calls:?}");
}

/// `provider::echo::shout(s)`: `s` upper-cased with a `!`; the empty string is refused. Records
/// what it was called with.
#[derive(Default)]
struct Shout {
    calls: Mutex<Vec<String>>,
}

impl baton_provider::ProviderFunction for Shout {
    fn signature(&self) -> baton_provider::Signature {
        baton_provider::Signature {
            params: vec![baton_provider::Param {
                name: "s".to_string(),
                ty: Type::String,
                allow_null: false,
            }],
            variadic: None,
            ret: Type::String,
        }
    }

    fn call(&self, args: &[Value]) -> Result<Value, baton_provider::FnError> {
        let s = args.first().and_then(Value::as_str).unwrap_or_default();
        if let Ok(mut c) = self.calls.lock() {
            c.push(s.to_string());
        }
        if s.is_empty() {
            return Err(baton_provider::FnError::arg(0, "empty string"));
        }
        if s == "?" {
            return Err(baton_provider::FnError::new("no questions"));
        }
        Ok(Value::string(format!("{}!", s.to_uppercase())))
    }
}

#[test]
fn provider_functions_come_from_the_runs_provider_set() {
    let root = tempfile::tempdir().expect("temporary directory");
    let shout = Arc::new(Shout::default());
    let set = {
        let mut set = (*with_echo(&Arc::new(EchoNote::new()))).clone();
        set.add_function(ECHO, "shout", shout.clone());
        Arc::new(set)
    };
    let head = "terraform {\n  required_providers {\n    echo = { source = \"example.com/test/echo\" }\n  }\n}\n\n";
    // A known argument (here a number, converted to the parameter's string), an argument known
    // only after apply (the function is not called with it while planning), and a sensitive
    // one (the result is sensitive).
    let config = format!(
        "{head}variable \"quiet\" {{\n  default   = \"psst\"\n  sensitive = true\n}}\n\n\
         resource \"terraform_data\" \"t\" {{\n  input = \"later\"\n}}\n\n\
         output \"greeting\" {{\n  value = provider::echo::shout(42)\n}}\n\n\
         output \"late\" {{\n  value = provider::echo::shout(terraform_data.t.output)\n}}\n\n\
         output \"quiet\" {{\n  value     = provider::echo::shout(var.quiet)\n  sensitive = true\n}}\n"
    );
    let dir = stack(root.path(), "fn", &config);
    let (outcome, diags) = apply(&dir, set.clone(), &[]);
    let RunOutcome::Ran(ran) = &outcome else {
        panic!("the run did not run: {diags:?}")
    };
    assert!(ran.succeeded(), "{:?}", ran.report.diags);
    let output = |name: &str| {
        ran.report
            .outputs
            .get(name)
            .map(|(v, _)| v.clone())
            .unwrap_or_else(|| panic!("no output {name}"))
    };
    assert_eq!(output("greeting").as_str(), Some("42!"));
    assert_eq!(output("late").as_str(), Some("LATER!"));
    assert!(output("quiet").contains_sensitive());
    let calls = shout.calls.lock().map(|c| c.clone()).unwrap_or_default();
    assert!(calls.iter().all(|c| !c.is_empty()), "{calls:?}");
    assert!(calls.contains(&"later".to_string()), "{calls:?}");

    // The function's refusals, worded as Terraform words a plugin's FunctionError: on the
    // argument, or on the call.
    let refused = format!("{head}output \"o\" {{\n  value = provider::echo::shout(\"\")\n}}\n");
    let dir = stack(root.path(), "refused", &refused);
    let (_, diags) = apply(&dir, set.clone(), &[]);
    assert!(
        diags
            .iter()
            .any(|d| d
                == "Invalid function argument: Invalid value for \"s\" parameter: empty string."),
        "{diags:?}"
    );
    let refused = format!("{head}output \"o\" {{\n  value = provider::echo::shout(\"?\")\n}}\n");
    let dir = stack(root.path(), "refused-call", &refused);
    let (_, diags) = apply(&dir, set.clone(), &[]);
    assert!(
        diags.iter().any(|d| d
            == "Error in function call: Call to function \"provider::echo::shout\" failed: no questions."),
        "{diags:?}"
    );

    // The result of a sensitive argument is sensitive: an output must say so.
    let leak = format!(
        "{head}variable \"quiet\" {{\n  default   = \"psst\"\n  sensitive = true\n}}\n\n\
         output \"o\" {{\n  value = provider::echo::shout(var.quiet)\n}}\n"
    );
    let dir = stack(root.path(), "leak", &leak);
    let (_, diags) = apply(&dir, set.clone(), &[]);
    assert!(
        diags
            .iter()
            .any(|d| d.starts_with("Output refers to sensitive values")),
        "{diags:?}"
    );

    // A function the set lacks is still unknown.
    let missing = format!("{head}output \"o\" {{\n  value = provider::echo::whisper(\"a\")\n}}\n");
    let dir = stack(root.path(), "missing", &missing);
    let (_, diags) = apply(&dir, set, &[]);
    assert!(
        diags
            .iter()
            .any(|d| d.starts_with("Call to unknown function")),
        "{diags:?}"
    );
}
