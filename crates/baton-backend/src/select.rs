//! Choosing a stack's store: from what the user said (`--store`, `BATON_STORE`, a `backend`
//! block, `--state`) to one [`Location`], in that order of precedence, else the default
//! `.baton/state.db` of the environment. [`choose`] is the rule itself and reads nothing;
//! [`locate`] reads the root module's backend block first. The binary uses them for its
//! commands, `baton-workflow` for the stacks a workflow runs.
//!
//! Must not open a store, and must not put a connection string in a message: errors name a
//! location with [`Location::describe`] only.

use crate::location::{Location, LocationError, PgTarget};
use baton_config::Backend;
use baton_core::{Diagnostic, Diagnostics, Sources, Span};
use std::path::{Path, PathBuf};

/// What the user said about where the state is, besides the configuration's backend block.
/// Holds connection strings: it has no `Debug`, and nothing prints it.
#[derive(Clone, Default)]
pub struct Overrides {
    /// `--store URL|PATH`.
    pub store: Option<String>,
    /// `BATON_STORE`.
    pub store_env: Option<String>,
    /// `--state PATH` (or `BATON_STATE`): an SQLite file.
    pub state: Option<PathBuf>,
    /// `PG_CONN_STR`: the connection string of a `backend "pg"` block without `conn_str`.
    pub pg_conn_str: Option<String>,
    /// `PG_SCHEMA_NAME`: its schema when the block names none.
    pub pg_schema_name: Option<String>,
}

impl Overrides {
    /// Only what the PostgreSQL backend reads from the process environment (`PG_CONN_STR`,
    /// `PG_SCHEMA_NAME`), as Terraform does: what a stack that a workflow runs uses besides its
    /// own backend block.
    pub fn pg_env() -> Overrides {
        Overrides {
            pg_conn_str: non_empty_var("PG_CONN_STR"),
            pg_schema_name: non_empty_var("PG_SCHEMA_NAME"),
            ..Overrides::default()
        }
    }
}

/// An environment variable, unless unset or empty.
pub fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Where the choice came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    StoreFlag,
    StoreEnv,
    Backend,
    StateFlag,
    Default,
}

impl Source {
    /// How messages name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::StoreFlag => "--store",
            Source::StoreEnv => "BATON_STORE",
            Source::Backend => "the backend block",
            Source::StateFlag => "--state",
            Source::Default => "the default",
        }
    }
}

/// The chosen store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    pub location: Location,
    pub source: Source,
    /// A backend block of a type Baton does not implement, which was passed over: its type and
    /// where it is (the caller warns once).
    pub ignored_backend: Option<(String, Span)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectError {
    /// A `--store` or `BATON_STORE` value that is not a location.
    #[error("{source_name}: {error}")]
    BadValue {
        source_name: &'static str,
        error: LocationError,
    },
    /// A `backend "pg"` setting that is not usable.
    #[error("backend \"pg\": {error}")]
    BadBackend { error: LocationError, span: Span },
    #[error("the backend \"pg\" block has no conn_str, and PG_CONN_STR is not set: give the connection string in one of them (or use --store)")]
    NoConnStr { span: Span },
    #[error("the backend \"pg\" block has an argument named {name:?}, which the pg backend does not take: it takes conn_str, schema_name, skip_schema_creation, skip_table_creation and skip_index_creation")]
    UnknownSetting { name: String, span: Span },
    /// The environment's name cannot be part of a schema name.
    #[error("environment {environment:?} of {location}: {error}")]
    BadEnvironment {
        environment: String,
        location: String,
        error: LocationError,
    },
}

impl SelectError {
    /// Where in the configuration the mistake is, if it is there.
    pub fn span(&self) -> Option<Span> {
        match self {
            SelectError::BadBackend { span, .. }
            | SelectError::NoConnStr { span }
            | SelectError::UnknownSetting { span, .. } => Some(*span),
            SelectError::BadValue { .. } | SelectError::BadEnvironment { .. } => None,
        }
    }
}

/// The settings of Terraform's pg backend.
const PG_SETTINGS: &[&str] = &[
    "conn_str",
    "schema_name",
    "skip_schema_creation",
    "skip_table_creation",
    "skip_index_creation",
];

