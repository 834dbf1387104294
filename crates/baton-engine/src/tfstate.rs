//! Reads a Terraform state file (`terraform.tfstate`, JSON format version 4, written by
//! Terraform 0.12 and later) into Baton's state model, for `baton state migrate --from`.
//!
//! How each field of the file maps onto Baton's model:
//! - `mode`, `module`, `type`, `name` and an instance's `index_key` make the instance address;
//!   `deposed` the object key of a deposed object; `status: "tainted"` its status.
//! - `attributes` are decoded against the resource type's schema in Baton's provider set
//!   (attributes of a dynamic type carry their own type, as Terraform writes them), then
//!   encoded as Baton encodes every object ([`crate::statecodec`]). `sensitive_attributes`
//!   become sensitive marks on those paths, and the schema's sensitive attributes are marked
//!   as Baton marks them after an apply.
//! - `provider` becomes Baton's provider string for the type (Baton has no provider aliases);
//!   `schema_version`, `dependencies` and `create_before_destroy` are kept as they are.
//! - `private` (a provider's opaque data) is not kept: Baton's providers keep none.
//! - Root `outputs`: `value` decoded with its `type`, `sensitive` kept.
//! - `lineage`, `serial` and `terraform_version` are reported, not kept: the target store
//!   numbers its own versions.
//!
//! Must never put an attribute or output value in an error or a note: they may be secrets.
//! Messages name the file, an address and an attribute only.

use crate::statecodec::{encode_object, encode_output};
use baton_core::InstanceAddr;
use baton_eval::{PathStep, Type, Value};
use baton_provider::plan::mark_schema_sensitive;
use baton_provider::schema::Schema;
use baton_provider::Registry;
use baton_state::{InstanceStatus, ObjectKey, Snapshot};
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::path::Path;

/// What was read from a Terraform state file.
#[derive(Debug)]
pub struct Imported {
    /// The objects and root outputs, as Baton records them (`serial` 0, `lineage` Terraform's).
    pub snapshot: Snapshot,
    /// Terraform's `serial` of the file.
    pub serial: u64,
    /// The Terraform version that wrote it.
    pub terraform_version: String,
    /// Things left out, for the user to know (never values).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TfStateError {
    #[error("{file} is not a Terraform state file: {message}")]
    NotState { file: String, message: String },
    #[error("{file} is a Terraform state of format version {version}; Baton reads version 4 (Terraform 0.12 and later): `terraform state pull` with a current Terraform writes one")]
    Version { file: String, version: String },
    #[error("{file}: {address}: {message}")]
    Resource {
        file: String,
        address: String,
        message: String,
    },
    #[error("{file}: {address} is of type {type_}, which Baton does not implement: its state cannot be imported")]
    UnknownType {
        file: String,
        address: String,
        type_: String,
    },
    #[error("{file}: output {name:?}: {message}")]
    Output {
        file: String,
        name: String,
        message: String,
    },
}

