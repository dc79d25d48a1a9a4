//! [`RedisBagpipe`]: the limiter, its acquire, and [`Health`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use nodebook_emitter::Emitter;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::builder::OutagePolicy;
use super::permit::{Pending, RedisPermit};
use super::shared::{Shared, jitter};
use super::store::Attempt;
use crate::error::Error;
use crate::event::Event;
use crate::permit::OwnedPermit;

/// Whether a [`RedisBagpipe`] counts its permits in Redis, from
/// [`RedisBagpipe::health`].
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::redis::Health;
///
/// assert_ne!(Health::Connected, Health::Degraded);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Health {
    /// Redis answered the last call: permits come from the shared limit.
    Connected,
    /// Redis has not answered yet, or a call failed or timed out: the
    /// [`OutagePolicy`] applies until a ping answers.
    Degraded,
}

/// A concurrency limit shared by every process that names the same limiter on one Redis
/// (feature `redis`): at most `limit` permits are held at once across all of them, callers
/// wait in one queue in arrival order, with the options of a [`Bagpipe`](crate::Bagpipe).
///
/// A cheap handle: clones share the local queue, the connections and the background tasks.
/// See the [module docs](super) for how it works and what it guarantees.
///
/// # Examples
///
/// ```no_run
/// use nodebook_bagpipe::redis::{OutagePolicy, RedisBagpipe};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let pipe = RedisBagpipe::builder(client, "orders-db", 10)
///     .queue_timeout(Duration::from_secs(1))
///     .outage(OutagePolicy::fallback_share(10, 4))
///     .build()?;
/// let rows = pipe.run(async { "SELECT .." }).await?;
/// assert_eq!(rows, "SELECT ..");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisBagpipe {
    shared: Arc<Shared>,
    /// To the background task; it ends when every handle, permit and waiter is gone.
    releases: mpsc::UnboundedSender<String>,
}

impl RedisBagpipe {
    pub(crate) fn new(shared: Arc<Shared>, releases: mpsc::UnboundedSender<String>) -> Self {
        Self { shared, releases }
    }

    /// Waits for a slot of the shared limit and returns it as a [`RedisPermit`], which frees
    /// it when dropped.
    ///
    /// The caller first takes a place in this process's local queue (at most
    /// [`local_limit`](super::RedisBagpipeBuilder::local_limit) callers go further), then one in
    /// the queue in Redis, which serves every process in arrival order. A grant message wakes
    /// it when its turn comes; it also looks every
    /// [`poll_interval`](super::RedisBagpipeBuilder::poll_interval) in case a message was lost.
    /// While Redis does not answer, the [`OutagePolicy`] decides.
    ///
    /// # Errors
    ///
    /// [`Error::TooMuchAsyncCall`] in `refuse` mode when `queue_length` callers wait (locally
    /// or in Redis), [`Error::QueueTimeout`] when the queue deadline passed,
    /// [`Error::Unavailable`] when Redis does not answer and the policy is
    /// [`FailClosed`](OutagePolicy::FailClosed).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves both queues. If it held a place, or a slot granted a moment
    /// before, in Redis, the background task removes it at once (handing a slot on to the next
    /// waiter), without waiting; if Redis does not answer, the place or slot ends with its
    /// lease. No waiter is stuck behind it.
    ///
    /// # Examples
    ///
    /// See [`RedisPermit`].
    pub async fn acquire(&self) -> Result<RedisPermit, Error> {
        let Some(queue_timeout) = self.shared.settings.queue_timeout else {
            return self.wait().await;
        };
        tokio::time::timeout(queue_timeout, self.wait())
            .await
            .unwrap_or(Err(Error::QueueTimeout { queue_timeout }))
    }

    async fn wait(&self) -> Result<RedisPermit, Error> {
        let front = self.shared.front.acquire_owned().await?;
        if !self.shared.redis_up() {
            return self.outage(front).await;
        }
        let mut pending = Pending::new(&self.shared, &self.releases);
        let mailbox = self.shared.waiters.register(pending.id());
        let settings = &self.shared.settings;
        let mut first = true;
        loop {
            pending.sent = Instant::now();
            let attempt = self
                .shared
                .store
                .attempt(pending.id(), settings.queue_length, settings.refuse, first)
                .await;
            first = false;
            match attempt {
                Ok(Attempt::Granted(granted)) => {
                    return Ok(RedisPermit::redis(pending, granted, front));
                }
                Ok(Attempt::Refused { queued }) => {
                    pending.refused();
                    return Err(Error::TooMuchAsyncCall {
                        limit: settings.limit,
                        queue_length: settings.queue_length,
                        queued: usize::try_from(queued).unwrap_or(usize::MAX),
                    });
                }
                Ok(Attempt::Queued { .. }) => {
                    tokio::select! {
                        () = mailbox.woken() => {}
                        () = tokio::time::sleep(jitter(settings.poll_interval)) => {}
                    }
                    if let Some(granted) = mailbox.take() {
                        return Ok(RedisPermit::redis(pending, granted, front));
                    }
                    if !self.shared.redis_up() {
                        drop(pending);
                        return self.outage(front).await;
                    }
                }
                Err(failure) => {
                    self.shared.failed(&failure);
                    drop(pending);
                    return self.outage(front).await;
                }
            }
        }
    }

