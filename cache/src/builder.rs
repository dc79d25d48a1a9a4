//! [`Builder`]: the options of a [`LimitableMap`].

use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use crate::error::Error;
use crate::limitable_map::LimitableMap;
use crate::loading::{Loading, TtlOf};
use crate::once_queue::AbandonPolicy;
use crate::policy::EvictionPolicy;
use crate::stats::RemovalCause;
use crate::store::{Config, Listener, Store, Weigher};

/// The hasher of a map whose builder was given none: foldhash's [`RandomState`
/// ](foldhash::fast::RandomState), seeded at random per map as the standard library's
/// `RandomState` is (so keys chosen by an attacker cannot be aimed at one bucket in advance),
/// and several times faster than its SipHash on small keys.
pub type DefaultHashBuilder = foldhash::fast::RandomState;

/// Builds a [`LimitableMap`]: eviction policy, weight budget, time-to-live, refresh, negative
/// caching, eviction listener, abandon policy, hasher; from [`LimitableMap::builder`].
///
/// # Examples
///
/// ```
/// use nodebook_cache::{AbandonPolicy, LimitableMap, RemovalCause};
/// use std::time::Duration;
///
/// let map: LimitableMap<String, u64> = LimitableMap::builder(10_000)
///     .time_to_live(Duration::from_secs(30))
///     .eviction_listener(|key, _value, cause| {
///         if cause == RemovalCause::Capacity {
///             eprintln!("evicted {key}");
///         }
///     })
///     .abandon_policy(AbandonPolicy::KeepLoading)
///     .build()?;
/// assert_eq!(map.limit(), 10_000);
/// # Ok::<(), nodebook_cache::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<K, V, S = DefaultHashBuilder> {
    limit: usize,
    ttl: Option<Duration>,
    listener: Option<Listener<K, V>>,
    policy: AbandonPolicy,
    eviction: EvictionPolicy,
    weigher: Option<Weigher<K, V>>,
    max_weight: Option<u64>,
    refresh_after: Option<Duration>,
    negative_ttl: Option<Duration>,
    ttl_of_loaded: Option<TtlOf<V>>,
    hasher: S,
}

impl<K, V> Builder<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            ttl: None,
            listener: None,
            policy: AbandonPolicy::default(),
            eviction: EvictionPolicy::default(),
            weigher: None,
            max_weight: None,
            refresh_after: None,
            negative_ttl: None,
            ttl_of_loaded: None,
            hasher: DefaultHashBuilder::default(),
        }
    }
}