/// Reads the Terraform state file text `text` (named `file` in errors) with the resource types
/// of `providers`.
pub fn read(text: &str, file: &Path, providers: &Registry) -> Result<Imported, TfStateError> {
    let file = file.display().to_string();
    let not_state = |message: String| TfStateError::NotState {
        file: file.clone(),
        message,
    };
    // serde_json's own messages for a type mismatch quote the value: only syntax errors
    // (which carry a line and column) are reported from it.
    let doc: J = serde_json::from_str(text).map_err(|e| {
        not_state(format!(
            "invalid JSON at line {} column {}",
            e.line(),
            e.column()
        ))
    })?;
    let Some(top) = doc.as_object() else {
        return Err(not_state("the document is not a JSON object".into()));
    };
    match top.get("version") {
        Some(J::Number(n)) if n.to_string() == "4" => {}
        Some(J::Number(n)) => {
            return Err(TfStateError::Version {
                file,
                version: n.to_string(),
            })
        }
        _ => return Err(not_state("it has no format \"version\"".into())),
    }
    let mut out = Imported {
        snapshot: Snapshot {
            lineage: str_field(top, "lineage").unwrap_or_default(),
            ..Snapshot::default()
        },
        serial: top.get("serial").and_then(J::as_u64).unwrap_or(0),
        terraform_version: str_field(top, "terraform_version").unwrap_or_default(),
        notes: Vec::new(),
    };
    let mut private_kept_out = 0usize;
    for r in array(top, "resources").map_err(not_state)? {
        read_resource(r, &file, providers, &mut out, &mut private_kept_out)?;
    }
    if private_kept_out > 0 {
        out.notes.push(format!(
            "{private_kept_out} object(s) had provider-private data, which Baton's providers do not use: it was left out"
        ));
    }
    if let Some(outputs) = top.get("outputs").and_then(J::as_object) {
        for (name, o) in outputs {
            let err = |message: String| TfStateError::Output {
                file: file.clone(),
                name: name.clone(),
                message,
            };
            let ty = o
                .get("type")
                .and_then(Type::from_json)
                .ok_or_else(|| err("it has no valid \"type\"".into()))?;
            let v = Value::from_json(o.get("value").unwrap_or(&J::Null), &ty)
                .map_err(|e| err(format!("its value does not match its type: {e}")))?;
            let sensitive = o.get("sensitive").and_then(J::as_bool).unwrap_or(false);
            let v = if sensitive { v.mark_sensitive() } else { v };
            out.snapshot
                .outputs
                .insert(name.clone(), encode_output(&v, sensitive));
        }
    }
    Ok(out)
}

fn read_resource(
    r: &J,
    file: &str,
    providers: &Registry,
    out: &mut Imported,
    private_kept_out: &mut usize,
) -> Result<(), TfStateError> {
    let Some(r) = r.as_object() else {
        return Err(TfStateError::NotState {
            file: file.to_string(),
            message: "a resource is not a JSON object".into(),
        });
    };
    let module = str_field(r, "module").unwrap_or_default();
    let mode = str_field(r, "mode").unwrap_or_else(|| "managed".into());
    let type_ = str_field(r, "type").unwrap_or_default();
    let name = str_field(r, "name").unwrap_or_default();
    let resource = format!(
        "{}{}{type_}.{name}",
        if module.is_empty() {
            String::new()
        } else {
            format!("{module}.")
        },
        if mode == "data" { "data." } else { "" }
    );
    let err = |address: &str, message: String| TfStateError::Resource {
        file: file.to_string(),
        address: address.to_string(),
        message,
    };
    if type_.is_empty() || name.is_empty() || (mode != "managed" && mode != "data") {
        return Err(err(
            &resource,
            "a resource needs a \"type\", a \"name\" and a \"mode\" of managed or data".into(),
        ));
    }
    let (info, schema): (_, &Schema) = if mode == "data" {
        match providers.data_source(&type_) {
            Some((p, t)) => (p, t.schema()),
            None => {
                return Err(TfStateError::UnknownType {
                    file: file.to_string(),
                    address: resource,
                    type_,
                })
            }
        }
    } else {
        match providers.resource_type(&type_) {
            Some((p, t)) => (p, t.schema()),
            None => {
                return Err(TfStateError::UnknownType {
                    file: file.to_string(),
                    address: resource,
                    type_,
                })
            }
        }
    };
    let instances = array(r, "instances").map_err(|m| err(&resource, m))?;
    for inst in instances {
        let Some(inst) = inst.as_object() else {
            return Err(err(&resource, "an instance is not a JSON object".into()));
        };
        let key = match inst.get("index_key") {
            None | Some(J::Null) => String::new(),
            Some(J::Number(n)) => format!("[{n}]"),
            Some(J::String(s)) => format!("[{}]", baton_core::addr::quote(s)),
            Some(_) => {
                return Err(err(
                    &resource,
                    "an \"index_key\" is neither a number nor a string".into(),
                ))
            }
        };
        let text = format!("{resource}{key}");
        let addr = InstanceAddr::parse(&text).map_err(|e| err(&text, e.to_string()))?;
        let address = addr.to_string();
        let Some(attrs) = inst.get("attributes").and_then(J::as_object) else {
            let why = if inst.contains_key("attributes_flat") {
                "its attributes are in the flat format of Terraform 0.11; apply it once with a current Terraform first"
            } else {
                "it has no \"attributes\""
            };
            return Err(err(&address, why.into()));
        };
        let recorded_version = inst
            .get("schema_version")
            .and_then(J::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0);
        // An object of an older schema version keeps its attributes as they are; the provider
        // upgrades it before the next refresh.
        let value = if recorded_version < schema.version {
            Value::from_json_implied(&J::Object(attrs.clone()))
        } else {
            decode_attributes(attrs, schema, &address, &mut out.notes)
                .map_err(|m| err(&address, m))?
        };
        let sensitive = match inst.get("sensitive_attributes") {
            None | Some(J::Null) => Vec::new(),
            Some(J::Array(paths)) => paths
                .iter()
                .map(sensitive_path)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|m| err(&address, m))?,
            Some(_) => {
                return Err(err(
                    &address,
                    "\"sensitive_attributes\" is not a list of paths".into(),
                ))
            }
        };
        let value = mark_schema_sensitive(schema, value.mark_paths(&sensitive));
        if inst.get("private").and_then(J::as_str).is_some_and(|p| {
            // Terraform writes "null" (base64 "bnVsbA==") for no data.
            !p.is_empty() && p != "bnVsbA=="
        }) {
            *private_kept_out += 1;
        }
        let status = match inst.get("status").and_then(J::as_str) {
            Some("tainted") => InstanceStatus::Tainted,
            _ => InstanceStatus::Ready,
        };
        let dependencies = match inst.get("dependencies") {
            Some(J::Array(d)) => d
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let cbd = inst
            .get("create_before_destroy")
            .and_then(J::as_bool)
            .unwrap_or(false);
        // An aliased configuration (`provider["…"].west`) stays the one the object uses.
        let provider = match r
            .get("provider")
            .and_then(J::as_str)
            .and_then(crate::providers::state_alias)
        {
            Some(alias) => format!("{}.{alias}", info.state_string()),
            None => info.state_string(),
        };
        let mut obj = encode_object(&value, &provider, dependencies, cbd, status);
        obj.schema_version = recorded_version;
        let key = ObjectKey {
            addr,
            deposed: str_field(inst, "deposed").unwrap_or_default(),
        };
        if out.snapshot.objects.insert(key, obj).is_some() {
            return Err(err(&address, "the object appears twice".into()));
        }
    }
    Ok(())
}

