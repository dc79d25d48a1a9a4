//! # Implementation details
//!
//! How a full store makes room, under each [`EvictionPolicy`]. Runs under the store's `order`
//! mutex (the caller holds it); see `store.rs` for the invariants of records, generations and
//! stale counts.
//!
//! - First, stale and expired records at the front of the queue go, full or not.
//! - FIFO and SIEVE walk `queue` with the hand (FIFO restarts it at the front every time). The
//!   hand clears the visited bit of each live key it passes and evicts the first unvisited one;
//!   an expired key is evicted whatever its bit. Once the hand has spared more keys than the
//!   queue holds (a full sweep's worth) the bits are ignored, so readers setting bits as fast as
//!   the hand clears them cannot stop eviction.
//! - S3-FIFO: `queue` is the small queue (a tenth of the limit), `main` the main one, `ghost`
//!   the hashes of keys evicted from the small queue. A key at the small queue's front that was
//!   read since it entered moves to `main` (its counter reset); one that was not is evicted and
//!   remembered in the ghost, so that if it comes back soon it enters `main` directly. A key at
//!   `main`'s front with a count goes to the back with its count lowered by one; one without is
//!   evicted. Counts saturate at 3, so after four rounds of the queues the counts are ignored
//!   (the same guarantee as SIEVE's sweep).
//! - Records that leave a queue's front are popped; records evicted elsewhere stay behind as
//!   stale, and the queues are compacted when stale records exceed an eighth of the live ones.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::Ordering;

use crate::expiry::LazyNow;
use crate::policy::EvictionPolicy;
use crate::stats::RemovalCause;
use crate::store::{CAPACITY, Departed, EXPIRED, FREQ, FREQ_ONE, Order, Record, Store, VISITED};

/// Hashes of the keys S3-FIFO evicted from its small queue lately, oldest first, with how many
/// times each is in the queue.
#[derive(Default)]
pub(crate) struct Ghost {
    order: VecDeque<u64>,
    counts: HashMap<u64, u32, foldhash::fast::FixedState>,
}

impl Ghost {
    pub(crate) fn contains(&self, hash: u64) -> bool {
        self.counts.contains_key(&hash)
    }

