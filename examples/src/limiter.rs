//! The limiter in front of the database: this process's `Bagpipe`, or, for replicas, bagpipe's
//! global limit counted in Redis (`RedisBagpipe`), so that N replicas at `--connections L` put
//! at most L calls on the database together.
//!
//! # Implementation details
//!
//! A `RedisBagpipe` reports its health, the permits this process holds and the `lease_lost`
//! events, but keeps no counters. [`GlobalLimit`] counts around each call what `/stats` and
//! `/metrics` show for a local `Bagpipe` (waiting, running, refused, timeouts), where each
//! permit came from (Redis, or the outage policy), and the `lease_lost` events. It acquires
//! and applies the execution timeout itself instead of calling `RedisBagpipe::run`, so that it
//! sees the permit and can tell the grants apart.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use nodebook_bagpipe::redis::{GrantedBy, Health, OutagePolicy, RedisBagpipe};
use nodebook_bagpipe::{Bagpipe, Event};

use crate::server::Counted;
use crate::{Error, GlobalLimitStats, LimiterStats, StoreConfig};

/// What the global limit does while Redis does not answer (`--redis-outage`).
///
/// The service's default is [`Fallback`](Self::Fallback): with Redis away the article cache
/// already serves each replica alone, so every replica may load at once; failing open would put
/// up to N × the limit on the database at exactly that moment, and failing closed would turn a
/// Redis outage into a full one (every cache miss a 503). A fallback share keeps the database
/// near the limit while the service keeps answering.
///
/// # Examples
///
/// ```
/// use examples::LimitOutage;
///
/// assert_eq!("fallback".parse::<LimitOutage>()?, LimitOutage::Fallback);
/// assert_eq!(LimitOutage::default(), LimitOutage::Fallback);
/// assert_eq!("maybe".parse::<LimitOutage>().unwrap_err(), "expected closed, open or fallback");
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitOutage {
    /// Refuse every database call (503) until Redis answers: the database never sees more
    /// than the limit, and the service answers only from its caches meanwhile.
    Closed,
    /// No global count: each replica runs up to the limit on its own.
    Open,
    /// Each replica runs at most `limit / replicas_expected` calls (at least 1), so the
    /// replicas together stay near the limit.
    #[default]
    Fallback,
}

impl LimitOutage {
    /// The flag's spelling.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(examples::LimitOutage::Closed.as_str(), "closed");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::Fallback => "fallback",
        }
    }

    fn policy(self, limit: usize, replicas_expected: usize) -> OutagePolicy {
        match self {
            Self::Closed => OutagePolicy::FailClosed,
            Self::Open => OutagePolicy::FailOpen,
            Self::Fallback => OutagePolicy::fallback_share(limit, replicas_expected),
        }
    }
}

impl FromStr for LimitOutage {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        match raw {
            "closed" => Ok(Self::Closed),
            "open" => Ok(Self::Open),
            "fallback" => Ok(Self::Fallback),
            _ => Err("expected closed, open or fallback".to_owned()),
        }
    }
}

/// How the global limit is set up: what the replicas of one service must agree on besides the
/// limit itself (`--connections`).
///
/// # Examples
///
/// ```
/// let settings = examples::GlobalLimitSettings::default();
/// assert_eq!(settings.replicas_expected, 2);
/// assert_eq!(settings.lease, std::time::Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalLimitSettings {
    /// What to do while Redis does not answer.
    pub outage: LimitOutage,
    /// How many replicas share the limit: under [`LimitOutage::Fallback`] each runs at most
    /// `limit / replicas_expected` calls while Redis is away.
    pub replicas_expected: usize,
    /// How long a permit stays counted without renewal: a killed replica's permits come back
    /// at most this long after the kill. Every replica must use the same lease.
    pub lease: Duration,
}

impl Default for GlobalLimitSettings {
    fn default() -> Self {
        Self {
            outage: LimitOutage::Fallback,
            replicas_expected: 2,
            lease: Duration::from_secs(10),
        }
    }
}

/// The limiter in front of an [`ArticleStore`](crate::ArticleStore)'s database.
///
/// # Examples
///
/// ```
/// use examples::{ArticleStore, MockDatabase, StoreConfig};
///
/// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
/// assert_eq!(store.limiter().limit(), 4);
/// assert!(store.limiter().local().is_some());
/// # Ok::<(), examples::Error>(())
/// ```
#[derive(Debug, Clone)]
pub enum Limiter {
    /// This process's own limit.
    Local(Bagpipe),
    /// One limit across every replica sharing the Redis namespace.
    Global(GlobalLimit),
}

impl Limiter {
    pub(crate) fn in_process(config: &StoreConfig) -> Self {
        Self::Local(
            Bagpipe::builder(config.connections)
                .queue_length(config.queue_length)
                .refuse(true)
                .timeout(config.query_timeout)
                .queue_timeout(config.queue_timeout)
                .build(),
        )
    }

    /// Calls allowed at once (across the replicas for a global limit).
    ///
    /// # Examples
    ///
    /// See [`Limiter`].
    #[must_use]
    pub fn limit(&self) -> usize {
        match self {
            Self::Local(pipe) => pipe.limit(),
            Self::Global(global) => global.pipe.limit(),
        }
    }

