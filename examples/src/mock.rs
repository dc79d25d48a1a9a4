//! A mock database with a connection pool, a per-query cost, failure injection and query
//! counting.
//!
//! # Implementation details
//!
//! A pooled mock holds a fair `tokio::sync::Semaphore` with one permit per connection: a query
//! waits its turn for a connection (first come, first served, as a real pool hands them out),
//! holds it for its latency and gives it back, also when the query is cancelled. Only a query
//! that has a connection counts as started, so a caller that gives up while waiting never reaches
//! the database.
//!
//! A read takes its snapshot of the row *when it starts* and answers after the latency, as a real
//! database answers with the row it read: an update landing during that latency is not in the
//! answer. That is what makes the invalidate-during-load race reproducible. Latency is a
//! `tokio::time::sleep`, so tests with paused time control it exactly. The count of started reads
//! is published on a `watch` channel so that a test can wait for "the load has begun" instead of
//! sleeping.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use std::num::NonZeroUsize;

use tokio::sync::{Semaphore, SemaphorePermit, watch};

use crate::{ARTICLE_COUNT, Article, ArticleSource, ArticleUpdate, Error};

/// An in-memory stand-in for the article database, shared by clones.
///
/// Holds articles `1..=1000` as [`Article::seeded`] rows. Every read waits `latency` (tokio time,
/// so paused-time tests control it), counts itself, and can be made to fail with
/// [`fail_next`](Self::fail_next) or [`set_failing`](Self::set_failing). It also records the most
/// reads that were ever in flight at once, the figure a limiter promises to keep down.
///
/// Capacity: [`new`](Self::new) answers any number of queries at once, which no real database
/// does. [`with_pool`](Self::with_pool) gives it a pool of connections like a real one: each
/// query (read or write) holds a connection for its latency, and the others wait for one in
/// arrival order, so a crowd of queries queues up and the last one waits
/// `crowd / connections × latency`.
///
/// # Examples
///
/// ```
/// use examples::{ArticleSource, Error, MockDatabase};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let db = MockDatabase::new(Duration::from_millis(2));
/// db.fail_next(1);
/// assert!(matches!(db.article(1).await, Err(Error::Injected { query: 1 })));
/// assert_eq!(db.article(1).await?.unwrap().version, 1);
/// assert_eq!(db.queries(), 2);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MockDatabase {
    inner: Arc<Inner>,
}

struct Inner {
    latency: Mutex<Duration>,
    pool: Option<Pool>,
    updated: Mutex<HashMap<u64, Article>>,
    failures_left: AtomicU64,
    failing: AtomicBool,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    writes: AtomicU64,
    started: watch::Sender<u64>,
}

/// The connections of a pooled mock, and how many queries wait for one.
struct Pool {
    connections: NonZeroUsize,
    free: Semaphore,
    waiting: AtomicUsize,
}

impl std::fmt::Debug for MockDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockDatabase")
            .field("latency", &self.latency())
            .field("connections", &self.connections())
            .field("queries", &self.queries())
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

impl MockDatabase {
    /// A mock whose every read and write takes `latency`, with no limit on queries at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let db = examples::MockDatabase::new(Duration::from_millis(5));
    /// assert_eq!(db.latency(), Duration::from_millis(5));
    /// assert_eq!(db.connections(), None);
    /// ```
    #[must_use]
    pub fn new(latency: Duration) -> Self {
        Self::build(latency, None)
    }

    /// A mock with `connections` connections: each read or write holds one for `latency`, and
    /// queries beyond the pool wait for a connection in the order they asked.
    ///
    /// # Examples
    ///
    /// Eight reads on two connections at 5 ms each: four rounds, 20 ms.
    ///
    /// ```
    /// use examples::{ArticleSource, MockDatabase};
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let two = NonZeroUsize::new(2).expect("not zero");
    /// let db = MockDatabase::with_pool(two, Duration::from_millis(5));
    /// let started = tokio::time::Instant::now();
    /// let reads = futures::future::join_all((1..=8).map(|id| db.article(id))).await;
    /// assert!(reads.iter().all(|row| row.is_ok()));
    /// assert_eq!(started.elapsed(), Duration::from_millis(20));
    /// assert_eq!(db.max_in_flight(), 2);
    /// # }
    /// ```
    #[must_use]
    pub fn with_pool(connections: NonZeroUsize, latency: Duration) -> Self {
        Self::build(
            latency,
            Some(Pool {
                connections,
                free: Semaphore::new(connections.get()),
                waiting: AtomicUsize::new(0),
            }),
        )
    }

