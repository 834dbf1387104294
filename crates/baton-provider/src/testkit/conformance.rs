//! The provider conformance suite: the contract every resource type ([`check`]) and data source
//! type ([`check_data`]) keeps, run against one minimal valid configuration per type (a
//! [`Case`] or [`DataCase`]). A new provider gets every check by adding a row to its table.
//!
//! What is checked, in order: the schema is well formed; validate of the case's configuration is
//! clean; plan of a create conforms to the schema, keeps every configured value and leaves
//! unknowns only in computed attributes; apply of the create returns a wholly known object
//! consistent with the plan; read returns it; the same configuration plans no change; a changed
//! configuration plans an update or a replacement of named attributes; destroy returns nothing
//! and read afterwards answers as the case says; import round-trips (or fails permanently when
//! not supported); an invalid configuration is rejected (a validate error, or a permanent
//! failure of plan or apply); secret attributes are marked sensitive.
//!
//! Panics with the type and the step that broke the contract; never sleeps or times anything.

use super::{assert_consistent, config, destroy, str_of, try_apply, try_plan, Sandbox};
use crate::plan::mark_schema_sensitive;
use crate::schema::{Nesting, Schema};
use crate::{DataSourceType, ErrorKind, ProviderError, ResourceType};
use baton_eval::{PathStep, Type, Value};
use std::path::Path;

/// What read answers for an object after it was destroyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterDelete {
    /// `None`: the real object is gone (a file, a command's object with a read command).
    Gone,
    /// The object as recorded: a logical resource whose state is all there is.
    Kept,
}

/// Arguments of a configuration: attribute or block name and value; the rest are null.
pub type Pairs = Vec<(&'static str, Value)>;

/// One resource type's row in the conformance table.
pub struct Case {
    pub type_name: &'static str,
    /// A minimal valid configuration.
    pub config: Pairs,
    /// A different valid configuration, planned against the created object (update or replace).
    pub change: Option<Pairs>,
    /// A configuration validate or plan must reject.
    pub invalid: Option<Pairs>,
    /// The import id of a created object, for types that support import (`None`: import must
    /// fail permanently).
    pub import_id: Option<fn(&Value) -> String>,
    /// Attributes holding secrets, which the schema must mark sensitive.
    pub secret: &'static [&'static str],
    pub after_delete: AfterDelete,
    /// Prepares the sandbox (files a configuration refers to) before the checks.
    pub setup: Option<fn(&Path)>,
}

impl Case {
    /// A row with only a configuration: no change, no invalid configuration, no import, no
    /// secrets, and the object kept after delete.
    pub fn new(type_name: &'static str, config: Pairs) -> Case {
        Case {
            type_name,
            config,
            change: None,
            invalid: None,
            import_id: None,
            secret: &[],
            after_delete: AfterDelete::Kept,
            setup: None,
        }
    }
}

/// One data source type's row.
pub struct DataCase {
    pub type_name: &'static str,
    pub config: Pairs,
    pub secret: &'static [&'static str],
    pub setup: Option<fn(&Path)>,
}

/// The import id is the `id` attribute (the usual case).
pub fn id_attr(v: &Value) -> String {
    str_of(v, "id")
}

