//! The counters an [`ArticleStore`](crate::ArticleStore) reports, as `GET /stats` and
//! `GET /metrics` show them.

use serde::Serialize;

/// The counters of an [`ArticleStore`](crate::ArticleStore), as `GET /stats` shows them.
///
/// # Examples
///
/// See [`ArticleStore::stats`](crate::ArticleStore::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// The limiter in front of the database.
    pub limiter: LimiterStats,
    /// The article cache and its once-queue.
    pub cache: CacheCounters,
    /// The `article.updated` emitter.
    pub events: EventCounters,
    /// The cache's Redis tier, when the store has one.
    pub redis: Option<RedisCounters>,
    /// The Redis bridge of the event hub, when the store has one.
    pub bridge: Option<BridgeCounters>,
    /// The global limit across replicas, when the store has one ([`limiter`](Self::limiter)
    /// then counts this replica's calls under it).
    pub global_limit: Option<GlobalLimitStats>,
}

/// The limiter's live state and counters (bagpipe's `limit`, `active`, `queue.length`, and
/// the counters the original lacks).
///
/// # Examples
///
/// See [`ArticleStore::stats`](crate::ArticleStore::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LimiterStats {
    /// Queries allowed at once.
    pub limit: usize,
    /// Queries allowed to wait.
    pub queue_length: usize,
    /// Queries running now.
    pub active: usize,
    /// Queries waiting now.
    pub queued: usize,
    /// Queries that got a slot.
    pub admitted: u64,
    /// Queries refused because the queue was full (answered 503).
    pub refused: u64,
    /// Queries that waited too long for a slot (answered 504).
    pub queue_timeouts: u64,
    /// Queries that ran too long (answered 504).
    pub timeouts: u64,
    /// Timed-out queries that finished later anyway.
    pub outdated: u64,
    /// Queries that finished in time.
    pub completed: u64,
}

/// The cache's counters. With the Redis tier only `len`, `limit`, `hits` (local tier) and
/// `loads_started` are filled in; [`RedisCounters`] has the tier's own figures.
///
/// # Examples
///
/// See [`ArticleStore::stats`](crate::ArticleStore::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CacheCounters {
    /// Articles cached now.
    pub len: usize,
    /// Articles the cache holds at most.
    pub limit: usize,
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that missed.
    pub misses: u64,
    /// Rows stored.
    pub inserts: u64,
    /// Rows evicted because the cache was full (FIFO).
    pub evicted: u64,
    /// Rows dropped because their time-to-live ended.
    pub expired: u64,
    /// Rows removed by an update.
    pub removed: u64,
    /// Database loads started.
    pub loads_started: u64,
    /// Reads that joined a load already in flight instead of starting one.
    pub loads_coalesced: u64,
    /// Loads that failed (never cached).
    pub loads_failed: u64,
    /// Loads whose row was not stored because an update came while they ran.
    pub loads_discarded: u64,
}

/// The emitter's counters.
///
/// # Examples
///
/// See [`ArticleStore::stats`](crate::ArticleStore::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventCounters {
    /// `article.updated` events emitted.
    pub emitted: u64,
    /// Listeners and subscribers of `article.updated` now.
    pub listeners: usize,
    /// Event subscriptions open now.
    pub subscribers: usize,
    /// Event subscriptions allowed at once.
    pub max_subscribers: usize,
    /// Max-listener ("possible memory leak") warnings the emitter gave.
    pub leak_warnings: u64,
}

/// The Redis tier's state and counters (`nodebook_cache::redis::RedisStats`).
///
/// # Examples
///
/// See [`ArticleStore::stats`](crate::ArticleStore::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RedisCounters {
    /// Whether the tier is connected (subscribed and answering); `false` while it serves from
    /// the local tier alone.
    pub connected: bool,
    /// Reads answered by this replica's local tier.
    pub local_hits: u64,
    /// Reads answered from Redis (another replica, or an earlier life of this one, loaded it).
    pub redis_hits: u64,
    /// Loads this replica ran holding the key's cluster-wide lease.
    pub loads: u64,
    /// Reads that waited for another replica's load.
    pub lease_waits: u64,
    /// Loads run here without Redis while it did not answer.
    pub degraded_loads: u64,
    /// Redis calls that failed.
    pub redis_errors: u64,
    /// Redis calls that timed out.
    pub timeouts: u64,
    /// Times the tier fell from connected to degraded.
    pub outages: u64,
    /// Times it came back.
    pub reconnects: u64,
    /// Invalidations received from other replicas.
    pub invalidations_received: u64,
}

/// The global limit's state as this replica sees it (`GET /stats` under `global_limit`).
///
/// # Examples
///
/// See [`ArticleStore::stats`](crate::ArticleStore::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GlobalLimitStats {
    /// Whether permits come from Redis now; `false` while the outage policy decides.
    pub connected: bool,
    /// The outage policy: `closed`, `open` or `fallback`.
    pub outage: &'static str,
    /// The calls this replica may run while Redis is away, under `fallback`.
    pub fallback_limit: Option<usize>,
    /// How long a permit stays counted without renewal, in milliseconds.
    pub lease_ms: u64,
    /// Permits of the global limit this replica holds now.
    pub held: usize,
    /// Permits found to have outlived their lease (`lease_lost` events).
    pub lease_lost: u64,
    /// Calls refused because Redis did not answer and the policy is `closed`.
    pub unavailable: u64,
    /// Permits granted by the `fallback` policy while Redis was away.
    pub fallback_grants: u64,
    /// Permits granted by the `open` policy while Redis was away.
    pub open_grants: u64,
}

/// The event hub's Redis bridge (`GET /stats` under `bridge`).
///
/// # Examples
///
/// See [`ArticleStore::stats`](crate::ArticleStore::stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BridgeCounters {
    /// Whether updates of the other replicas arrive now.
    pub connected: bool,
    /// Updates of this replica published to the others.
    pub published: u64,
    /// Updates of other replicas emitted to this replica's subscribers.
    pub received: u64,
    /// Updates of this replica not published (the bridge's queue was full).
    pub dropped: u64,
    /// Gaps: times updates of other replicas were, or may have been, lost here.
    pub gaps: u64,
    /// Times the subscription came back after dropping.
    pub reconnects: u64,
}
