//! S3-FIFO against a plain reference model (a small FIFO of a tenth of the limit, a main FIFO,
//! a ghost FIFO of evicted keys, a 2-bit counter per key): on one thread, the same operation
//! sequence gives the same evictions, in the same order, and the same contents.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use nodebook_cache::{EvictionPolicy, LimitableMap, RemovalCause};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Insert(u8, u32),
    Get(u8),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..40u8, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        8 => (0..40u8).prop_map(Op::Get),
        1 => Just(Op::Clear),
    ]
}

struct Model {
    limit: usize,
    small: VecDeque<u8>,
    main: VecDeque<u8>,
    ghost: VecDeque<u8>,
    /// Present keys: value and counter.
    entries: HashMap<u8, (u32, u8)>,
    evicted: Vec<(u8, u32)>,
}

impl Model {
    fn new(limit: usize) -> Self {
        Self {
            limit,
            small: VecDeque::new(),
            main: VecDeque::new(),
            ghost: VecDeque::new(),
            entries: HashMap::new(),
            evicted: Vec::new(),
        }
    }

    fn get(&mut self, k: u8) -> Option<u32> {
        let (v, freq) = self.entries.get_mut(&k)?;
        *freq = (*freq + 1).min(3);
        Some(*v)
    }

    fn evict(&mut self, k: u8) {
        let (v, _) = self.entries.remove(&k).unwrap();
        self.evicted.push((k, v));
    }

    fn insert(&mut self, k: u8, v: u32) -> Option<u32> {
        if let Some((old, _)) = self.entries.get_mut(&k) {
            return Some(std::mem::replace(old, v));
        }
        let small_most = (self.limit / 10).max(1);
        let ghost_most = self.limit - self.limit / 10;
        while self.entries.len() >= self.limit {
            if self.small.len() >= small_most || self.main.is_empty() {
                let t = self.small.pop_front().unwrap();
                if self.entries[&t].1 > 0 {
                    self.entries.get_mut(&t).unwrap().1 = 0;
                    self.main.push_back(t);
                } else {
                    self.evict(t);
                    self.ghost.push_back(t);
                    if self.ghost.len() > ghost_most {
                        self.ghost.pop_front();
                    }
                }
            } else {
                let t = self.main.pop_front().unwrap();
                if self.entries[&t].1 > 0 {
                    self.entries.get_mut(&t).unwrap().1 -= 1;
                    self.main.push_back(t);
                } else {
                    self.evict(t);
                }
            }
        }
        if self.ghost.contains(&k) {
            self.main.push_back(k);
        } else {
            self.small.push_back(k);
        }
        self.entries.insert(k, (v, 0));
        None
    }

    fn clear(&mut self) {
        self.small.clear();
        self.main.clear();
        self.ghost.clear();
        self.entries.clear();
    }
}

fn check(limit: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let evicted: Arc<Mutex<Vec<(u8, u32)>>> = Arc::default();
    let sink = Arc::clone(&evicted);
    let map = LimitableMap::builder(limit)
        .eviction_policy(EvictionPolicy::S3Fifo)
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
            Op::Clear => {
                map.clear();
                model.clear();
            }
        }
        prop_assert_eq!(map.len(), model.entries.len());
        let model_keys: Vec<u8> = model.main.iter().chain(&model.small).copied().collect();
        prop_assert_eq!(map.keys(), model_keys);
        prop_assert_eq!(&*evicted.lock().unwrap(), &model.evicted);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn evicts_exactly_as_the_reference_s3_fifo(limit in 1..30usize, ops in prop::collection::vec(op(), 0..600)) {
        check(limit, ops)?;
    }
}

#[test]
fn s3_fifo_is_the_default_and_writes_alone_evict_in_insertion_order() {
    let map = LimitableMap::new(3).unwrap();
    assert_eq!(map.eviction_policy(), EvictionPolicy::S3Fifo);
    for k in 1..=3 {
        map.insert(k, ());
    }
    map.insert(1, ()); // an overwrite is not a read
    map.insert(4, ());
    assert_eq!(map.keys(), [2, 3, 4]);
}

#[test]
fn keys_read_once_never_reach_the_main_queue() {
    let map = LimitableMap::builder(20)
        .eviction_policy(EvictionPolicy::S3Fifo)
        .build()
        .unwrap();
    for k in 0..18u32 {
        map.insert(k, k);
        map.get(&k);
    }
    // A scan of 1,000 keys read once each.
    for k in 1_000..2_000u32 {
        if map.get(&k).is_none() {
            map.insert(k, k);
        }
    }
    assert_eq!((0..18u32).filter(|k| map.contains_key(k)).count(), 18);
}

#[test]
fn removals_leave_no_stale_entries_under_s3_fifo() {
    let map = LimitableMap::builder(10)
        .eviction_policy(EvictionPolicy::S3Fifo)
        .build()
        .unwrap();
    for round in 0..5_000u32 {
        map.insert(round, round);
        map.get(&round);
        if round % 3 != 0 {
            assert_eq!(map.remove(&round), Some(round));
        }
        assert!(map.len() <= 10);
    }
    // Each removed key took a place while it was in: the map holds 9 or 10 kept keys.
    assert!(map.len() >= 9);
    assert_eq!(map.keys().len(), map.len());
    assert!(map.keys().iter().all(|k| k % 3 == 0));
}
