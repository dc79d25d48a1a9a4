//! [`StoreConfig`]: how an [`ArticleStore`](crate::ArticleStore) is put together.

use std::time::Duration;

/// How an [`ArticleStore`](crate::ArticleStore) is put together.
///
/// # Examples
///
/// ```
/// use examples::StoreConfig;
/// use std::time::Duration;
///
/// let config = StoreConfig { connections: 8, ..StoreConfig::default() };
/// assert_eq!(config.queue_length, 64);
/// assert_eq!(config.time_to_live, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// Queries that may run at once: the connection count (bagpipe's `limit`).
    pub connections: usize,
    /// Queries that may wait for a connection before new ones are refused (bagpipe's
    /// `queue_length`, Node's `limit × ratio`).
    pub queue_length: usize,
    /// The longest a query may run once it has a connection (bagpipe's `timeout`); a late query
    /// answers [`Error::DatabaseTimeout`](crate::Error::DatabaseTimeout).
    pub query_timeout: Duration,
    /// The longest a query may wait for a connection (bagpipe's `queue_timeout`), also answered
    /// with [`Error::DatabaseTimeout`](crate::Error::DatabaseTimeout).
    pub queue_timeout: Duration,
    /// Articles the cache holds before it evicts the oldest (`LimitableMap`'s limit); the
    /// default, 1000, holds every seeded article.
    pub cache_limit: usize,
    /// How long a cached article stays fresh.
    pub time_to_live: Duration,
    /// Event subscriptions ([`ArticleStore::subscribe`](crate::ArticleStore::subscribe)) allowed at once; one more answers
    /// [`Error::SubscriberLimit`](crate::Error::SubscriberLimit).
    pub max_subscribers: usize,
    /// How long the absence of an id is remembered, so that repeated reads of a missing id do
    /// not each cost a query (negative caching). A write of that id ends it at once. Zero
    /// turns it off. With the Redis tier ([`ArticleStore::clustered`](crate::ArticleStore::clustered)) an absence lives as long
    /// as a row there ([`time_to_live`](Self::time_to_live)); a write still ends it on every
    /// replica.
    pub negative_ttl: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            connections: 4,
            queue_length: 64,
            query_timeout: Duration::from_secs(2),
            queue_timeout: Duration::from_secs(2),
            cache_limit: 1000,
            time_to_live: Duration::from_secs(60),
            max_subscribers: 256,
            negative_ttl: Duration::from_secs(5),
        }
    }
}