/// An object's attributes, decoded against its type's schema: attributes the schema does
/// not have are left out (with a note), those the file lacks are null.
fn decode_attributes(
    attrs: &serde_json::Map<String, J>,
    schema: &Schema,
    address: &str,
    notes: &mut Vec<String>,
) -> Result<Value, String> {
    let Type::Object(ot) = schema.object_type() else {
        return Err("its type's schema is not an object".into());
    };
    let mut out = BTreeMap::new();
    for (name, ty) in &ot.attrs {
        let v = match attrs.get(name) {
            None => Value::null(ty.clone()),
            Some(j) => decode(j, ty).map_err(|e| format!("attribute {name:?}: {e}"))?,
        };
        out.insert(name.clone(), v);
    }
    for name in attrs.keys().filter(|k| !ot.attrs.contains_key(*k)) {
        notes.push(format!(
            "{address}: attribute {name:?} is not in Baton's schema of this type and was left out"
        ));
    }
    Ok(Value::object(out))
}

/// A value as Terraform writes it for type `ty`: where the type is dynamic, the value carries
/// its own (`{"value": …, "type": …}`).
fn decode(j: &J, ty: &Type) -> Result<Value, String> {
    if j.is_null() {
        return Ok(Value::null(ty.clone()));
    }
    match ty {
        Type::Dynamic => {
            let (Some(v), Some(t)) = (j.get("value"), j.get("type")) else {
                return Err("a value of a dynamic type must carry its type".into());
            };
            let t = Type::from_json(t).ok_or("the type of a dynamic value is not valid")?;
            Value::from_json(v, &t)
        }
        Type::Object(ot) => {
            let J::Object(o) = j else {
                return Err("an object is required".into());
            };
            let mut out = BTreeMap::new();
            for (k, t) in &ot.attrs {
                let v = match o.get(k) {
                    None => Value::null(t.clone()),
                    Some(x) => decode(x, t)?,
                };
                out.insert(k.clone(), v);
            }
            Ok(Value::object(out))
        }
        Type::List(et) | Type::Set(et) if contains_dynamic(et) => {
            let J::Array(a) = j else {
                return Err("a list is required".into());
            };
            let items = a
                .iter()
                .map(|x| decode(x, et))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::List(_)) {
                Value::list((**et).clone(), items)
            } else {
                Value::set((**et).clone(), items)
            })
        }
        Type::Map(et) if contains_dynamic(et) => {
            let J::Object(o) = j else {
                return Err("a map is required".into());
            };
            let items = o
                .iter()
                .map(|(k, x)| Ok((k.clone(), decode(x, et)?)))
                .collect::<Result<BTreeMap<_, _>, String>>()?;
            Ok(Value::map((**et).clone(), items))
        }
        _ => Value::from_json(j, ty),
    }
}

