//! The article store: the book's cache, avalanche guard and limiter in front of one database.
//!
//! # Implementation details
//!
//! A read goes `LimitableMap` (time-to-live) → its once-queue (`get_or_load`: one load per key
//! in flight, run on its own task so that callers may give up without restarting it) →
//! `Bagpipe` (at most `connections` queries at once, a bounded queue, refusal beyond it, a
//! queue deadline and an execution deadline) → the database. Errors are never cached. A missing
//! row is cached as an absence (`None`) for [`StoreConfig::negative_ttl`] only, through the
//! cache's `loaded_time_to_live`, and answered as [`Error::NotFound`]: a crowd asking for ids
//! that do not exist costs one query per id and per `negative_ttl`, not one per request. The
//! cache's own negative caching is not used, since it would remember every load error,
//! including a refusal or a timeout that says nothing about the row.
//!
//! Event subscriptions are capped by a semaphore of `max_subscribers` permits, each held by its
//! stream. The emitter's max-listener limit is set to that cap plus a few synchronous
//! listeners, as its docs recommend for an emitter with a known number of listeners, so its
//! leak warning fires only when listeners really pile up beyond anything the store allows.
//! Warnings go to `tracing` and are counted in [`EventCounters::leak_warnings`].
//!
//! In a [`clustered`](ArticleStore::clustered) store the `Bagpipe` is bagpipe's global limit
//! in Redis instead (`RedisBagpipe`, see the `limiter` module): the same options, counted
//! across every replica.
//!
//! A write (create or replace) goes through the same `Bagpipe`, then invalidates the key (a
//! cached absence included, so a created row is seen at once), then emits
//! `article.updated`. The order matters: a read whose load started before the write read the
//! old row; `invalidate` bumps the key's generation in the map, so that load answers its own
//! callers (they asked before the write) but does not store the old row, and later reads start
//! a fresh load that sees the new row.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use futures::{Stream, StreamExt};
use nodebook_cache::LimitableMap;

use crate::article_cache::ArticleCache;
use crate::event_bridge::EventBridge;
use crate::limiter::GlobalLimit;
use nodebook_emitter::Emitter;

use crate::{
    Article, ArticleSource, ArticleUpdate, Cluster, Error, EventCounters, Limiter, QueryProbe,
    StoreConfig, StoreStats,
};

/// The event name under which [`ArticleStore::update`] announces a new row.
pub const ARTICLE_UPDATED: &str = "article.updated";

/// Synchronous listeners of [`ARTICLE_UPDATED`] that may be added through
/// [`ArticleStore::events`] beside the capped subscriptions before the emitter warns of a leak.
pub const SYNC_LISTENER_ALLOWANCE: usize = 8;

/// Articles from a database: cached, coalesced and limited, with change events.
///
/// - [`get`](Self::get): from the cache; on a miss, one query per key however many callers ask
///   at once (the avalanche guard), through a limiter that caps concurrent queries.
/// - [`update`](Self::update): writes through the limiter, invalidates the key so that no read
///   in flight can put the old row back, and emits [`ARTICLE_UPDATED`].
/// - [`subscribe`](Self::subscribe): a stream of updated rows.
///
/// Cheap to clone; clones share everything.
///
/// # Examples
///
/// ```
/// use examples::{ArticleSource, ArticleStore, MockDatabase, StoreConfig};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), examples::Error> {
/// let db = MockDatabase::new(Duration::from_millis(5));
/// let store = ArticleStore::new(db.clone(), StoreConfig::default())?;
/// let readers: Vec<_> = (0..100).map(|_| store.get(42)).collect();
/// for row in futures::future::join_all(readers).await {
///     assert_eq!(row?.id, 42);
/// }
/// assert_eq!(db.queries(), 1);
/// # Ok(())
/// # }
/// ```
pub struct ArticleStore<S> {
    db: S,
    cache: Arc<ArticleCache>,
    pipe: Limiter,
    probe: QueryProbe,
    events: Emitter<Article>,
    bridge: Option<Arc<EventBridge>>,
    updates: Arc<AtomicU64>,
    subscribers: Arc<Semaphore>,
    leak_warnings: Arc<AtomicU64>,
    config: StoreConfig,
}

impl<S: Clone> Clone for ArticleStore<S> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            cache: Arc::clone(&self.cache),
            pipe: self.pipe.clone(),
            probe: self.probe.clone(),
            events: self.events.clone(),
            bridge: self.bridge.clone(),
            updates: Arc::clone(&self.updates),
            subscribers: Arc::clone(&self.subscribers),
            leak_warnings: Arc::clone(&self.leak_warnings),
            config: self.config,
        }
    }
}

impl<S> std::fmt::Debug for ArticleStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArticleStore")
            .field("config", &self.config)
            .field("pipe", &self.pipe)
            .finish_non_exhaustive()
    }
}

