//! A small pool of connections to one PostgreSQL target, for stores whose methods take
//! `&self` and are called from several threads: a call takes an idle connection (or opens
//! one), runs, and puts it back; a call that fails because the connection broke is tried
//! again on a fresh connection, with backoff.
//!
//! Must not decide whether a statement is safe to repeat: callers pass only work that is
//! (reads, and transactions whose effect is the same if they ran twice or were rolled back).

use super::{connect, error, is_transient};
use crate::location::PgTarget;
use baton_state::StateError;
use std::sync::Mutex;
use std::time::Duration;

/// How many times a call is tried when its connection breaks.
const ATTEMPTS: u32 = 5;

pub struct Pool {
    target: PgTarget,
    idle: Mutex<Vec<postgres::Client>>,
}

impl Pool {
    /// A pool for `target`, with one connection opened now (so a bad target fails at once).
    pub fn open(target: &PgTarget) -> Result<Pool, StateError> {
        let first = connect(target)?;
        Ok(Pool {
            target: target.clone(),
            idle: Mutex::new(vec![first]),
        })
    }

    pub fn target(&self) -> &PgTarget {
        &self.target
    }

    /// Runs `f` on a connection, retrying on a fresh one when the connection broke.
    pub fn with<T>(
        &self,
        mut f: impl FnMut(&mut postgres::Client) -> Result<T, postgres::Error>,
    ) -> Result<T, StateError> {
        let mut delay = Duration::from_millis(50);
        let mut attempt = 1;
        loop {
            let mut client = match self.take() {
                Some(c) => c,
                None => connect(&self.target)?,
            };
            match f(&mut client) {
                Ok(v) => {
                    self.give(client);
                    return Ok(v);
                }
                Err(e) if is_transient(&e) && attempt < ATTEMPTS => {
                    // The connection may be broken: drop it rather than return it.
                    if !client.is_closed() && e.code().is_some() {
                        self.give(client);
                    }
                    std::thread::sleep(delay);
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => {
                    if !client.is_closed() {
                        self.give(client);
                    }
                    return Err(error(&self.target, &e));
                }
            }
        }
    }

    fn take(&self) -> Option<postgres::Client> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(c) = idle.pop() {
            if !c.is_closed() {
                return Some(c);
            }
        }
        None
    }

    fn give(&self, c: postgres::Client) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < 8 {
            idle.push(c);
        }
    }
}
