//! LimitableMap as the book defines it (section 5.3.1), plus time-to-live, listener and counters.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nodebook_cache::{Error, EvictionPolicy, LimitableMap, RemovalCause};

type Log<K, V> = Arc<Mutex<Vec<(K, V, RemovalCause)>>>;

fn logged<K, V>(limit: usize) -> (LimitableMap<K, V>, Log<K, V>)
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    let log: Log<K, V> = Arc::default();
    let sink = Arc::clone(&log);
    let map = LimitableMap::builder(limit)
        .eviction_policy(EvictionPolicy::Fifo)
        .eviction_listener(move |k: &K, v: &V, cause| {
            sink.lock().unwrap().push((k.clone(), v.clone(), cause))
        })
        .build()
        .unwrap();
    (map, log)
}

#[test]
fn a_zero_limit_is_refused_with_an_error_naming_it() {
    let err = LimitableMap::<u8, u8>::new(0).unwrap_err();
    assert!(matches!(err, Error::ZeroLimit));
    assert!(err.to_string().contains("limit"));
}

#[test]
fn a_zero_time_to_live_is_refused() {
    let err = LimitableMap::<u8, u8>::builder(3)
        .time_to_live(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        Error::ZeroDuration {
            option: "time_to_live"
        }
    ));
    assert_eq!(err.to_string(), "time_to_live must be greater than zero");
}

#[test]
fn the_oldest_inserted_key_is_evicted_when_full() {
    let (map, log) = logged(3);
    for k in 1..=3 {
        assert_eq!(map.insert(k, k * 10), None);
    }
    assert_eq!(map.len(), 3);
    map.insert(4, 40);
    assert_eq!(map.keys(), [2, 3, 4]);
    assert_eq!(map.get(&1), None);
    assert_eq!(*log.lock().unwrap(), [(1, 10, RemovalCause::Capacity)]);
}

#[test]
fn an_overwrite_keeps_the_place_and_returns_the_old_value() {
    let (map, log) = logged(3);
    map.insert("a", 1);
    map.insert("b", 2);
    map.insert("c", 3);
    assert_eq!(map.insert("a", 100), Some(1));
    assert_eq!(map.keys(), ["a", "b", "c"]);
    map.insert("d", 4);
    // "a" was first inserted first, so it goes first although it was written last.
    assert_eq!(map.keys(), ["b", "c", "d"]);
    assert_eq!(
        *log.lock().unwrap(),
        [
            ("a", 1, RemovalCause::Replaced),
            ("a", 100, RemovalCause::Capacity)
        ]
    );
}

#[test]
fn reads_do_not_change_the_eviction_order() {
    let map = LimitableMap::builder(2)
        .eviction_policy(EvictionPolicy::Fifo)
        .build()
        .unwrap();
    map.insert(1, ());
    map.insert(2, ());
    for _ in 0..10 {
        assert_eq!(map.get(&1), Some(()));
    }
    map.insert(3, ());
    assert_eq!(map.keys(), [2, 3]);
}

#[test]
fn remove_takes_the_key_out_of_the_order_too() {
    let (map, log) = logged(2);
    map.insert(1, 'a');
    map.insert(2, 'b');
    assert_eq!(map.remove(&1), Some('a'));
    assert_eq!(map.remove(&1), None);
    assert_eq!(map.len(), 1);
    map.insert(3, 'c');
    assert_eq!(map.keys(), [2, 3], "no eviction was needed");
    map.insert(1, 'A'); // inserted anew: goes to the back
    assert_eq!(map.keys(), [3, 1]);
    assert_eq!(
        *log.lock().unwrap(),
        [
            (1, 'a', RemovalCause::Removed),
            (2, 'b', RemovalCause::Capacity)
        ]
    );
}