    /// Redis does not answer: the policy decides.
    async fn outage(&self, front: OwnedPermit) -> Result<RedisPermit, Error> {
        let (shared, releases) = (Arc::clone(&self.shared), self.releases.clone());
        match (self.shared.settings.outage, &self.shared.fallback) {
            (OutagePolicy::FailOpen, _) => Ok(RedisPermit::open(shared, releases, front)),
            (OutagePolicy::Fallback { .. }, Some(fallback)) => {
                let local = fallback.acquire_owned().await?;
                Ok(RedisPermit::fallback(shared, releases, front, local))
            }
            _ => Err(Error::Unavailable {
                cause: self
                    .shared
                    .last_error()
                    .unwrap_or_else(|| "Redis did not answer".to_string()),
            }),
        }
    }

    /// Runs `call` once it holds a slot of the shared limit, and returns its output; the
    /// slot is released when it ends. It may borrow (no `'static`, no `Send`).
    ///
    /// # Errors
    ///
    /// As [`acquire`](Self::acquire), and [`Error::Timeout`] when the call ran past the
    /// builder's [`timeout`](super::RedisBagpipeBuilder::timeout) (it is cancelled).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it waits is as dropping [`acquire`](Self::acquire)'s; while
    /// the call runs, it drops the call and releases the slot.
    ///
    /// # Examples
    ///
    /// See [`RedisBagpipe`].
    pub async fn run<F: Future>(&self, call: F) -> Result<F::Output, Error> {
        let permit = self.acquire().await?;
        let output = match self.shared.settings.timeout {
            Some(timeout) => tokio::time::timeout(timeout, call)
                .await
                .map_err(|_| Error::Timeout { timeout })?,
            None => call.await,
        };
        permit.release().await;
        Ok(output)
    }

    /// The limit shared by every process.
    ///
    /// # Examples
    ///
    /// See [`RedisBagpipe::builder`].
    #[must_use]
    pub fn limit(&self) -> usize {
        self.shared.settings.limit
    }

    /// The limiter's name: processes that name the same limiter share its limit.
    ///
    /// # Examples
    ///
    /// See [`RedisBagpipe::builder`].
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// How many permits of the shared limit this process holds now.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::redis::RedisBagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:1")?;
    /// let pipe = RedisBagpipe::builder(client, "orders-db", 10).build()?;
    /// assert_eq!(pipe.held(), 0);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn held(&self) -> usize {
        self.shared.held_leases().len()
    }

    /// Whether permits come from Redis now or from the [`OutagePolicy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::redis::{Health, RedisBagpipe};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:1")?;
    /// let pipe = RedisBagpipe::builder(client, "orders-db", 10).build()?;
    /// assert_eq!(pipe.health(), Health::Degraded, "not connected yet");
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn health(&self) -> Health {
        *self.shared.health.borrow()
    }

    /// A receiver that sees every change of [`health`](Self::health), to report outages.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use nodebook_bagpipe::redis::{Health, RedisBagpipe};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let pipe = RedisBagpipe::builder(client, "orders-db", 10).build()?;
    /// let mut health = pipe.health_changes();
    /// health.wait_for(|h| *h == Health::Connected).await?;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn health_changes(&self) -> watch::Receiver<Health> {
        self.shared.health.subscribe()
    }

    /// The last error a Redis call returned, for logs.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::redis::RedisBagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:1")?;
    /// let pipe = RedisBagpipe::builder(client, "orders-db", 10).build()?;
    /// assert_eq!(pipe.last_redis_error(), None, "no call yet");
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn last_redis_error(&self) -> Option<String> {
        self.shared.last_error()
    }

    /// The emitter of the local queue's events ([`Event::Full`], [`Event::Drain`]) and of
    /// [`Event::LeaseLost`], under their names (`"lease_lost"`).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Event;
    /// use nodebook_bagpipe::redis::RedisBagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:1")?;
    /// let pipe = RedisBagpipe::builder(client, "orders-db", 10).build()?;
    /// pipe.events().on(Event::LEASE_LOST, |event: &Event| {
    ///     eprintln!("a holder outlived its lease: {event:?}");
    /// });
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn events(&self) -> &Emitter<Event> {
        self.shared.front.events()
    }
}

impl fmt::Debug for RedisBagpipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBagpipe")
            .field("name", &self.shared.name)
            .field("limit", &self.limit())
            .field("held", &self.held())
            .field("health", &self.health())
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}
