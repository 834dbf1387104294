//! Run ids: `r` followed by the 32 lowercase hex digits of a UUIDv7 — 48 bits of Unix
//! milliseconds, then a counter and random bits — so ids made on different machines do not
//! collide and ids sort (as text) by the time they were made.
//!
//! This module must not keep state of its own: ordering within one process comes from the
//! `uuid` crate's shared v7 counter.

/// A new run id, unique across machines and later (as text) than every id this process made
/// before.
pub fn new_run_id() -> String {
    format!("r{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_sort_by_creation() {
        let ids: Vec<String> = (0..10_000).map(|_| new_run_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(
            sorted, ids,
            "ids made one after another sort in creation order"
        );
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "no id repeats");
        for id in &ids {
            assert_eq!(id.len(), 33);
            assert!(id.starts_with('r'));
            assert!(id[1..]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
    }

    #[test]
    fn ids_from_many_threads_are_unique() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..2_000).map(|_| new_run_id()).collect::<Vec<_>>()))
            .collect();
        let mut all: Vec<String> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
