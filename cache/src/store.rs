//! # Implementation details
//!
//! The storage behind [`LimitableMap`](crate::LimitableMap): a [`DashMap`] of slots for lookups
//! and a FIFO queue of key records, behind one mutex, for the insertion order.
//!
//! Invariants:
//!
//! - Every change of *which keys are present* (a new key, an eviction, a removal, an expiry
//!   reclaim, `clear`) happens while holding the `order` mutex. Reads (`get`) and overwrites of a
//!   present key do not take it: they touch one dashmap shard only.
//! - `len` equals the number of slots in `map` whenever the mutex is free, and a new key is
//!   added only after eviction has brought `len` below `limit`; so `len <= limit` always, and
//!   `len()` reads it without a lock.
//! - Each present key has exactly one live queue record, pushed when the key was inserted (an
//!   overwrite pushes nothing, which keeps the key's place). A key that leaves other than by
//!   eviction from the front (a removal, an expiry reclaim) leaves its record behind, stale, and
//!   `stale` counts it. A key's stale records all come before its live one (the live one is
//!   pushed last), so walking the queue from the front, the first `stale[key]` records of a key
//!   are the stale ones. The slots therefore carry no insertion number: a `(u64, u64)` entry
//!   takes a 16-byte bucket, as in a plain map. The evictor skips stale records, and the queue
//!   is compacted when stale records exceed an eighth of the live ones (plus a constant), so a
//!   removal is O(1) amortized instead of the book's O(n) `splice`, and the queue holds at most
//!   about `1.125 * limit` records.
//! - Expiry is a stamp chosen by the [`Expiry`] parameter (see `expiry.rs`): nothing at all
//!   for maps without a time-to-live, the expiry instant otherwise. An expired slot is never
//!   returned; it is reclaimed by the read that finds it, by an insert that finds it at the
//!   queue's front, or by `purge_expired`.
//! - The eviction listener is called after every lock is released, so it may use the map.
//!
//! Lock order: `order` mutex, then a dashmap shard. (The once-queue's table comes before both:
//! a finished load stores its value while holding its flight entry.)

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use dashmap::DashMap;

use crate::counters::Counters;
use crate::expiry::Expiry;
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

const HITS: usize = 0;
const MISSES: usize = 1;
const INSERTS: usize = 2;
const CAPACITY: usize = 3;
const EXPIRED: usize = 4;
const REMOVED: usize = 5;
const REPLACED: usize = 6;
const COUNTERS: usize = 7;

struct Slot<V, T> {
    value: V,
    /// When the slot expires (`()` for maps without a time-to-live).
    expires: T,
}

struct Order<K, S> {
    /// Keys in insertion order, oldest first, stale records included.
    queue: VecDeque<K>,
    stale: Stale<K, S>,
}

/// How many stale records each key has in the queue (keys without any are absent).
struct Stale<K, S>(HashMap<K, usize, S>);

impl<K: Hash + Eq, S: BuildHasher> Stale<K, S> {
    /// `key` left the map, its record staying in the queue.
    fn add(&mut self, key: K) {
        *self.0.entry(key).or_insert(0) += 1;
    }

    /// Whether a record of `key`, met walking the queue from the front, is stale; if so, it is
    /// counted off (the caller drops it).
    fn take(&mut self, key: &K) -> bool {
        let Some(n) = self.0.get_mut(key) else {
            return false;
        };
        *n -= 1;
        if *n == 0 {
            self.0.remove(key);
        }
        true
    }
}

/// Entries taken out under the lock, to hand to the listener once it is released.
pub(crate) struct Departed<K, V> {
    /// Whether anyone listens; without a listener nothing is kept (and nothing allocated).
    keep: bool,
    list: Vec<(K, V, RemovalCause)>,
}

impl<K, V> Departed<K, V> {
    fn push(&mut self, entry: (K, V, RemovalCause)) {
        if self.keep {
            self.list.push(entry);
        }
    }
}

/// What every new key, eviction and removal writes, on cache lines of its own: next to the
/// fields every `get` reads (the shard table, the hasher), each such write would make the
/// other cores' next reads miss their cache.
#[repr(align(128))]
struct Bookkeeping<K, S> {
    order: Mutex<Order<K, S>>,
    len: AtomicUsize,
}

pub(crate) struct Store<K, V, S, X: Expiry> {
    map: DashMap<K, Slot<V, X::Stamp>, S>,
    book: Bookkeeping<K, S>,
    limit: usize,
    expiry: X,
    listener: Option<Listener<K, V>>,
    counters: Counters<COUNTERS>,
}

impl<K, V, S, X: Expiry> Store<K, V, S, X> {
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn len(&self) -> usize {
        self.book.len.load(Ordering::Acquire)
    }

    pub(crate) fn time_to_live(&self) -> Option<Duration> {
        self.expiry.time_to_live()
    }
}

