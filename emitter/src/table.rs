//! # Implementation details
//!
//! The table from event names to per-event state.
//!
//! Event names may come from untrusted input (a service that emits per-tenant or per-path
//! events), so the table hashes them with a seeded hash: [`foldhash`]'s `RandomState`, whose
//! seed differs per table and per process. An attacker who cannot read the seed cannot choose
//! names that collide. Lookups take a `&str`, so an emit by name neither allocates nor copies
//! the name.

use std::collections::HashMap;

use crate::EventName;

/// A map from event names to `V`.
pub(crate) struct NameTable<V> {
    map: HashMap<EventName, V, foldhash::fast::RandomState>,
}

impl<V> NameTable<V> {
    pub(crate) fn new() -> Self {
        Self {
            map: HashMap::with_hasher(foldhash::fast::RandomState::default()),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&V> {
        self.map.get(name)
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        self.map.get_mut(name)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<V> {
        self.map.remove(name)
    }

    /// The value under `name`, inserted from `make` if there is none.
    pub(crate) fn get_or_insert_with(
        &mut self,
        name: &EventName,
        make: impl FnOnce() -> V,
    ) -> &mut V {
        self.map.entry(name.clone()).or_insert_with(make)
    }

    /// Inserts or replaces the value under `name`.
    pub(crate) fn insert(&mut self, name: &EventName, value: V) {
        self.map.insert(name.clone(), value);
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.map.retain(|_, value| keep(value));
    }

    /// Empties the table, handing back its values (to be dropped outside a lock).
    pub(crate) fn take_values(&mut self) -> Vec<V> {
        self.map.drain().map(|(_, value)| value).collect()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&EventName, &V)> {
        self.map.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn every_name_is_found_under_itself_and_no_other() {
        let names: Vec<String> = (0..200).map(|i| format!("tenant/{i}/path")).collect();
        let mut table = NameTable::new();
        for (i, name) in names.iter().enumerate() {
            table.insert(&EventName::from(name.as_str()), i);
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(table.get(name), Some(&i), "{name:?}");
        }
        assert_eq!(table.get("not there"), None);
        assert_eq!(table.iter().count(), names.len());
        for name in &names {
            assert!(table.remove(name).is_some());
            assert!(!table.contains(name));
        }
        assert!(table.take_values().is_empty());
    }

    #[test]
    fn insert_replaces_and_get_or_insert_keeps() {
        let mut table = NameTable::new();
        let name = EventName::from("data");
        table.insert(&name, 1);
        table.insert(&name, 2);
        assert_eq!(*table.get_or_insert_with(&name, || 3), 2);
        *table.get_mut("data").unwrap() += 1;
        assert_eq!(table.take_values(), [3]);
    }

    #[test]
    fn two_tables_hash_the_same_name_differently() {
        // The seed is per table: names that collide in one table do not collide in another.
        let a = NameTable::<()>::new();
        let b = NameTable::<()>::new();
        let differs = (0..16)
            .map(|i| format!("name{i}"))
            .any(|name| a.map.hasher().hash_one(&name) != b.map.hasher().hash_one(&name));
        assert!(differs);
    }
}
