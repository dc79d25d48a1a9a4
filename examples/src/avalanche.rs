//! The avalanche of the book's section 4.2.1, measured: a crowd of callers asks a database of
//! finite capacity for one cold key, without a guard, through the once-queue, and through the
//! once-queue with a cache in front of it.
//!
//! The tour prints this scene and the tests run it on tokio's paused clock, so both tell the same
//! story with the same code.

use std::future::Future;
use std::num::NonZeroUsize;
use std::time::Duration;

use futures::future::join_all;
use nodebook_cache::{LimitableMap, OnceQueue};
use tokio::time::Instant;

use crate::{Article, ArticleSource, Error, MockDatabase};

/// A crowd: how many callers ask for one article at the same moment, and how long each waits
/// before giving up (a request's deadline).
///
/// # Examples
///
/// ```
/// use examples::{Crowd, MockDatabase};
/// use std::num::NonZeroUsize;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let four = NonZeroUsize::new(4).expect("not zero");
/// let db = MockDatabase::with_pool(four, Duration::from_millis(5));
/// let crowd = Crowd { callers: 100, article: 1, patience: Duration::from_secs(1) };
///
/// let report = crowd.unguarded(&db).await;
/// assert_eq!(report.queries, 100);
/// assert_eq!(report.slowest, Duration::from_millis(125)); // 100 / 4 rounds of 5 ms
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crowd {
    /// Callers that ask at once.
    pub callers: usize,
    /// The article every caller asks for.
    pub article: u64,
    /// How long a caller waits for its answer before it gives up and counts as timed out.
    pub patience: Duration,
}

/// What one crowd went through: outcomes, queries and how long the callers waited.
///
/// A caller's wait runs from the moment the crowd arrives to its answer, or to the moment it gave
/// up; the percentiles count every caller, the ones that gave up included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrowdReport {
    /// Callers in the crowd.
    pub callers: usize,
    /// Callers that got the article.
    pub answered: usize,
    /// Callers that gave up after their patience ran out.
    pub timed_out: usize,
    /// Callers that got an error.
    pub failed: usize,
    /// Queries that reached the database while the crowd was served (a query whose caller gave
    /// up as it got its connection counts too).
    pub queries: u64,
    /// The median wait.
    pub p50: Duration,
    /// The wait that 99 % of the callers did not exceed.
    pub p99: Duration,
    /// The longest wait: the last caller's.
    pub slowest: Duration,
    /// From the crowd's arrival to its last caller's answer or give-up.
    pub wall: Duration,
}

/// Which caller outcome a [`CrowdReport`] counts.
enum Outcome {
    Answered,
    Failed,
    TimedOut,
}

impl Crowd {
    /// Every caller queries `db` itself: the avalanche.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops every caller's query.
    ///
    /// # Examples
    ///
    /// See [`Crowd`].
    pub async fn unguarded<S: ArticleSource>(&self, db: &S) -> CrowdReport {
        let id = self.article;
        self.measure(db, || async move { found(id, db.article(id).await) })
            .await
    }

    /// Every caller goes through `queue`: the first one queries `db`, the others join its load.
    ///
    /// The queue keeps nothing once the load is over, so the next crowd queries again.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the callers; the load itself finishes on its own task.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{Crowd, MockDatabase};
    /// use nodebook_cache::OnceQueue;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let db = MockDatabase::with_pool(std::num::NonZeroUsize::MIN, Duration::from_millis(5));
    /// let crowd = Crowd { callers: 100, article: 1, patience: Duration::from_secs(1) };
    /// let queue = OnceQueue::new();
    ///
    /// let report = crowd.through_once_queue(&db, &queue).await;
    /// assert_eq!((report.answered, report.queries), (100, 1));
    /// assert_eq!(report.slowest, Duration::from_millis(5));
    /// # }
    /// ```
    pub async fn through_once_queue<S: ArticleSource>(
        &self,
        db: &S,
        queue: &OnceQueue<u64, Article, Error>,
    ) -> CrowdReport {
        let id = self.article;
        self.measure(db, || {
            let db = db.clone();
            queue.run(id, move || async move { found(id, db.article(id).await) })
        })
        .await
    }

    /// Every caller reads `cache` first and, on a miss, goes through its once-queue
    /// ([`LimitableMap::get_or_load`]): the first crowd runs one query, the next none.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the callers; the load itself finishes on its own task and fills
    /// the cache.
    ///
    /// # Examples
    ///
    /// ```
    /// use examples::{Crowd, MockDatabase};
    /// use nodebook_cache::LimitableMap;
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let db = MockDatabase::with_pool(std::num::NonZeroUsize::MIN, Duration::from_millis(5));
    /// let crowd = Crowd { callers: 100, article: 1, patience: Duration::from_secs(1) };
    /// let cache = LimitableMap::new(16)?;
    ///
    /// assert_eq!(crowd.through_cache(&db, &cache).await.queries, 1);
    /// let next = crowd.through_cache(&db, &cache).await;
    /// assert_eq!((next.answered, next.queries), (100, 0));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn through_cache<S: ArticleSource>(
        &self,
        db: &S,
        cache: &LimitableMap<u64, Article>,
    ) -> CrowdReport {
        let id = self.article;
        self.measure(db, || {
            let db = db.clone();
            cache.get_or_load(id, move || async move { found(id, db.article(id).await) })
        })
        .await
    }

    /// Lets the whole crowd call at once, each caller under its patience, and measures it.
    async fn measure<S, F, Fut, T, E>(&self, db: &S, mut call: F) -> CrowdReport
    where
        S: ArticleSource,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let queries_before = db.queries();
        let arrival = Instant::now();
        let callers = (0..self.callers).map(|_| {
            let answer = tokio::time::timeout(self.patience, call());
            async move {
                let outcome = match answer.await {
                    Ok(Ok(_)) => Outcome::Answered,
                    Ok(Err(_)) => Outcome::Failed,
                    Err(_) => Outcome::TimedOut,
                };
                (outcome, arrival.elapsed())
            }
        });
        let finished = join_all(callers).await;
        let wall = arrival.elapsed();

        let count = |wanted: fn(&Outcome) -> bool| finished.iter().filter(|f| wanted(&f.0)).count();
        let mut waits: Vec<Duration> = finished.iter().map(|(_, waited)| *waited).collect();
        waits.sort_unstable();
        CrowdReport {
            callers: self.callers,
            answered: count(|o| matches!(o, Outcome::Answered)),
            timed_out: count(|o| matches!(o, Outcome::TimedOut)),
            failed: count(|o| matches!(o, Outcome::Failed)),
            queries: db.queries() - queries_before,
            p50: percentile(&waits, 50),
            p99: percentile(&waits, 99),
            slowest: waits.last().copied().unwrap_or_default(),
            wall,
        }
    }
}