    /// The local `Bagpipe`, when the limit is this process's own.
    ///
    /// # Examples
    ///
    /// See [`Limiter`].
    #[must_use]
    pub fn local(&self) -> Option<&Bagpipe> {
        match self {
            Self::Local(pipe) => Some(pipe),
            Self::Global(_) => None,
        }
    }

    /// The global limit, when the store is one replica of several.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, MockDatabase, StoreConfig};
    ///
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// assert!(store.limiter().global().is_none());
    /// # Ok::<(), examples::Error>(())
    /// ```
    #[must_use]
    pub fn global(&self) -> Option<&GlobalLimit> {
        match self {
            Self::Local(_) => None,
            Self::Global(global) => Some(global),
        }
    }

    /// Calls running now in this process.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleStore, MockDatabase, StoreConfig};
    ///
    /// let store = ArticleStore::new(MockDatabase::new(Default::default()), StoreConfig::default())?;
    /// assert_eq!((store.limiter().active(), store.limiter().queued()), (0, 0));
    /// # Ok::<(), examples::Error>(())
    /// ```
    #[must_use]
    pub fn active(&self) -> usize {
        match self {
            Self::Local(pipe) => pipe.active(),
            Self::Global(global) => global.counters.active.load(Ordering::Relaxed),
        }
    }

    /// Calls of this process waiting for a slot now.
    ///
    /// # Examples
    ///
    /// See [`active`](Self::active).
    #[must_use]
    pub fn queued(&self) -> usize {
        match self {
            Self::Local(pipe) => pipe.queued(),
            Self::Global(global) => global.counters.queued.load(Ordering::Relaxed),
        }
    }

    /// Runs `work` once it holds a slot.
    pub(crate) async fn run<T, F>(&self, work: F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        match self {
            Self::Local(pipe) => pipe.run(work).await.map_err(limiter_error)?,
            Self::Global(global) => global.run(work).await,
        }
    }

    pub(crate) fn stats(&self) -> (LimiterStats, Option<GlobalLimitStats>) {
        match self {
            Self::Local(pipe) => {
                let stats = pipe.stats();
                let local = LimiterStats {
                    limit: pipe.limit(),
                    queue_length: pipe.queue_length(),
                    active: pipe.active(),
                    queued: pipe.queued(),
                    admitted: stats.admitted,
                    refused: stats.refused,
                    queue_timeouts: stats.queue_timeouts,
                    timeouts: stats.timeouts,
                    outdated: stats.outdated,
                    completed: stats.completed,
                };
                (local, None)
            }
            Self::Global(global) => global.stats(),
        }
    }
}

/// Bagpipe's global limit with the counters the service reports; from
/// [`Limiter::global`].
///
/// # Examples
///
/// ```
/// use examples::{ArticleStore, Cluster, GlobalLimitSettings, MockDatabase, StoreConfig};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), examples::Error> {
/// // Nothing listens on port 1: the limit runs on its outage policy, 8 / 4 per replica.
/// let settings = GlobalLimitSettings { replicas_expected: 4, ..Default::default() };
/// let cluster = Cluster::new("redis://127.0.0.1:1", "articles")?.with_limit(settings);
/// let config = StoreConfig { connections: 8, ..StoreConfig::default() };
/// let store = ArticleStore::clustered(MockDatabase::new(Default::default()), config, &cluster)?;
/// let global = store.limiter().global().expect("a clustered store has one");
/// assert_eq!((global.redis().limit(), global.policy()), (8, "fallback 2".to_owned()));
/// assert!(global.health().is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct GlobalLimit {
    pipe: RedisBagpipe,
    settings: GlobalLimitSettings,
    fallback_limit: Option<usize>,
    queue_length: usize,
    timeout: Duration,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicUsize,
    active: AtomicUsize,
    admitted: AtomicU64,
    refused: AtomicU64,
    queue_timeouts: AtomicU64,
    timeouts: AtomicU64,
    completed: AtomicU64,
    unavailable: AtomicU64,
    fallback_grants: AtomicU64,
    open_grants: AtomicU64,
    lease_lost: AtomicU64,
}