impl<K, V, S, X: Expiry> Store<K, V, S, X>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher + Clone,
{
    pub(crate) fn new(
        limit: usize,
        expiry: X,
        listener: Option<Listener<K, V>>,
        hasher: S,
    ) -> Self {
        Self {
            book: Bookkeeping {
                order: Mutex::new(Order {
                    queue: VecDeque::new(),
                    stale: Stale(HashMap::with_hasher(hasher.clone())),
                }),
                len: AtomicUsize::new(0),
            },
            map: DashMap::with_capacity_and_hasher_and_shard_amount(0, hasher, shard_amount(limit)),
            limit,
            expiry,
            listener,
            counters: Counters::new(),
        }
    }

    #[inline]
    fn now(&self) -> u64 {
        self.expiry.now()
    }

    fn departed(&self) -> Departed<K, V> {
        Departed {
            keep: self.listener.is_some(),
            list: Vec::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Order<K, S>> {
        self.book
            .order
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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
        let now = self.now();
        {
            let slot = self.map.get(key)?;
            if X::live(slot.expires, now) {
                return Some(slot.value.clone());
            }
        }
        self.reclaim(key, now);
        None
    }

    /// A live value for `key`, not counted, and nothing reclaimed: safe to call while holding
    /// the once-queue's table lock, since it calls no listener.
    pub(crate) fn peek_quiet(&self, key: &K) -> Option<V> {
        let now = self.now();
        self.map
            .get(key)
            .filter(|slot| X::live(slot.expires, now))
            .map(|slot| slot.value.clone())
    }

    pub(crate) fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let now = self.now();
        self.map
            .get(key)
            .is_some_and(|slot| X::live(slot.expires, now))
    }

    /// Removes the slot of `key` if it is expired at `now`. (Once expired, a slot stays so
    /// until removed: an overwrite renews live slots only.)
    fn reclaim<Q>(&self, key: &Q, now: u64)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut departed = self.departed();
        {
            let mut order = self.lock();
            if let Some((k, slot)) = self.map.remove_if(key, |_, s| !X::live(s.expires, now)) {
                self.book.len.fetch_sub(1, Ordering::AcqRel);
                self.counters.add(EXPIRED, 1);
                order.stale.add(k.clone());
                departed.push((k, slot.value, RemovalCause::Expired));
            }
        }
        self.notify(departed);
    }

    /// Stores `value` under `key`; returns the live value it replaced.
    pub(crate) fn insert(&self, key: K, value: V) -> Option<V> {
        let (old, departed) = self.insert_quiet(key, value);
        self.notify(departed);
        old
    }

    /// [`insert`](Self::insert) without calling the listener: the caller hands the returned
    /// departures to [`notify`](Self::notify) once it holds no lock.
    pub(crate) fn insert_quiet(&self, key: K, value: V) -> (Option<V>, Departed<K, V>) {
        self.counters.add(INSERTS, 1);
        let now = self.now();
        let expires = self.expiry.stamp(now);
        let mut departed = self.departed();
        let value = match self.overwrite(&key, value, now, expires) {
            Ok(old) => {
                self.replaced(key, &old, &mut departed);
                return (Some(old), departed);
            }
            Err(value) => value,
        };

        let replaced = {
            let mut order = self.lock();
            // No other thread adds a key while we hold the lock, so if the key is absent now it
            // stays absent until we add it. Looking costs a shard read lock; only a key that
            // another thread added since our first attempt needs the write lock of `overwrite`.
            let attempt = if self.map.contains_key(&key) {
                self.overwrite(&key, value, now, expires)
            } else {
                Err(value)
            };
            match attempt {
                Ok(old) => Some((key, old)),
                Err(value) => {
                    if X::EXPIRES
                        && let Some((k, slot)) = self.map.remove(&key)
                    {
                        // Present but expired: it leaves, and the key is inserted anew at the back.
                        self.book.len.fetch_sub(1, Ordering::AcqRel);
                        self.counters.add(EXPIRED, 1);
                        order.stale.add(k.clone());
                        departed.push((k, slot.value, RemovalCause::Expired));
                    }
                    self.make_room(&mut order, now, &mut departed);
                    self.book.len.fetch_add(1, Ordering::AcqRel);
                    self.grow_queue(&mut order.queue);
                    order.queue.push_back(key.clone());
                    self.map.insert(key, Slot { value, expires });
                    None
                }
            }
        };
        let old = replaced.map(|(key, old)| {
            self.replaced(key, &old, &mut departed);
            old
        });
        (old, departed)
    }

