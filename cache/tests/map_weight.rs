//! The weight budget: `weigher` + `max_weight` bound a map in bytes (or any unit), not only in
//! entries.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use nodebook_cache::{Error, EvictionPolicy, LimitableMap, RemovalCause};
use proptest::prelude::*;

/// A map whose entries weigh their value.
fn weighed(limit: usize, max_weight: u64, policy: EvictionPolicy) -> LimitableMap<u32, u32> {
    LimitableMap::builder(limit)
        .eviction_policy(policy)
        .weigher(|_: &u32, v: &u32| *v)
        .max_weight(max_weight)
        .build()
        .unwrap()
}

#[test]
fn a_budget_without_a_weigher_is_refused() {
    let err = LimitableMap::<u8, u8>::builder(4)
        .max_weight(10)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::MaxWeightWithoutWeigher));
    assert!(err.to_string().contains("weigher"));
}

#[test]
fn new_entries_evict_until_they_fit_the_budget() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let map = LimitableMap::builder(100)
        .eviction_policy(EvictionPolicy::Fifo)
        .weigher(|_: &u32, v: &u32| *v)
        .max_weight(10)
        .eviction_listener(move |k: &u32, _: &u32, cause| sink.lock().unwrap().push((*k, cause)))
        .build()
        .unwrap();
    map.insert(1, 4);
    map.insert(2, 4);
    assert_eq!(map.weight(), 8);
    map.insert(3, 5); // 13 > 10: the oldest goes
    assert_eq!(map.weight(), 9);
    assert_eq!(map.keys(), [2, 3]);
    map.insert(4, 10); // needs the whole budget
    assert_eq!(map.keys(), [4]);
    assert_eq!(map.weight(), 10);
    assert_eq!(
        *log.lock().unwrap(),
        [
            (1, RemovalCause::Capacity),
            (2, RemovalCause::Capacity),
            (3, RemovalCause::Capacity)
        ]
    );
}

#[test]
fn an_entry_heavier_than_the_budget_is_not_cached_and_is_counted() {
    let map = weighed(100, 10, EvictionPolicy::Sieve);
    map.insert(1, 3);
    map.insert(2, 11);
    assert!(!map.contains_key(&2));
    assert_eq!(map.keys(), [1], "nothing was evicted for it");
    assert_eq!(map.stats().rejected_overweight, 1);
    // An overweight overwrite removes the old value: it is no longer current.
    assert_eq!(map.insert(1, 50), Some(3));
    assert!(map.is_empty());
    assert_eq!(map.weight(), 0);
    assert_eq!(map.stats().rejected_overweight, 2);
}

#[test]
fn an_overwrite_reweighs_the_entry() {
    let map = weighed(100, 10, EvictionPolicy::Sieve);
    map.insert(1, 2);
    map.insert(2, 2);
    assert_eq!(map.insert(1, 7), Some(2));
    assert_eq!(map.weight(), 9);
    assert_eq!(map.insert(1, 1), Some(7));
    assert_eq!(map.weight(), 3);
    map.remove(&2);
    assert_eq!(map.weight(), 1);
    map.clear();
    assert_eq!(map.weight(), 0);
}

#[test]
fn the_count_limit_still_applies() {
    let map = weighed(2, 1_000, EvictionPolicy::Sieve);
    for k in 0..5 {
        map.insert(k, 1);
    }
    assert_eq!(map.len(), 2);
    assert_eq!(map.weight(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Four threads insert weighed entries at once while a fifth watches the total: it never
    /// exceeds the budget, and at the end it is exactly the sum of the entries' weights.
    #[test]
    fn total_weight_never_exceeds_the_budget_under_concurrent_inserts(
        max_weight in 1..200u64,
        policy in prop_oneof![
            Just(EvictionPolicy::S3Fifo),
            Just(EvictionPolicy::Sieve),
            Just(EvictionPolicy::Fifo)
        ],
        batches in prop::collection::vec(prop::collection::vec((0..64u32, 0..250u32), 200..400), 4),
    ) {
        let map = weighed(1_000, max_weight, policy);
        let overweight = batches.iter().flatten().filter(|(_, w)| u64::from(*w) > max_weight).count();
        let start = Barrier::new(batches.len() + 1);
        let done = AtomicBool::new(false);
        let mut highest = 0;
        std::thread::scope(|s| {
            let mut inserters = Vec::new();
            for batch in &batches {
                let (map, start) = (&map, &start);
                inserters.push(s.spawn(move || {
                    start.wait();
                    for &(k, w) in batch {
                        map.insert(k, w);
                        map.get(&(k / 2));
                    }
                }));
            }
            let watcher = s.spawn(|| {
                start.wait();
                let mut highest = 0;
                while !done.load(Ordering::Acquire) {
                    highest = highest.max(map.weight());
                    std::hint::spin_loop();
                }
                highest
            });
            for inserter in inserters {
                inserter.join().unwrap();
            }
            done.store(true, Ordering::Release);
            highest = watcher.join().unwrap();
        });
        prop_assert!(highest <= max_weight, "seen {} above {}", highest, max_weight);
        let sum: u64 = map.keys().iter().map(|k| u64::from(map.get(k).unwrap())).sum();
        prop_assert_eq!(map.weight(), sum);
        prop_assert!(map.weight() <= max_weight);
        prop_assert_eq!(map.stats().rejected_overweight, overweight as u64);
    }
}