    fn build(latency: Duration, pool: Option<Pool>) -> Self {
        Self {
            inner: Arc::new(Inner {
                latency: Mutex::new(latency),
                pool,
                updated: Mutex::new(HashMap::new()),
                failures_left: AtomicU64::new(0),
                failing: AtomicBool::new(false),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
                writes: AtomicU64::new(0),
                started: watch::channel(0).0,
            }),
        }
    }

    /// How long each query takes once it has a connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let db = examples::MockDatabase::new(Duration::ZERO);
    /// db.set_latency(Duration::from_secs(1));
    /// assert_eq!(db.latency(), Duration::from_secs(1));
    /// ```
    #[must_use]
    pub fn latency(&self) -> Duration {
        *self
            .inner
            .latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes how long each query started from now on takes.
    ///
    /// # Examples
    ///
    /// See [`latency`](Self::latency).
    pub fn set_latency(&self, latency: Duration) {
        *self
            .inner
            .latency
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = latency;
    }

    /// Makes the next `count` reads fail with [`Error::Injected`] (after their latency).
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleSource, MockDatabase};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let db = MockDatabase::new(Duration::ZERO);
    /// db.fail_next(2);
    /// assert!(db.article(1).await.is_err());
    /// assert!(db.article(1).await.is_err());
    /// assert!(db.article(1).await.is_ok());
    /// # }
    /// ```
    pub fn fail_next(&self, count: u64) {
        self.inner.failures_left.store(count, Ordering::SeqCst);
    }

    /// Makes every read fail (`true`) or succeed (`false`) until changed again.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleSource, MockDatabase};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let db = MockDatabase::new(Duration::ZERO);
    /// db.set_failing(true);
    /// assert!(db.article(1).await.is_err());
    /// db.set_failing(false);
    /// assert!(db.article(1).await.is_ok());
    /// # }
    /// ```
    pub fn set_failing(&self, failing: bool) {
        self.inner.failing.store(failing, Ordering::SeqCst);
    }

    /// The size of the connection pool, or `None` when queries never wait for a connection.
    ///
    /// # Examples
    ///
    /// See [`with_pool`](Self::with_pool).
    #[must_use]
    pub fn connections(&self) -> Option<NonZeroUsize> {
        self.inner.pool.as_ref().map(|pool| pool.connections)
    }

