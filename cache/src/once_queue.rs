//! [`OnceQueue`]: one load per key at a time, shared by every caller that asks meanwhile.

use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::error::Error;
use crate::flight::Flights;
use crate::stats::LoadStats;

/// What happens to a load when every caller waiting on it has left (dropped its future, for
/// example on a timeout).
///
/// # Examples
///
/// ```
/// use nodebook_cache::{AbandonPolicy, OnceQueue};
///
/// let queue: OnceQueue<u32, String, std::io::Error> =
///     OnceQueue::with_policy(AbandonPolicy::CancelLoad);
/// assert_eq!(queue.policy(), AbandonPolicy::CancelLoad);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AbandonPolicy {
    /// The load runs to the end anyway (the default). Its result goes to whoever is still
    /// waiting and, for [`LimitableMap::get_or_load`](crate::LimitableMap::get_or_load), into
    /// the map, so callers whose timeout is shorter than the load still fill the cache.
    #[default]
    KeepLoading,
    /// The load's task is aborted as soon as its last waiter leaves; the next call starts a
    /// fresh load. Use it when an unwanted result is not worth the backend's work.
    CancelLoad,
}

/// The book's once-queue (section 4.2.1): concurrent calls for the same key while a load is in
/// flight share that one load and all get its result.
///
/// In the book, a crowd asking for the same SQL while the cache is cold would each send the
/// query (a *cache avalanche*); the once-queue lets the first one query and puts the others in
/// an `EventEmitter.once` queue for its result. Here:
///
/// - [`run`](Self::run)`(key, loader)` starts `loader()` when no load for `key` is in flight and
///   joins the running one otherwise. Calls for different keys never wait for each other.
/// - The load runs **detached** on the tokio runtime, not inside any caller's future: a caller
///   that is cancelled or times out simply leaves, and the load goes on for the others. Nobody
///   restarts it from scratch (the trap of moka's `get_with`, moka#240, and quick_cache, where
///   callers with a timeout shorter than the load never fill the cache). See
///   [`AbandonPolicy`] for what happens when *every* caller has left.
/// - An error goes to every caller waiting on that load, shared as [`Error::Load`]`(Arc<E>)`,
///   and is not remembered: the next call starts a fresh load. A panicking loader gives every
///   waiter [`Error::LoaderPanicked`]; nobody hangs and nothing is left behind.
///
/// The queue stores no results: once a load has finished, the next call loads again. To keep
/// results, use [`LimitableMap::get_or_load`](crate::LimitableMap::get_or_load), which puts
/// this queue in front of a bounded map.
///
/// `OnceQueue` is a handle: clones share the same in-flight table. It is `Send + Sync`.
///
/// Node name: the book's `proxy.once("selected", callback)` with its `status` flag.
///
/// # Examples
///
/// The book's scenario: many requests for one query at once run it once.
///
/// ```
/// use nodebook_cache::OnceQueue;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let queue: OnceQueue<&str, Arc<str>, std::io::Error> = OnceQueue::new();
/// let queries = Arc::new(AtomicUsize::new(0));
/// let select = |sql: &'static str| {
///     let queries = Arc::clone(&queries);
///     move || async move {
///         queries.fetch_add(1, Ordering::SeqCst);
///         tokio::time::sleep(Duration::from_millis(5)).await; // the database
///         Ok(Arc::from(format!("rows of {sql}")))
///     }
/// };
/// let sql = "SELECT * FROM table";
/// let (a, b, c) = tokio::join!(
///     queue.run(sql, select(sql)),
///     queue.run(sql, select(sql)),
///     queue.run(sql, select(sql)),
/// );
/// assert_eq!(&*a.unwrap(), "rows of SELECT * FROM table");
/// assert_eq!(b.unwrap(), c.unwrap());
/// assert_eq!(queries.load(Ordering::SeqCst), 1);
/// # }
/// ```
pub struct OnceQueue<K, V, E> {
    flights: Arc<Flights<K>>,
    _types: PhantomData<fn() -> (V, E)>,
}