/// Runs every check of the resource contract on `rt` with `case`, in a fresh sandbox.
pub fn check(rt: &dyn ResourceType, case: &Case) {
    let name = rt.type_name();
    assert_eq!(name, case.type_name, "the case is for another type");
    let schema = rt.schema();
    check_schema(name, schema);
    check_secrets(name, schema, case.secret);
    let sb = Sandbox::new();
    if let Some(setup) = case.setup {
        setup(sb.path());
    }
    let ctx = &sb.ctx;
    let cfg = config(schema, &case.config);
    assert_clean(name, &rt.validate(&cfg));

    // Plan and apply the create.
    let p = try_plan(rt, None, &cfg).unwrap_or_else(|e| panic!("{name}: plan create: {e}"));
    assert!(
        p.requires_replace.is_empty(),
        "{name}: a create requires no replacement"
    );
    check_planned(name, schema, &cfg, &p.planned);
    let v = try_apply(rt, ctx, None, Some(&p.planned), &cfg)
        .unwrap_or_else(|e| panic!("{name}: apply create: {e}"))
        .unwrap_or_else(|| panic!("{name}: apply create returned no object"));
    check_object(name, schema, &v, "created object");
    assert_consistent(&p.planned, &v);
    check_secret_values(name, schema, case.secret, &v);

    // Read it back.
    let r = rt
        .read(ctx, &v)
        .unwrap_or_else(|e| panic!("{name}: read: {e}"))
        .unwrap_or_else(|| panic!("{name}: read of a created object found nothing"));
    assert_same(name, "read of the created object", &v, &r);

    // The same configuration changes nothing.
    let p2 = try_plan(rt, Some(&v), &cfg).unwrap_or_else(|e| panic!("{name}: plan no-op: {e}"));
    assert!(
        p2.requires_replace.is_empty(),
        "{name}: an unchanged configuration requires replacement: {:?}",
        p2.requires_replace
    );
    assert_same(name, "plan of an unchanged configuration", &v, &p2.planned);

    // A changed configuration: an update keeps the plan's promises, a replacement names
    // attributes of the schema and creates anew.
    let mut current = v;
    if let Some(change) = &case.change {
        let cfg2 = config(schema, change);
        assert_clean(name, &rt.validate(&cfg2));
        let p3 = try_plan(rt, Some(&current), &cfg2)
            .unwrap_or_else(|e| panic!("{name}: plan change: {e}"));
        check_conforms(name, schema, &p3.planned, "planned change");
        if p3.requires_replace.is_empty() {
            let u = try_apply(rt, ctx, Some(&current), Some(&p3.planned), &cfg2)
                .unwrap_or_else(|e| panic!("{name}: apply update: {e}"))
                .unwrap_or_else(|| panic!("{name}: apply update returned no object"));
            check_object(name, schema, &u, "updated object");
            assert_consistent(&p3.planned, &u);
            current = u;
        } else {
            for path in &p3.requires_replace {
                assert!(
                    matches!(path.first(), Some(PathStep::Key(k))
                        if schema.attrs.contains_key(k) || schema.blocks.contains_key(k)),
                    "{name}: replacement path {path:?} names no attribute of the schema"
                );
            }
            destroy(rt, ctx, &current);
            let p4 = try_plan(rt, None, &cfg2)
                .unwrap_or_else(|e| panic!("{name}: plan replacement create: {e}"));
            let n = try_apply(rt, ctx, None, Some(&p4.planned), &cfg2)
                .unwrap_or_else(|e| panic!("{name}: apply replacement create: {e}"))
                .unwrap_or_else(|| panic!("{name}: replacement returned no object"));
            check_object(name, schema, &n, "replacement object");
            assert_consistent(&p4.planned, &n);
            current = n;
        }
    }

    // Import.
    match case.import_id {
        Some(id_of) => {
            let id = id_of(&current);
            let imported = rt
                .import(ctx, &id)
                .unwrap_or_else(|e| panic!("{name}: import {id:?}: {e}"));
            check_object(name, schema, &imported, "imported object");
            assert_eq!(
                str_of(&imported, "id"),
                str_of(&current, "id"),
                "{name}: import of {id:?} names another object"
            );
        }
        None => {
            let e = rt
                .import(ctx, "conformance")
                .err()
                .unwrap_or_else(|| panic!("{name}: import succeeds, but the case declares none"));
            assert_typed(name, &e, ErrorKind::Permanent);
        }
    }

    // An invalid configuration is rejected by validate, or fails plan or apply permanently.
    if let Some(invalid) = &case.invalid {
        let bad = config(schema, invalid);
        let diags = rt.validate(&bad);
        if let Some(d) = diags.iter().find(|d| d.error) {
            assert!(
                !d.summary.is_empty(),
                "{name}: a diagnostic without summary"
            );
            if let Some(a) = &d.attr {
                assert!(
                    schema.attrs.contains_key(a) || schema.blocks.contains_key(a),
                    "{name}: diagnostic about {a}, which the schema lacks"
                );
            }
        } else {
            let e = match try_plan(rt, None, &bad) {
                Err(e) => e,
                Ok(p) => try_apply(rt, ctx, None, Some(&p.planned), &bad)
                    .err()
                    .unwrap_or_else(|| panic!("{name}: the invalid configuration is applied")),
            };
            assert_typed(name, &e, ErrorKind::Permanent);
        }
    }

    // Destroy.
    destroy(rt, ctx, &current);
    let after = rt
        .read(ctx, &current)
        .unwrap_or_else(|e| panic!("{name}: read after delete: {e}"));
    match case.after_delete {
        AfterDelete::Gone => assert!(after.is_none(), "{name}: read finds a deleted object"),
        AfterDelete::Kept => {
            let after = after.unwrap_or_else(|| panic!("{name}: read after delete: nothing"));
            assert_same(name, "read after delete", &current, &after);
        }
    }
}

