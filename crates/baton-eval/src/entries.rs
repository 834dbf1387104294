//! [`Entries`]: the attributes of an object or the elements of a map, as a vector sorted by
//! key. It reads like a `BTreeMap<String, Value>` (the same iteration order, lookups by key)
//! and takes a fraction of the memory for the small maps values mostly are: a B-tree
//! allocates a node of eleven slots for a single entry, and state holds one object per
//! resource instance.
//!
//! Entries are built whole (from a `BTreeMap` or an iterator) and never changed in place;
//! code that needs to change one builds a new one (see [`Entries::to_map`]).

use crate::value::Value;
use std::collections::BTreeMap;

/// Key-sorted entries with distinct keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entries(Vec<(String, Value)>);

impl Entries {
    pub fn new() -> Entries {
        Entries(Vec::new())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    pub fn get_key_value(&self, key: &str) -> Option<(&String, &Value)> {
        self.position(key).ok().map(|i| {
            let (k, v) = &self.0[i];
            (k, v)
        })
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// In key order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.0.iter())
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &String> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn first_key_value(&self) -> Option<(&String, &Value)> {
        self.0.first().map(|(k, v)| (k, v))
    }

    pub fn last_key_value(&self) -> Option<(&String, &Value)> {
        self.0.last().map(|(k, v)| (k, v))
    }

    /// A copy as a `BTreeMap`, to change.
    pub fn to_map(&self) -> BTreeMap<String, Value> {
        self.0.iter().cloned().collect()
    }
}

impl From<BTreeMap<String, Value>> for Entries {
    fn from(m: BTreeMap<String, Value>) -> Entries {
        let mut v = Vec::with_capacity(m.len());
        v.extend(m);
        Entries(v)
    }
}

impl From<Entries> for BTreeMap<String, Value> {
    fn from(e: Entries) -> BTreeMap<String, Value> {
        e.0.into_iter().collect()
    }
}

/// As collecting into a `BTreeMap`: sorted by key, and of equal keys the last one wins.
impl FromIterator<(String, Value)> for Entries {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Entries {
        let mut v: Vec<(String, Value)> = iter.into_iter().collect();
        // Stable: equal keys keep their order, so the last of each run is the last given.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(String, Value)> = Vec::with_capacity(v.len());
        for (k, val) in v {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = val,
                _ => out.push((k, val)),
            }
        }
        out.shrink_to_fit();
        Entries(out)
    }
}

/// Iterator over `(&key, &value)` in key order.
#[derive(Clone, Debug)]
pub struct Iter<'a>(std::slice::Iter<'a, (String, Value)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a String, &'a Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Entries {
    type Item = (&'a String, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Entries {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::string(x)
    }

    #[test]
    fn reads_like_a_btreemap() {
        let m: BTreeMap<String, Value> = [("b", "2"), ("a", "1"), ("c", "3")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), s(v)))
            .collect();
        let e = Entries::from(m.clone());
        assert_eq!(e.len(), 3);
        assert!(!e.is_empty());
        assert_eq!(
            e.keys().map(String::as_str).collect::<Vec<_>>(),
            vec!["a", "b", "c"]
        );
        assert_eq!(e.get("b").and_then(|v| v.as_str()), Some("2"));
        assert!(e.get("z").is_none());
        assert!(e.contains_key("c") && !e.contains_key(""));
        assert_eq!(e.iter().next_back().map(|(k, _)| k.as_str()), Some("c"));
        assert_eq!(BTreeMap::from(e.clone()), m);
        assert_eq!(e.to_map(), m);
    }

    #[test]
    fn collecting_sorts_and_the_last_of_equal_keys_wins() {
        let e: Entries = [("b", "1"), ("a", "2"), ("b", "3"), ("a", "4"), ("c", "5")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), s(v)))
            .collect();
        let got: Vec<(&str, &str)> = e
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("?")))
            .collect();
        assert_eq!(got, vec![("a", "4"), ("b", "3"), ("c", "5")]);
    }
}
