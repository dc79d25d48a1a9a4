//! Four threads, a million operations: `len()` never exceeds `limit`, nothing panics or
//! deadlocks, and the books balance at the end.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use nodebook_cache::{LimitableMap, RemovalCause};

const THREADS: u64 = 4;
const OPS_PER_THREAD: u64 = 250_000;
const LIMIT: usize = 1_000;
const KEYS: u64 = 5_000;

/// A small xorshift generator, so the test needs no seed plumbing.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn four_threads_inserting_reading_and_removing_never_exceed_the_limit() {
    let departed = Arc::new(AtomicUsize::new(0));
    let sink = Arc::clone(&departed);
    let map: LimitableMap<u64, u64> = LimitableMap::builder(LIMIT)
        .eviction_listener(move |k: &u64, v: &u64, cause| {
            assert_eq!(k * 3, *v, "a value never strays from its key");
            if cause != RemovalCause::Replaced {
                sink.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build()
        .unwrap();
    let high_water = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..THREADS {
            let (map, high_water) = (&map, &high_water);
            s.spawn(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15 ^ (t + 1);
                for _ in 0..OPS_PER_THREAD {
                    let r = xorshift(&mut rng);
                    let key = r % KEYS;
                    match (r >> 32) % 10 {
                        0..=4 => {
                            map.insert(key, key * 3);
                        }
                        5 => {
                            map.remove(&key);
                        }
                        _ => {
                            if let Some(v) = map.get(&key) {
                                assert_eq!(v, key * 3);
                            }
                        }
                    }
                    let len = map.len();
                    high_water.fetch_max(len, Ordering::Relaxed);
                    assert!(len <= LIMIT, "len {len} exceeds the limit");
                }
            });
        }
    });
    assert_eq!(
        high_water.load(Ordering::Relaxed),
        LIMIT,
        "the map did fill up"
    );
    let keys = map.keys();
    assert_eq!(keys.len(), map.len());
    let stats = map.stats();
    let new_keys = stats.inserts - stats.replaced;
    assert_eq!(
        new_keys - departed.load(Ordering::Relaxed) as u64,
        map.len() as u64,
        "every new key is either still here or was reported leaving"
    );
    assert_eq!(
        stats.evicted_capacity + stats.removed + stats.expired,
        departed.load(Ordering::Relaxed) as u64
    );
}

#[test]
fn every_read_is_counted_even_when_threads_outnumber_the_counter_stripes() {
    const READERS: u64 = 48;
    const READS: u64 = 64 * 300;
    const WAVES: u64 = 2;
    let map: LimitableMap<u64, u64> = LimitableMap::new(64).unwrap();
    for key in 0..32 {
        map.insert(key, key);
    }
    // All readers of a wave are alive together (more than the stripes a thread can own), and
    // the second wave takes over the stripes the first gave back when its threads exited.
    for _ in 0..WAVES {
        let all_counting = Barrier::new(READERS as usize);
        thread::scope(|s| {
            for t in 0..READERS {
                let (map, all_counting) = (&map, &all_counting);
                s.spawn(move || {
                    map.get(&t);
                    all_counting.wait();
                    for i in 1..READS {
                        map.get(&((i + t) % 64));
                    }
                });
            }
        });
    }
    let stats = map.stats();
    assert_eq!(stats.hits + stats.misses, WAVES * READERS * READS);
    assert_eq!(
        stats.hits, stats.misses,
        "every thread reads keys 0..64 equally often: 0..32 hit, 32..64 miss"
    );
}
