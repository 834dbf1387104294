//! A PostgreSQL target: a connection string (with credentials, never shown) and the schema
//! Baton's tables live in, parsed from what users write (a `postgres://` URL or libpq keywords,
//! with Baton's own `schema_name` taken out), and shown only with the password left out.
//!
//! Must not connect or hold SQL: [`super::connect`] and the stores do.

/// The schema Baton uses in a PostgreSQL database when none is named.
pub const DEFAULT_SCHEMA: &str = "baton";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LocationError {
    #[error("the store location is empty")]
    Empty,
    #[error("schema name {0:?} is not usable: use letters, digits and underscores, starting with a letter or underscore, at most 63 bytes")]
    BadSchema(String),
}

/// A PostgreSQL database and the schema Baton's tables live in.
#[derive(Clone, PartialEq, Eq)]
pub struct PgTarget {
    /// The connection string as the user wrote it, without Baton's own parameters
    /// (`schema_name`). Holds credentials: never print it.
    conn: String,
    /// The schema (created on first use).
    pub schema: String,
    /// The schema of the work queue: the one named by the user, shared by every environment
    /// (whose state lives in schemas of their own), so one set of workers serves them all.
    pub queue_schema: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Whether `s` is a PostgreSQL connection string (URL or keyword form).
pub fn is_postgres(s: &str) -> bool {
    let s = s.trim();
    s.starts_with("postgres://")
        || s.starts_with("postgresql://")
        || (s.contains('=') && !s.contains('/') && s.split_whitespace().all(|w| w.contains('=')))
}

impl PgTarget {
    /// Parses a connection string, taking `schema_name` out of it (a URL query parameter or
    /// a keyword); an explicit `schema` wins over it.
    pub fn parse(conn: &str, schema: Option<&str>) -> Result<PgTarget, LocationError> {
        let conn = conn.trim();
        if conn.is_empty() {
            return Err(LocationError::Empty);
        }
        let (conn, from_conn) = take_param(conn, "schema_name");
        let schema = schema
            .map(str::to_string)
            .or(from_conn)
            .unwrap_or_else(|| DEFAULT_SCHEMA.to_string());
        check_schema(&schema)?;
        Ok(PgTarget {
            conn,
            queue_schema: schema.clone(),
            schema,
        })
    }

    /// The connection string to hand to the client library. Holds credentials.
    pub fn conn_str(&self) -> &str {
        &self.conn
    }

    /// The same database and work queue, with the state in `schema` (an environment's).
    pub fn in_schema(&self, schema: String) -> PgTarget {
        PgTarget {
            conn: self.conn.clone(),
            schema,
            queue_schema: self.queue_schema.clone(),
        }
    }

    /// The same database, in the work queue's schema.
    pub fn queue_target(&self) -> PgTarget {
        PgTarget {
            conn: self.conn.clone(),
            schema: self.queue_schema.clone(),
            queue_schema: self.queue_schema.clone(),
        }
    }

    /// `postgresql://USER@HOST:PORT/DB (schema S)`, or the keyword form without `password`.
    pub fn describe(&self) -> String {
        format!("{} (schema {})", redact(&self.conn), self.schema)
    }
}

pub(crate) fn check_schema(s: &str) -> Result<(), LocationError> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(LocationError::BadSchema(s.to_string()))
    }
}

/// `conn` without the parameter `name`, and its value if it was there.
fn take_param(conn: &str, name: &str) -> (String, Option<String>) {
    if conn.starts_with("postgres://") || conn.starts_with("postgresql://") {
        let Some((head, query)) = conn.split_once('?') else {
            return (conn.to_string(), None);
        };
        let mut found = None;
        let kept: Vec<&str> = query
            .split('&')
            .filter(|kv| match kv.split_once('=') {
                Some((k, v)) if k == name => {
                    found = Some(v.to_string());
                    false
                }
                _ => !kv.is_empty(),
            })
            .collect();
        let conn = if kept.is_empty() {
            head.to_string()
        } else {
            format!("{head}?{}", kept.join("&"))
        };
        (conn, found)
    } else {
        let mut found = None;
        let kept: Vec<&str> = conn
            .split_whitespace()
            .filter(|kv| match kv.split_once('=') {
                Some((k, v)) if k == name => {
                    found = Some(v.trim_matches('\'').to_string());
                    false
                }
                _ => true,
            })
            .collect();
        (kept.join(" "), found)
    }
}

/// A connection string without its password.
pub fn redact(conn: &str) -> String {
    if let Some(rest) = conn
        .strip_prefix("postgresql://")
        .map(|r| ("postgresql://", r))
        .or_else(|| conn.strip_prefix("postgres://").map(|r| ("postgres://", r)))
    {
        let (scheme, rest) = rest;
        let (authority, tail) = match rest.find(['/', '?']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                format!("{user}@{host}")
            }
            None => authority.to_string(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|kv| !kv.to_ascii_lowercase().starts_with("password="))
                    .collect();
                if kept.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}?{}", kept.join("&"))
                }
            }
            None => tail.to_string(),
        };
        format!("{scheme}{authority}{tail}")
    } else {
        conn.split_whitespace()
            .filter(|kv| !kv.to_ascii_lowercase().starts_with("password="))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