impl<K, V, E> OnceQueue<K, V, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    /// A queue with no load in flight and the [`AbandonPolicy::KeepLoading`] policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::OnceQueue;
    ///
    /// let queue: OnceQueue<String, u64, std::io::Error> = OnceQueue::new();
    /// assert_eq!(queue.in_flight(), 0);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::with_policy(AbandonPolicy::default())
    }

    /// A queue that treats abandoned loads by `policy`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::{AbandonPolicy, OnceQueue};
    ///
    /// let queue: OnceQueue<String, u64, std::io::Error> =
    ///     OnceQueue::with_policy(AbandonPolicy::CancelLoad);
    /// assert_eq!(queue.policy(), AbandonPolicy::CancelLoad);
    /// ```
    #[must_use]
    pub fn with_policy(policy: AbandonPolicy) -> Self {
        Self {
            flights: Arc::new(Flights::new(policy)),
            _types: PhantomData,
        }
    }

    /// Runs `loader` for `key`, or joins the load for `key` already in flight, and returns its
    /// result.
    ///
    /// `loader` is called only if this call starts the load, and then on the runtime's task,
    /// not here; write the work inside the future it returns (the closure must be lazy: an
    /// `async` block, not a future built before the call).
    ///
    /// A loader that calls `run` on this queue for its own key gets [`Error::Reentrant`]
    /// instead of waiting for itself.
    ///
    /// # Errors
    ///
    /// - [`Error::Load`] with the loader's error, shared by every caller of that load.
    /// - [`Error::LoaderPanicked`] if the loader panicked.
    /// - [`Error::LoadCancelled`] if the load's task was stopped before it finished (runtime
    ///   shutting down, or aborted under [`AbandonPolicy::CancelLoad`] just as this caller
    ///   joined).
    /// - [`Error::NoRuntime`] if a load had to start outside a tokio runtime.
    /// - [`Error::Reentrant`] if called from this key's own loader.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future only removes this caller from the waiters: the load
    /// keeps running for the others (and, under [`AbandonPolicy::CancelLoad`], is aborted if
    /// this was the last waiter). A future dropped before its first poll has done nothing.
    ///
    /// # Examples
    ///
    /// Errors are shared, then forgotten:
    ///
    /// ```
    /// use nodebook_cache::{Error, OnceQueue};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let queue: OnceQueue<u32, u32, String> = OnceQueue::new();
    /// let err = queue.run(7, || async { Err("backend down".to_string()) }).await;
    /// assert!(matches!(err, Err(Error::Load(e)) if *e == "backend down"));
    /// // Nothing failing is remembered: the next call loads again.
    /// assert_eq!(queue.run(7, || async { Ok(49) }).await.unwrap(), 49);
    /// # }
    /// ```
    pub async fn run<F, Fut>(&self, key: K, loader: F) -> Result<V, Error<E>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<V, E>> + Send + 'static,
    {
        self.flights
            .run(
                key,
                loader,
                |_: &K| None,
                |_: &K, _: &Result<V, Error<E>>| || (),
            )
            .await
    }

    /// Detaches the load in flight for `key`, if any, and returns whether there was one.
    ///
    /// The detached load still runs and still answers the callers already waiting on it; the
    /// next `run` for `key` starts a fresh load instead of joining it (Go's
    /// `singleflight.Forget`).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::OnceQueue;
    ///
    /// let queue: OnceQueue<u32, u32, String> = OnceQueue::new();
    /// assert!(!queue.forget(&1));
    /// ```
    pub fn forget(&self, key: &K) -> bool {
        self.flights.forget(key)
    }

    /// Whether a load for `key` is in flight (and not forgotten).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::OnceQueue;
    ///
    /// let queue: OnceQueue<u32, u32, String> = OnceQueue::new();
    /// assert!(!queue.is_loading(&1));
    /// ```
    #[must_use]
    pub fn is_loading(&self, key: &K) -> bool {
        self.flights.is_loading(key)
    }

    /// How many loads are in flight (and not forgotten).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::OnceQueue;
    ///
    /// let queue: OnceQueue<u32, u32, String> = OnceQueue::new();
    /// assert_eq!(queue.in_flight(), 0);
    /// ```
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.flights.in_flight()
    }

    /// The policy for loads whose callers have all left.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::{AbandonPolicy, OnceQueue};
    ///
    /// let queue: OnceQueue<u32, u32, String> = OnceQueue::new();
    /// assert_eq!(queue.policy(), AbandonPolicy::KeepLoading);
    /// ```
    #[must_use]
    pub fn policy(&self) -> AbandonPolicy {
        self.flights.policy()
    }

    /// The queue's counters: loads started, joined, succeeded, failed, panicked, cancelled.
    ///
    /// A load is counted just after its result is published, so for a moment after it has left
    /// [`in_flight`](Self::in_flight) its outcome may not be counted yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_cache::OnceQueue;
    ///
    /// let queue: OnceQueue<u32, u32, String> = OnceQueue::new();
    /// assert_eq!(queue.stats().started, 0);
    /// ```
    #[must_use]
    pub fn stats(&self) -> LoadStats {
        self.flights.stats()
    }
}

impl<K, V, E> Default for OnceQueue<K, V, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, E> Clone for OnceQueue<K, V, E> {
    fn clone(&self) -> Self {
        Self {
            flights: Arc::clone(&self.flights),
            _types: PhantomData,
        }
    }
}

impl<K, V, E> fmt::Debug for OnceQueue<K, V, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceQueue")
            .field("in_flight", &self.flights.in_flight())
            .field("policy", &self.flights.policy())
            .finish_non_exhaustive()
    }
}
