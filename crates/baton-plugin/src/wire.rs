//! Small conversions from the protocol 5 and 6 wire types that have the same shape in both
//! versions (DynamicValue, Diagnostic, AttributePath), so RPC code can be written once.
//!
//! Conversions only; no RPCs.

use baton_eval::PathStep;
use magma_protocol::{tfplugin5 as pb5, tfplugin6 as pb6};

use crate::schema::{path_string, Diagnostic, PathPart};

pub trait FromMsgpack {
    fn from_msgpack(bytes: Vec<u8>) -> Self;
}

/// A DynamicValue's two encodings: (msgpack, json); at most one is set.
pub trait IntoParts {
    fn into_parts(self) -> (Vec<u8>, Vec<u8>);
}

pub trait IntoDiagnostics {
    fn into_diagnostics(self) -> Vec<Diagnostic>;
}

pub trait IntoPath {
    fn into_path(self) -> Vec<PathStep>;
}

macro_rules! wire {
    ($pb:ident) => {
        impl FromMsgpack for $pb::DynamicValue {
            fn from_msgpack(bytes: Vec<u8>) -> Self {
                $pb::DynamicValue {
                    msgpack: bytes,
                    json: Vec::new(),
                }
            }
        }

        impl IntoParts for $pb::DynamicValue {
            fn into_parts(self) -> (Vec<u8>, Vec<u8>) {
                (self.msgpack, self.json)
            }
        }

        impl IntoDiagnostics for Vec<$pb::Diagnostic> {
            fn into_diagnostics(self) -> Vec<Diagnostic> {
                use $pb::attribute_path::step::Selector;
                self.into_iter()
                    .map(|d| Diagnostic {
                        error: d.severity == $pb::diagnostic::Severity::Error as i32,
                        summary: d.summary,
                        detail: d.detail,
                        attribute: d.attribute.map(|p| {
                            path_string(p.steps.into_iter().filter_map(|s| {
                                s.selector.map(|sel| match sel {
                                    Selector::AttributeName(n) => PathPart::Attr(n),
                                    Selector::ElementKeyString(k) => PathPart::Key(k),
                                    Selector::ElementKeyInt(i) => PathPart::Index(i),
                                })
                            }))
                        }),
                    })
                    .collect()
            }
        }

        impl IntoPath for $pb::AttributePath {
            fn into_path(self) -> Vec<PathStep> {
                use $pb::attribute_path::step::Selector;
                self.steps
                    .into_iter()
                    .filter_map(|s| s.selector)
                    .map(|sel| match sel {
                        Selector::AttributeName(n) | Selector::ElementKeyString(n) => {
                            PathStep::Key(n)
                        }
                        Selector::ElementKeyInt(i) => {
                            PathStep::Index(usize::try_from(i).unwrap_or(usize::MAX))
                        }
                    })
                    .collect()
            }
        }
    };
}

wire!(pb6);
wire!(pb5);