/// Chooses the store of environment `environment` of the root module in `dir`: `--store`,
/// else `BATON_STORE`, else a `backend "pg"` block (with `PG_CONN_STR` and `PG_SCHEMA_NAME`
/// for what it leaves out), else `--state`, else the environment's default SQLite file. A
/// PostgreSQL location is per environment ([`Location::for_environment`]); an SQLite path
/// given explicitly is used as given. Relative paths are relative to `dir`.
pub fn choose(
    dir: &Path,
    environment: &str,
    backend: Option<&Backend>,
    o: &Overrides,
) -> Result<Chosen, SelectError> {
    let per_env = |l: Location| {
        l.for_environment(environment)
            .map_err(|error| SelectError::BadEnvironment {
                environment: environment.to_string(),
                location: l.describe(),
                error,
            })
    };
    let given = [
        (o.store.as_deref(), Source::StoreFlag),
        (o.store_env.as_deref(), Source::StoreEnv),
    ];
    for (value, source) in given {
        let Some(v) = value.filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let l = Location::parse(v, dir).map_err(|error| SelectError::BadValue {
            source_name: source.as_str(),
            error,
        })?;
        return Ok(Chosen {
            location: per_env(l)?,
            source,
            ignored_backend: None,
        });
    }
    let mut ignored_backend = None;
    if let Some(b) = backend {
        if b.kind == "pg" {
            if let Some(name) = b.attrs.keys().find(|k| !PG_SETTINGS.contains(&k.as_str())) {
                return Err(SelectError::UnknownSetting {
                    name: name.clone(),
                    span: b.span,
                });
            }
            let conn = b
                .attr("conn_str")
                .or(o.pg_conn_str.as_deref())
                .ok_or(SelectError::NoConnStr { span: b.span })?;
            let schema = b.attr("schema_name").or(o.pg_schema_name.as_deref());
            let t = PgTarget::parse(conn, schema).map_err(|error| SelectError::BadBackend {
                error,
                span: b.span,
            })?;
            return Ok(Chosen {
                location: per_env(Location::Postgres(t))?,
                source: Source::Backend,
                ignored_backend: None,
            });
        }
        ignored_backend = Some((b.kind.clone(), b.span));
    }
    let (location, source) = match &o.state {
        Some(p) => (Location::Sqlite(dir.join(p)), Source::StateFlag),
        None => (
            Location::Sqlite(baton_state::sqlite::default_path(dir, environment)),
            Source::Default,
        ),
    };
    Ok(Chosen {
        location,
        source,
        ignored_backend,
    })
}

/// Where a root module's records are: its environment's state store, and the workflow run
/// store of its directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub state: Chosen,
    /// The location whose workflow store ([`Location::open_workflows`]) holds the directory's
    /// workflow runs: the default environment's store, chosen without `--state` (workflow
    /// runs are not per environment, and `--state` names a state file only).
    pub workflows: Location,
}

/// [`choose`] for the root module in `dir`, reading its backend block first
/// ([`baton_config::backend::read_root_backend`]). `None` when the backend block or the
/// choice has errors; every error and the warning about a backend Baton does not implement
/// are in the diagnostics (with their place in the configuration where they have one).
pub fn locate(
    dir: &Path,
    environment: &str,
    o: &Overrides,
    sources: &Sources,
) -> (Option<Located>, Diagnostics) {
    let (backend, mut diags) = baton_config::backend::read_root_backend(dir, sources);
    if diags.has_errors() {
        return (None, diags);
    }
    let without_state = Overrides {
        state: None,
        ..o.clone()
    };
    let chosen = choose(dir, environment, backend.as_ref(), o).and_then(|state| {
        let workflows = choose(dir, "default", backend.as_ref(), &without_state)?.location;
        Ok(Located { state, workflows })
    });
    match chosen {
        Ok(c) => {
            if let Some((kind, span)) = &c.state.ignored_backend {
                diags.push(unimplemented_backend(kind, &c.state.location).at(*span));
            }
            (Some(c), diags)
        }
        Err(e) => {
            let d = Diagnostic::error("Cannot choose the state store", e.to_string());
            diags.push(match e.span() {
                Some(s) => d.at(s),
                None => d,
            });
            (None, diags)
        }
    }
}

