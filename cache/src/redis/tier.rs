//! [`RedisCache`]: the two tiers and what a caller does with them.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::codec::Codec;
use super::fetch::{Local, Shared};
use super::stats::{Health, RedisStats, bump};
use crate::{Error, LimitableMap};

/// How a [`RedisCache::invalidate`] reached the other replicas.
///
/// # Examples
///
/// ```
/// use nodebook_cache::redis::Reach;
///
/// assert_ne!(Reach::Everywhere, Reach::ThisReplica);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reach {
    /// Deleted in Redis and announced to every subscribed replica.
    Everywhere,
    /// Redis did not answer: only this replica's copy was dropped. Other replicas keep theirs
    /// until their local time-to-live ends (or they reconnect, which flushes them).
    ThisReplica,
}

/// Aborts the background task when the last cache handle goes.
#[derive(Debug)]
pub(crate) struct TaskGuard(pub(crate) AbortHandle);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A two-tier cache: this process's [`LimitableMap`] in front of Redis, with one load per key
/// across every replica, invalidation across replicas, and Redis down never taking the
/// service down. See the [module docs](super) for the guarantees and an example.
///
/// `RedisCache` is a handle: clones share one cache and one background task, which ends when
/// the last handle is dropped. Keys are strings; values go through the codec `C`.
pub struct RedisCache<V, C> {
    pub(crate) shared: Arc<Shared<V, C>>,
    pub(crate) local: LimitableMap<String, Local<V>>,
    pub(crate) task: Arc<TaskGuard>,
}

