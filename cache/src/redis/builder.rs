//! [`RedisCacheBuilder`]: the options of a [`RedisCache`], and [`BuildError`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{Notify, watch};

use super::codec::Codec;
use super::fetch::{Local, Shared, Timings, random_u64};
use super::l2::L2;
use super::monitor::Monitor;
use super::stats::{Counters, Health};
use super::tier::{RedisCache, TaskGuard};
use super::wakers::Wakers;
use crate::LimitableMap;

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
    _value: PhantomData<fn() -> V>,
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
            _value: PhantomData,
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
            _value: PhantomData,
        }
    }
}
