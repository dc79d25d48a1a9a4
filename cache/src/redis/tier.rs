//! [`RedisCache`] and its [`RedisCacheBuilder`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{Notify, watch};
use tokio::task::AbortHandle;

use super::codec::Codec;
use super::fetch::{Local, Shared, Timings, random_u64};
use super::l2::L2;
use super::monitor::Monitor;
use super::stats::{Counters, Health, RedisStats, bump};
use super::wakers::Wakers;
use crate::{Error, LimitableMap};

/// Why a [`RedisCache`] could not be built.
///
/// # Examples
///
/// ```
/// use nodebook_cache::redis::{BuildError, RedisCache, StrCodec};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let err = RedisCache::<String, _>::builder(client, "users", StrCodec)
///     .time_to_live(Duration::from_secs(60))
///     .local_time_to_live(Duration::from_secs(120))
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, BuildError::LocalOutlivesRedis { .. }));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The namespace is empty; give each cache its own, such as `"users"`.
    #[error("the namespace must not be empty")]
    EmptyNamespace,
    /// The local tier's limit is 0: it could hold nothing. Pick at least 1.
    #[error("local_limit must be at least 1, got 0")]
    ZeroLimit,
    /// A duration option was zero; every such option needs a positive duration.
    #[error("{option} must be greater than zero")]
    ZeroDuration {
        /// The builder method given zero.
        option: &'static str,
    },
    /// The local copies would outlive Redis's: a replica could serve a value Redis already
    /// dropped. Make `local_time_to_live` at most `time_to_live`.
    #[error("local_time_to_live ({local:?}) must not be longer than time_to_live ({redis:?})")]
    LocalOutlivesRedis {
        /// The local tier's time-to-live asked for.
        local: Duration,
        /// Redis's time-to-live.
        redis: Duration,
    },
    /// `build` was called outside a tokio runtime, where the cache's background task runs.
    #[error("no tokio runtime: build the cache from within a tokio runtime")]
    NoRuntime,
    /// The Redis client refused the connection settings.
    #[error("redis client: {0}")]
    Redis(#[source] redis::RedisError),
}

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

/// Builds a [`RedisCache`]; from [`RedisCache::builder`].
///
/// | option | default |
/// |---|---|
/// | [`time_to_live`](Self::time_to_live) (Redis) | 5 min |
/// | [`local_time_to_live`](Self::local_time_to_live) | `time_to_live` |
/// | [`local_limit`](Self::local_limit) | 10 000 keys |
/// | [`lease`](Self::lease) | 10 s |
/// | [`timeout`](Self::timeout) (every Redis call) | 250 ms |
/// | [`poll_interval`](Self::poll_interval) | 100 ms |
/// | [`heartbeat`](Self::heartbeat) | 500 ms |
#[must_use = "a builder does nothing until `build` is called"]
pub struct RedisCacheBuilder<V, C> {
    client: redis::Client,
    namespace: String,
    codec: C,
    local_limit: usize,
    ttl: Duration,
    local_ttl: Option<Duration>,
    lease: Duration,
    timeout: Duration,
    poll_interval: Duration,
    heartbeat: Duration,
    _value: std::marker::PhantomData<fn() -> V>,
}