impl std::fmt::Debug for GlobalLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalLimit")
            .field("pipe", &self.pipe)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl GlobalLimit {
    /// The limit named `name` on `client`; must be built inside a tokio runtime.
    pub(crate) fn new(
        client: redis::Client,
        name: String,
        config: &StoreConfig,
        settings: GlobalLimitSettings,
    ) -> Result<Self, Error> {
        let policy = settings
            .outage
            .policy(config.connections, settings.replicas_expected);
        let fallback_limit = match policy {
            OutagePolicy::Fallback { limit } => Some(limit),
            _ => None,
        };
        // Polls at most every fifth of the lease, so short test leases stay valid.
        let poll = (settings.lease / 5).min(Duration::from_millis(200));
        let pipe = RedisBagpipe::builder(client, name, config.connections)
            .queue_length(config.queue_length)
            .refuse(true)
            .queue_timeout(config.queue_timeout)
            .lease(settings.lease)
            .poll_interval(poll)
            .outage(policy)
            .build()
            .map_err(|err| Error::Internal {
                what: "the global limit",
                reason: err.to_string(),
            })?;
        let counters = Arc::new(Counters::default());
        let lost = Arc::clone(&counters);
        pipe.events().on(Event::LEASE_LOST, move |event: &Event| {
            lost.lease_lost.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                ?event,
                "a database call outlived its lease on the global limit: another replica may \
                 have had its slot meanwhile"
            );
        });
        Ok(Self {
            pipe,
            settings,
            fallback_limit,
            queue_length: config.queue_length,
            timeout: config.query_timeout,
            counters,
        })
    }

    /// The limiter itself.
    ///
    /// # Examples
    ///
    /// See [`GlobalLimit`].
    #[must_use]
    pub fn redis(&self) -> &RedisBagpipe {
        &self.pipe
    }

    /// Whether permits come from Redis now.
    ///
    /// # Errors
    ///
    /// Redis's last error (or "not connected yet") while the outage policy decides.
    ///
    /// # Examples
    ///
    /// See [`GlobalLimit`].
    pub fn health(&self) -> Result<(), String> {
        match self.pipe.health() {
            Health::Connected => Ok(()),
            _ => Err(self
                .pipe
                .last_redis_error()
                .unwrap_or_else(|| "not connected yet".to_owned())),
        }
    }

    /// What the outage policy does, in words: `closed`, `open` or `fallback N`.
    ///
    /// # Examples
    ///
    /// See [`GlobalLimit`].
    #[must_use]
    pub fn policy(&self) -> String {
        match self.fallback_limit {
            Some(limit) => format!("fallback {limit}"),
            None => self.settings.outage.as_str().to_owned(),
        }
    }

    async fn run<T, F>(&self, work: F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let counters = &self.counters;
        let acquired = {
            let _waiting = Counted::new(&counters.queued);
            self.pipe.acquire().await
        };
        let permit = match acquired {
            Ok(permit) => permit,
            Err(err) => {
                let counter = match &err {
                    nodebook_bagpipe::Error::TooMuchAsyncCall { .. } => &counters.refused,
                    nodebook_bagpipe::Error::QueueTimeout { .. } => &counters.queue_timeouts,
                    _ => &counters.unavailable,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                return Err(limiter_error(err));
            }
        };
        counters.admitted.fetch_add(1, Ordering::Relaxed);
        match permit.granted_by() {
            GrantedBy::Fallback => counters.fallback_grants.fetch_add(1, Ordering::Relaxed),
            GrantedBy::Open => counters.open_grants.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        let output = {
            let _running = Counted::new(&counters.active);
            tokio::time::timeout(self.timeout, work).await
        };
        match output {
            Ok(output) => {
                counters.completed.fetch_add(1, Ordering::Relaxed);
                permit.release().await;
                output
            }
            Err(_) => {
                counters.timeouts.fetch_add(1, Ordering::Relaxed);
                drop(permit);
                Err(Error::DatabaseTimeout {
                    timeout: self.timeout,
                })
            }
        }
    }

    fn stats(&self) -> (LimiterStats, Option<GlobalLimitStats>) {
        let c = &self.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let local = LimiterStats {
            limit: self.pipe.limit(),
            queue_length: self.queue_length,
            active: c.active.load(Ordering::Relaxed),
            queued: c.queued.load(Ordering::Relaxed),
            admitted: load(&c.admitted),
            refused: load(&c.refused),
            queue_timeouts: load(&c.queue_timeouts),
            timeouts: load(&c.timeouts),
            outdated: 0,
            completed: load(&c.completed),
        };
        let global = GlobalLimitStats {
            connected: self.pipe.health() == Health::Connected,
            outage: self.settings.outage.as_str(),
            fallback_limit: self.fallback_limit,
            lease_ms: u64::try_from(self.settings.lease.as_millis()).unwrap_or(u64::MAX),
            held: self.pipe.held(),
            lease_lost: load(&c.lease_lost),
            unavailable: load(&c.unavailable),
            fallback_grants: load(&c.fallback_grants),
            open_grants: load(&c.open_grants),
        };
        (local, Some(global))
    }
}

pub(crate) fn limiter_error(err: nodebook_bagpipe::Error) -> Error {
    match err {
        nodebook_bagpipe::Error::TooMuchAsyncCall {
            limit,
            queue_length,
            queued,
        } => Error::Overloaded {
            limit,
            queue_length,
            queued,
        },
        nodebook_bagpipe::Error::Timeout { timeout } => Error::DatabaseTimeout { timeout },
        nodebook_bagpipe::Error::QueueTimeout { queue_timeout } => Error::DatabaseTimeout {
            timeout: queue_timeout,
        },
        nodebook_bagpipe::Error::Unavailable { cause } => Error::LimitUnavailable { cause },
        other => Error::Internal {
            what: "the limiter",
            reason: other.to_string(),
        },
    }
}
