//! [`LimitableMap`]: the book's bounded cache, concurrent, with SIEVE or FIFO eviction.

use std::borrow::Borrow;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::Duration;

use crate::builder::{Builder, DefaultHashBuilder};
use crate::error::Error;
use crate::flight::Flights;
use crate::loading::Loading;
use crate::once_queue::AbandonPolicy;
use crate::policy::EvictionPolicy;
use crate::stats::CacheStats;
use crate::store::{Found, NEGATIVE_HITS, REFRESHES, Store};

/// A bounded map (the book's `LimitableMap`, section 5.3.1) that evicts once `limit` keys (or
/// `max_weight` by its weigher) are held, safe to share between tasks and threads.
///
/// - [`insert`](Self::insert) of a new key when the map is full evicts a key chosen by the
///   [`EvictionPolicy`]: by default S3-FIFO, which evicts new keys that were not read again
///   first and keeps the keys read more than once; or SIEVE; or the book's FIFO, the
///   oldest-inserted key. Overwriting a key keeps its place in the order and returns the old
///   value.
/// - [`get`](Self::get) returns a clone of the value. For large values store `Arc<V>`, so the
///   clone is a reference count.
/// - Every operation is O(1) amortized (the book's `keys.shift()` and a delete by
///   `splice` are O(n)).
/// - Reads take no global lock: a `get` touches one shard of a sharded map and nothing else
///   (it sets a bit or a small counter in the entry there), and never reorders anything. Inserting a new key, evicting and removing take one short lock
///   over the insertion order. [`len`](Self::len) never exceeds [`limit`](Self::limit), even
///   while many threads insert.
/// - Optional, from the [`builder`](Self::builder): a time-to-live (counted from the last
///   write; expired entries are never returned and are reclaimed), per entry too
///   ([`insert_with_ttl`](Self::insert_with_ttl)); a weight budget; stale-while-revalidate
///   ([`Builder::refresh_after`]); negative caching ([`Builder::negative_caching`]); an
///   eviction listener told the key, the value and the [`RemovalCause`](crate::RemovalCause);
///   and the [`AbandonPolicy`] of [`get_or_load`](Self::get_or_load). Counters are always on
///   ([`stats`](Self::stats)).
/// - [`get_or_load`](Self::get_or_load) puts the once-queue in front of the map: a hit returns
///   at once, a crowd of misses on one key runs one load, and the result is stored, unless an
///   [`insert`](Self::insert), [`remove`](Self::remove) or [`invalidate`](Self::invalidate) of
///   that key came after the load started (the newer state wins).
///
/// `LimitableMap` is a handle: clones share one map. It is `Send + Sync` when `K` and `V` are.
/// `S` hashes the keys: [`DefaultHashBuilder`] (foldhash, seeded at random per map) unless the
/// builder was given another with [`Builder::hasher`].
///
/// | Node (the book) | Rust |
/// |---|---|
/// | `new LimitableMap(limit)` | [`LimitableMap::new`]`(limit)?` |
/// | `map.set(key, value)` | [`insert`](Self::insert)`(key, value)` |
/// | `map.get(key)` | [`get`](Self::get)`(&key)` |
///
/// # Examples
///
/// ```
/// use nodebook_cache::LimitableMap;
///
/// let map = LimitableMap::new(2)?;
/// map.insert("a", 1);
/// map.insert("b", 2);
/// assert_eq!(map.insert("a", 10), Some(1)); // an overwrite keeps "a" first in line
/// map.insert("c", 3); // full: "a", never read, goes first
/// assert_eq!(map.get(&"a"), None);
/// assert_eq!(map.get(&"b"), Some(2));
/// assert_eq!(map.len(), 2);
/// # Ok::<(), nodebook_cache::Error>(())
/// ```
pub struct LimitableMap<K, V, S = DefaultHashBuilder> {
    store: Arc<Store<K, V, S>>,
    loading: Arc<Loading<K, V, S>>,
    flights: Arc<Flights<K>>,
}

