//! [`Builder`]: the options of a [`LimitableMap`].

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use crate::error::Error;
use crate::limitable_map::LimitableMap;
use crate::once_queue::AbandonPolicy;
use crate::stats::RemovalCause;
use crate::store::Listener;

/// Builds a [`LimitableMap`] with a time-to-live, an eviction listener or an abandon policy;
/// from [`LimitableMap::builder`].
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
pub struct Builder<K, V, S = RandomState> {
    limit: usize,
    ttl: Option<Duration>,
    listener: Option<Listener<K, V>>,
    policy: AbandonPolicy,
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
            hasher: RandomState::new(),
        }
    }
}

impl<K, V, S> Builder<K, V, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Send + Sync + 'static,
{
    /// Hashes keys with `hasher` instead of the standard library's SipHash-based
    /// [`RandomState`], which resists hash-flooding attacks but costs more per lookup. A faster
    /// hasher (for example `foldhash` or `ahash`) pays off for small keys that no attacker
    /// chooses.
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

    /// The map.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroLimit`] if the limit is 0; [`Error::ZeroTimeToLive`] if a zero
    /// time-to-live was set.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::{Error, LimitableMap};
    /// use std::time::Duration;
    ///
    /// let err = LimitableMap::<u8, u8>::builder(4).time_to_live(Duration::ZERO).build();
    /// assert!(matches!(err, Err(Error::ZeroTimeToLive)));
    /// ```
    pub fn build(self) -> Result<LimitableMap<K, V, S>, Error> {
        if self.limit == 0 {
            return Err(Error::ZeroLimit);
        }
        if self.ttl == Some(Duration::ZERO) {
            return Err(Error::ZeroTimeToLive);
        }
        Ok(LimitableMap::from_parts(
            self.limit,
            self.ttl,
            self.listener,
            self.policy,
            self.hasher,
        ))
    }
}

impl<K, V, S> fmt::Debug for Builder<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("limit", &self.limit)
            .field("time_to_live", &self.ttl)
            .field("eviction_listener", &self.listener.is_some())
            .field("abandon_policy", &self.policy)
            .finish()
    }
}