/// Runs every check of the data source contract on `ds` with `case`, in a fresh sandbox.
pub fn check_data(ds: &dyn DataSourceType, case: &DataCase) {
    let name = ds.type_name();
    assert_eq!(name, case.type_name, "the case is for another type");
    let schema = ds.schema();
    check_schema(name, schema);
    check_secrets(name, schema, case.secret);
    let sb = Sandbox::new();
    if let Some(setup) = case.setup {
        setup(sb.path());
    }
    let cfg = config(schema, &case.config);
    assert_clean(name, &ds.validate(&cfg));
    let v = ds
        .read(&sb.ctx, &cfg)
        .unwrap_or_else(|e| panic!("{name}: read: {e}"));
    check_object(name, schema, &v, "read result");
    for (k, cv) in crate::builtin::attrs(&cfg) {
        if !cv.is_null() {
            let got = v.get_attr(&k).cloned().unwrap_or_else(Value::dynamic_null);
            assert_same(name, &format!("configured argument {k}"), &cv, &got);
        }
    }
    check_secret_values(name, schema, case.secret, &v);
}

/// Every attribute is required, or optional and/or computed; a default belongs to an optional
/// attribute; names are lower-case identifiers used once; a computed string `id` exists;
/// nested blocks have consistent item limits.
pub fn check_schema(name: &str, schema: &Schema) {
    check_schema_at(name, schema, "");
    let id = schema
        .attrs
        .get("id")
        .unwrap_or_else(|| panic!("{name}: no id attribute"));
    assert!(
        id.computed && id.ty == Type::String,
        "{name}: id is a computed string"
    );
}

fn check_schema_at(name: &str, schema: &Schema, at: &str) {
    for (k, a) in &schema.attrs {
        let what = format!("{name}: attribute {at}{k}");
        assert!(is_ident(k), "{what}: not a lower-case identifier");
        assert!(
            a.required != (a.optional || a.computed),
            "{what}: exactly one of required, or optional/computed"
        );
        if a.default.is_some() {
            assert!(
                a.optional && !a.required,
                "{what}: a default needs optional"
            );
        }
        if let Some(d) = &a.default {
            assert!(
                fits(&d.ty(), &a.ty),
                "{what}: default {d:?} is not a {:?}",
                a.ty
            );
        }
    }
    for (k, b) in &schema.blocks {
        let what = format!("{name}: block {at}{k}");
        assert!(is_ident(k), "{what}: not a lower-case identifier");
        assert!(!schema.attrs.contains_key(k), "{what}: also an attribute");
        assert!(
            b.max_items == 0 || b.min_items <= b.max_items,
            "{what}: min_items above max_items"
        );
        if b.nesting == Nesting::Single {
            assert!(b.max_items <= 1, "{what}: a single block holds one item");
        }
        check_schema_at(name, &b.schema, &format!("{at}{k}."));
    }
}