impl<S: ArticleSource> ArticleStore<S> {
    /// Puts the cache, the once-queue and the limiter in front of `db`.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] when the cache refuses the configuration (a zero limit or
    /// time-to-live).
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, MockDatabase, StoreConfig};
    ///
    /// let db = MockDatabase::new(std::time::Duration::ZERO);
    /// let bad = StoreConfig { cache_limit: 0, ..StoreConfig::default() };
    /// let err = ArticleStore::new(db, bad).unwrap_err();
    /// assert_eq!(err.to_string(), "the cache failed: limit must be at least 1, got 0");
    /// ```
    pub fn new(db: S, config: StoreConfig) -> Result<Self, Error> {
        Self::build(db, config, None)
    }

    /// Like [`new`](Self::new), for one replica of several: the cache is the cache's Redis
    /// tier in `cluster` (one query per cold article across every replica sharing the
    /// namespace, and a write invalidates the article on every replica), and the limiter is
    /// bagpipe's global limit named `{namespace}:db` (at most
    /// [`StoreConfig::connections`] calls at once across every replica, with the cluster's
    /// [`GlobalLimitSettings`](crate::GlobalLimitSettings)), and [`ARTICLE_UPDATED`] is
    /// bridged through Redis pub/sub (`{namespace}:events`): an update on any replica reaches
    /// the [`subscribe`](Self::subscribe) streams and listeners of every replica. Must be
    /// called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), and [`Error::Internal`] when the global limit refuses its
    /// settings. Redis is not contacted here: until it answers, the cache serves this replica
    /// alone (see [`StoreStats::redis`]), the events stay on this replica (see
    /// [`bridge_health`](Self::bridge_health)) and the limit follows its outage policy (see
    /// [`StoreStats::global_limit`]).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use examples::{ArticleStore, Cluster, MockDatabase, StoreConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let cluster = Cluster::new("redis://127.0.0.1:6379", "articles")?;
    /// let db = MockDatabase::new(Default::default());
    /// let store = ArticleStore::clustered(db, StoreConfig::default(), &cluster)?;
    /// assert_eq!(store.get(1).await?.id, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn clustered(db: S, config: StoreConfig, cluster: &Cluster) -> Result<Self, Error> {
        Self::build(db, config, Some(cluster))
    }

    /// The one place where the store's shared parts are made: the cache, the limiter and the
    /// event hub, each in this process or, with a `cluster`, across the replicas.
    fn build(db: S, config: StoreConfig, cluster: Option<&Cluster>) -> Result<Self, Error> {
        let cache = match cluster {
            Some(cluster) => ArticleCache::redis(&config, cluster)?,
            None => ArticleCache::local(&config)?,
        };
        let pipe = match cluster {
            Some(cluster) => Limiter::Global(GlobalLimit::new(
                cluster.client().clone(),
                format!("{}:db", cluster.namespace()),
                &config,
                cluster.limit(),
            )?),
            None => Limiter::in_process(&config),
        };
        let events = Emitter::new();
        // Each subscription is one `article.updated` listener and one `error` listener; a
        // bridge adds one `article.updated` listener of its own.
        events.set_max_listeners(
            config
                .max_subscribers
                .saturating_add(SYNC_LISTENER_ALLOWANCE)
                .saturating_add(usize::from(cluster.is_some())),
        );
        let bridge = cluster.map(|cluster| Arc::new(EventBridge::start(&events, cluster)));
        let leak_warnings = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&leak_warnings);
        events.set_warning_hook(move |warning| {
            counted.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                event = warning.event().as_str(),
                listeners = warning.count(),
                limit = warning.limit(),
                "{warning}"
            );
        });
        Ok(Self {
            db,
            cache: Arc::new(cache),
            pipe,
            probe: QueryProbe::default(),
            events,
            bridge,
            updates: Arc::new(AtomicU64::new(0)),
            subscribers: Arc::new(Semaphore::new(
                config.max_subscribers.min(Semaphore::MAX_PERMITS),
            )),
            leak_warnings,
            config,
        })
    }

    /// The article `id`: from the cache, or loaded once for every concurrent caller.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when no row has that id (remembered for
    /// [`StoreConfig::negative_ttl`], or until a write of that id); [`Error::Overloaded`] when
    /// the limiter refused the query; [`Error::DatabaseTimeout`] when it waited or ran too
    /// long; the database's own errors. Each is shared by every caller of that load; errors are
    /// never cached.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the load keeps running for the other callers and for the cache.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, Error, MockDatabase, StoreConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Error> {
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// assert_eq!(store.get(1).await?.title, "Article 1");
    /// assert!(matches!(store.get(5000).await, Err(Error::NotFound { id: 5000 })));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn get(&self, id: u64) -> Result<Article, Error> {
        let db = self.db.clone();
        let (pipe, probe) = (self.pipe.clone(), self.probe.clone());
        let loaded = self
            .cache
            .get_or_load(id, move || async move {
                pipe.run(probe.around(db.article(id))).await
            })
            .await;
        match loaded {
            Ok(Some(article)) => Ok(article),
            Ok(None) => Err(Error::NotFound { id }),
            Err(nodebook_cache::Error::Load(shared)) => Err(Error::clone(&shared)),
            Err(other) => Err(Error::Internal {
                what: "the cache",
                reason: other.to_string(),
            }),
        }
    }

    /// Writes `update` to article `id` (creating the row, version 1, when it is absent),
    /// invalidates its cache entry (a cached absence too) and emits [`ARTICLE_UPDATED`] with
    /// the new row, which it returns.
    ///
    /// # Errors
    ///
    /// [`Error::Argument`] for an id beyond `i64::MAX`, [`Error::Overloaded`],
    /// [`Error::DatabaseTimeout`] or the database's errors; nothing is invalidated or emitted
    /// then.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped after the write reached the database, the cache entry stays until
    /// its time-to-live ends and no event is emitted.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, ArticleUpdate, MockDatabase, StoreConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// assert_eq!(store.get(2).await?.version, 1);
    /// let update = ArticleUpdate { title: "Moonlight".into(), body: "…".into() };
    /// assert_eq!(store.update(2, update).await?.version, 2);
    /// assert_eq!(store.get(2).await?.title, "Moonlight");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn update(&self, id: u64, update: ArticleUpdate) -> Result<Article, Error> {
        let article = self.run_limited(self.db.put_article(id, update)).await?;
        self.cache.invalidate(id).await;
        self.updates.fetch_add(1, Ordering::Relaxed);
        // A payload is never an error event here, so `emit` cannot fail.
        let _ = self.events.emit(ARTICLE_UPDATED, article.clone());
        Ok(article)
    }

    /// Runs other database work (`work` returns the database's own result) under the same
    /// limiter as the article queries.
    ///
    /// # Errors
    ///
    /// [`Error::Overloaded`] or [`Error::DatabaseTimeout`] from the limiter, or `work`'s error.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops `work` (and frees its slot).
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, MockDatabase, StoreConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// assert_eq!(store.run_limited(async { Ok(7) }).await?, 7);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_limited<T, F>(&self, work: F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        self.pipe.run(self.probe.around(work)).await
    }

    /// A stream of every row that [`update`](Self::update) writes from now on, holding at most
    /// `capacity` rows for a slow reader (beyond that the oldest are dropped and the stream
    /// yields [`Error::Lagged`] once with the count).
    ///
    /// At most [`StoreConfig::max_subscribers`] streams exist at once; dropping one frees its
    /// place.
    ///
    /// # Errors
    ///
    /// [`Error::SubscriberLimit`] when every place is taken; [`Error::Internal`] when
    /// `capacity` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, ArticleUpdate, MockDatabase, StoreConfig};
    /// use futures::StreamExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// let mut updates = Box::pin(store.subscribe(8)?);
    /// store.update(9, ArticleUpdate { title: "T".into(), body: "B".into() }).await?;
    /// assert_eq!(updates.next().await.unwrap()?.id, 9);
    /// # Ok(())
    /// # }
    /// ```
    pub fn subscribe(
        &self,
        capacity: usize,
    ) -> Result<impl Stream<Item = Result<Article, Error>> + Send + 'static, Error> {
        let place = Arc::clone(&self.subscribers)
            .try_acquire_owned()
            .map_err(|_| Error::SubscriberLimit {
                limit: self.config.max_subscribers,
            })?;
        let updates = self
            .events
            .subscribe(ARTICLE_UPDATED, capacity)
            .map_err(|err| Error::Internal {
                what: "the event subscription",
                reason: err.to_string(),
            })?;
        let updates = updates.map(move |update| {
            // The place is given back when the stream (and so this closure) is dropped.
            let _held = &place;
            update.map_err(|err| match err {
                nodebook_emitter::Error::Lagged { missed } => Error::Lagged { missed },
                other => Error::Internal {
                    what: "the event subscription",
                    reason: other.to_string(),
                },
            })
        });
        // With a bridge, a gap in the other replicas' updates is told to every subscriber.
        let gaps = self.bridge.as_ref().map(|bridge| bridge.gaps());
        Ok(crate::event_bridge::with_gaps(updates, gaps))
    }

    /// The emitter behind [`ARTICLE_UPDATED`], for synchronous listeners.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ARTICLE_UPDATED, ArticleStore, MockDatabase, StoreConfig};
    ///
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// store.events().on(ARTICLE_UPDATED, |row| println!("article {} changed", row.id));
    /// assert_eq!(store.events().listener_count(ARTICLE_UPDATED), 1);
    /// # Ok::<(), examples::Error>(())
    /// ```
    #[must_use]
    pub fn events(&self) -> &Emitter<Article> {
        &self.events
    }

    /// The limiter in front of the database: this process's `Bagpipe`, or the global limit of
    /// a [`clustered`](Self::clustered) store.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, MockDatabase, StoreConfig};
    ///
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// assert_eq!(store.limiter().limit(), StoreConfig::default().connections);
    /// # Ok::<(), examples::Error>(())
    /// ```
    #[must_use]
    pub fn limiter(&self) -> &Limiter {
        &self.pipe
    }

    /// Runs every database call through `probe` (an added latency, a log of the calls'
    /// intervals), inside the limiter's slot.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, MockDatabase, QueryProbe, StoreConfig};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let store = ArticleStore::new(MockDatabase::new(Duration::ZERO), StoreConfig::default())?
    ///     .probed(QueryProbe::default().latency(Duration::from_millis(30)));
    /// let asked = tokio::time::Instant::now();
    /// store.get(1).await?;
    /// assert_eq!(asked.elapsed(), Duration::from_millis(30));
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn probed(mut self, probe: QueryProbe) -> Self {
        self.probe = probe;
        self
    }

    /// The cache of articles (`Some(row)`, or `None` for an id known to be absent) when it is
    /// this process's own; `None` when the Redis tier holds it ([`clustered`](Self::clustered)).
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, MockDatabase, StoreConfig};
    ///
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// assert!(store.cache().is_some_and(|map| map.is_empty()));
    /// # Ok::<(), examples::Error>(())
    /// ```
    #[must_use]
    pub fn cache(&self) -> Option<&LimitableMap<u64, Option<Article>>> {
        self.cache.local_map()
    }

    /// With the Redis tier: `Some(Ok(()))` while it is connected, `Some(Err(why))` while it
    /// is not (the service answers from this replica alone meanwhile); `None` without it.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, MockDatabase, StoreConfig};
    ///
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// assert_eq!(store.redis_health(), None);
    /// # Ok::<(), examples::Error>(())
    /// ```
    #[must_use]
    pub fn redis_health(&self) -> Option<Result<(), String>> {
        self.cache.redis_health()
    }

    /// With the event bridge ([`clustered`](Self::clustered)): `Some(Ok(()))` while updates of
    /// the other replicas arrive, `Some(Err(why))` while they do not (subscribers see this
    /// replica's updates only meanwhile); `None` without it.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, MockDatabase, StoreConfig};
    ///
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// assert_eq!(store.bridge_health(), None);
    /// # Ok::<(), examples::Error>(())
    /// ```
    #[must_use]
    pub fn bridge_health(&self) -> Option<Result<(), String>> {
        self.bridge.as_ref().map(|bridge| bridge.health())
    }

    /// Waits until the updates queued for the other replicas are written to Redis, for at most
    /// `within`, and returns how many are still unwritten (0 without a bridge). A process that
    /// exits right after a write calls it so that the other replicas' subscribers hear of it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future only stops the wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, MockDatabase, StoreConfig};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// assert_eq!(store.flush_events(Duration::from_secs(1)).await, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn flush_events(&self, within: Duration) -> usize {
        match &self.bridge {
            Some(bridge) => bridge.flush(within).await,
            None => 0,
        }
    }

    /// The database.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleSource, ArticleStore, MockDatabase, StoreConfig};
    ///
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// assert_eq!(store.database().queries(), 0);
    /// # Ok::<(), examples::Error>(())
    /// ```
    #[must_use]
    pub fn database(&self) -> &S {
        &self.db
    }

    /// The counters of the limiter, the cache and the emitter, ready for JSON.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, MockDatabase, StoreConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// store.get(1).await?;
    /// store.get(1).await?;
    /// let stats = store.stats();
    /// assert_eq!((stats.cache.hits, stats.cache.loads_started), (1, 1));
    /// assert_eq!(stats.limiter.admitted, 1);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn stats(&self) -> StoreStats {
        let (limiter, global_limit) = self.pipe.stats();
        let (cache, redis) = self.cache.counters(self.config.cache_limit);
        StoreStats {
            limiter,
            global_limit,
            bridge: self.bridge.as_ref().map(|bridge| bridge.counters()),
            cache,
            redis,
            events: EventCounters {
                emitted: self.updates.load(Ordering::Relaxed),
                listeners: self.events.listener_count(ARTICLE_UPDATED),
                subscribers: self
                    .config
                    .max_subscribers
                    .min(Semaphore::MAX_PERMITS)
                    .saturating_sub(self.subscribers.available_permits()),
                max_subscribers: self.config.max_subscribers,
                leak_warnings: self.leak_warnings.load(Ordering::Relaxed),
            },
        }
    }
}