impl<V, C> RedisCache<V, C>
where
    V: Clone + Send + Sync + 'static,
    C: Codec<V>,
{
    /// The value of `key`: from the local tier, else from Redis, else from `loader`, run once
    /// for the key across every replica that shares the namespace.
    ///
    /// Inside this process concurrent callers share one fetch (the local tier's once-queue,
    /// detached from its callers). That fetch reads Redis, or takes the key's lease and runs
    /// `loader` (then writes the value, fenced, and announces it), or waits for the process
    /// that holds the lease: woken by its `done` message, or by polling, never past the lease's
    /// end, after which a dead leader is replaced. When Redis does not answer within the
    /// timeout, `loader` runs here instead; that is counted, never an error.
    ///
    /// To bound the wait, wrap the call in `tokio::time::timeout`: the fetch goes on for the
    /// other callers and fills both tiers.
    ///
    /// # Errors
    ///
    /// As [`LimitableMap::get_or_load`]: [`Error::Load`] with the loader's error (shared by this
    /// process's callers of that load; not cached), [`Error::LoaderPanicked`],
    /// [`Error::LoadCancelled`], [`Error::Reentrant`]. Never because Redis is down.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future leaves the fetch running for the others.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec).build()?;
    /// let load = || async { Ok::<_, std::io::Error>("Ada".to_string()) };
    /// // At most 1 s for this caller; the load goes on for the others if it takes longer.
    /// let name = tokio::time::timeout(Duration::from_secs(1), cache.get_or_load("7", load)).await??;
    /// assert_eq!(name, "Ada");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get_or_load<F, Fut, E>(&self, key: &str, loader: F) -> Result<V, Error<E>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
        E: Send + Sync + 'static,
    {
        if let Some(local) = self.local.get(key) {
            return Ok(local.value);
        }
        let shared = Arc::clone(&self.shared);
        let owned = key.to_string();
        // Boxed: the miss path's future is large, and a hit should not carry (move) it.
        let miss = Box::pin(self.local.get_or_load(key.to_string(), move || async move {
            shared.fetch(&owned, loader).await
        }));
        miss.await.map(|local| local.value)
    }

    /// Drops `key` everywhere: here at once (a load in flight here will not store its
    /// result), in Redis (with its lease, so a load in flight in any process cannot store its
    /// older result), and in every subscribed replica's local tier.
    ///
    /// Returns [`Reach::ThisReplica`] if Redis did not answer (counted; the tier degrades).
    ///
    /// # Cancel safety
    ///
    /// The local copy is dropped before the first await; dropping the future may leave the
    /// Redis half undone.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use nodebook_cache::redis::{Reach, RedisCache, StrCodec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec).build()?;
    /// // After `UPDATE users SET name = .. WHERE id = 7`:
    /// if cache.invalidate("7").await == Reach::ThisReplica {
    ///     eprintln!("Redis is down: other replicas keep user 7 until their local time-to-live ends");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn invalidate(&self, key: &str) -> Reach {
        self.local.invalidate(key);
        self.forget_remote(key).await
    }

    /// Deletes `key` in Redis and tells the other replicas.
    async fn forget_remote(&self, key: &str) -> Reach {
        if !self.shared.is_connected() {
            return Reach::ThisReplica;
        }
        match self.shared.l2.invalidate(key).await {
            Ok(()) => Reach::Everywhere,
            Err(failure) => {
                self.shared.failed(&failure);
                Reach::ThisReplica
            }
        }
    }

    /// Stores `value` under `key` everywhere (write-through, after the source of truth
    /// changed): here at once, in Redis for [`time_to_live`](super::RedisCacheBuilder::time_to_live)
    /// (deleting the key's lease, so a load in flight in any process cannot overwrite it), and
    /// every other replica drops its older copy and reads this one from Redis on its next miss.
    ///
    /// Returns [`Reach::ThisReplica`] if Redis did not answer (counted; the tier degrades) or
    /// the codec could not encode the value (counted in
    /// [`RedisStats::encode_errors`]); the local copy is stored either way.
    ///
    /// # Cancel safety
    ///
    /// The local copy is stored before the first await; dropping the future may leave the
    /// Redis half undone.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use nodebook_cache::redis::{Reach, RedisCache, StrCodec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec).build()?;
    /// // After `UPDATE users SET name = 'Ada L.' WHERE id = 7`:
    /// assert_eq!(cache.insert("7", "Ada L.".to_string()).await, Reach::Everywhere);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn insert(&self, key: &str, value: V) -> Reach {
        let encoded = self.shared.codec.encode(&value);
        self.local.insert_with_ttl(
            key.to_string(),
            Local {
                value,
                ttl: self.shared.timings.local_ttl,
            },
            self.shared.timings.local_ttl,
        );
        let Ok(bytes) = encoded else {
            bump(&self.shared.counters.encode_errors);
            // Redis's older value would outlive this one: drop it.
            return self.forget_remote(key).await;
        };
        if !self.shared.is_connected() {
            return Reach::ThisReplica;
        }
        match self
            .shared
            .l2
            .replace(key, &bytes, self.shared.timings.ttl)
            .await
        {
            Ok(()) => Reach::Everywhere,
            Err(failure) => {
                self.shared.failed(&failure);
                Reach::ThisReplica
            }
        }
    }

    /// Whether this replica holds a live local copy of `key`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:1")?; // nobody listens there
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec).build()?;
    /// assert!(!cache.contains_local("7"));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn contains_local(&self, key: &str) -> bool {
        self.local.contains_key(key)
    }

    /// How many local copies this replica holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:1")?; // nobody listens there
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec).build()?;
    /// assert_eq!(cache.local_len(), 0);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn local_len(&self) -> usize {
        self.local.len()
    }

    /// Whether the Redis tier is in use now.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{Health, RedisCache, StrCodec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:1")?; // nobody listens there
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec).build()?;
    /// assert_eq!(cache.health(), Health::Degraded); // not subscribed (yet)
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn health(&self) -> Health {
        *self.shared.health.borrow()
    }

    /// A receiver of every change of [`health`](Self::health), to report outages or to wait
    /// for the first connection (`rx.wait_for(|h| *h == Health::Connected)`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use nodebook_cache::redis::{Health, RedisCache, StrCodec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec).build()?;
    /// let mut health = cache.health_changes();
    /// health.wait_for(|h| *h == Health::Connected).await?;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn health_changes(&self) -> watch::Receiver<Health> {
        self.shared.health.subscribe()
    }

    /// What the last Redis call that failed said (`"timed out"`, or the client's error), if
    /// one has failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:1")?; // nobody listens there
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec).build()?;
    /// assert_eq!(cache.last_redis_error(), None); // no call has failed yet
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn last_redis_error(&self) -> Option<Arc<str>> {
        self.shared
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The tier's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:1")?; // nobody listens there
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec).build()?;
    /// assert_eq!(cache.stats().loads, 0);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn stats(&self) -> RedisStats {
        let mut stats = self.shared.counters.snapshot();
        stats.local_hits = self.local.stats().hits;
        stats
    }
}

impl<V, C> Clone for RedisCache<V, C> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            local: self.local.clone(),
            task: Arc::clone(&self.task),
        }
    }
}

impl<V, C> fmt::Debug for RedisCache<V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("channel", &self.shared.l2.channel())
            .field("health", &*self.shared.health.borrow())
            .finish_non_exhaustive()
    }
}