/// The warning for a backend block of a type Baton does not implement.
pub fn unimplemented_backend(kind: &str, stays: &Location) -> Diagnostic {
    let what = if kind == "cloud" {
        "a cloud block (HCP Terraform)".to_string()
    } else {
        format!("the {kind:?} backend")
    };
    Diagnostic::warning(
        "Backend not implemented",
        format!(
            "Baton does not implement {what}, so this block is ignored: the state stays in {}. Baton stores state in SQLite (the default) or PostgreSQL (backend \"pg\", --store or BATON_STORE).",
            stays.describe()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::FileId;
    use std::collections::BTreeMap;

    fn pg_block(attrs: &[(&str, &str)]) -> Backend {
        Backend {
            kind: "pg".into(),
            attrs: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            span: Span::new(FileId(0), 0, 1),
        }
    }

    fn describe(c: Result<Chosen, SelectError>) -> (String, Source) {
        let c = c.expect("chosen");
        (c.location.describe(), c.source)
    }

    #[test]
    fn precedence_is_flag_env_backend_state_default() {
        let dir = Path::new("/s");
        let b = pg_block(&[("conn_str", "postgres://u:pw@db/x"), ("schema_name", "web")]);
        let mut o = Overrides {
            store: Some("a.db".into()),
            store_env: Some("b.db".into()),
            state: Some("c.db".into()),
            ..Overrides::default()
        };
        assert_eq!(
            describe(choose(dir, "default", Some(&b), &o)),
            ("/s/a.db".into(), Source::StoreFlag)
        );
        o.store = None;
        assert_eq!(
            describe(choose(dir, "default", Some(&b), &o)),
            ("/s/b.db".into(), Source::StoreEnv)
        );
        o.store_env = Some(String::new());
        assert_eq!(
            describe(choose(dir, "default", Some(&b), &o)),
            ("postgres://u@db/x (schema web)".into(), Source::Backend)
        );
        assert_eq!(
            describe(choose(dir, "default", None, &o)),
            ("/s/c.db".into(), Source::StateFlag)
        );
        o.state = None;
        assert_eq!(
            describe(choose(dir, "prod", None, &o)),
            ("/s/.baton/envs/prod/state.db".into(), Source::Default)
        );
    }

    #[test]
    fn postgres_is_per_environment_and_reads_pg_env() {
        let dir = Path::new("/s");
        let o = Overrides {
            pg_conn_str: Some("postgres://db/x".into()),
            pg_schema_name: Some("app".into()),
            ..Overrides::default()
        };
        assert_eq!(
            describe(choose(dir, "staging", Some(&pg_block(&[])), &o)).0,
            "postgres://db/x (schema app_env_staging)"
        );
        let o = Overrides {
            store: Some("postgres://db/x?schema_name=s".into()),
            ..Overrides::default()
        };
        assert_eq!(
            describe(choose(dir, "dev", None, &o)).0,
            "postgres://db/x (schema s_env_dev)"
        );
    }

    #[test]
    fn backend_mistakes_are_errors_and_unknown_types_are_passed_over() {
        let dir = Path::new("/s");
        let o = Overrides::default();
        assert!(matches!(
            choose(dir, "default", Some(&pg_block(&[])), &o),
            Err(SelectError::NoConnStr { .. })
        ));
        assert!(matches!(
            choose(
                dir,
                "default",
                Some(&pg_block(&[
                    ("conn_str", "postgres://db/x"),
                    ("bucket", "b")
                ])),
                &o
            ),
            Err(SelectError::UnknownSetting { .. })
        ));
        let s3 = Backend {
            kind: "s3".into(),
            ..pg_block(&[("bucket", "b")])
        };
        let c = choose(dir, "default", Some(&s3), &o).expect("chosen");
        assert_eq!(c.source, Source::Default);
        assert_eq!(c.ignored_backend.map(|(k, _)| k).as_deref(), Some("s3"));
    }

    #[test]
    fn errors_never_show_a_password() {
        let o = Overrides {
            store: Some("postgres://u:hunter2@db/x?schema_name=bad-name".into()),
            ..Overrides::default()
        };
        let e = choose(Path::new("/s"), "default", None, &o).expect_err("bad schema");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let o = Overrides {
            store: Some("postgres://u:hunter2@db/x".into()),
            ..Overrides::default()
        };
        let e = choose(Path::new("/s"), "x-".repeat(40).as_str(), None, &o).expect_err("long");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