    /// Remembers `hash`, forgetting the oldest beyond `most`.
    fn remember(&mut self, hash: u64, most: usize) {
        self.order.push_back(hash);
        *self.counts.entry(hash).or_insert(0) += 1;
        while self.order.len() > most {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(n) = self.counts.get_mut(&old) {
                *n -= 1;
                if *n == 0 {
                    self.counts.remove(&old);
                }
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.order.clear();
        self.counts.clear();
    }
}

/// What the evictor decided about the record it looked at.
enum Verdict {
    /// The record is stale.
    Stale,
    /// Spared (its bit cleared or its count lowered).
    Spared,
    Evict(RemovalCause),
}

impl<K, V, S> Store<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    /// Whether a new entry of `weight` does not fit yet.
    fn full(&self, weight: u64) -> bool {
        self.book.len.load(Ordering::Acquire) >= self.limit
            || self
                .book
                .weight
                .load(Ordering::Acquire)
                .saturating_add(weight)
                > self.max_weight
    }

    /// Evicts until a new key of `weight` fits, and reclaims expired entries met on the way.
    pub(crate) fn make_room(
        &self,
        order: &mut Order<K>,
        now: u64,
        weight: u64,
        departed: &mut Departed<K, V>,
    ) {
        let mut at = LazyNow::known(&self.clock, now);
        if self.expiring.load(Ordering::Relaxed) {
            // Expired records at the front go first, full or not.
            while let Some(front) = order.queue.front() {
                let expired = match self.map.get(&front.key) {
                    Some(slot) if slot.generation() == front.generation => at.reached(slot.expires),
                    _ => true, // stale: dropped too
                };
                if !expired {
                    break;
                }
                let record = order.queue.pop_front().expect("the front exists");
                self.evict(order, &record, RemovalCause::Expired, departed);
                order.hand = order.hand.saturating_sub(1);
            }
        }
        match self.policy {
            EvictionPolicy::Fifo | EvictionPolicy::Sieve => {
                self.sweep(order, &mut at, weight, departed);
            }
            EvictionPolicy::S3Fifo => self.s3_fifo(order, &mut at, weight, departed),
        }
        let live = self.book.len.load(Ordering::Acquire);
        // Compacting costs O(queue) and happens once stale records exceed live / 8 + 32, so
        // each departure pays O(1) for it, and the queues hold about 1.125 * limit records.
        if order.stale > live / 8 + 32 {
            self.compact(order);
        }
    }

    /// Takes out the entry of a record that left its queue (popped or passed for good), if it
    /// is still live, counting it under `cause`. The record is stale afterwards and no longer
    /// in a queue, so it is not counted as stale.
    fn evict(
        &self,
        order: &mut Order<K>,
        record: &Record<K>,
        cause: RemovalCause,
        departed: &mut Departed<K, V>,
    ) {
        let generation = record.generation;
        if let Some((k, slot)) = self.take_out(order, &record.key, |s| s.generation() == generation)
        {
            self.counters.add(
                if cause == RemovalCause::Expired {
                    EXPIRED
                } else {
                    CAPACITY
                },
                1,
            );
            crate::trace::detail!(?cause, "cache entry evicted");
            departed.push((k, slot.value, cause));
        }
        order.stale -= 1;
    }

    /// Looks at a record: stale, expired, spared (clearing the bit or lowering the count that
    /// `mark` reads), or to evict.
    fn judge(&self, record: &Record<K>, at: &mut LazyNow<'_>, mark: u32, ignore: bool) -> Verdict {
        match self.map.get(&record.key) {
            Some(slot) if slot.generation() == record.generation => {
                if at.reached(slot.expires) {
                    return Verdict::Evict(RemovalCause::Expired);
                }
                let tag = slot.tag.load(Ordering::Relaxed);
                if ignore || tag & mark == 0 {
                    Verdict::Evict(RemovalCause::Capacity)
                } else {
                    if mark == VISITED {
                        slot.tag.fetch_and(!VISITED, Ordering::Relaxed);
                    } else {
                        slot.tag.fetch_sub(FREQ_ONE, Ordering::Relaxed);
                    }
                    Verdict::Spared
                }
            }
            _ => Verdict::Stale,
        }
    }

    /// FIFO and SIEVE: the hand walks `queue`.
    fn sweep(
        &self,
        order: &mut Order<K>,
        at: &mut LazyNow<'_>,
        weight: u64,
        departed: &mut Departed<K, V>,
    ) {
        if self.policy == EvictionPolicy::Fifo {
            order.hand = 0;
        }
        let mut spared = 0usize;
        while self.full(weight) && !order.queue.is_empty() {
            if order.hand >= order.queue.len() {
                order.hand = 0;
            }
            let hand = order.hand;
            // One full sweep clears every bit; past it, readers racing the hand are ignored.
            let ignore = spared > order.queue.len();
            let verdict = self.judge(&order.queue[hand], at, VISITED, ignore);
            match verdict {
                Verdict::Spared => {
                    spared += 1;
                    order.hand += 1;
                }
                Verdict::Stale | Verdict::Evict(_) if hand == 0 => {
                    let record = order.queue.pop_front().expect("the front exists");
                    match verdict {
                        Verdict::Evict(cause) => self.evict(order, &record, cause, departed),
                        _ => order.stale -= 1,
                    }
                }
                Verdict::Stale => order.hand += 1,
                Verdict::Evict(cause) => {
                    // Evicted in place: its record stays, stale, and the hand moves on.
                    let record = Record {
                        key: order.queue[hand].key.clone(),
                        generation: order.queue[hand].generation,
                    };
                    self.evict(order, &record, cause, departed);
                    order.stale += 1;
                    order.hand += 1;
                }
            }
        }
    }

    /// S3-FIFO: the small queue (`queue`), the main queue and the ghost.
    fn s3_fifo(
        &self,
        order: &mut Order<K>,
        at: &mut LazyNow<'_>,
        weight: u64,
        departed: &mut Departed<K, V>,
    ) {
        let small_most = (self.limit / 10).max(1);
        let ghost_most = self.limit - self.limit / 10;
        let rounds = 4 * (order.queue.len() + order.main.len()) + 4;
        let mut spared = 0usize;
        while self.full(weight) && !(order.queue.is_empty() && order.main.is_empty()) {
            let ignore = spared > rounds;
            if order.queue.len() >= small_most || order.main.is_empty() {
                let record = order
                    .queue
                    .pop_front()
                    .expect("the small queue is not empty");
                // One access since it entered is enough to move on to the main queue.
                match self.judge(&record, at, FREQ, ignore) {
                    Verdict::Stale => order.stale -= 1,
                    Verdict::Spared => {
                        spared += 1;
                        if let Some(slot) = self.map.get(&record.key) {
                            slot.tag.fetch_and(!FREQ, Ordering::Relaxed);
                        }
                        order.main.push_back(record);
                    }
                    Verdict::Evict(cause) => {
                        let hash = self.map.hasher().hash_one(&record.key);
                        self.evict(order, &record, cause, departed);
                        if cause == RemovalCause::Capacity {
                            order.ghost.remember(hash, ghost_most);
                        }
                    }
                }
            } else {
                let record = order.main.pop_front().expect("the main queue is not empty");
                match self.judge(&record, at, FREQ, ignore) {
                    Verdict::Stale => order.stale -= 1,
                    Verdict::Spared => {
                        spared += 1;
                        order.main.push_back(record);
                    }
                    Verdict::Evict(cause) => self.evict(order, &record, cause, departed),
                }
            }
        }
    }

    /// Drops every stale record, keeping the hand on the same live record.
    pub(crate) fn compact(&self, order: &mut Order<K>) {
        let hand = order.hand;
        let mut index = 0;
        let mut before_hand = 0;
        order.queue.retain(|record| {
            let live = self.is_live(record);
            if live && index < hand {
                before_hand += 1;
            }
            index += 1;
            live
        });
        order.main.retain(|record| self.is_live(record));
        order.hand = before_hand;
        order.stale = 0;
    }
}