impl<K, V> LimitableMap<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A map that holds at most `limit` keys, with no time-to-live and no listener.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroLimit`] if `limit` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map: LimitableMap<u64, String> = LimitableMap::new(10_000)?;
    /// assert_eq!(map.limit(), 10_000);
    /// assert!(LimitableMap::<u64, String>::new(0).is_err());
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    pub fn new(limit: usize) -> Result<Self, Error> {
        Self::builder(limit).build()
    }

    /// A [`Builder`] for a map of at most `limit` keys, to set a time-to-live, an eviction
    /// listener or the abandon policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    /// use std::time::Duration;
    ///
    /// let map: LimitableMap<u64, String> = LimitableMap::builder(100)
    ///     .time_to_live(Duration::from_secs(60))
    ///     .build()?;
    /// assert_eq!(map.time_to_live(), Some(Duration::from_secs(60)));
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    pub fn builder(limit: usize) -> Builder<K, V> {
        Builder::new(limit)
    }
}

impl<K, V, S> LimitableMap<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    pub(crate) fn from_parts(
        store: Store<K, V, S>,
        loading: Loading<K, V, S>,
        policy: AbandonPolicy,
    ) -> Self {
        Self {
            store: Arc::new(store),
            loading: Arc::new(loading),
            flights: Arc::new(Flights::new(policy)),
        }
    }

    /// Stores `value` under `key` and returns the value it replaced, if the key was present.
    ///
    /// A new key goes to the back of the eviction order; when the map is full a key is evicted
    /// first, as the [`EvictionPolicy`] chooses. An overwrite keeps the key's place (and restarts
    /// its time-to-live); in a map with a weigher it puts the key in anew, reweighed. A load for `key` in flight from [`get_or_load`](Self::get_or_load) will
    /// not overwrite this value when it finishes.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map = LimitableMap::new(1)?;
    /// assert_eq!(map.insert(1, "one"), None);
    /// assert_eq!(map.insert(1, "uno"), Some("one"));
    /// assert_eq!(map.insert(2, "two"), None); // evicts 1
    /// assert!(!map.contains_key(&1));
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.flights.forget(&key);
        self.loading.forget_error(&key);
        self.store.insert(key, value, None)
    }

    /// [`insert`](Self::insert) with a time-to-live of its own for this entry, instead of the
    /// map's (if any): the entry expires `ttl` from now (an overwrite later gives it the
    /// map's time-to-live again, or none).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), nodebook_cache::Error> {
    /// let sessions = LimitableMap::new(100)?; // no time-to-live for the map
    /// sessions.insert_with_ttl("guest", 1, Duration::from_secs(60));
    /// sessions.insert("admin", 2);
    /// tokio::time::advance(Duration::from_secs(60)).await;
    /// assert_eq!(sessions.get("guest"), None);
    /// assert_eq!(sessions.get("admin"), Some(2));
    /// # Ok(())
    /// # }
    /// ```
    pub fn insert_with_ttl(&self, key: K, value: V, ttl: Duration) -> Option<V> {
        self.flights.forget(&key);
        self.loading.forget_error(&key);
        self.store.insert(key, value, Some(Some(ttl)))
    }

    /// A clone of the value stored under `key`, if present and not expired.
    ///
    /// Reads never reorder anything and take no global lock; under S3-FIFO and SIEVE a read
    /// marks the key in its entry, which spares it at its next turn for eviction.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    /// use std::sync::Arc;
    ///
    /// let map = LimitableMap::new(8)?;
    /// map.insert("page", Arc::<str>::from("<html>…</html>")); // large values: share, don't copy
    /// assert_eq!(map.get("page").as_deref(), Some("<html>…</html>"));
    /// assert_eq!(map.get("other"), None);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.store.get(key)
    }

    /// Whether `key` is present and not expired. Not counted as a hit or miss.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map = LimitableMap::new(8)?;
    /// map.insert(1, ());
    /// assert!(map.contains_key(&1));
    /// assert!(!map.contains_key(&2));
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[must_use]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.store.contains_key(key)
    }

    /// Removes `key` and returns its value if it was present and not expired.
    ///
    /// A load for `key` in flight will not store its value when it finishes (see
    /// [`invalidate`](Self::invalidate)).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map = LimitableMap::new(8)?;
    /// map.insert(1, "one");
    /// assert_eq!(map.remove(&1), Some("one"));
    /// assert_eq!(map.remove(&1), None);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.flights.forget(key);
        self.loading.forget_error(key);
        self.store.remove(key)
    }

    /// Drops whatever the map knows about `key`: its value, and the right of a load in flight
    /// to store its result.
    ///
    /// A [`get_or_load`](Self::get_or_load) that started before this call may still answer its
    /// own callers with the value it loads, but that value is not stored, and calls made after
    /// this one start a fresh load: nobody reads the stale value afterwards.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map = LimitableMap::new(8)?;
    /// map.insert("user:1", "Ada");
    /// map.invalidate("user:1");
    /// assert_eq!(map.get("user:1"), None);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove(key);
    }

    /// Removes every entry and detaches every load in flight (as [`invalidate`](Self::invalidate)
    /// does for one key).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map = LimitableMap::new(8)?;
    /// map.insert(1, 1);
    /// map.insert(2, 2);
    /// map.clear();
    /// assert!(map.is_empty());
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    pub fn clear(&self) {
        self.flights.forget_all();
        self.loading.forget_errors();
        self.store.clear();
    }

    /// How many entries the map holds, never more than [`limit`](Self::limit). Entries that
    /// expired but were not yet reclaimed count until they are (see
    /// [`purge_expired`](Self::purge_expired)).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map = LimitableMap::new(2)?;
    /// for k in 0..5 {
    ///     map.insert(k, k);
    /// }
    /// assert_eq!(map.len(), 2);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether the map holds no entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map: LimitableMap<u8, u8> = LimitableMap::new(2)?;
    /// assert!(map.is_empty());
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most keys the map holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map: LimitableMap<u8, u8> = LimitableMap::new(3)?;
    /// assert_eq!(map.limit(), 3);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[must_use]
    pub fn limit(&self) -> usize {
        self.store.limit()
    }

    /// The time-to-live of entries, if the map has one.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map: LimitableMap<u8, u8> = LimitableMap::new(3)?;
    /// assert_eq!(map.time_to_live(), None);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[must_use]
    pub fn time_to_live(&self) -> Option<std::time::Duration> {
        self.store.time_to_live()
    }

    /// What [`get_or_load`](Self::get_or_load) does with a load whose callers have all left.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::{AbandonPolicy, LimitableMap};
    ///
    /// let map: LimitableMap<u8, u8> = LimitableMap::new(3)?;
    /// assert_eq!(map.abandon_policy(), AbandonPolicy::KeepLoading);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[must_use]
    pub fn abandon_policy(&self) -> AbandonPolicy {
        self.flights.policy()
    }

    /// Reclaims every expired entry now (telling the listener) and returns how many. Without a
    /// time-to-live this does nothing. O(n): expired entries are otherwise reclaimed as reads
    /// and inserts find them.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), nodebook_cache::Error> {
    /// let map = LimitableMap::builder(8).time_to_live(Duration::from_secs(1)).build()?;
    /// map.insert(1, "one");
    /// tokio::time::advance(Duration::from_secs(2)).await;
    /// assert_eq!(map.purge_expired(), 1);
    /// assert!(map.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    #[allow(
        clippy::must_use_candidate,
        reason = "called for its effect; the count is extra information"
    )]
    pub fn purge_expired(&self) -> usize {
        self.store.purge_expired()
    }

    /// The live keys, oldest-inserted first (under FIFO, the order in which they would be
    /// evicted). O(n), and it holds the order lock meanwhile; meant for inspection and tests.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map = LimitableMap::new(3)?;
    /// map.insert('b', ());
    /// map.insert('a', ());
    /// map.insert('b', ()); // an overwrite keeps the place
    /// assert_eq!(map.keys(), ['b', 'a']);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[must_use]
    pub fn keys(&self) -> Vec<K> {
        self.store.keys()
    }

    /// The total weight of the entries, by the builder's
    /// [`weigher`](Builder::weigher) (0 without one); never above
    /// [`max_weight`](Self::max_weight).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let pages = LimitableMap::builder(1_000)
    ///     .weigher(|_url: &&str, body: &String| body.len() as u32)
    ///     .max_weight(1 << 20)
    ///     .build()?;
    /// pages.insert("/", "<html></html>".to_string());
    /// assert_eq!(pages.weight(), 13);
    /// assert_eq!(pages.max_weight(), Some(1 << 20));
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[must_use]
    pub fn weight(&self) -> u64 {
        self.store.weight()
    }

    /// The weight budget, if the builder set one.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map: LimitableMap<u8, u8> = LimitableMap::new(3)?;
    /// assert_eq!(map.max_weight(), None);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[must_use]
    pub fn max_weight(&self) -> Option<u64> {
        self.store.max_weight()
    }

    /// The eviction policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::{EvictionPolicy, LimitableMap};
    ///
    /// let map: LimitableMap<u8, u8> = LimitableMap::new(3)?;
    /// assert_eq!(map.eviction_policy(), EvictionPolicy::S3Fifo);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[must_use]
    pub fn eviction_policy(&self) -> EvictionPolicy {
        self.store.policy()
    }

    /// How long after it was written an entry is refreshed in the background by
    /// [`get_or_load`](Self::get_or_load), if the builder set it.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map: LimitableMap<u8, u8> = LimitableMap::new(3)?;
    /// assert_eq!(map.refresh_after(), None);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[must_use]
    pub fn refresh_after(&self) -> Option<Duration> {
        self.store.refresh_after()
    }

    /// The map's counters, with those of its once-queue in [`CacheStats::loads`].
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map = LimitableMap::new(1)?;
    /// map.insert(1, ());
    /// map.insert(2, ());
    /// assert_eq!(map.stats().evicted_capacity, 1);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        let mut stats = self.store.stats();
        stats.loads = self.flights.stats();
        stats
    }

    /// The value for `key`: from the map if present, otherwise from `loader` through the map's
    /// once-queue, stored before it is returned.
    ///
    /// Concurrent misses on one key share one load (see [`OnceQueue`](crate::OnceQueue) for
    /// the guarantees: the load runs detached on the runtime, survives its callers' timeouts,
    /// shares errors without remembering them, turns a panic into an error). The value is
    /// stored only if no [`insert`](Self::insert), [`remove`](Self::remove),
    /// [`invalidate`](Self::invalidate) or [`clear`](Self::clear) touched `key` after the
    /// load started; callers of the load get its value either way.
    ///
    /// `loader` is called only if this call starts the load, on the runtime's task; keep it
    /// lazy (`|| async move { .. }`). A loader that calls `get_or_load` on this map for its own
    /// key gets [`Error::Reentrant`] instead of waiting for itself.
    ///
    /// What the builder adds: an entry past [`refresh_after`](Builder::refresh_after) is
    /// returned at once and `loader` becomes its one background refresh (unless one is in
    /// flight); with [`negative_caching`](Builder::negative_caching) a failed load's error is
    /// answered without loading until its own time-to-live ends; with
    /// [`loaded_time_to_live`](Builder::loaded_time_to_live) the loaded value chooses its
    /// time-to-live.
    ///
    /// # Errors
    ///
    /// As [`OnceQueue::run`](crate::OnceQueue::run): [`Error::Load`] (shared; remembered only
    /// with negative caching), [`Error::LoaderPanicked`], [`Error::LoadCancelled`],
    /// [`Error::NoRuntime`], [`Error::Reentrant`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future leaves the load running for the other callers and for
    /// the map, unless the map was built with [`AbandonPolicy::CancelLoad`] and this was the
    /// last caller, in which case the load is aborted and nothing is stored.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let users = LimitableMap::new(1_000)?;
    /// let load = |id: u32| move || async move { Ok::<_, std::io::Error>(format!("user {id}")) };
    /// assert_eq!(users.get_or_load(1, load(1)).await?, "user 1"); // loads
    /// assert_eq!(users.get_or_load(1, load(1)).await?, "user 1"); // hits
    /// assert_eq!(users.stats().loads.started, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_or_load<F, Fut, E>(&self, key: K, loader: F) -> Result<V, Error<E>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        E: Send + Sync + 'static,
    {
        match self.store.lookup(&key) {
            Found::Fresh(value) => return Ok(value),
            Found::Due(value, generation) => {
                crate::trace::decision!("cache served a value due for refresh; refreshing it");
                self.refresh(key, loader, generation);
                return Ok(value);
            }
            Found::Missing => {}
        }
        if let Some(error) = self.loading.cached_error::<E>(&key) {
            self.store.count(NEGATIVE_HITS);
            crate::trace::decision!("cache answered a cached load error (negative hit)");
            return Err(Error::Load(error));
        }
        let (store, loading) = (Arc::clone(&self.store), Arc::clone(&self.loading));
        self.flights
            .run(
                key,
                loader,
                |key: &K| self.store.peek_quiet(key),
                move |key: &K, outcome: &Result<V, Error<E>>| {
                    let departed = loading.commit(&store, key, outcome, None);
                    move || {
                        if let Some(departed) = departed {
                            store.notify(departed);
                        }
                    }
                },
            )
            .await
    }

    /// Starts the background refresh of `key` (generation `generation`), unless one is in
    /// flight.
    fn refresh<F, Fut, E>(&self, key: K, loader: F, generation: u32)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        E: Send + Sync + 'static,
    {
        if self.flights.is_loading(&key) {
            return;
        }
        let (store, loading) = (Arc::clone(&self.store), Arc::clone(&self.loading));
        let started = self.flights.start(
            key,
            loader,
            move |key: &K, outcome: &Result<V, Error<E>>| {
                let departed = loading.commit(&store, key, outcome, Some(generation));
                move || {
                    if let Some(departed) = departed {
                        store.notify(departed);
                    }
                }
            },
        );
        if started {
            self.store.count(REFRESHES);
        }
    }
}

impl<K, V, S> Clone for LimitableMap<K, V, S> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            loading: Arc::clone(&self.loading),
            flights: Arc::clone(&self.flights),
        }
    }
}

impl<K, V, S> fmt::Debug for LimitableMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitableMap")
            .field("len", &self.store.len())
            .field("limit", &self.store.limit())
            .field("in_flight", &self.flights.in_flight())
            .finish_non_exhaustive()
    }
}