/// A missing row is an error for the crowd: every caller asked for an article that exists.
fn found(id: u64, row: Result<Option<Article>, Error>) -> Result<Article, Error> {
    row?.ok_or(Error::NotFound { id })
}

/// The nearest-rank percentile of sorted `waits` (zero for an empty crowd).
fn percentile(waits: &[Duration], percent: usize) -> Duration {
    let rank = (waits.len() * percent).div_ceil(100).max(1);
    waits.get(rank - 1).copied().unwrap_or_default()
}

/// The whole scene: one database of finite capacity and the same crowd served five ways.
///
/// Each way gets a fresh database, so its query count is its own.
///
/// # Examples
///
/// ```
/// use examples::{Avalanche, Crowd};
/// use std::num::NonZeroUsize;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), examples::Error> {
/// let scene = Avalanche {
///     connections: NonZeroUsize::new(4).expect("not zero"),
///     query_cost: Duration::from_millis(5),
///     crowd: Crowd { callers: 400, article: 1, patience: Duration::from_secs(1) },
/// };
/// let report = scene.run().await?;
/// assert_eq!(report.unguarded.queries, 400);
/// assert_eq!(report.once_queue.queries, 1);
/// assert_eq!(report.cached_again.queries, 0);
/// assert!(report.guard_wins());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Avalanche {
    /// The database's connections: queries beyond them wait for one.
    pub connections: NonZeroUsize,
    /// How long a query holds its connection.
    pub query_cost: Duration,
    /// The crowd that arrives on a cold key.
    pub crowd: Crowd,
}

/// The five crowds of an [`Avalanche`], side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvalancheReport {
    /// Every caller queries the database.
    pub unguarded: CrowdReport,
    /// The crowd through the once-queue alone.
    pub once_queue: CrowdReport,
    /// A second crowd through the same once-queue after the first was answered.
    pub once_queue_again: CrowdReport,
    /// The crowd through the once-queue with a cache (`get_or_load`) on a cold cache.
    pub cached: CrowdReport,
    /// A second crowd through the same cache, now warm.
    pub cached_again: CrowdReport,
}

impl Avalanche {
    /// Serves the crowd without a guard, through the once-queue (twice) and through the
    /// once-queue with a cache (twice), each on a fresh pooled [`MockDatabase`].
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] if the cache cannot be built (it never fails for the limit used here).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the crowd being served; loads already started finish on their
    /// own tasks.
    ///
    /// # Examples
    ///
    /// See [`Avalanche`].
    pub async fn run(&self) -> Result<AvalancheReport, Error> {
        let database = || MockDatabase::with_pool(self.connections, self.query_cost);
        let crowd = self.crowd;

        let unguarded = crowd.unguarded(&database()).await;

        let db = database();
        let queue = OnceQueue::new();
        let once_queue = crowd.through_once_queue(&db, &queue).await;
        let once_queue_again = crowd.through_once_queue(&db, &queue).await;

        let db = database();
        let cache = LimitableMap::new(16).map_err(|err| Error::Internal {
            what: "the cache",
            reason: err.to_string(),
        })?;
        let cached = crowd.through_cache(&db, &cache).await;
        let cached_again = crowd.through_cache(&db, &cache).await;

        Ok(AvalancheReport {
            unguarded,
            once_queue,
            once_queue_again,
            cached,
            cached_again,
        })
    }
}

impl AvalancheReport {
    /// Whether the measured figures bear the scene's claim out: the guarded crowd is answered in
    /// full by one query and its last caller waits less than the unguarded crowd's last caller
    /// (who may have given up), and the cache answers the first crowd with one query and the
    /// next with none.
    ///
    /// # Examples
    ///
    /// See [`Avalanche`].
    #[must_use]
    pub fn guard_wins(&self) -> bool {
        let guarded = &self.once_queue;
        let every_caller_answered = |crowd: &CrowdReport| crowd.answered == crowd.callers;
        every_caller_answered(guarded)
            && guarded.queries == 1
            && guarded.slowest < self.unguarded.slowest
            && every_caller_answered(&self.cached)
            && self.cached.queries == 1
            && every_caller_answered(&self.cached_again)
            && self.cached_again.queries == 0
    }
}
