//! Counters: what a map and a once-queue report about their work.

/// Why an entry left a [`LimitableMap`](crate::LimitableMap), as told to its eviction listener.
///
/// # Examples
///
/// ```
/// use nodebook_cache::{LimitableMap, RemovalCause};
/// use std::sync::{Arc, Mutex};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let map = LimitableMap::builder(1)
///     .eviction_listener(move |k: &&str, v: &u32, cause| log.lock().unwrap().push((*k, *v, cause)))
///     .build()?;
/// map.insert("a", 1);
/// map.insert("b", 2); // "a" is the oldest and the map is full
/// assert_eq!(*seen.lock().unwrap(), [("a", 1, RemovalCause::Capacity)]);
/// # Ok::<(), nodebook_cache::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// The map was full (by count or by weight) and the eviction policy chose this entry.
    Capacity,
    /// The entry outlived the map's time-to-live.
    Expired,
    /// The entry was removed by `remove`, `invalidate` or `clear`.
    Removed,
    /// The value was overwritten by `insert` or a finished load; the key stays.
    Replaced,
}

/// A snapshot of a [`LimitableMap`](crate::LimitableMap)'s counters, from
/// [`LimitableMap::stats`](crate::LimitableMap::stats).
///
/// Counters only grow. They are kept per thread stripe and summed when read, so a snapshot
/// taken while other threads work is a near-instant view, not an atomic one. Every counter is
/// exact: no increment is ever lost, however many threads use the map.
///
/// # Examples
///
/// ```
/// use nodebook_cache::LimitableMap;
///
/// let map = LimitableMap::new(2)?;
/// map.insert(1, "one");
/// assert_eq!(map.get(&1), Some("one"));
/// assert_eq!(map.get(&2), None);
/// let stats = map.stats();
/// assert_eq!((stats.hits, stats.misses, stats.inserts), (1, 1, 1));
/// # Ok::<(), nodebook_cache::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups that found a live value (`get`, and `get_or_load` answered at once).
    pub hits: u64,
    /// Lookups that found nothing or only an expired value.
    pub misses: u64,
    /// Values written, by `insert` or by a finished load, new keys and overwrites alike.
    pub inserts: u64,
    /// Entries evicted because the map was full.
    pub evicted_capacity: u64,
    /// Entries reclaimed because they outlived the time-to-live.
    pub expired: u64,
    /// Entries removed by `remove`, `invalidate` or `clear`.
    pub removed: u64,
    /// Values overwritten by `insert`.
    pub replaced: u64,
    /// Entries not cached because they alone weigh more than the map's `max_weight`.
    pub rejected_overweight: u64,
    /// Background refreshes started by `get_or_load` for entries past `refresh_after`.
    pub refreshes: u64,
    /// Background refreshes whose loader failed (the old value was kept).
    pub refresh_failures: u64,
    /// `get_or_load` calls answered with a cached error (negative caching).
    pub negative_hits: u64,
    /// What the map's own once-queue did for `get_or_load`.
    pub loads: LoadStats,
}

/// A snapshot of a once-queue's counters, from [`OnceQueue::stats`](crate::OnceQueue::stats)
/// (and inside [`CacheStats::loads`]).
///
/// Each load started ends in exactly one of `succeeded`, `failed`, `panicked` or `cancelled`,
/// so once nothing is in flight, `started` is their sum.
///
/// # Examples
///
/// ```
/// use nodebook_cache::OnceQueue;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let queue: OnceQueue<&str, u32, std::io::Error> = OnceQueue::new();
/// let v = queue.run("answer", || async { Ok(42) }).await.unwrap();
/// assert_eq!(v, 42);
/// let stats = queue.stats();
/// assert_eq!((stats.started, stats.succeeded), (1, 1));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadStats {
    /// Loads started (one per flight, however many callers shared it).
    pub started: u64,
    /// Callers that joined a load already in flight instead of starting one.
    pub coalesced: u64,
    /// Loads whose loader returned a value.
    pub succeeded: u64,
    /// Loads whose loader returned an error.
    pub failed: u64,
    /// Loads whose loader panicked.
    pub panicked: u64,
    /// Loads stopped before they finished (last waiter left under
    /// [`AbandonPolicy::CancelLoad`](crate::AbandonPolicy::CancelLoad), runtime shut down). A
    /// load whose last waiter cancelled it just as it finished counts here, not as succeeded.
    pub cancelled: u64,
    /// Loads that finished after `invalidate`, `insert` or `forget` for their key, whose value
    /// was handed to their waiters but not stored.
    pub discarded: u64,
}
