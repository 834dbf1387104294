//! Moving a state between stores (`baton state migrate`): writing a whole snapshot — read
//! from another Baton store or from a Terraform state file ([`crate::tfstate`]) — into a
//! store as one new version, under that store's lock.
//!
//! Must not choose stores, take locks or write audit records: the caller holds the lock whose
//! fencing token it passes, and records what was done.

use baton_state::{Fence, Snapshot, StateError, StateStore};

/// What a write of a snapshot did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// The version written.
    pub serial: u64,
    /// Objects written (new or different) and removed (in the store, not in the snapshot).
    pub written: usize,
    pub removed: usize,
    /// Objects and root outputs the store now holds.
    pub objects: usize,
    pub outputs: usize,
}

/// Makes `snap` the current state of `store`, as one new version opened with `command`:
/// objects that differ or are new are written, objects the snapshot lacks are removed, the
/// root outputs replaced. The version is closed `complete`, or `failed` if a write failed
/// (what was written stays, as with any interrupted version).
pub fn write_snapshot(
    store: &dyn StateStore,
    fence: Fence,
    snap: &Snapshot,
    command: &str,
) -> Result<Written, StateError> {
    let before = store.current()?;
    let serial = store.begin_version(fence, "", command)?;
    let result = (|| {
        let mut written = 0;
        let mut removed = 0;
        for (k, o) in &snap.objects {
            if before.objects.get(k) != Some(o) {
                store.put_object(fence, serial, k, Some(o))?;
                written += 1;
            }
        }
        for k in before.objects.keys() {
            if !snap.objects.contains_key(k) {
                store.put_object(fence, serial, k, None)?;
                removed += 1;
            }
        }
        if before.outputs != snap.outputs {
            store.put_outputs(fence, serial, &snap.outputs)?;
        }
        Ok::<_, StateError>((written, removed))
    })();
    match result {
        Ok((written, removed)) => {
            store.finish_version(fence, serial, "complete")?;
            Ok(Written {
                serial,
                written,
                removed,
                objects: snap.objects.len(),
                outputs: snap.outputs.len(),
            })
        }
        Err(e) => {
            // The write's error is the one to report; closing the version is best effort.
            let _ = store.finish_version(fence, serial, "failed");
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::InstanceAddr;
    use baton_state::{InstanceState, InstanceStatus, ObjectKey, RawJson, SqliteStore};

    fn obj(id: &str) -> InstanceState {
        InstanceState {
            provider: "provider[\"terraform.io/builtin/terraform\"]".into(),
            schema_version: 0,
            value: RawJson::from_value(&serde_json::json!({"t": "string", "v": id})),
            status: InstanceStatus::Ready,
            dependencies: Vec::new(),
            create_before_destroy: false,
        }
    }

    fn key(a: &str) -> ObjectKey {
        ObjectKey::current(InstanceAddr::parse(a).expect("addr"))
    }

    #[test]
    fn the_store_ends_up_holding_exactly_the_snapshot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("s.db")).expect("opens");
        let info = baton_state::lock::current_lock_info("test");
        let guard = store.lock(info, std::time::Duration::ZERO).expect("locks");
        let mut snap = Snapshot::default();
        snap.objects.insert(key("terraform_data.a"), obj("a"));
        snap.objects.insert(key("terraform_data.b"), obj("b"));
        let w = write_snapshot(&store, guard.fence(), &snap, "state migrate").expect("writes");
        assert_eq!((w.serial, w.written, w.removed), (1, 2, 0));
        snap.objects.remove(&key("terraform_data.a"));
        snap.objects.insert(key("terraform_data.b"), obj("b2"));
        let w = write_snapshot(&store, guard.fence(), &snap, "state migrate").expect("writes");
        assert_eq!((w.serial, w.written, w.removed), (2, 1, 1));
        let now = store.current().expect("reads");
        assert_eq!(now.objects, snap.objects);
        assert_eq!(store.history().expect("history").len(), 2);
    }
}
