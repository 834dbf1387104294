//! Conversions between engine values and the state model's opaque JSON: object values with
//! their types, unknown and sensitive marks; root outputs.
//!
//! The only place that knows how values are encoded in state.

use baton_eval::Value;
use baton_state::{InstanceState, InstanceStatus, OutputState, RawJson};

pub fn encode_object(
    v: &Value,
    provider: &str,
    dependencies: Vec<String>,
    create_before_destroy: bool,
    status: InstanceStatus,
) -> InstanceState {
    InstanceState {
        provider: provider.to_string(),
        schema_version: 0,
        value: RawJson::from_value(&v.to_typed_json()),
        status,
        dependencies,
        create_before_destroy,
    }
}

pub fn decode_object(s: &InstanceState) -> Result<Value, String> {
    Value::from_typed_json(&s.value.parse()?)
}

pub fn encode_output(v: &Value, sensitive: bool) -> OutputState {
    OutputState {
        value: RawJson::from_value(&v.to_typed_json()),
        sensitive,
    }
}

pub fn decode_output(o: &OutputState) -> Result<Value, String> {
    Value::from_typed_json(&o.value.parse()?)
}
