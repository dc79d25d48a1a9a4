//! The article cache: this process's `LimitableMap`, or, for replicas, the cache's Redis tier
//! (the same local map in front of Redis, one load per key across every replica).
//!
//! # Implementation details
//!
//! Both hold `Option<Article>`: `None` is a remembered absence. The local map gives an absence
//! its own short time-to-live (`StoreConfig::negative_ttl`); the Redis tier has one
//! time-to-live for every value, so there an absence lives as long as a row, and it is the
//! write of that id (which invalidates it on every replica) that ends it. A write invalidates
//! rather than inserts: two replicas writing one id at once could insert in the opposite order
//! to their commits and leave the older row in Redis, while an invalidation always ends in a
//! fresh read.

use std::future::Future;
use std::time::Duration;

use nodebook_cache::LimitableMap;
use nodebook_cache::redis::{Health, JsonCodec, Reach, RedisCache};

use crate::{Article, CacheCounters, Error, GlobalLimitSettings, RedisCounters, StoreConfig};

/// Where the replicas of a service meet: one Redis, and the prefix of the service's keys and
/// channels in it. Replicas sharing a namespace share their cache and their database limit.
///
/// # Examples
///
/// ```
/// let cluster = examples::Cluster::new("redis://127.0.0.1:6379", "articles")?;
/// assert_eq!(cluster.namespace(), "articles");
/// assert!(examples::Cluster::new("http://x", "articles").is_err());
/// # Ok::<(), examples::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Cluster {
    client: redis::Client,
    namespace: String,
    limit: GlobalLimitSettings,
}

impl Cluster {
    /// Redis at `url` (`redis://host:port[/db]`), keys under `namespace`.
    ///
    /// # Errors
    ///
    /// [`Error::Argument`] naming `--redis` when the URL does not parse. Nothing is contacted
    /// yet.
    ///
    /// # Examples
    ///
    /// See [`Cluster`].
    pub fn new(url: &str, namespace: &str) -> Result<Self, Error> {
        let client = redis::Client::open(url).map_err(|err| {
            Error::argument("--redis", format!("{err}; expected redis://host:port"))
        })?;
        Ok(Self {
            client,
            namespace: namespace.to_owned(),
            limit: GlobalLimitSettings::default(),
        })
    }

    /// The settings of the database limit the replicas share (its outage policy and lease).
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{Cluster, GlobalLimitSettings, LimitOutage};
    ///
    /// let settings = GlobalLimitSettings { outage: LimitOutage::Closed, ..Default::default() };
    /// let cluster = Cluster::new("redis://127.0.0.1:6379", "articles")?.with_limit(settings);
    /// assert_eq!(cluster.limit().outage, LimitOutage::Closed);
    /// # Ok::<(), examples::Error>(())
    /// ```
    #[must_use]
    pub fn with_limit(mut self, settings: GlobalLimitSettings) -> Self {
        self.limit = settings;
        self
    }

    /// The settings of the shared database limit.
    ///
    /// # Examples
    ///
    /// See [`with_limit`](Self::with_limit).
    #[must_use]
    pub fn limit(&self) -> GlobalLimitSettings {
        self.limit
    }

    pub(crate) fn client(&self) -> &redis::Client {
        &self.client
    }

    /// The prefix of the service's keys and channels in Redis.
    ///
    /// # Examples
    ///
    /// See [`Cluster`].
    #[must_use]
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
}

/// The cache behind an [`ArticleStore`](crate::ArticleStore).
pub(crate) enum ArticleCache {
    Local(LimitableMap<u64, Option<Article>>),
    Redis(RedisCache<Option<Article>, JsonCodec>),
}

impl ArticleCache {
    pub(crate) fn local(config: &StoreConfig) -> Result<Self, Error> {
        let negative_ttl = config.negative_ttl;
        let map = LimitableMap::builder(config.cache_limit)
            .time_to_live(config.time_to_live)
            // Zero: an absence is stored already expired, so the next read queries again.
            .loaded_time_to_live(move |row: &Option<Article>| row.is_none().then_some(negative_ttl))
            .build()
            .map_err(|err| Error::Internal {
                what: "the cache",
                reason: err.to_string(),
            })?;
        Ok(Self::Local(map))
    }