impl<V, C> RedisCacheBuilder<V, C>
where
    V: Clone + Send + Sync + 'static,
    C: Codec<V>,
{
    /// How long a value lives in Redis after it was loaded.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec)
    ///     .time_to_live(Duration::from_secs(600))
    ///     .build()?;
    /// # let _ = cache;
    /// # Ok(())
    /// # }
    /// ```
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long a copy lives in this process's local tier; never longer than
    /// [`time_to_live`](Self::time_to_live), and a copy read from Redis never outlives the
    /// value there. Shorter bounds how stale a replica can be when an invalidation is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec)
    ///     .local_time_to_live(Duration::from_secs(10))
    ///     .build()?;
    /// # let _ = cache;
    /// # Ok(())
    /// # }
    /// ```
    pub fn local_time_to_live(mut self, ttl: Duration) -> Self {
        self.local_ttl = Some(ttl);
        self
    }

    /// How many keys the local tier holds (a [`LimitableMap`] with S3-FIFO eviction).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec)
    ///     .local_limit(50_000)
    ///     .build()?;
    /// # let _ = cache;
    /// # Ok(())
    /// # }
    /// ```
    pub fn local_limit(mut self, limit: usize) -> Self {
        self.local_limit = limit;
        self
    }

    /// How long the cross-process lease of a load lasts. Make it longer than your slowest
    /// load: a load that outlives it may be run again by another process (its write is then
    /// fenced, so nothing older overwrites anything newer). A leader that dies is replaced this
    /// long after it took the lease.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec)
    ///     .lease(Duration::from_secs(2))
    ///     .build()?;
    /// # let _ = cache;
    /// # Ok(())
    /// # }
    /// ```
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The bound on every Redis call (and on connecting). A call that takes longer degrades
    /// the tier, and its caller is served without Redis.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec)
    ///     .timeout(Duration::from_millis(100))
    ///     .build()?;
    /// # let _ = cache;
    /// # Ok(())
    /// # }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How often a process waiting on another's lease looks at Redis again if no `done`
    /// message arrives (randomized by ±50%).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec)
    ///     .poll_interval(Duration::from_millis(20))
    ///     .build()?;
    /// # let _ = cache;
    /// # Ok(())
    /// # }
    /// ```
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// How often the background task pings the subscription (to find a half-open connection)
    /// and, while degraded, the data connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec)
    ///     .heartbeat(Duration::from_secs(1))
    ///     .build()?;
    /// # let _ = cache;
    /// # Ok(())
    /// # }
    /// ```
    pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// The cache, with its background task spawned. It does not wait for Redis: until the
    /// task has subscribed (see [`RedisCache::health_changes`]), and whenever Redis is down,
    /// the cache serves in degraded mode.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] for an empty namespace, a zero limit or duration, a local
    /// time-to-live longer than Redis's, or a call outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::redis::{RedisCache, StrCodec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let cache: RedisCache<String, _> = RedisCache::builder(client, "users", StrCodec)
    ///     .build()?;
    /// # let _ = cache;
    /// # Ok(())
    /// # }
    /// ```
    pub fn build(self) -> Result<RedisCache<V, C>, BuildError> {
        if self.namespace.is_empty() {
            return Err(BuildError::EmptyNamespace);
        }
        if self.local_limit == 0 {
            return Err(BuildError::ZeroLimit);
        }
        let local_ttl = self.local_ttl.unwrap_or(self.ttl);
        for (option, value) in [
            ("time_to_live", self.ttl),
            ("local_time_to_live", local_ttl),
            ("lease", self.lease),
            ("timeout", self.timeout),
            ("poll_interval", self.poll_interval),
            ("heartbeat", self.heartbeat),
        ] {
            if value.is_zero() {
                return Err(BuildError::ZeroDuration { option });
            }
        }
        if local_ttl > self.ttl {
            return Err(BuildError::LocalOutlivesRedis {
                local: local_ttl,
                redis: self.ttl,
            });
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(BuildError::NoRuntime);
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_max_delay(self.heartbeat.max(Duration::from_millis(100)));
        let conn = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(BuildError::Redis)?;
        let origin = format!("{:016x}", random_u64());
        let shared = Arc::new(Shared {
            l2: L2::new(conn, self.timeout, &self.namespace, origin),
            codec: self.codec,
            timings: Timings {
                ttl: self.ttl,
                local_ttl,
                lease: self.lease,
                poll_interval: self.poll_interval,
            },
            counters: Counters::default(),
            wakers: Arc::new(Wakers::default()),
            redis_up: AtomicBool::new(true),
            subscribed: AtomicBool::new(false),
            health: watch::Sender::new(Health::Degraded),
            probe_now: Notify::new(),
            next_token: AtomicU64::new(0),
            last_error: std::sync::Mutex::new(None),
            _value: std::marker::PhantomData,
        });
        let local = LimitableMap::builder(self.local_limit)
            .time_to_live(local_ttl)
            .loaded_time_to_live(|local: &Local<V>| Some(local.ttl))
            .build()
            .map_err(|_| BuildError::ZeroLimit)?;
        let monitor = Monitor {
            shared: Arc::clone(&shared),
            local: local.clone(),
            client: self.client,
            op_timeout: self.timeout,
            heartbeat: self.heartbeat,
        };
        let task = runtime.spawn(monitor.run());
        Ok(RedisCache {
            shared,
            local,
            task: Arc::new(TaskGuard(task.abort_handle())),
        })
    }
}

impl<V, C> fmt::Debug for RedisCacheBuilder<V, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCacheBuilder")
            .field("namespace", &self.namespace)
            .field("local_limit", &self.local_limit)
            .field("time_to_live", &self.ttl)
            .field("local_time_to_live", &self.local_ttl)
            .field("lease", &self.lease)
            .field("timeout", &self.timeout)
            .field("poll_interval", &self.poll_interval)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

/// Aborts the background task when the last cache handle goes.
#[derive(Debug)]
struct TaskGuard(AbortHandle);

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
    shared: Arc<Shared<V, C>>,
    local: LimitableMap<String, Local<V>>,
    task: Arc<TaskGuard>,
}

impl<V, C> RedisCache<V, C>
where
    V: Clone + Send + Sync + 'static,
    C: Codec<V>,
{
    /// A builder for a cache on `client` whose keys live under `namespace` in Redis (values at
    /// `namespace:v:key`, leases at `namespace:lock:key`, events on `namespace:events`).
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
    pub fn builder(
        client: redis::Client,
        namespace: impl Into<String>,
        codec: C,
    ) -> RedisCacheBuilder<V, C> {
        RedisCacheBuilder {
            client,
            namespace: namespace.into(),
            codec,
            local_limit: 10_000,
            ttl: Duration::from_secs(300),
            local_ttl: None,
            lease: Duration::from_secs(10),
            timeout: Duration::from_millis(250),
            poll_interval: Duration::from_millis(100),
            heartbeat: Duration::from_millis(500),
            _value: std::marker::PhantomData,
        }
    }

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
    /// changed): here at once, in Redis for [`time_to_live`](RedisCacheBuilder::time_to_live)
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
