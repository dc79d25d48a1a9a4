//! The table from event names to per-event state, made for the emit path.
//!
//! Every emit looks its name up, so the lookup is most of an emit's fixed cost. Event names are
//! short words (`"data"`, `"end"`, `"close"`); a general-purpose hasher and a `memcmp` call for
//! the final comparison cost more than the rest of an emit to a subscription. This table hashes a
//! name a word at a time and compares names of up to 16 bytes with two word loads each, all
//! inline. The hash is seeded per table from std's `RandomState`, so collisions differ from one
//! table and one process to the next; it is not a keyed function like SipHash, though, so a
//! program that takes event names from untrusted input should bound how many it registers
//! (which it must do anyway: every name holds memory).

use std::hash::BuildHasher;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

use crate::EventName;

/// A map from event names to `V`.
pub(crate) struct NameTable<V> {
    seed: u64,
    table: HashTable<(EventName, V)>,
}

impl<V> NameTable<V> {
    pub(crate) fn new() -> Self {
        Self {
            seed: std::hash::RandomState::new().hash_one(0x6576_656e_7473_u64),
            table: HashTable::new(),
        }
    }

    fn hash(&self, name: &str) -> u64 {
        hash_name(self.seed, name.as_bytes())
    }

    pub(crate) fn get(&self, name: &str) -> Option<&V> {
        self.table
            .find(self.hash(name), |(key, _)| same_name(key, name))
            .map(|(_, value)| value)
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        let hash = self.hash(name);
        self.table
            .find_mut(hash, |(key, _)| same_name(key, name))
            .map(|(_, value)| value)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<V> {
        let hash = self.hash(name);
        let entry = self
            .table
            .find_entry(hash, |(key, _)| same_name(key, name))
            .ok()?;
        Some(entry.remove().0.1)
    }

    /// The value under `name`, inserted from `make` if there is none.
    pub(crate) fn get_or_insert_with(
        &mut self,
        name: &EventName,
        make: impl FnOnce() -> V,
    ) -> &mut V {
        let seed = self.seed;
        let hash = self.hash(name);
        let entry = self.table.entry(
            hash,
            |(key, _)| same_name(key, name),
            |(key, _)| hash_name(seed, key.as_bytes()),
        );
        let occupied = match entry {
            Entry::Occupied(occupied) => occupied,
            Entry::Vacant(vacant) => vacant.insert((name.clone(), make())),
        };
        &mut occupied.into_mut().1
    }

    /// Inserts or replaces the value under `name`.
    pub(crate) fn insert(&mut self, name: &EventName, value: V) {
        match self.get_mut(name) {
            Some(slot) => *slot = value,
            None => {
                self.get_or_insert_with(name, || value);
            }
        }
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.table.retain(|(_, value)| keep(value));
    }

    /// Empties the table, handing back its values (to be dropped outside a lock).
    pub(crate) fn take_values(&mut self) -> Vec<V> {
        self.table.drain().map(|(_, value)| value).collect()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&EventName, &V)> {
        self.table.iter().map(|(key, value)| (key, value))
    }
}

const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

/// Multiplies into 128 bits and folds the halves: every input bit reaches the high bits that
/// the table reads its control byte from, and the low bits it picks buckets with.
#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// Reads eight bytes as a word.
#[inline]
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut buf = [0; 8];
    buf.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(buf)
}

/// Reads four bytes as a word.
#[inline]
fn half_word(bytes: &[u8], at: usize) -> u64 {
    let mut buf = [0; 4];
    buf.copy_from_slice(&bytes[at..at + 4]);
    u64::from(u32::from_le_bytes(buf))
}

/// The last up to eight bytes of a name as one word: overlapping reads instead of a byte loop,
/// with the length mixed in separately, so different names of one length give different words.
#[inline]
fn tail_word(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    match len {
        0 => 0,
        1..=3 => {
            u64::from(bytes[0]) | u64::from(bytes[len / 2]) << 8 | u64::from(bytes[len - 1]) << 16
        }
        4..=7 => half_word(bytes, 0) | half_word(bytes, len - 4) << 32,
        _ => word(bytes, len - 8),
    }
}

#[inline]
fn hash_name(seed: u64, bytes: &[u8]) -> u64 {
    let mut hash = seed ^ bytes.len() as u64;
    let mut rest = bytes;
    while rest.len() > 8 {
        hash = fold(hash ^ word(rest, 0), MULTIPLIER);
        rest = &rest[8..];
    }
    fold(hash ^ tail_word(rest), MULTIPLIER)
}

/// Name equality, inline for names of up to 16 bytes (two overlapping word compares each).
#[inline]
pub(crate) fn same_name(key: &str, name: &str) -> bool {
    let (a, b) = (key.as_bytes(), name.as_bytes());
    let len = a.len();
    if len != b.len() {
        return false;
    }
    match len {
        0..=7 => tail_word(a) == tail_word(b),
        8..=16 => word(a, 0) == word(b, 0) && word(a, len - 8) == word(b, len - 8),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words() -> Vec<String> {
        let mut names: Vec<String> = ["", "a", "ab", "abc", "abcd", "data", "error", "close"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for len in 0..40 {
            let base: String = (0..len)
                .map(|i| char::from(b'a' + (i % 26) as u8))
                .collect();
            names.push(base.clone());
            for at in 0..len {
                let mut changed = base.clone().into_bytes();
                changed[at] = b'Z';
                names.push(String::from_utf8(changed).unwrap());
            }
        }
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn names_equal_exactly_when_their_text_is_equal() {
        let names = words();
        for a in &names {
            for b in &names {
                assert_eq!(same_name(a, b), a == b, "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn every_name_is_found_under_itself_and_no_other() {
        let names = words();
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
    fn one_byte_changes_spread_over_the_control_and_bucket_bits() {
        // A name and its one-byte variants differ in both the top seven bits (the control
        // byte) and the low bits (the bucket) far more often than not.
        let seed = 0x1234_5678;
        let base = b"some.event.name";
        let h = hash_name(seed, base);
        let mut distinct = 0;
        let mut total = 0;
        for at in 0..base.len() {
            for byte in [b'a', b'Z', b'0', b'.'] {
                let mut changed = *base;
                if changed[at] == byte {
                    continue;
                }
                changed[at] = byte;
                let g = hash_name(seed, &changed);
                total += 1;
                if (g >> 57) != (h >> 57) && (g & 0xff) != (h & 0xff) {
                    distinct += 1;
                }
            }
        }
        assert!(distinct * 10 >= total * 9, "{distinct} of {total}");
    }
}