impl<K, V, S> Builder<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    /// Hashes keys with `hasher` instead of [`DefaultHashBuilder`] (foldhash, seeded per map).
    /// For example the standard library's SipHash `RandomState`, which resists hash flooding
    /// by stronger means at several times the cost per lookup.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    /// use std::hash::BuildHasherDefault;
    /// use std::collections::hash_map::DefaultHasher;
    ///
    /// let map: LimitableMap<u64, u64, BuildHasherDefault<DefaultHasher>> = LimitableMap::builder(8)
    ///     .hasher(BuildHasherDefault::default())
    ///     .build()?;
    /// map.insert(1, 1);
    /// assert_eq!(map.get(&1), Some(1));
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    pub fn hasher<T>(self, hasher: T) -> Builder<K, V, T>
    where
        T: BuildHasher + Clone + Send + Sync + 'static,
    {
        Builder {
            limit: self.limit,
            ttl: self.ttl,
            listener: self.listener,
            policy: self.policy,
            eviction: self.eviction,
            weigher: self.weigher,
            max_weight: self.max_weight,
            refresh_after: self.refresh_after,
            negative_ttl: self.negative_ttl,
            ttl_of_loaded: self.ttl_of_loaded,
            hasher,
        }
    }

    /// Entries expire `ttl` after they were last written (inserted, overwritten or loaded).
    /// An expired entry is never returned; it is reclaimed when a read or an insert finds it,
    /// or by [`LimitableMap::purge_expired`]. Time is [`tokio::time::Instant`], so paused test
    /// time applies.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), nodebook_cache::Error> {
    /// let map = LimitableMap::builder(8).time_to_live(Duration::from_millis(100)).build()?;
    /// map.insert("k", 1);
    /// tokio::time::advance(Duration::from_millis(99)).await;
    /// assert_eq!(map.get("k"), Some(1));
    /// tokio::time::advance(Duration::from_millis(1)).await;
    /// assert_eq!(map.get("k"), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Calls `listener(&key, &value, cause)` for every entry that leaves the map or whose value
    /// is overwritten, with the [`RemovalCause`].
    ///
    /// The listener runs on the thread that caused the removal, after the map released its
    /// locks, so it may use the map. Keep it short: the caller waits for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::{LimitableMap, RemovalCause};
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let evictions = Arc::new(AtomicUsize::new(0));
    /// let counter = Arc::clone(&evictions);
    /// let map = LimitableMap::builder(2)
    ///     .eviction_listener(move |_: &u32, _: &u32, cause| {
    ///         if cause == RemovalCause::Capacity {
    ///             counter.fetch_add(1, Ordering::Relaxed);
    ///         }
    ///     })
    ///     .build()?;
    /// for k in 0..5 {
    ///     map.insert(k, k);
    /// }
    /// assert_eq!(evictions.load(Ordering::Relaxed), 3);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    pub fn eviction_listener<F>(mut self, listener: F) -> Self
    where
        F: Fn(&K, &V, RemovalCause) + Send + Sync + 'static,
    {
        self.listener = Some(Box::new(listener));
        self
    }

    /// What [`LimitableMap::get_or_load`] does with a load whose callers have all left; the
    /// default, [`AbandonPolicy::KeepLoading`], finishes it and stores the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::{AbandonPolicy, LimitableMap};
    ///
    /// let map: LimitableMap<u32, u32> = LimitableMap::builder(8)
    ///     .abandon_policy(AbandonPolicy::CancelLoad)
    ///     .build()?;
    /// assert_eq!(map.abandon_policy(), AbandonPolicy::CancelLoad);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    pub fn abandon_policy(mut self, policy: AbandonPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Which key a full map evicts; [`EvictionPolicy::S3Fifo`] unless set. Use
    /// [`EvictionPolicy::Fifo`] for the book's exact order.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::{EvictionPolicy, LimitableMap};
    ///
    /// let map = LimitableMap::builder(2).eviction_policy(EvictionPolicy::Fifo).build()?;
    /// map.insert("a", 1);
    /// map.insert("b", 2);
    /// map.get("a"); // FIFO ignores reads
    /// map.insert("c", 3);
    /// assert_eq!(map.keys(), ["b", "c"]);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    pub fn eviction_policy(mut self, policy: EvictionPolicy) -> Self {
        self.eviction = policy;
        self
    }

    /// Weighs each entry with `weigher(&key, &value)` (for example its size in bytes), for
    /// [`max_weight`](Self::max_weight). The weigher must give the same weight for the same
    /// entry every time; it is called once per write, and the weight is kept with the entry.
    ///
    /// In a map with a weigher, an overwrite takes the old entry out and puts the key in anew
    /// at the back of the order (its weight may have changed).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    /// use std::sync::Arc;
    ///
    /// let bodies = LimitableMap::builder(10_000)
    ///     .weigher(|_: &u64, body: &Arc<[u8]>| u32::try_from(body.len()).unwrap_or(u32::MAX))
    ///     .max_weight(64 * 1024 * 1024)
    ///     .build()?;
    /// bodies.insert(1, Arc::from(vec![0; 1024]));
    /// assert_eq!(bodies.weight(), 1024);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    pub fn weigher<F>(mut self, weigher: F) -> Self
    where
        F: Fn(&K, &V) -> u32 + Send + Sync + 'static,
    {
        self.weigher = Some(Box::new(weigher));
        self
    }

    /// Bounds the total weight of the entries (by the [`weigher`](Self::weigher)) to
    /// `max_weight`, besides the count limit: a new entry first evicts until it fits. An entry
    /// heavier than `max_weight` on its own is not cached (an older value of its key is
    /// removed, since it is no longer current) and is counted in
    /// [`CacheStats::rejected_overweight`](crate::CacheStats::rejected_overweight).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    ///
    /// let map = LimitableMap::builder(100)
    ///     .weigher(|_: &u32, v: &String| v.len() as u32)
    ///     .max_weight(10)
    ///     .build()?;
    /// map.insert(1, "12345".into());
    /// map.insert(2, "12345".into());
    /// map.insert(3, "123".into()); // evicts 1 to stay within 10
    /// assert_eq!(map.weight(), 8);
    /// map.insert(4, "this is too heavy".into());
    /// assert!(!map.contains_key(&4));
    /// assert_eq!(map.stats().rejected_overweight, 1);
    /// # Ok::<(), nodebook_cache::Error>(())
    /// ```
    pub fn max_weight(mut self, max_weight: u64) -> Self {
        self.max_weight = Some(max_weight);
        self
    }

    /// Stale-while-revalidate: an entry read by [`LimitableMap::get_or_load`] more than
    /// `refresh_after` after it was written (and before it expires) is returned at once, and
    /// one background load, shared as any load of the once-queue, replaces it. Meanwhile every
    /// caller gets the stale value. A refresh that fails keeps the old value until its
    /// time-to-live ends, is counted in
    /// [`CacheStats::refresh_failures`](crate::CacheStats::refresh_failures), and the next
    /// refresh of that entry waits another `refresh_after`, so a backend that is down gets one
    /// refresh per key per interval, not one per request. [`LimitableMap::get`] never refreshes.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let prices = LimitableMap::builder(100)
    ///     .time_to_live(Duration::from_secs(60))
    ///     .refresh_after(Duration::from_secs(10))
    ///     .build()?;
    /// let load = |p: u32| move || async move { Ok::<_, std::io::Error>(p) };
    /// prices.get_or_load("btc", load(1)).await?;
    /// tokio::time::advance(Duration::from_secs(10)).await;
    /// assert_eq!(prices.get_or_load("btc", load(2)).await?, 1); // stale, refresh started
    /// tokio::task::yield_now().await; // the refresh runs
    /// assert_eq!(prices.get_or_load("btc", load(3)).await?, 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn refresh_after(mut self, refresh_after: Duration) -> Self {
        self.refresh_after = Some(refresh_after);
        self
    }

    /// Negative caching: a load that fails with the loader's `Err` is remembered for `ttl`,
    /// and [`LimitableMap::get_or_load`] answers that same error (as [`Error::Load`]) without
    /// loading again until then, so a missing row does not send every request to the database
    /// (cache penetration). Off by default: errors are shared with the callers of the load,
    /// then forgotten.
    ///
    /// Cached errors are kept apart from the values, at most a quarter of the limit of them
    /// (the oldest goes first). An `insert`, `remove`, `invalidate` or `clear` of the key, or a
    /// successful load, forgets its error. Panics and cancelled loads are never cached. For a
    /// loader that returns `Option` (a `None` for a missing row), give the `None` values a
    /// short time-to-live with [`loaded_time_to_live`](Self::loaded_time_to_live) instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::{Error, LimitableMap};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let users: LimitableMap<u32, String> = LimitableMap::builder(100)
    ///     .negative_caching(Duration::from_secs(5))
    ///     .build()?;
    /// let missing = || async { Err::<String, _>("no such user") };
    /// assert!(matches!(users.get_or_load(7, missing).await, Err(Error::Load(_))));
    /// let found = || async { Ok::<_, &str>("Ada".to_string()) };
    /// // Within five seconds the error is answered without loading.
    /// assert!(matches!(users.get_or_load(7, found).await, Err(Error::Load(_))));
    /// tokio::time::advance(Duration::from_secs(5)).await;
    /// assert_eq!(users.get_or_load(7, found).await?, "Ada");
    /// # Ok(())
    /// # }
    /// ```
    pub fn negative_caching(mut self, ttl: Duration) -> Self {
        self.negative_ttl = Some(ttl);
        self
    }

    /// Gives each value stored by [`LimitableMap::get_or_load`] the time-to-live that
    /// `ttl_of(&value)` returns (for example from a `Cache-Control: max-age` the loader read);
    /// `None` keeps the map's own. Values stored by `insert` are not asked.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::LimitableMap;
    /// use std::time::Duration;
    ///
    /// #[derive(Clone)]
    /// struct Page { body: String, max_age: Option<Duration> }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pages = LimitableMap::builder(100)
    ///     .time_to_live(Duration::from_secs(300))
    ///     .loaded_time_to_live(|page: &Page| page.max_age)
    ///     .build()?;
    /// let fetch = || async {
    ///     Ok::<_, std::io::Error>(Page { body: "hi".into(), max_age: Some(Duration::from_secs(1)) })
    /// };
    /// assert_eq!(pages.get_or_load("/", fetch).await?.body, "hi");
    /// tokio::time::advance(Duration::from_secs(1)).await;
    /// assert!(!pages.contains_key("/"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn loaded_time_to_live<F>(mut self, ttl_of: F) -> Self
    where
        F: Fn(&V) -> Option<Duration> + Send + Sync + 'static,
    {
        self.ttl_of_loaded = Some(Box::new(ttl_of));
        self
    }

    /// The map.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroLimit`] if the limit is 0; [`Error::ZeroDuration`] if a time-to-live,
    /// `refresh_after` or a negative-caching time-to-live of zero was set;
    /// [`Error::MaxWeightWithoutWeigher`] if a weight budget was set without a weigher.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::{Error, LimitableMap};
    /// use std::time::Duration;
    ///
    /// let err = LimitableMap::<u8, u8>::builder(4).time_to_live(Duration::ZERO).build();
    /// assert!(matches!(err, Err(Error::ZeroDuration { option: "time_to_live" })));
    /// ```
    pub fn build(self) -> Result<LimitableMap<K, V, S>, Error> {
        if self.limit == 0 {
            return Err(Error::ZeroLimit);
        }
        for (option, value) in [
            ("time_to_live", self.ttl),
            ("refresh_after", self.refresh_after),
            ("negative_caching", self.negative_ttl),
        ] {
            if value == Some(Duration::ZERO) {
                return Err(Error::ZeroDuration { option });
            }
        }
        if self.max_weight.is_some() && self.weigher.is_none() {
            return Err(Error::MaxWeightWithoutWeigher);
        }
        let negatives = self.negative_ttl.map(|ttl| {
            Store::new(
                Config {
                    limit: self.limit.div_ceil(4),
                    max_weight: u64::MAX,
                    weigher: None,
                    policy: EvictionPolicy::Fifo,
                    ttl: Some(ttl),
                    refresh_after: None,
                    listener: None,
                },
                self.hasher.clone(),
            )
        });
        let store = Store::new(
            Config {
                limit: self.limit,
                max_weight: self.max_weight.unwrap_or(u64::MAX),
                weigher: self.weigher,
                policy: self.eviction,
                ttl: self.ttl,
                refresh_after: self.refresh_after,
                listener: self.listener,
            },
            self.hasher,
        );
        let loading = Loading {
            negatives,
            ttl_of_loaded: self.ttl_of_loaded,
        };
        Ok(LimitableMap::from_parts(store, loading, self.policy))
    }
}

impl<K, V, S> fmt::Debug for Builder<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("limit", &self.limit)
            .field("time_to_live", &self.ttl)
            .field("eviction_listener", &self.listener.is_some())
            .field("abandon_policy", &self.policy)
            .field("eviction_policy", &self.eviction)
            .field("weigher", &self.weigher.is_some())
            .field("max_weight", &self.max_weight)
            .field("refresh_after", &self.refresh_after)
            .field("negative_caching", &self.negative_ttl)
            .field("loaded_time_to_live", &self.ttl_of_loaded.is_some())
            .finish_non_exhaustive()
    }
}
