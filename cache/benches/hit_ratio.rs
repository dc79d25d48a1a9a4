//! Hit ratio of every eviction policy and peer, on the same traces and the same capacity, in
//! one run. Hit ratios are counts, so unlike times they are exact and repeatable on any
//! machine; the run takes a few seconds and prints one line per trace and contender:
//!
//! ```text
//! hit ratio trace <trace>/<contender>: <ratio>
//! ```
//!
//! Every trace is 2 * 10^6 requests over `u64` keys into a capacity of 10^4 entries, served
//! cache-aside on one thread: a `get`, and on a miss an `insert` of the key. Traces:
//!
//! - `zipf_0.8`, `zipf_0.99`, `zipf_1.2`: Zipf-distributed ranks over 10^5 keys.
//! - `loop_1.5x`: the keys `0..15_000` requested in order, over and over (a loop larger than
//!   the cache: LRU's and FIFO's worst case, every request a miss).
//! - `zipf_0.99_scan`: Zipf 0.99, with a burst in the middle of 3 * 10^4 keys never seen
//!   before and never seen again (a one-off scan, three times the cache).
//! - `zipf_0.99_shifting`: Zipf 0.99 whose popular keys change to other keys five times.
//!
//! Contenders: ours with each [`EvictionPolicy`] (`ours_s3fifo`, the default, `ours_sieve`,
//! `ours_fifo`),
//! moka (W-TinyLFU; `run_pending_tasks` every 1,000 requests, so its pending evictions do not
//! let it hold more than its capacity for long), quick_cache (CLOCK-Pro-like) and
//! `lru::LruCache`. `model_s3fifo` is a plain single-threaded model of S3-FIFO (SOSP'23: a
//! small FIFO of 10%, a main FIFO with 2-bit counters, a ghost FIFO of keys), a cross-check of
//! `ours_s3fifo`.
//!
//! Run with `cargo bench -p nodebook-cache --bench hit_ratio`.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;

use nodebook_cache::{EvictionPolicy, LimitableMap};

mod common;
use common::{Xorshift, Zipf};

const KEY_SPACE: usize = 100_000;
const CAPACITY: usize = 10_000;
const REQUESTS: usize = 2_000_000;

/// Spreads ranks over the key space so that popular keys are not neighbours.
fn scramble(rank: u64) -> u64 {
    rank.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn zipf_trace(s: f64, seed: u64) -> Vec<u64> {
    let zipf = Zipf::new(KEY_SPACE, s);
    let mut rng = Xorshift(seed);
    (0..REQUESTS)
        .map(|_| scramble(zipf.sample(rng.unit())))
        .collect()
}

fn traces() -> Vec<(&'static str, Vec<u64>)> {
    let loop_len = CAPACITY as u64 * 3 / 2;
    let looped = (0..REQUESTS as u64).map(|i| i % loop_len).collect();

    let mut scan = zipf_trace(0.99, 0x5CA7);
    let burst = 3 * CAPACITY;
    let middle = REQUESTS / 2;
    for (i, slot) in scan[middle..middle + burst].iter_mut().enumerate() {
        // Keys outside the Zipf key space's image: never requested again.
        *slot = scramble(KEY_SPACE as u64 + 1 + i as u64);
    }

    let zipf = Zipf::new(KEY_SPACE, 0.99);
    let mut rng = Xorshift(0x5_41F7);
    let phases = 6;
    let shifting = (0..REQUESTS)
        .map(|i| {
            let phase = (i * phases / REQUESTS) as u64;
            let rank = zipf.sample(rng.unit());
            // Each phase maps the ranks onto other keys: a new hot set.
            scramble((rank + phase * 7_919) % KEY_SPACE as u64)
        })
        .collect();

    vec![
        ("zipf_0.8", zipf_trace(0.8, 0x0808)),
        ("zipf_0.99", zipf_trace(0.99, 0x0999)),
        ("zipf_1.2", zipf_trace(1.2, 0x1212)),
        ("loop_1.5x", looped),
        ("zipf_0.99_scan", scan),
        ("zipf_0.99_shifting", shifting),
    ]
}

/// A cache as the traces use it.
trait Subject {
    fn name(&self) -> &'static str;
    /// Looks `key` up; inserts it on a miss. Returns whether it was a hit.
    fn request(&mut self, key: u64, i: usize) -> bool;
}

struct Ours(&'static str, LimitableMap<u64, u64>);
struct Moka(moka::sync::Cache<u64, u64>);
struct Quick(quick_cache::sync::Cache<u64, u64>);
struct Lru(lru::LruCache<u64, u64>);

impl Subject for Ours {
    fn name(&self) -> &'static str {
        self.0
    }
    fn request(&mut self, key: u64, _: usize) -> bool {
        if self.1.get(&key).is_some() {
            return true;
        }
        self.1.insert(key, key);
        false
    }
}

impl Subject for Moka {
    fn name(&self) -> &'static str {
        "moka"
    }
    fn request(&mut self, key: u64, i: usize) -> bool {
        if i.is_multiple_of(1_000) {
            self.0.run_pending_tasks();
        }
        if self.0.get(&key).is_some() {
            return true;
        }
        self.0.insert(key, key);
        false
    }
}

