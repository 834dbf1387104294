//! The environment a replica runs in: the service's `env` plus one `PORT_<NAME>` per assigned
//! port and `PORT` for the first. Shared by every driver and by `command` health checks, so a
//! check sees exactly what the replica sees. Must not read the agent's own environment.

use std::collections::BTreeMap;

use crate::spec::ServiceSpec;

/// `spec.env`, then `PORT_<NAME>` (upper-cased, `-` and `.` as `_`) for each of the spec's
/// ports that has an assignment in `ports`, and `PORT` for the first port.
pub fn replica_env(spec: &ServiceSpec, ports: &BTreeMap<String, u16>) -> BTreeMap<String, String> {
    let mut env = spec.env.clone();
    for (i, name) in spec.ports.iter().enumerate() {
        let Some(port) = ports.get(name) else {
            continue;
        };
        env.insert(port_var(name), port.to_string());
        if i == 0 {
            env.insert("PORT".to_owned(), port.to_string());
        }
    }
    env
}

/// `http` -> `PORT_HTTP`, `admin-ui` -> `PORT_ADMIN_UI`.
pub fn port_var(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("PORT_{upper}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_variables() {
        assert_eq!(port_var("http"), "PORT_HTTP");
        assert_eq!(port_var("admin-ui"), "PORT_ADMIN_UI");
    }
}
