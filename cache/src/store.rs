//! # Implementation details
//!
//! The storage behind [`LimitableMap`](crate::LimitableMap): a [`DashMap`] of slots for lookups
//! and queues of key records in insertion order, behind one mutex, for eviction (one queue
//! under FIFO and SIEVE; S3-FIFO's small and main queues and its ghost). How the queues are
//! used to evict is in `eviction.rs`.
//!
//! Invariants:
//!
//! - Every change of *which keys are present* (a new key, an eviction, a removal, an expiry
//!   reclaim, `clear`) happens while holding the `order` mutex. Reads (`get`) and in-place
//!   overwrites of a present key do not take it: they touch one dashmap shard only.
//! - `len` and `weight` equal the count and the total weight of the slots in `map` whenever
//!   the mutex is free. A new key is added only after eviction has brought `len` below `limit`
//!   and `weight` to at most `max_weight` less the key's weight, and both counters are lowered
//!   before they are raised; so `len <= limit` and `weight <= max_weight` at every instant, and
//!   both are read without a lock.
//! - Each record carries the *generation* it was pushed with; the slot of a present key carries
//!   the generation of its one live record (a record moved from one queue to another keeps it).
//!   A record whose key is absent, or present with another generation, is stale: left behind
//!   by a removal, an expiry reclaim or an eviction by the SIEVE hand in the middle of the
//!   queue. `stale` counts them. Stale records at a front are dropped as the front is reached,
//!   and the queues are compacted when they exceed an eighth of the live ones (plus a
//!   constant), so each departure costs O(1) amortized and the queues hold at most about
//!   `1.125 * limit` records. Generations are 29 bits and wrap; a record lives through far
//!   fewer than 2^29 insertions (it reaches a front or is compacted away first), and a wrapped
//!   match would at worst make a departed key's record look live, which eviction tolerates (it
//!   finds the slot gone or takes it).
//! - The slot's `tag` holds the generation in its low 29 bits, S3-FIFO's 2-bit access counter
//!   above it and SIEVE's visited bit on top. A read marks the entry with one atomic operation
//!   under the shard's read lock, and only when the mark would change, so a hot key's cache
//!   line is not written on every read; the evictor clears marks under the `order` mutex.
//! - Expiry and refresh are instants in the units of `expiry.rs`; [`NEVER`] for entries that do
//!   not expire, which are checked without reading the clock.
//! - The eviction listener is called after every lock is released, so it may use the map.
//!
//! Lock order: `order` mutex, then a dashmap shard. (The once-queue's table comes before both:
//! a finished load stores its value while holding its flight entry.)

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use dashmap::DashMap;

use crate::counters::Counters;
use crate::eviction::Ghost;
use crate::expiry::{Clock, LazyNow, NEVER, deadline};
use crate::policy::EvictionPolicy;
use crate::stats::{CacheStats, RemovalCause};

/// How many shards the map has: eight times dashmap's default of four per core (64 on two
/// cores), so that the few hot keys of a skewed stream seldom share a shard lock and two cores
/// reading them do not pass its cache line back and forth; but no more than one shard per 32
/// keys the map may hold, unless that is below dashmap's default, which small maps keep.
fn shard_amount(limit: usize) -> usize {
    // Asking for the core count reads cgroup files on Linux: once per process is enough.
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    let default = *DEFAULT.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        cores.saturating_mul(4).next_power_of_two().max(2)
    });
    let wanted = default.saturating_mul(8);
    let most = (limit / 32).max(default);
    // A power of two no larger than `most` (dashmap wants a power of two), and at least
    // `default`, itself one.
    wanted.min(1 << most.ilog2())
}

/// The eviction listener's shape.
pub(crate) type Listener<K, V> = Box<dyn Fn(&K, &V, RemovalCause) + Send + Sync>;

/// The weigher's shape.
pub(crate) type Weigher<K, V> = Box<dyn Fn(&K, &V) -> u32 + Send + Sync>;

const HITS: usize = 0;
const MISSES: usize = 1;
const INSERTS: usize = 2;
pub(crate) const CAPACITY: usize = 3;
pub(crate) const EXPIRED: usize = 4;
const REMOVED: usize = 5;
const REPLACED: usize = 6;
const OVERWEIGHT: usize = 7;
pub(crate) const REFRESHES: usize = 8;
pub(crate) const REFRESH_FAILURES: usize = 9;
pub(crate) const NEGATIVE_HITS: usize = 10;
const COUNTERS: usize = 11;