fn contains_dynamic(t: &Type) -> bool {
    match t {
        Type::Dynamic => true,
        Type::List(e) | Type::Set(e) | Type::Map(e) => contains_dynamic(e),
        Type::Tuple(ts) => ts.iter().any(contains_dynamic),
        Type::Object(o) => o.attrs.values().any(contains_dynamic),
        _ => false,
    }
}

/// One path of `sensitive_attributes`: steps `{"type": "get_attr", "value": NAME}` and
/// `{"type": "index", "value": {"value": KEY, "type": "number"|"string"}}`.
fn sensitive_path(p: &J) -> Result<Vec<PathStep>, String> {
    let bad = || "a path in \"sensitive_attributes\" is not in Terraform's format".to_string();
    let steps = p.as_array().ok_or_else(bad)?;
    steps
        .iter()
        .map(|s| {
            let kind = s.get("type").and_then(J::as_str).ok_or_else(bad)?;
            let v = s.get("value").ok_or_else(bad)?;
            match kind {
                "get_attr" => Ok(PathStep::Key(v.as_str().ok_or_else(bad)?.to_string())),
                "index" => match (v.get("value"), v.get("type").and_then(J::as_str)) {
                    (Some(J::Number(n)), Some("number")) => n
                        .as_u64()
                        .and_then(|i| usize::try_from(i).ok())
                        .map(PathStep::Index)
                        .ok_or_else(bad),
                    (Some(J::String(k)), Some("string")) => Ok(PathStep::Key(k.clone())),
                    _ => Err(bad()),
                },
                _ => Err(bad()),
            }
        })
        .collect()
}

fn str_field(o: &serde_json::Map<String, J>, k: &str) -> Option<String> {
    o.get(k).and_then(J::as_str).map(str::to_string)
}