impl Subject for Quick {
    fn name(&self) -> &'static str {
        "quick_cache"
    }
    fn request(&mut self, key: u64, _: usize) -> bool {
        if self.0.get(&key).is_some() {
            return true;
        }
        self.0.insert(key, key);
        false
    }
}

impl Subject for Lru {
    fn name(&self) -> &'static str {
        "lru"
    }
    fn request(&mut self, key: u64, _: usize) -> bool {
        if self.0.get(&key).is_some() {
            return true;
        }
        self.0.put(key, key);
        false
    }
}

/// S3-FIFO as its paper states it, single-threaded, for comparison only.
struct S3Fifo {
    small: VecDeque<u64>,
    main: VecDeque<u64>,
    ghost: VecDeque<u64>,
    ghosts: HashMap<u64, u32>,
    /// Present keys: (frequency 0..=3, in the main queue).
    entries: HashMap<u64, (u8, bool)>,
    small_cap: usize,
}

impl S3Fifo {
    fn new() -> Self {
        Self {
            small: VecDeque::new(),
            main: VecDeque::new(),
            ghost: VecDeque::new(),
            ghosts: HashMap::new(),
            entries: HashMap::new(),
            small_cap: CAPACITY / 10,
        }
    }

    fn remember_ghost(&mut self, key: u64) {
        self.ghost.push_back(key);
        *self.ghosts.entry(key).or_insert(0) += 1;
        if self.ghost.len() > CAPACITY - self.small_cap
            && let Some(old) = self.ghost.pop_front()
            && let Some(n) = self.ghosts.get_mut(&old)
        {
            *n -= 1;
            if *n == 0 {
                self.ghosts.remove(&old);
            }
        }
    }

    fn evict_main(&mut self) {
        while let Some(key) = self.main.pop_front() {
            let entry = self.entries.get_mut(&key).expect("main keys are present");
            if entry.0 > 0 {
                entry.0 -= 1;
                self.main.push_back(key);
            } else {
                self.entries.remove(&key);
                return;
            }
        }
    }

    fn evict_small(&mut self) {
        while let Some(key) = self.small.pop_front() {
            let entry = self.entries.get_mut(&key).expect("small keys are present");
            if entry.0 > 0 {
                *entry = (0, true);
                self.main.push_back(key);
                if self.main.len() > CAPACITY - self.small_cap {
                    self.evict_main();
                }
            } else {
                self.entries.remove(&key);
                self.remember_ghost(key);
                return;
            }
        }
    }
}

impl Subject for S3Fifo {
    fn name(&self) -> &'static str {
        "model_s3fifo"
    }
    fn request(&mut self, key: u64, _: usize) -> bool {
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.0 = (entry.0 + 1).min(3);
            return true;
        }
        while self.entries.len() >= CAPACITY {
            if self.small.len() >= self.small_cap || self.main.is_empty() {
                self.evict_small();
            } else {
                self.evict_main();
            }
        }
        if self.ghosts.contains_key(&key) {
            self.main.push_back(key);
            self.entries.insert(key, (0, true));
        } else {
            self.small.push_back(key);
            self.entries.insert(key, (0, false));
        }
        false
    }
}

fn ours(name: &'static str, policy: EvictionPolicy) -> Box<dyn Subject> {
    let map = LimitableMap::builder(CAPACITY)
        .eviction_policy(policy)
        .build()
        .expect("the capacity is not zero");
    Box::new(Ours(name, map))
}

fn subjects() -> Vec<Box<dyn Subject>> {
    vec![
        ours("ours_sieve", EvictionPolicy::Sieve),
        ours("ours_fifo", EvictionPolicy::Fifo),
        ours("ours_s3fifo", EvictionPolicy::S3Fifo),
        Box::new(Moka(moka::sync::Cache::new(CAPACITY as u64))),
        Box::new(Quick(quick_cache::sync::Cache::new(CAPACITY))),
        Box::new(Lru(lru::LruCache::new(
            NonZeroUsize::new(CAPACITY).expect("the capacity is not zero"),
        ))),
        Box::new(S3Fifo::new()),
    ]
}

fn main() {
    // `cargo bench` passes criterion-style flags; this bench has none to read.
    for (trace, keys) in traces() {
        for mut subject in subjects() {
            let hits = keys
                .iter()
                .enumerate()
                .filter(|&(i, &key)| subject.request(key, i))
                .count();
            println!(
                "hit ratio trace {trace}/{}: {:.4}",
                subject.name(),
                hits as f64 / keys.len() as f64
            );
        }
    }
}