/// SIEVE's visited bit in a slot's tag.
pub(crate) const VISITED: u32 = 1 << 31;
/// One in S3-FIFO's 2-bit access counter (bits 29 and 30 of the tag).
pub(crate) const FREQ_ONE: u32 = 1 << 29;
pub(crate) const FREQ: u32 = 3 * FREQ_ONE;
/// The generation: the low 29 bits.
pub(crate) const GENERATION: u32 = FREQ_ONE - 1;

/// What a store is built with.
pub(crate) struct Config<K, V> {
    pub(crate) limit: usize,
    /// `u64::MAX` when the map is bounded by count only.
    pub(crate) max_weight: u64,
    pub(crate) weigher: Option<Weigher<K, V>>,
    pub(crate) policy: EvictionPolicy,
    pub(crate) ttl: Option<Duration>,
    pub(crate) refresh_after: Option<Duration>,
    pub(crate) listener: Option<Listener<K, V>>,
}

pub(crate) struct Slot<V> {
    pub(crate) value: V,
    /// When the entry expires, or [`NEVER`].
    pub(crate) expires: u64,
    /// When `get_or_load` starts refreshing the entry in the background, or [`NEVER`].
    refresh_at: u64,
    /// The generation of the key's live record in the low bits; S3-FIFO's access counter
    /// and SIEVE's visited bit above it.
    pub(crate) tag: AtomicU32,
    weight: u32,
}

impl<V> Slot<V> {
    pub(crate) fn generation(&self) -> u32 {
        self.tag.load(Ordering::Relaxed) & GENERATION
    }
}

/// The instants of one write.
struct Stamps {
    now: u64,
    expires: u64,
    refresh_at: u64,
}

pub(crate) struct Record<K> {
    pub(crate) key: K,
    pub(crate) generation: u32,
}

pub(crate) struct Order<K> {
    /// Records in insertion order, oldest first, stale ones included (S3-FIFO's small queue).
    pub(crate) queue: VecDeque<Record<K>>,
    /// S3-FIFO's main queue (empty under the other policies).
    pub(crate) main: VecDeque<Record<K>>,
    /// S3-FIFO's ghost: hashes of keys recently evicted from the small queue.
    pub(crate) ghost: Ghost,
    /// SIEVE's hand: the index in `queue` of the next record it looks at.
    pub(crate) hand: usize,
    /// Stale records in `queue` and `main`.
    pub(crate) stale: usize,
    next_generation: u32,
}

/// Entries taken out under the lock, to hand to the listener once it is released.
pub(crate) struct Departed<K, V> {
    /// Whether anyone listens; without a listener nothing is kept (and nothing allocated).
    keep: bool,
    list: Vec<(K, V, RemovalCause)>,
}

impl<K, V> Departed<K, V> {
    pub(crate) fn push(&mut self, entry: (K, V, RemovalCause)) {
        if self.keep {
            self.list.push(entry);
        }
    }
}

/// What every new key, eviction and removal writes, on cache lines of its own: next to the
/// fields every `get` reads (the shard table, the hasher), each such write would make the
/// other cores' next reads miss their cache.
#[repr(align(128))]
pub(crate) struct Bookkeeping<K> {
    order: Mutex<Order<K>>,
    pub(crate) len: AtomicUsize,
    pub(crate) weight: AtomicU64,
}

/// What a lookup for `get_or_load` found.
pub(crate) enum Found<V> {
    Fresh(V),
    /// Live but past its refresh instant; `u32` is its generation.
    Due(V, u32),
    Missing,
}

pub(crate) struct Store<K, V, S> {
    pub(crate) map: DashMap<K, Slot<V>, S>,
    pub(crate) book: Bookkeeping<K>,
    pub(crate) limit: usize,
    pub(crate) max_weight: u64,
    weigher: Option<Weigher<K, V>>,
    pub(crate) policy: EvictionPolicy,
    pub(crate) clock: Clock,
    ttl: Option<Duration>,
    refresh_after: Option<Duration>,
    /// Whether any entry was ever given an expiry: until then inserts do not look for expired
    /// entries at the front.
    pub(crate) expiring: AtomicBool,
    listener: Option<Listener<K, V>>,
    pub(crate) counters: Counters<COUNTERS>,
}