#[test]
fn many_removals_do_not_grow_memory_or_break_the_order() {
    let map = LimitableMap::builder(4)
        .eviction_policy(EvictionPolicy::Fifo)
        .build()
        .unwrap();
    for round in 0..10_000u32 {
        map.insert(round, round);
        if round % 3 != 0 {
            map.remove(&round);
        }
    }
    let keys = map.keys();
    assert_eq!(keys.len(), 4);
    assert!(keys.iter().all(|k| k % 3 == 0));
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn clear_empties_the_map_and_tells_the_listener() {
    let (map, log) = logged(4);
    map.insert(1, 1);
    map.insert(2, 2);
    map.clear();
    assert!(map.is_empty());
    assert_eq!(map.keys(), Vec::<i32>::new());
    assert_eq!(map.get(&1), None);
    assert_eq!(
        *log.lock().unwrap(),
        [(1, 1, RemovalCause::Removed), (2, 2, RemovalCause::Removed)]
    );
    map.insert(3, 3);
    assert_eq!(map.keys(), [3]);
}

#[test]
fn counters_count_hits_misses_inserts_and_evictions_by_cause() {
    let map = LimitableMap::builder(2)
        .eviction_policy(EvictionPolicy::Fifo)
        .build()
        .unwrap();
    map.insert(1, ());
    map.insert(2, ());
    map.insert(2, ());
    map.insert(3, ());
    map.get(&2);
    map.get(&3);
    map.get(&1);
    map.remove(&2);
    let s = map.stats();
    assert_eq!(s.hits, 2);
    assert_eq!(s.misses, 1);
    assert_eq!(s.inserts, 4);
    assert_eq!(s.replaced, 1);
    assert_eq!(s.evicted_capacity, 1);
    assert_eq!(s.removed, 1);
    assert_eq!(s.expired, 0);
}

#[test]
fn borrowed_keys_work_for_lookups() {
    let map: LimitableMap<String, u32> = LimitableMap::builder(2)
        .eviction_policy(EvictionPolicy::Fifo)
        .build()
        .unwrap();
    map.insert("key".to_string(), 1);
    assert_eq!(map.get("key"), Some(1));
    assert!(map.contains_key("key"));
    assert_eq!(map.remove("key"), Some(1));
}

#[test]
fn the_listener_may_use_the_map_without_deadlocking() {
    let slot: Arc<Mutex<Option<LimitableMap<u32, u32>>>> = Arc::default();
    let inner = Arc::clone(&slot);
    let map = LimitableMap::builder(1)
        .eviction_policy(EvictionPolicy::Fifo)
        .eviction_listener(move |k: &u32, _: &u32, _| {
            if let Some(map) = inner.lock().unwrap().as_ref() {
                // Reads and even writes from inside the listener.
                let _ = map.get(k);
                let _ = map.len();
            }
        })
        .build()
        .unwrap();
    *slot.lock().unwrap() = Some(map.clone());
    map.insert(1, 1);
    map.insert(2, 2);
    map.insert(2, 3);
    map.remove(&2);
    assert!(map.is_empty());
    slot.lock().unwrap().take();
}

#[tokio::test(start_paused = true)]
async fn expired_entries_are_never_returned_and_are_reclaimed() {
    let log: Log<u32, u32> = Arc::default();
    let sink = Arc::clone(&log);
    let map = LimitableMap::builder(3)
        .eviction_policy(EvictionPolicy::Fifo)
        .time_to_live(Duration::from_millis(100))
        .eviction_listener(move |k: &u32, v: &u32, c| sink.lock().unwrap().push((*k, *v, c)))
        .build()
        .unwrap();
    map.insert(1, 1);
    tokio::time::advance(Duration::from_millis(60)).await;
    map.insert(2, 2);
    tokio::time::advance(Duration::from_millis(40)).await;
    assert_eq!(map.get(&1), None, "expired exactly at its time-to-live");
    assert!(!map.contains_key(&1));
    assert_eq!(map.get(&2), Some(2));
    assert_eq!(map.len(), 1, "the read reclaimed the expired entry");
    assert_eq!(*log.lock().unwrap(), [(1, 1, RemovalCause::Expired)]);
    assert_eq!(map.stats().expired, 1);
}

#[tokio::test(start_paused = true)]
async fn an_overwrite_restarts_the_time_to_live() {
    let map = LimitableMap::builder(3)
        .eviction_policy(EvictionPolicy::Fifo)
        .time_to_live(Duration::from_millis(100))
        .build()
        .unwrap();
    map.insert("k", 1);
    tokio::time::advance(Duration::from_millis(80)).await;
    assert_eq!(map.insert("k", 2), Some(1));
    tokio::time::advance(Duration::from_millis(80)).await;
    assert_eq!(map.get("k"), Some(2));
}

#[tokio::test(start_paused = true)]
async fn an_expired_key_inserted_again_is_a_new_key_at_the_back() {
    let map = LimitableMap::builder(2)
        .eviction_policy(EvictionPolicy::Fifo)
        .time_to_live(Duration::from_millis(100))
        .build()
        .unwrap();
    map.insert(1, 1);
    tokio::time::advance(Duration::from_millis(50)).await;
    map.insert(2, 2);
    tokio::time::advance(Duration::from_millis(50)).await;
    assert_eq!(
        map.insert(1, 10),
        None,
        "the expired value is not handed back"
    );
    assert_eq!(map.keys(), [2, 1]);
    assert_eq!(map.stats().expired, 1);
}

#[tokio::test(start_paused = true)]
async fn inserts_reclaim_expired_entries_at_the_front_before_evicting_live_ones() {
    let (map, log) = {
        let log: Log<u32, u32> = Arc::default();
        let sink = Arc::clone(&log);
        let map = LimitableMap::builder(3)
            .eviction_policy(EvictionPolicy::Fifo)
            .time_to_live(Duration::from_millis(100))
            .eviction_listener(move |k: &u32, v: &u32, c| sink.lock().unwrap().push((*k, *v, c)))
            .build()
            .unwrap();
        (map, log)
    };
    map.insert(1, 1);
    map.insert(2, 2);
    tokio::time::advance(Duration::from_millis(100)).await;
    map.insert(3, 3);
    assert_eq!(map.len(), 1);
    assert_eq!(
        *log.lock().unwrap(),
        [(1, 1, RemovalCause::Expired), (2, 2, RemovalCause::Expired)]
    );
    assert_eq!(map.purge_expired(), 0);
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_eq!(map.len(), 1, "not yet reclaimed");
    assert_eq!(map.purge_expired(), 1);
    assert!(map.is_empty());
}

#[test]
fn clones_share_one_map() {
    let map = LimitableMap::builder(4)
        .eviction_policy(EvictionPolicy::Fifo)
        .build()
        .unwrap();
    let other = map.clone();
    map.insert(1, 1);
    assert_eq!(other.get(&1), Some(1));
    let debug = format!("{map:?}");
    assert!(
        debug.contains("len: 1") && debug.contains("limit: 4"),
        "{debug}"
    );
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<LimitableMap<String, Arc<str>>>();
    send_sync::<nodebook_cache::OnceQueue<String, Arc<str>, std::io::Error>>();
    send_sync::<nodebook_cache::Builder<String, u32>>();
    send_sync::<Error<std::io::Error>>();
    send_sync::<nodebook_cache::CacheStats>();

    // The futures of `run` and `get_or_load` can be spawned.
    fn send<T: Send>(_: &T) {}
    let map: LimitableMap<String, u32> = LimitableMap::builder(1)
        .eviction_policy(EvictionPolicy::Fifo)
        .build()
        .unwrap();
    send(&map.get_or_load("k".to_string(), || async { Ok::<u32, std::io::Error>(1) }));
    let queue: nodebook_cache::OnceQueue<String, u32, std::io::Error> =
        nodebook_cache::OnceQueue::new();
    send(&queue.run("k".to_string(), || async { Ok(1) }));
}