fn array<'a>(o: &'a serde_json::Map<String, J>, k: &str) -> Result<&'a [J], String> {
    match o.get(k) {
        None | Some(J::Null) => Ok(&[]),
        Some(J::Array(a)) => Ok(a),
        Some(_) => Err(format!("{k:?} is not a list")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statecodec::{decode_object, decode_output};

    const STATE: &str = r#"{
      "version": 4, "terraform_version": "1.11.4", "serial": 7, "lineage": "l-1",
      "outputs": {
        "n": {"value": 3, "type": "number"},
        "s": {"value": "hunter2", "type": "string", "sensitive": true}
      },
      "resources": [
        {"mode": "managed", "type": "terraform_data", "name": "a",
         "provider": "provider[\"terraform.io/builtin/terraform\"]",
         "instances": [{"schema_version": 0,
           "attributes": {"id": "x1",
             "input": {"value": {"s": "hunter2", "x": 1}, "type": ["object", {"s": "string", "x": "number"}]},
             "output": {"value": {"s": "hunter2", "x": 1}, "type": ["object", {"s": "string", "x": "number"}]},
             "triggers_replace": null},
           "sensitive_attributes": [[{"type": "get_attr", "value": "input"}, {"type": "get_attr", "value": "s"}]],
           "private": "eyJzY2hlbWFfdmVyc2lvbiI6IjAifQ=="}]},
        {"module": "module.m[\"k\"]", "mode": "managed", "type": "terraform_data", "name": "c",
         "provider": "provider[\"terraform.io/builtin/terraform\"]",
         "instances": [
           {"index_key": 0, "schema_version": 0, "status": "tainted",
            "attributes": {"id": "c0", "input": {"value": 0, "type": "number"}, "output": null, "triggers_replace": null},
            "dependencies": ["terraform_data.a"], "create_before_destroy": true},
           {"index_key": 0, "deposed": "00aa11bb", "schema_version": 0,
            "attributes": {"id": "old", "input": null, "output": null, "triggers_replace": null}}
         ]},
        {"mode": "data", "type": "local_file", "name": "cfg",
         "provider": "provider[\"registry.terraform.io/hashicorp/local\"]",
         "instances": [{"schema_version": 0,
           "attributes": {"filename": "cfg.txt", "content": "hello", "id": "aaf4c6"},
           "sensitive_attributes": []}]}
      ],
      "check_results": null
    }"#;

    #[test]
    fn fields_map_onto_the_state_model() {
        let got = read(STATE, Path::new("terraform.tfstate"), &Registry::builtin()).expect("reads");
        assert_eq!(got.serial, 7);
        assert_eq!(got.terraform_version, "1.11.4");
        assert_eq!(got.notes.len(), 1, "{:?}", got.notes);
        let keys: Vec<String> = got
            .snapshot
            .objects
            .keys()
            .map(|k| format!("{} {}", k.addr, k.deposed))
            .collect();
        assert_eq!(
            keys,
            [
                "terraform_data.a ",
                "data.local_file.cfg ",
                "module.m[\"k\"].terraform_data.c[0] ",
                "module.m[\"k\"].terraform_data.c[0] 00aa11bb"
            ]
        );
        let a = got
            .snapshot
            .current(&InstanceAddr::parse("terraform_data.a").expect("addr"))
            .expect("a");
        let v = decode_object(a).expect("decodes");
        assert_eq!(
            v.sensitive_paths(),
            vec![vec![
                PathStep::Key("input".into()),
                PathStep::Key("s".into())
            ]]
        );
        assert_eq!(a.provider, "provider[\"terraform.io/builtin/terraform\"]");
        let cfg = got
            .snapshot
            .current(&InstanceAddr::parse("data.local_file.cfg").expect("addr"))
            .expect("the data source");
        let content = decode_object(cfg)
            .expect("decodes")
            .get_attr("content")
            .and_then(|c| c.as_str().map(str::to_string));
        assert_eq!(content.as_deref(), Some("hello"));
        let c = got
            .snapshot
            .current(&InstanceAddr::parse("module.m[\"k\"].terraform_data.c[0]").expect("addr"))
            .expect("c");
        assert_eq!(c.status, InstanceStatus::Tainted);
        assert!(c.create_before_destroy);
        assert_eq!(c.dependencies, ["terraform_data.a"]);
        let s = &got.snapshot.outputs["s"];
        assert!(s.sensitive);
        assert!(decode_output(s).expect("decodes").is_sensitive());
    }

    #[test]
    fn errors_name_the_file_and_never_a_value() {
        let reg = Registry::builtin();
        let v3 = r#"{"version": 3, "terraform_version": "0.11.14", "modules": []}"#;
        let e = read(v3, Path::new("old.tfstate"), &reg).expect_err("version 3");
        assert!(e.to_string().contains("old.tfstate"), "{e}");
        assert!(e.to_string().contains("version 3"), "{e}");
        let bad = STATE.replace(
            "\"x\": \"number\"}]},\n             \"output\"",
            "\"x\": \"bool\"}]},\n             \"output\"",
        );
        let e = read(&bad, Path::new("t.tfstate"), &reg).expect_err("mismatch");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let unknown = STATE.replace(
            "\"type\": \"terraform_data\", \"name\": \"a\"",
            "\"type\": \"aws_instance\", \"name\": \"a\"",
        );
        let e = read(&unknown, Path::new("t.tfstate"), &reg).expect_err("unknown type");
        assert!(e.to_string().contains("aws_instance"), "{e}");
    }
}
