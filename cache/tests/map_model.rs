//! LimitableMap against a reference model of the book's algorithm (a HashMap plus a VecDeque
//! of keys in first-insertion order) on random operation sequences: same answers, same
//! contents, same eviction order.

use std::collections::{HashMap, VecDeque};
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
        6 => (0..16u8, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => (0..16u8).prop_map(Op::Get),
        2 => (0..16u8).prop_map(Op::Remove),
        1 => Just(Op::Clear),
    ]
}

/// Long runs of inserts and removals over few keys, never cleared: removed keys leave stale
/// records behind, keys come back after their removal, and the queue is compacted many times.
fn churn() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..16u8, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        1 => (0..16u8).prop_map(Op::Get),
        3 => (0..16u8).prop_map(Op::Remove),
    ]
}

/// The book's LimitableMap, with a delete.
struct Model {
    limit: usize,
    map: HashMap<u8, u32>,
    keys: VecDeque<u8>,
    evicted: Vec<(u8, u32)>,
}

impl Model {
    fn insert(&mut self, k: u8, v: u32) -> Option<u32> {
        if !self.map.contains_key(&k) {
            if self.keys.len() == self.limit {
                let first = self.keys.pop_front().unwrap();
                let old = self.map.remove(&first).unwrap();
                self.evicted.push((first, old));
            }
            self.keys.push_back(k);
        }
        self.map.insert(k, v)
    }

    fn remove(&mut self, k: u8) -> Option<u32> {
        let old = self.map.remove(&k)?;
        self.keys.retain(|x| *x != k);
        Some(old)
    }
}

/// Runs `ops` on a map and on the model, checking after every step that they agree.
fn check(limit: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let evicted: Arc<Mutex<Vec<(u8, u32)>>> = Arc::default();
    let sink = Arc::clone(&evicted);
    let map = LimitableMap::builder(limit)
        .eviction_policy(EvictionPolicy::Fifo)
        .eviction_listener(move |k: &u8, v: &u32, cause| {
            if cause == RemovalCause::Capacity {
                sink.lock().unwrap().push((*k, *v));
            }
        })
        .build()
        .unwrap();
    let mut model = Model {
        limit,
        map: HashMap::new(),
        keys: VecDeque::new(),
        evicted: Vec::new(),
    };
    for op in ops {
        match op {
            Op::Insert(k, v) => prop_assert_eq!(map.insert(k, v), model.insert(k, v)),
            Op::Get(k) => prop_assert_eq!(map.get(&k), model.map.get(&k).copied()),
            Op::Remove(k) => prop_assert_eq!(map.remove(&k), model.remove(k)),
            Op::Clear => {
                map.clear();
                model.map.clear();
                model.keys.clear();
            }
        }
        prop_assert_eq!(map.len(), model.map.len());
        prop_assert!(map.len() <= limit);
        prop_assert_eq!(map.keys(), Vec::from(model.keys.clone()));
        prop_assert_eq!(&*evicted.lock().unwrap(), &model.evicted);
    }
    for (k, v) in &model.map {
        prop_assert_eq!(map.get(k), Some(*v));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn behaves_like_the_books_algorithm(limit in 1..8usize, ops in prop::collection::vec(op(), 0..200)) {
        check(limit, ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn keeps_the_order_through_long_removal_churn(limit in 1..24usize, ops in prop::collection::vec(churn(), 500..3000)) {
        check(limit, ops)?;
    }
}