    /// Overwrites a live value in place (the key keeps its place); hands `value` back when the
    /// key is absent or expired.
    #[inline]
    fn overwrite(&self, key: &K, value: V, now: u64, expires: X::Stamp) -> Result<V, V> {
        match self.map.get_mut(key) {
            Some(mut slot) if X::live(slot.expires, now) => {
                slot.expires = expires;
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

    /// Evicts from the front until a new key fits, and reclaims expired entries found there.
    fn make_room(&self, order: &mut Order<K, S>, now: u64, departed: &mut Departed<K, V>) {
        while let Some(key) = order.queue.front() {
            let full = self.book.len.load(Ordering::Acquire) >= self.limit;
            if !full && !X::EXPIRES {
                break;
            }
            if order.stale.take(key) {
                order.queue.pop_front();
                continue;
            }
            // The front record is live: its key is present.
            let removed = self
                .map
                .remove_if(key, |_, s| full || !X::live(s.expires, now));
            match removed {
                Some((k, slot)) => {
                    order.queue.pop_front();
                    self.book.len.fetch_sub(1, Ordering::AcqRel);
                    let cause = if !X::live(slot.expires, now) {
                        self.counters.add(EXPIRED, 1);
                        RemovalCause::Expired
                    } else {
                        self.counters.add(CAPACITY, 1);
                        RemovalCause::Capacity
                    };
                    departed.push((k, slot.value, cause));
                }
                // Live and not expired: the front stays, and so does everything behind it.
                None if self.map.contains_key(key) => break,
                // Absent although its record is live: the invariants rule this out; dropping
                // the record keeps the loop finite if they ever break.
                None => {
                    order.queue.pop_front();
                }
            }
        }
        let live = self.book.len.load(Ordering::Acquire);
        // Compacting costs O(queue) and happens once stale records exceed live / 8 + 32, so each
        // removal pays O(1) for it, and the queue stays within `grow_queue`'s cap. It meets every
        // stale record, so the counts all fall to zero.
        if order.queue.len() > live + live / 8 + 32 {
            let Order { queue, stale } = order;
            queue.retain(|k| !stale.take(k));
        }
    }

    /// Makes room for one more record. `VecDeque` doubles its buffer when full, which would
    /// leave up to half of it unused at the limit; growth here is capped near the most records
    /// a full map needs (`limit` live ones plus stale ones awaiting compaction), so a map that
    /// reached its limit by inserts alone spends 1x, not up to 2x, on its queue.
    fn grow_queue(&self, queue: &mut VecDeque<K>) {
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
        let now = self.now();
        let mut departed = self.departed();
        let live = {
            let mut order = self.lock();
            let (k, slot) = self.map.remove(key)?;
            self.book.len.fetch_sub(1, Ordering::AcqRel);
            order.stale.add(k.clone());
            if X::live(slot.expires, now) {
                self.counters.add(REMOVED, 1);
                if departed.keep {
                    departed.push((k, slot.value.clone(), RemovalCause::Removed));
                }
                Some(slot.value)
            } else {
                self.counters.add(EXPIRED, 1);
                departed.push((k, slot.value, RemovalCause::Expired));
                None
            }
        };
        self.notify(departed);
        live
    }

    /// Removes every entry.
    pub(crate) fn clear(&self) {
        let now = self.now();
        let mut departed = self.departed();
        {
            let mut order = self.lock();
            let Order { queue, stale } = &mut *order;
            for key in std::mem::take(queue) {
                if stale.take(&key) {
                    continue;
                }
                if let Some((k, slot)) = self.map.remove(&key) {
                    self.book.len.fetch_sub(1, Ordering::AcqRel);
                    let cause = if X::live(slot.expires, now) {
                        self.counters.add(REMOVED, 1);
                        RemovalCause::Removed
                    } else {
                        self.counters.add(EXPIRED, 1);
                        RemovalCause::Expired
                    };
                    departed.push((k, slot.value, cause));
                }
            }
        }
        self.notify(departed);
    }

    /// Reclaims every expired entry; returns how many.
    pub(crate) fn purge_expired(&self) -> usize {
        if !X::EXPIRES {
            return 0;
        }
        let now = self.now();
        let mut departed = self.departed();
        let mut count = 0;
        {
            let mut order = self.lock();
            let Order { queue, stale } = &mut *order;
            let mut kept = VecDeque::with_capacity(queue.len());
            for key in std::mem::take(queue) {
                if stale.take(&key) {
                    continue;
                }
                if let Some((k, slot)) = self.map.remove_if(&key, |_, s| !X::live(s.expires, now)) {
                    self.book.len.fetch_sub(1, Ordering::AcqRel);
                    self.counters.add(EXPIRED, 1);
                    count += 1;
                    departed.push((k, slot.value, RemovalCause::Expired));
                } else if self.map.contains_key(&key) {
                    kept.push_back(key);
                }
            }
            *queue = kept;
        }
        self.notify(departed);
        count
    }

    /// Every live key in insertion order (oldest first).
    pub(crate) fn keys(&self) -> Vec<K> {
        let now = self.now();
        let order = self.lock();
        let mut stale = Stale(order.stale.0.clone());
        order
            .queue
            .iter()
            .filter(|k| !stale.take(k) && self.map.get(*k).is_some_and(|s| X::live(s.expires, now)))
            .cloned()
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
            loads: Default::default(),
        }
    }
}