fn check_secrets(name: &str, schema: &Schema, secret: &[&str]) {
    for s in secret {
        let a = schema
            .attrs
            .get(*s)
            .unwrap_or_else(|| panic!("{name}: secret attribute {s} not in the schema"));
        assert!(
            a.sensitive,
            "{name}: {s} holds a secret but is not sensitive"
        );
    }
}

fn check_secret_values(name: &str, schema: &Schema, secret: &[&str], v: &Value) {
    let marked = mark_schema_sensitive(schema, v.clone());
    for s in secret {
        if let Some(x) = marked.get_attr(s) {
            assert!(
                x.is_null() || x.is_sensitive() || x.contains_sensitive(),
                "{name}: {s} is not marked sensitive in the object"
            );
        }
    }
}

/// The planned create keeps configured values and has unknowns only in computed attributes.
fn check_planned(name: &str, schema: &Schema, cfg: &Value, planned: &Value) {
    check_conforms(name, schema, planned, "planned create");
    for (k, a) in &schema.attrs {
        let pv = planned
            .get_attr(k)
            .cloned()
            .unwrap_or_else(Value::dynamic_null);
        let cv = cfg.get_attr(k).cloned().unwrap_or_else(Value::dynamic_null);
        if !cv.is_null() {
            assert_same(name, &format!("planned {k} (configured)"), &cv, &pv);
        } else if !a.computed {
            assert!(
                pv.is_null(),
                "{name}: {k} is neither configured nor computed but planned {pv:?}"
            );
        }
        if !pv.is_wholly_known() {
            assert!(
                a.computed,
                "{name}: {k} is unknown in the plan but not computed"
            );
        }
    }
}

/// A wholly known object of the schema's type.
fn check_object(name: &str, schema: &Schema, v: &Value, what: &str) {
    check_conforms(name, schema, v, what);
    assert!(v.is_wholly_known(), "{name}: {what} has unknowns: {v:?}");
}

/// Every attribute and block of the schema, and nothing else, with a value of its type.
fn check_conforms(name: &str, schema: &Schema, v: &Value, what: &str) {
    let want = schema.object_type();
    assert!(
        fits(&v.ty(), &want),
        "{name}: {what} is not of the schema's type\n  got:  {:?}\n  want: {want:?}",
        v.ty()
    );
}

/// Whether a value's type `got` fits `want`, `any` (Dynamic) standing for every type on
/// either side.
fn fits(got: &Type, want: &Type) -> bool {
    match (got, want) {
        (Type::Dynamic, _) | (_, Type::Dynamic) => true,
        (Type::List(a), Type::List(b))
        | (Type::Set(a), Type::Set(b))
        | (Type::Map(a), Type::Map(b)) => fits(a, b),
        (Type::Tuple(a), Type::Tuple(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| fits(x, y))
        }
        (Type::Object(a), Type::Object(b)) => {
            a.attrs.len() == b.attrs.len()
                && a.attrs
                    .iter()
                    .all(|(k, t)| b.attrs.get(k).is_some_and(|u| fits(t, u)))
        }
        _ => got == want,
    }
}

fn is_ident(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn assert_clean(name: &str, diags: &[crate::AttrDiag]) {
    let errors: Vec<_> = diags.iter().filter(|d| d.error).collect();
    assert!(
        errors.is_empty(),
        "{name}: validate of a valid configuration: {errors:?}"
    );
}

fn assert_same(name: &str, what: &str, want: &Value, got: &Value) {
    let (w, g) = (want.clone().unmark_deep().0, got.clone().unmark_deep().0);
    assert!(
        w.raw_equal(&g),
        "{name}: {what}\n  want: {w:?}\n  got:  {g:?}"
    );
}

fn assert_typed(name: &str, e: &ProviderError, kind: ErrorKind) {
    assert_eq!(e.kind, kind, "{name}: {e} is {:?}", e.kind);
    assert!(!e.summary.is_empty(), "{name}: an error without summary");
}
