//! SIEVE, the default eviction policy, against a plain reference model of the algorithm as its
//! paper states it (a list from oldest to newest, a visited bit per entry, a hand that sweeps
//! toward the newest and wraps): on one thread, the same operation sequence gives the same
//! evictions, in the same order, and the same contents.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use nodebook_cache::{EvictionPolicy, LimitableMap, RemovalCause};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u32),
    Get(u8),
    Remove(u8),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..24u8, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        6 => (0..24u8).prop_map(Op::Get),
        2 => (0..24u8).prop_map(Op::Remove),
        1 => Just(Op::Clear),
    ]
}

/// Inserts and reads over few keys, with removals but no clear: stale records pile up in the
/// middle of the queue and are compacted away while the hand moves.
fn churn() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..32u8, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        4 => (0..32u8).prop_map(Op::Get),
        3 => (0..32u8).prop_map(Op::Remove),
    ]
}

/// SIEVE by the book: `list` runs from the oldest entry to the newest.
struct Model {
    limit: usize,
    list: Vec<(u8, bool)>,
    values: HashMap<u8, u32>,
    hand: usize,
    evicted: Vec<(u8, u32)>,
}

impl Model {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            list: Vec::new(),
            values: HashMap::new(),
            hand: 0,
            evicted: Vec::new(),
        }
    }

    fn get(&mut self, k: u8) -> Option<u32> {
        let v = *self.values.get(&k)?;
        self.list.iter_mut().find(|(key, _)| *key == k).unwrap().1 = true;
        Some(v)
    }

    fn evict(&mut self) {
        loop {
            if self.hand >= self.list.len() {
                self.hand = 0;
            }
            let (key, visited) = &mut self.list[self.hand];
            if *visited {
                *visited = false;
                self.hand += 1;
            } else {
                let key = *key;
                // The hand now points at the next newer entry, which takes this index.
                self.list.remove(self.hand);
                let v = self.values.remove(&key).unwrap();
                self.evicted.push((key, v));
                return;
            }
        }
    }

    fn insert(&mut self, k: u8, v: u32) -> Option<u32> {
        if let Some(old) = self.values.insert(k, v) {
            return Some(old); // an overwrite keeps the place and the bit
        }
        self.values.remove(&k);
        if self.list.len() == self.limit {
            self.evict();
        }
        self.list.push((k, false));
        self.values.insert(k, v);
        None
    }

    fn remove(&mut self, k: u8) -> Option<u32> {
        let v = self.values.remove(&k)?;
        let at = self.list.iter().position(|(key, _)| *key == k).unwrap();
        self.list.remove(at);
        if at < self.hand {
            self.hand -= 1;
        }
        Some(v)
    }

    fn clear(&mut self) {
        self.list.clear();
        self.values.clear();
        self.hand = 0;
    }
}

fn check(limit: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let evicted: Arc<Mutex<Vec<(u8, u32)>>> = Arc::default();
    let sink = Arc::clone(&evicted);
    let map = LimitableMap::builder(limit)
        .eviction_policy(EvictionPolicy::Sieve)
        .eviction_listener(move |k: &u8, v: &u32, cause| {
            if cause == RemovalCause::Capacity {
                sink.lock().unwrap().push((*k, *v));
            }
        })
        .build()
        .unwrap();
    let mut model = Model::new(limit);
    for op in ops {
        match op {
            Op::Insert(k, v) => prop_assert_eq!(map.insert(k, v), model.insert(k, v)),
            Op::Get(k) => prop_assert_eq!(map.get(&k), model.get(k)),
            Op::Remove(k) => prop_assert_eq!(map.remove(&k), model.remove(k)),
            Op::Clear => {
                map.clear();
                model.clear();
            }
        }
        prop_assert_eq!(map.len(), model.values.len());
        prop_assert!(map.len() <= limit);
        let model_keys: Vec<u8> = model.list.iter().map(|(k, _)| *k).collect();
        prop_assert_eq!(map.keys(), model_keys);
        prop_assert_eq!(&*evicted.lock().unwrap(), &model.evicted);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn evicts_exactly_as_the_reference_sieve(limit in 1..10usize, ops in prop::collection::vec(op(), 0..300)) {
        check(limit, ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn keeps_evicting_as_the_reference_through_removal_churn(limit in 1..24usize, ops in prop::collection::vec(churn(), 500..3000)) {
        check(limit, ops)?;
    }
}

#[test]
fn a_scan_of_one_off_keys_does_not_flush_the_hot_set() {
    let map = LimitableMap::builder(100)
        .eviction_policy(EvictionPolicy::Sieve)
        .build()
        .unwrap();
    for k in 0..50u32 {
        map.insert(k, k);
    }
    for _ in 0..3 {
        for k in 0..50u32 {
            assert_eq!(map.get(&k), Some(k));
        }
    }
    // A sweep over 1,000 keys read once each, as a report or a crawler would, while the usual
    // traffic goes on reading the hot keys.
    for k in 1_000..2_000u32 {
        if map.get(&k).is_none() {
            map.insert(k, k);
        }
        for hot in [k % 50, (k + 25) % 50] {
            if map.get(&hot).is_none() {
                map.insert(hot, hot);
            }
        }
    }
    let hot_left = (0..50u32).filter(|k| map.contains_key(k)).count();
    assert_eq!(hot_left, 50, "every hot key survived the scan");
    let reloads = map.stats().inserts - 50 - 1_000;
    assert_eq!(reloads, 0, "no hot key was ever evicted by the scan");

    // Under FIFO the same scan leaves none of them.
    let fifo = LimitableMap::builder(100)
        .eviction_policy(EvictionPolicy::Fifo)
        .build()
        .unwrap();
    for k in 0..50u32 {
        fifo.insert(k, k);
        fifo.get(&k);
    }
    let mut reloaded = 0;
    for k in 1_000..2_000u32 {
        fifo.insert(k, k);
        for hot in [k % 50, (k + 25) % 50] {
            if fifo.get(&hot).is_none() {
                fifo.insert(hot, hot);
                reloaded += 1;
            }
        }
    }
    assert!(
        reloaded > 100,
        "FIFO evicted hot keys again and again: {reloaded} reloads"
    );
}

#[test]
fn writes_alone_evict_in_insertion_order() {
    let map = LimitableMap::builder(3)
        .eviction_policy(EvictionPolicy::Sieve)
        .build()
        .unwrap();
    for k in 1..=3 {
        map.insert(k, ());
    }
    map.insert(1, ()); // an overwrite is not a read
    map.insert(4, ());
    assert_eq!(map.keys(), [2, 3, 4]);
}