impl<K, V, S> Store<K, V, S> {
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn len(&self) -> usize {
        self.book.len.load(Ordering::Acquire)
    }

    pub(crate) fn weight(&self) -> u64 {
        self.book.weight.load(Ordering::Acquire)
    }

    pub(crate) fn max_weight(&self) -> Option<u64> {
        (self.max_weight != u64::MAX).then_some(self.max_weight)
    }

    pub(crate) fn time_to_live(&self) -> Option<Duration> {
        self.ttl
    }

    pub(crate) fn refresh_after(&self) -> Option<Duration> {
        self.refresh_after
    }

    pub(crate) fn policy(&self) -> EvictionPolicy {
        self.policy
    }

    pub(crate) fn count(&self, which: usize) {
        self.counters.add(which, 1);
    }
}

impl<K, V, S> Store<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    pub(crate) fn new(config: Config<K, V>, hasher: S) -> Self {
        Self {
            book: Bookkeeping {
                order: Mutex::new(Order {
                    queue: VecDeque::new(),
                    main: VecDeque::new(),
                    ghost: Ghost::default(),
                    hand: 0,
                    stale: 0,
                    next_generation: 0,
                }),
                len: AtomicUsize::new(0),
                weight: AtomicU64::new(0),
            },
            map: DashMap::with_capacity_and_hasher_and_shard_amount(
                0,
                hasher,
                shard_amount(config.limit),
            ),
            limit: config.limit,
            max_weight: config.max_weight,
            weigher: config.weigher,
            policy: config.policy,
            clock: Clock::new(),
            ttl: config.ttl,
            refresh_after: config.refresh_after,
            expiring: AtomicBool::new(config.ttl.is_some()),
            listener: config.listener,
            counters: Counters::new(),
        }
    }

    fn departed(&self) -> Departed<K, V> {
        Departed {
            keep: self.listener.is_some(),
            list: Vec::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Order<K>> {
        self.book
            .order
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a slot read, for SIEVE.
    #[inline]
    fn visit(&self, slot: &Slot<V>) {
        match self.policy {
            EvictionPolicy::Fifo => {}
            EvictionPolicy::Sieve => {
                if slot.tag.load(Ordering::Relaxed) & VISITED == 0 {
                    slot.tag.fetch_or(VISITED, Ordering::Relaxed);
                }
            }
            EvictionPolicy::S3Fifo => {
                // One attempt: a count lost to a racing reader is a count of the same access.
                let tag = slot.tag.load(Ordering::Relaxed);
                if tag & FREQ != FREQ {
                    let _ = slot.tag.compare_exchange(
                        tag,
                        tag + FREQ_ONE,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
            }
        }
    }

    /// A live value for `key`, counted as a hit or a miss.
    #[inline]
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let found = self.peek(key);
        self.counters
            .add(if found.is_some() { HITS } else { MISSES }, 1);
        found
    }

    /// A live value for `key`, not counted. An expired slot found here is reclaimed.
    #[inline]
    pub(crate) fn peek<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut now = LazyNow::new(&self.clock);
        {
            let slot = self.map.get(key)?;
            if !now.reached(slot.expires) {
                self.visit(&slot);
                return Some(slot.value.clone());
            }
        }
        self.reclaim(key, now.get());
        None
    }

    /// For `get_or_load`: a live value and whether it is due for a refresh, counted as a hit
    /// or a miss.
    pub(crate) fn lookup(&self, key: &K) -> Found<V> {
        let mut now = LazyNow::new(&self.clock);
        // The shard guard must be gone before `reclaim` takes the same shard's write lock.
        let found = match self.map.get(key) {
            Some(slot) if !now.reached(slot.expires) => {
                self.visit(&slot);
                if now.reached(slot.refresh_at) {
                    Some(Found::Due(slot.value.clone(), slot.generation()))
                } else {
                    Some(Found::Fresh(slot.value.clone()))
                }
            }
            Some(_) => None,
            None => Some(Found::Missing),
        };
        let found = found.unwrap_or_else(|| {
            self.reclaim(key, now.get());
            Found::Missing
        });
        let which = if matches!(found, Found::Missing) {
            MISSES
        } else {
            HITS
        };
        self.counters.add(which, 1);
        found
    }

    /// A live value for `key`, not counted, and nothing reclaimed: safe to call while holding
    /// the once-queue's table lock, since it calls no listener.
    pub(crate) fn peek_quiet(&self, key: &K) -> Option<V> {
        let mut now = LazyNow::new(&self.clock);
        self.map
            .get(key)
            .filter(|slot| !now.reached(slot.expires))
            .map(|slot| slot.value.clone())
    }

    pub(crate) fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut now = LazyNow::new(&self.clock);
        self.map
            .get(key)
            .is_some_and(|slot| !now.reached(slot.expires))
    }

    /// After a failed refresh of generation `generation` of `key`: the next refresh waits
    /// another `refresh_after` (the value stays until it expires).
    pub(crate) fn postpone_refresh(&self, key: &K, generation: u32) {
        let next = deadline(self.clock.now(), self.refresh_after);
        if let Some(mut slot) = self.map.get_mut(key)
            && slot.generation() == generation
        {
            slot.refresh_at = next;
        }
    }

    /// Takes out the slot of `key` under the lock (the caller holds `order`), keeping the
    /// counters right; its record becomes stale.
    pub(crate) fn take_out<Q>(
        &self,
        order: &mut Order<K>,
        key: &Q,
        when: impl FnOnce(&Slot<V>) -> bool,
    ) -> Option<(K, Slot<V>)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (k, slot) = self.map.remove_if(key, |_, s| when(s))?;
        self.book.len.fetch_sub(1, Ordering::AcqRel);
        self.book
            .weight
            .fetch_sub(u64::from(slot.weight), Ordering::AcqRel);
        order.stale += 1;
        Some((k, slot))
    }

    /// Removes the slot of `key` if it is expired at `now`.
    fn reclaim<Q>(&self, key: &Q, now: u64)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut departed = self.departed();
        {
            let mut order = self.lock();
            let mut at = LazyNow::known(&self.clock, now);
            if let Some((k, slot)) = self.take_out(&mut order, key, |s| at.reached(s.expires)) {
                self.counters.add(EXPIRED, 1);
                departed.push((k, slot.value, RemovalCause::Expired));
            }
        }
        self.notify(departed);
    }

    /// Stores `value` under `key` with the map's time-to-live (or `ttl`, when given); returns
    /// the live value it replaced.
    pub(crate) fn insert(&self, key: K, value: V, ttl: Option<Option<Duration>>) -> Option<V> {
        let (old, departed) = self.insert_quiet(key, value, ttl);
        self.notify(departed);
        old
    }

    /// [`insert`](Self::insert) without calling the listener: the caller hands the returned
    /// departures to [`notify`](Self::notify) once it holds no lock. `ttl`: `None` for the
    /// map's time-to-live, `Some(None)` for none, `Some(Some(d))` for `d`.
    pub(crate) fn insert_quiet(
        &self,
        key: K,
        value: V,
        ttl: Option<Option<Duration>>,
    ) -> (Option<V>, Departed<K, V>) {
        self.counters.add(INSERTS, 1);
        let ttl = ttl.unwrap_or(self.ttl);
        // Until some entry can expire, every stamp is `NEVER` and no check needs the clock.
        let now = if ttl.is_some()
            || self.refresh_after.is_some()
            || self.expiring.load(Ordering::Relaxed)
        {
            self.clock.now()
        } else {
            0
        };
        let expires = deadline(now, ttl);
        if expires != NEVER && !self.expiring.load(Ordering::Relaxed) {
            self.expiring.store(true, Ordering::Relaxed);
        }
        let refresh_at = deadline(now, self.refresh_after);
        let stamps = Stamps {
            now,
            expires,
            refresh_at: if refresh_at < expires {
                refresh_at
            } else {
                NEVER
            },
        };
        let mut departed = self.departed();
        let weight = self.weigher.as_ref().map_or(0, |w| w(&key, &value));

        let value = if self.weigher.is_none() {
            // Overwrite a live value in place, without the order lock.
            match self.overwrite(&key, value, &stamps) {
                Ok(old) => {
                    self.replaced(key, &old, &mut departed);
                    return (Some(old), departed);
                }
                Err(value) => value,
            }
        } else {
            value
        };

        let mut old = None;
        {
            let mut order = self.lock();
            // Looking costs a shard read lock; only a key that another thread added since the
            // first attempt needs the write lock of `overwrite`.
            let value = if self.weigher.is_none() && self.map.contains_key(&key) {
                match self.overwrite(&key, value, &stamps) {
                    Ok(previous) => {
                        drop(order);
                        self.replaced(key, &previous, &mut departed);
                        return (Some(previous), departed);
                    }
                    Err(value) => value,
                }
            } else {
                value
            };
            // Present but expired, or (with a weigher, since the weight may change) an
            // overwrite: the old entry leaves and the key enters anew at the back.
            if let Some((k, slot)) = self.take_out(&mut order, &key, |_| true) {
                if LazyNow::known(&self.clock, now).reached(slot.expires) {
                    self.counters.add(EXPIRED, 1);
                    departed.push((k, slot.value, RemovalCause::Expired));
                } else {
                    self.counters.add(REPLACED, 1);
                    if departed.keep {
                        departed.push((k, slot.value.clone(), RemovalCause::Replaced));
                    }
                    old = Some(slot.value);
                }
            }
            if u64::from(weight) > self.max_weight {
                // Heavier than the whole budget: not cached.
                self.counters.add(OVERWEIGHT, 1);
            } else {
                self.insert_new(&mut order, key, value, weight, &stamps, &mut departed);
            }
        }
        (old, departed)
    }

    /// Adds `key`, absent, after making room.
    fn insert_new(
        &self,
        order: &mut Order<K>,
        key: K,
        value: V,
        weight: u32,
        stamps: &Stamps,
        departed: &mut Departed<K, V>,
    ) {
        self.make_room(order, stamps.now, u64::from(weight), departed);
        let generation = order.next_generation;
        order.next_generation = (generation + 1) & GENERATION;
        let record = Record {
            key: key.clone(),
            generation,
        };
        // S3-FIFO: a key evicted from the small queue not long ago goes straight to the main one.
        if self.policy == EvictionPolicy::S3Fifo
            && order.ghost.contains(self.map.hasher().hash_one(&key))
        {
            order.main.push_back(record);
        } else {
            self.grow_queue(&mut order.queue);
            order.queue.push_back(record);
        }
        self.book.len.fetch_add(1, Ordering::AcqRel);
        self.book
            .weight
            .fetch_add(u64::from(weight), Ordering::AcqRel);
        self.map.insert(
            key,
            Slot {
                value,
                expires: stamps.expires,
                refresh_at: stamps.refresh_at,
                tag: AtomicU32::new(generation),
                weight,
            },
        );
    }

    /// Overwrites a live value in place (the key keeps its place and its visited bit); hands
    /// `value` back when the key is absent or expired.
    #[inline]
    fn overwrite(&self, key: &K, value: V, stamps: &Stamps) -> Result<V, V> {
        match self.map.get_mut(key) {
            Some(mut slot) if !LazyNow::known(&self.clock, stamps.now).reached(slot.expires) => {
                slot.expires = stamps.expires;
                slot.refresh_at = stamps.refresh_at;
                Ok(std::mem::replace(&mut slot.value, value))
            }
            _ => Err(value),
        }
    }

    fn replaced(&self, key: K, old: &V, departed: &mut Departed<K, V>) {
        self.counters.add(REPLACED, 1);
        if departed.keep {
            departed.push((key, old.clone(), RemovalCause::Replaced));
        }
    }

    /// Whether the record at `index` is live: its key present with its generation.
    pub(crate) fn is_live(&self, record: &Record<K>) -> bool {
        self.map
            .get(&record.key)
            .is_some_and(|slot| slot.generation() == record.generation)
    }

    /// Makes room for one more record. `VecDeque` doubles its buffer when full, which would
    /// leave up to half of it unused at the limit; growth here is capped near the most records
    /// a full map needs (`limit` live ones plus stale ones awaiting compaction), so a map that
    /// reached its limit by inserts alone spends 1x, not up to 2x, on its queue.
    fn grow_queue(&self, queue: &mut VecDeque<Record<K>>) {
        if queue.len() < queue.capacity() {
            return;
        }
        let at_limit = self.limit.saturating_add(self.limit / 8).saturating_add(32);
        let wanted = if queue.len() < at_limit {
            queue.len().saturating_mul(2).clamp(16, at_limit)
        } else {
            queue.len().saturating_add(queue.len() / 4)
        };
        queue.reserve_exact(wanted - queue.len());
    }

    /// Removes `key`; returns its value if it was live.
    pub(crate) fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut now = LazyNow::new(&self.clock);
        let mut departed = self.departed();
        let live = {
            let mut order = self.lock();
            let (k, slot) = self.take_out(&mut order, key, |_| true)?;
            if now.reached(slot.expires) {
                self.counters.add(EXPIRED, 1);
                departed.push((k, slot.value, RemovalCause::Expired));
                None
            } else {
                self.counters.add(REMOVED, 1);
                if departed.keep {
                    departed.push((k, slot.value.clone(), RemovalCause::Removed));
                }
                Some(slot.value)
            }
        };
        self.notify(departed);
        live
    }

    /// Removes every entry.
    pub(crate) fn clear(&self) {
        let mut now = LazyNow::new(&self.clock);
        let mut departed = self.departed();
        {
            let mut order = self.lock();
            let mut records = std::mem::take(&mut order.queue);
            records.append(&mut order.main);
            order.ghost.clear();
            for record in records {
                let generation = record.generation;
                if let Some((k, slot)) =
                    self.take_out(&mut order, &record.key, |s| s.generation() == generation)
                {
                    let cause = if now.reached(slot.expires) {
                        self.counters.add(EXPIRED, 1);
                        RemovalCause::Expired
                    } else {
                        self.counters.add(REMOVED, 1);
                        RemovalCause::Removed
                    };
                    departed.push((k, slot.value, cause));
                }
            }
            order.hand = 0;
            order.stale = 0;
        }
        self.notify(departed);
    }

    /// Reclaims every expired entry; returns how many.
    pub(crate) fn purge_expired(&self) -> usize {
        if !self.expiring.load(Ordering::Relaxed) {
            return 0;
        }
        let mut now = LazyNow::new(&self.clock);
        let mut departed = self.departed();
        let mut count = 0;
        {
            let mut order = self.lock();
            let records: Vec<(K, u32)> = order
                .queue
                .iter()
                .chain(&order.main)
                .map(|r| (r.key.clone(), r.generation))
                .collect();
            for (key, generation) in &records {
                let generation = *generation;
                if let Some((k, slot)) = self.take_out(&mut order, key, |s| {
                    s.generation() == generation && now.reached(s.expires)
                }) {
                    self.counters.add(EXPIRED, 1);
                    count += 1;
                    departed.push((k, slot.value, RemovalCause::Expired));
                }
            }
            self.compact(&mut order);
        }
        self.notify(departed);
        count
    }

    /// Every live key in insertion order (oldest first); under S3-FIFO the main queue's keys
    /// first, then the small queue's.
    pub(crate) fn keys(&self) -> Vec<K> {
        let mut now = LazyNow::new(&self.clock);
        let order = self.lock();
        order
            .main
            .iter()
            .chain(&order.queue)
            .filter(|record| {
                self.map.get(&record.key).is_some_and(|slot| {
                    slot.generation() == record.generation && !now.reached(slot.expires)
                })
            })
            .map(|record| record.key.clone())
            .collect()
    }

    /// Tells the listener about `departed`; call with no lock held.
    pub(crate) fn notify(&self, departed: Departed<K, V>) {
        if let Some(listener) = &self.listener {
            for (k, v, cause) in &departed.list {
                listener(k, v, *cause);
            }
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let c = self.counters.snapshot();
        CacheStats {
            hits: c[HITS],
            misses: c[MISSES],
            inserts: c[INSERTS],
            evicted_capacity: c[CAPACITY],
            expired: c[EXPIRED],
            removed: c[REMOVED],
            replaced: c[REPLACED],
            rejected_overweight: c[OVERWEIGHT],
            refreshes: c[REFRESHES],
            refresh_failures: c[REFRESH_FAILURES],
            negative_hits: c[NEGATIVE_HITS],
            loads: Default::default(),
        }
    }
}