    /// Queries (reads and writes) waiting for a free connection right now.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleSource, MockDatabase};
    /// use std::num::NonZeroUsize;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let db = MockDatabase::with_pool(NonZeroUsize::MIN, Duration::from_millis(5));
    /// let reads = tokio::spawn({
    ///     let db = db.clone();
    ///     async move { tokio::join!(db.article(1), db.article(2), db.article(3)) }
    /// });
    /// db.queries_started(1).await;
    /// assert_eq!((db.in_flight(), db.waiting()), (1, 2));
    /// let (a, b, c) = reads.await.unwrap();
    /// assert!(a.is_ok() && b.is_ok() && c.is_ok());
    /// assert_eq!(db.waiting(), 0);
    /// # }
    /// ```
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.inner
            .pool
            .as_ref()
            .map_or(0, |pool| pool.waiting.load(Ordering::SeqCst))
    }

    /// Reads running right now (holding a connection, for a pooled mock).
    ///
    /// # Examples
    ///
    /// ```
    /// let db = examples::MockDatabase::new(std::time::Duration::ZERO);
    /// assert_eq!(db.in_flight(), 0);
    /// ```
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// The most reads that were ever running at once (never more than the pool's connections).
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleSource, MockDatabase};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let db = MockDatabase::new(std::time::Duration::from_millis(1));
    /// let (a, b) = tokio::join!(db.article(1), db.article(2));
    /// assert!(a.is_ok() && b.is_ok());
    /// assert_eq!(db.max_in_flight(), 2);
    /// # }
    /// ```
    #[must_use]
    pub fn max_in_flight(&self) -> usize {
        self.inner.max_in_flight.load(Ordering::SeqCst)
    }

    /// Writes that were made.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleSource, ArticleUpdate, MockDatabase};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), examples::Error> {
    /// let db = MockDatabase::new(std::time::Duration::ZERO);
    /// let update = ArticleUpdate { title: "T".into(), body: "B".into() };
    /// assert_eq!(db.put_article(3, update).await?.version, 2);
    /// assert_eq!(db.writes(), 1);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn writes(&self) -> u64 {
        self.inner.writes.load(Ordering::SeqCst)
    }

    /// Waits until at least `count` reads have started since the mock was made.
    ///
    /// This is how a test learns that a load is in flight without sleeping.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{ArticleSource, MockDatabase};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let db = MockDatabase::new(Duration::from_millis(10));
    /// let reader = tokio::spawn({
    ///     let db = db.clone();
    ///     async move { db.article(1).await }
    /// });
    /// db.queries_started(1).await;
    /// assert_eq!(db.in_flight(), 1);
    /// assert!(reader.await.unwrap().is_ok());
    /// # }
    /// ```
    pub async fn queries_started(&self, count: u64) {
        let mut seen = self.inner.started.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = seen.wait_for(|started| *started >= count).await;
    }

    fn row(&self, id: u64) -> Option<Article> {
        let updated = self
            .inner
            .updated
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match updated.get(&id) {
            Some(row) => Some(row.clone()),
            None => (1..=ARTICLE_COUNT)
                .contains(&id)
                .then(|| Article::seeded(id)),
        }
    }
}

/// Keeps a count right even when a query is cancelled mid-way: the count goes down on drop.
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn enter(count: &'a AtomicUsize) -> (Self, usize) {
        let now = count.fetch_add(1, Ordering::SeqCst) + 1;
        (Self(count), now)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl MockDatabase {
    /// Waits for a free connection of a pooled mock; `None` (nothing to hold) without a pool.
    ///
    /// Cancel safe: a caller dropped while waiting leaves the queue and takes no connection.
    async fn connection(&self) -> Result<Option<SemaphorePermit<'_>>, Error> {
        let Some(pool) = &self.inner.pool else {
            return Ok(None);
        };
        let _waiting = Counted::enter(&pool.waiting);
        match pool.free.acquire().await {
            Ok(permit) => Ok(Some(permit)),
            // The semaphore lives as long as the mock and nothing closes it.
            Err(closed) => Err(Error::Internal {
                what: "the mock database's connection pool",
                reason: closed.to_string(),
            }),
        }
    }
}

impl ArticleSource for MockDatabase {
    async fn article(&self, id: u64) -> Result<Option<Article>, Error> {
        let _connection = self.connection().await?;
        let inner = &self.inner;
        let (_in_flight, now) = Counted::enter(&inner.in_flight);
        inner.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let mut query = 0;
        inner.started.send_modify(|started| {
            *started += 1;
            query = *started;
        });
        let fail = inner.failing.load(Ordering::SeqCst)
            || inner
                .failures_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    left.checked_sub(1)
                })
                .is_ok();
        let snapshot = self.row(id);
        tokio::time::sleep(self.latency()).await;
        if fail {
            Err(Error::Injected { query })
        } else {
            Ok(snapshot)
        }
    }

    async fn put_article(&self, id: u64, update: ArticleUpdate) -> Result<Article, Error> {
        let _connection = self.connection().await?;
        tokio::time::sleep(self.latency()).await;
        let mut rows = self
            .inner
            .updated
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let version = match rows.get(&id) {
            Some(old) => old.version + 1,
            None if (1..=ARTICLE_COUNT).contains(&id) => 2,
            None => 1,
        };
        let row = Article {
            id,
            title: update.title,
            body: update.body,
            version,
        };
        rows.insert(id, row.clone());
        drop(rows);
        self.inner.writes.fetch_add(1, Ordering::SeqCst);
        Ok(row)
    }

    fn queries(&self) -> u64 {
        *self.inner.started.borrow()
    }
}