    /// Must run inside a tokio runtime: the tier starts its background task.
    pub(crate) fn redis(config: &StoreConfig, cluster: &Cluster) -> Result<Self, Error> {
        let cache = RedisCache::builder(
            cluster.client.clone(),
            format!("{}:articles", cluster.namespace),
            JsonCodec,
        )
        .time_to_live(config.time_to_live)
        .local_time_to_live(config.time_to_live)
        .local_limit(config.cache_limit)
        // Longer than the slowest load: a wait for a connection plus the query.
        .lease(config.queue_timeout + config.query_timeout + Duration::from_secs(1))
        .build()
        .map_err(|err| Error::Internal {
            what: "the Redis cache tier",
            reason: err.to_string(),
        })?;
        Ok(Self::Redis(cache))
    }

    pub(crate) async fn get_or_load<F, Fut>(
        &self,
        id: u64,
        loader: F,
    ) -> Result<Option<Article>, nodebook_cache::Error<Error>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<Article>, Error>> + Send + 'static,
    {
        match self {
            Self::Local(map) => map.get_or_load(id, loader).await,
            Self::Redis(cache) => cache.get_or_load(&id.to_string(), loader).await,
        }
    }

    /// Drops `id` here and, with Redis, in Redis and on every replica.
    pub(crate) async fn invalidate(&self, id: u64) {
        match self {
            Self::Local(map) => map.invalidate(&id),
            Self::Redis(cache) => {
                if cache.invalidate(&id.to_string()).await == Reach::ThisReplica {
                    tracing::warn!(
                        id,
                        "Redis did not answer: the other replicas keep article {id} until their \
                         cache time-to-live ends"
                    );
                }
            }
        }
    }

    pub(crate) fn local_map(&self) -> Option<&LimitableMap<u64, Option<Article>>> {
        match self {
            Self::Local(map) => Some(map),
            Self::Redis(_) => None,
        }
    }

    /// Whether the Redis tier is connected: `None` without Redis, else `Err` with the last
    /// Redis error while it is degraded.
    pub(crate) fn redis_health(&self) -> Option<Result<(), String>> {
        let Self::Redis(cache) = self else {
            return None;
        };
        Some(match cache.health() {
            Health::Connected => Ok(()),
            _ => Err(cache
                .last_redis_error()
                .map_or_else(|| "not connected yet".to_owned(), |err| err.to_string())),
        })
    }

    pub(crate) fn counters(&self, limit: usize) -> (CacheCounters, Option<RedisCounters>) {
        match self {
            Self::Local(map) => {
                let stats = map.stats();
                let counters = CacheCounters {
                    len: map.len(),
                    limit: map.limit(),
                    hits: stats.hits,
                    misses: stats.misses,
                    inserts: stats.inserts,
                    evicted: stats.evicted_capacity,
                    expired: stats.expired,
                    removed: stats.removed,
                    loads_started: stats.loads.started,
                    loads_coalesced: stats.loads.coalesced,
                    loads_failed: stats.loads.failed,
                    loads_discarded: stats.loads.discarded,
                };
                (counters, None)
            }
            Self::Redis(cache) => {
                let stats = cache.stats();
                // The tier keeps its local map's counters to itself: what is known is filled
                // in, the rest stays 0 and the tier's own figures are in `RedisCounters`.
                let counters = CacheCounters {
                    len: cache.local_len(),
                    limit,
                    hits: stats.local_hits,
                    misses: 0,
                    inserts: 0,
                    evicted: 0,
                    expired: 0,
                    removed: 0,
                    loads_started: stats.loads + stats.degraded_loads,
                    loads_coalesced: 0,
                    loads_failed: 0,
                    loads_discarded: 0,
                };
                let redis = RedisCounters {
                    connected: cache.health() == Health::Connected,
                    local_hits: stats.local_hits,
                    redis_hits: stats.redis_hits,
                    loads: stats.loads,
                    lease_waits: stats.lease_waits,
                    degraded_loads: stats.degraded_loads,
                    redis_errors: stats.redis_errors,
                    timeouts: stats.timeouts,
                    outages: stats.outages,
                    reconnects: stats.reconnects,
                    invalidations_received: stats.invalidations_received,
                };
                (counters, Some(redis))
            }
        }
    }
}
