//! [`RedisBagpipeBuilder`]: the options of a [`RedisBagpipe`], [`OutagePolicy`] and
//! [`BuildError`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;

use super::background::{Keeper, Listener};
use super::limiter::RedisBagpipe;
use super::shared::{Settings, Shared};
use super::store::Store;
use crate::bagpipe::Bagpipe;

/// What a [`RedisBagpipe`] does while Redis does not answer (refused, killed, restarting,
/// slower than [`redis_timeout`](RedisBagpipeBuilder::redis_timeout)). Chosen with
/// [`RedisBagpipeBuilder::outage`]; [`FailClosed`](OutagePolicy::FailClosed) by default.
///
/// Whichever is chosen, a background task pings Redis every heartbeat and the limiter goes
/// back to the shared limit as soon as it answers. Permits granted during the outage stay
/// what they are until dropped: they are not counted in Redis, so while they finish after
/// Redis returns, the processes may run up to their fallback (or, failing open, their local)
/// limit on top of the global one.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::redis::OutagePolicy;
///
/// // 4 replicas share a limit of 10: each runs at most 2 while Redis is away.
/// assert_eq!(OutagePolicy::fallback_share(10, 4), OutagePolicy::Fallback { limit: 2 });
/// assert_eq!(OutagePolicy::default(), OutagePolicy::FailClosed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OutagePolicy {
    /// Refuse: every acquire fails at once with
    /// [`Error::Unavailable`](crate::Error::Unavailable), naming Redis's error. For a backend
    /// that must never see more than the limit.
    #[default]
    FailClosed,
    /// No global limit: every acquire that passes the local queue in front (at most
    /// [`local_limit`](RedisBagpipeBuilder::local_limit) per process) is granted. For work
    /// where availability matters more than the backend's protection.
    FailOpen,
    /// A local limit of `limit` permits per process, as a plain [`Bagpipe`] would count them;
    /// typically the global limit divided by the expected replicas
    /// ([`fallback_share`](OutagePolicy::fallback_share)).
    Fallback {
        /// The permits each process may hold while Redis is away.
        limit: usize,
    },
}

impl OutagePolicy {
    /// [`Fallback`](OutagePolicy::Fallback) with this process's share of `global`: `global /
    /// replicas`, at least 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::redis::OutagePolicy;
    ///
    /// assert_eq!(OutagePolicy::fallback_share(10, 3), OutagePolicy::Fallback { limit: 3 });
    /// assert_eq!(OutagePolicy::fallback_share(2, 8), OutagePolicy::Fallback { limit: 1 });
    /// ```
    #[must_use]
    pub fn fallback_share(global: usize, replicas: usize) -> Self {
        Self::Fallback {
            limit: (global / replicas.max(1)).max(1),
        }
    }
}

/// Why a [`RedisBagpipe`] could not be built.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::redis::{BuildError, RedisBagpipe};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let err = RedisBagpipe::builder(client, "db", 10)
///     .lease(Duration::from_secs(1))
///     .poll_interval(Duration::from_secs(2))
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, BuildError::PollOutlivesLease { .. }));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The name is empty; name each limit after what it protects, such as `"orders-db"`.
    #[error("the limiter's name must not be empty")]
    EmptyName,
    /// A limit was 0 (`option` says which): nothing could ever run. Pick at least 1.
    #[error("{option} must be at least 1, got 0")]
    ZeroLimit {
        /// The option given 0.
        option: &'static str,
    },
    /// A duration option was zero; every such option needs a positive duration.
    #[error("{option} must be greater than zero")]
    ZeroDuration {
        /// The builder method given zero.
        option: &'static str,
    },
    /// Waiters renew their place in the queue each time they poll; polling less often than
    /// half a lease would let live waiters expire. Shorten `poll_interval` or lengthen `lease`.
    #[error("poll_interval ({poll:?}) must be at most half the lease ({lease:?})")]
    PollOutlivesLease {
        /// The polling interval asked for.
        poll: Duration,
        /// The lease asked for.
        lease: Duration,
    },
    /// `build` was called outside a tokio runtime, where the limiter's background tasks run.
    #[error("no tokio runtime: build the limiter from within a tokio runtime")]
    NoRuntime,
    /// The Redis client refused the connection settings.
    #[error("redis client: {0}")]
    Redis(#[source] redis::RedisError),
}

/// Builds a [`RedisBagpipe`]; from [`RedisBagpipe::builder`].
///
/// | option | default | meaning |
/// |---|---|---|
/// | [`queue_length`](Self::queue_length) | the limit | waiters before `refuse` turns calls away |
/// | [`refuse`](Self::refuse) | off | refuse instead of queueing past `queue_length` |
/// | [`timeout`](Self::timeout) | none | execution timeout of [`run`](RedisBagpipe::run) |
/// | [`queue_timeout`](Self::queue_timeout) | none | how long an acquire may wait |
/// | [`local_limit`](Self::local_limit) | the limit | permits this process may hold or seek at once |
/// | [`lease`](Self::lease) | 10 s | how long a dead process's permit stays counted |
/// | [`redis_timeout`](Self::redis_timeout) | 250 ms | bound on every Redis call |
/// | [`poll_interval`](Self::poll_interval) | 200 ms | a waiter's look at Redis without a message |
/// | [`heartbeat`](Self::heartbeat) | 500 ms | subscription ping, and outage probe |
/// | [`outage`](Self::outage) | [`FailClosed`](OutagePolicy::FailClosed) | Redis away |
#[must_use = "a builder does nothing until `build` is called"]
pub struct RedisBagpipeBuilder {
    client: redis::Client,
    name: String,
    settings: Settings,
    queue_length: Option<usize>,
    local_limit: Option<usize>,
    redis_timeout: Duration,
}

impl RedisBagpipe {
    /// A builder for a limit of `limit` permits shared by every process that builds a
    /// `RedisBagpipe` named `name` on the same Redis (keys `bagpipe:{name}:*`). Give every
    /// process the same limit and lease: each script counts against the limit its caller
    /// passes.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::redis::RedisBagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:1")?; // nobody listens there
    /// let pipe = RedisBagpipe::builder(client, "orders-db", 10).build()?;
    /// assert_eq!((pipe.limit(), pipe.name()), (10, "orders-db"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(
        client: redis::Client,
        name: impl Into<String>,
        limit: usize,
    ) -> RedisBagpipeBuilder {
        RedisBagpipeBuilder {
            client,
            name: name.into(),
            settings: Settings {
                limit,
                queue_length: limit,
                refuse: false,
                timeout: None,
                queue_timeout: None,
                lease: Duration::from_secs(10),
                poll_interval: Duration::from_millis(200),
                heartbeat: Duration::from_millis(500),
                outage: OutagePolicy::FailClosed,
            },
            queue_length: None,
            local_limit: None,
            redis_timeout: Duration::from_millis(250),
        }
    }
}

/// The examples of the builder's options.
macro_rules! option_example {
    ($call:literal) => {
        concat!(
            "# Examples\n\n```\n# #![allow(unused_imports)]\n",
            "use nodebook_bagpipe::redis::{OutagePolicy, RedisBagpipe};\n",
            "use std::time::Duration;\n\n",
            "# #[tokio::main(flavor = \"current_thread\")]\n",
            "# async fn main() -> Result<(), Box<dyn std::error::Error>> {\n",
            "let client = redis::Client::open(\"redis://127.0.0.1:6379\")?;\n",
            "let pipe = RedisBagpipe::builder(client, \"orders-db\", 10)\n    ",
            $call,
            "\n    .build()?;\n# let _ = pipe;\n# Ok(())\n# }\n```"
        )
    };
}

impl RedisBagpipeBuilder {
    /// How many callers may wait, across every process, before `refuse` mode turns new ones
    /// away with [`Error::TooMuchAsyncCall`](crate::Error::TooMuchAsyncCall). Counted twice:
    /// in Redis for the callers waiting there, and in this process's local queue in front.
    /// Defaults to the limit, as for [`Bagpipe`].
    ///
    #[doc = option_example!(".queue_length(40).refuse(true)")]
    pub fn queue_length(mut self, queue_length: usize) -> Self {
        self.queue_length = Some(queue_length);
        self
    }

    /// Refuse calls while `queue_length` callers wait, instead of queueing them. Off by
    /// default.
    ///
    #[doc = option_example!(".refuse(true)")]
    pub fn refuse(mut self, refuse: bool) -> Self {
        self.settings.refuse = refuse;
        self
    }

    /// The execution timeout of each [`run`](RedisBagpipe::run), from the moment it holds
    /// its permit: the call is cancelled and fails with
    /// [`Error::Timeout`](crate::Error::Timeout). None by default; it does not apply to
    /// permits.
    ///
    #[doc = option_example!(".timeout(Duration::from_secs(3))")]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// How long an acquire may wait (in the local queue and in Redis together) before it
    /// gives up with [`Error::QueueTimeout`](crate::Error::QueueTimeout), leaving the queue.
    /// None by default.
    ///
    #[doc = option_example!(".queue_timeout(Duration::from_millis(500))")]
    pub fn queue_timeout(mut self, queue_timeout: Duration) -> Self {
        self.settings.queue_timeout = Some(queue_timeout);
        self
    }

    /// How many permits this process holds or seeks in Redis at once; the other callers wait
    /// in a local [`Bagpipe`] in front, in arrival order, so that one replica's burst does not
    /// flood Redis with waiters. Defaults to the global limit (a process can then still use
    /// every slot). Also the limit of a process failing open.
    ///
    #[doc = option_example!(".local_limit(4)")]
    pub fn local_limit(mut self, limit: usize) -> Self {
        self.local_limit = Some(limit);
        self
    }

    /// How long a permit's slot stays counted without being renewed. Held permits renew it
    /// every third of a lease; a process that dies (or stalls for a whole lease) loses its
    /// slots this long after their last renewal, and a holder that finds its lease gone is told
    /// ([`RedisPermit::lease_lost`](super::RedisPermit::lease_lost),
    /// [`Event::LeaseLost`](crate::Event::LeaseLost)). Waiters' places in the queue last
    /// as long.
    ///
    #[doc = option_example!(".lease(Duration::from_secs(5))")]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.settings.lease = lease;
        self
    }

    /// The bound on every Redis call (and on connecting). A call that takes longer counts as
    /// an outage: the [`outage`](Self::outage) policy applies until Redis answers a ping.
    ///
    #[doc = option_example!(".redis_timeout(Duration::from_millis(100))")]
    pub fn redis_timeout(mut self, timeout: Duration) -> Self {
        self.redis_timeout = timeout;
        self
    }

    /// How often a waiter looks at Redis when no grant message arrives (randomized by ±50%);
    /// each look also renews its place in the queue. At most half the lease.
    ///
    #[doc = option_example!(".poll_interval(Duration::from_millis(50))")]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.settings.poll_interval = interval;
        self
    }

    /// How often the background tasks ping the subscription (to find a half-open connection)
    /// and, during an outage, the data connection.
    ///
    #[doc = option_example!(".heartbeat(Duration::from_millis(250))")]
    pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
        self.settings.heartbeat = heartbeat;
        self
    }

    /// What to do while Redis does not answer (see [`OutagePolicy`]).
    ///
    #[doc = option_example!(".outage(OutagePolicy::fallback_share(10, 4))")]
    pub fn outage(mut self, policy: OutagePolicy) -> Self {
        self.settings.outage = policy;
        self
    }

    /// Builds the limiter and starts its background tasks. It does not wait for Redis: the
    /// first acquire connects.
    ///
    /// # Errors
    ///
    /// [`BuildError`]: an empty name, a zero limit or duration, a poll interval longer than
    /// half the lease, no tokio runtime, or connection settings the client refuses.
    ///
    #[doc = option_example!("")]
    pub fn build(self) -> Result<RedisBagpipe, BuildError> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(BuildError::NoRuntime);
        };
        let (shared, client) = self.shared()?;
        let shared = Arc::new(shared);
        let (releases, receiver) = mpsc::unbounded_channel();
        let listener = runtime.spawn(
            Listener {
                shared: Arc::clone(&shared),
                client,
                op_timeout: self.redis_timeout,
            }
            .run(),
        );
        let keeper = Keeper {
            shared: Arc::clone(&shared),
            releases: receiver,
            listener: listener.abort_handle(),
        };
        // The keeper ends once every handle, permit and waiter (each holds a sender) is gone.
        drop(runtime.spawn(keeper.run()));
        Ok(RedisBagpipe::new(shared, releases))
    }

    fn shared(&self) -> Result<(Shared, redis::Client), BuildError> {
        let settings = &self.settings;
        if self.name.is_empty() {
            return Err(BuildError::EmptyName);
        }
        let local_limit = self.local_limit.unwrap_or(settings.limit);
        let fallback_limit = match settings.outage {
            OutagePolicy::Fallback { limit } => Some(limit),
            _ => None,
        };
        for (option, value) in [
            ("limit", settings.limit),
            ("local_limit", local_limit),
            ("the fallback limit", fallback_limit.unwrap_or(1)),
        ] {
            if value == 0 {
                return Err(BuildError::ZeroLimit { option });
            }
        }
        for (option, value) in [
            ("lease", settings.lease),
            ("redis_timeout", self.redis_timeout),
            ("poll_interval", settings.poll_interval),
            ("heartbeat", settings.heartbeat),
        ] {
            if value.is_zero() {
                return Err(BuildError::ZeroDuration { option });
            }
        }
        if settings.poll_interval > settings.lease / 2 {
            return Err(BuildError::PollOutlivesLease {
                poll: settings.poll_interval,
                lease: settings.lease,
            });
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.redis_timeout))
            .set_response_timeout(Some(self.redis_timeout))
            .set_max_delay(settings.heartbeat.max(Duration::from_millis(100)));
        let conn = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(BuildError::Redis)?;
        let queue_length = self.queue_length.unwrap_or(settings.limit);
        let settings = Settings {
            queue_length,
            ..settings.clone()
        };
        let store = Store::new(
            conn,
            self.redis_timeout,
            &self.name,
            settings.limit,
            settings.lease,
        );
        let front = Bagpipe::builder(local_limit)
            .queue_length(queue_length)
            .refuse(settings.refuse)
            .build();
        let fallback = fallback_limit.map(|limit| Bagpipe::builder(limit).build());
        Ok((
            Shared::new(store, self.name.clone(), settings, front, fallback),
            self.client.clone(),
        ))
    }
}

impl fmt::Debug for RedisBagpipeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBagpipeBuilder")
            .field("name", &self.name)
            .field("settings", &self.settings)
            .field("queue_length", &self.queue_length)
            .field("local_limit", &self.local_limit)
            .field("redis_timeout", &self.redis_timeout)
            .finish_non_exhaustive()
    }
}

/// A limiter's shared state without Redis or background tasks, for the unit tests of the
/// parts that need no server.
#[cfg(test)]
pub(crate) fn test_shared(lease: Duration) -> Arc<Shared> {
    let client = redis::Client::open("redis://127.0.0.1:1").expect("url");
    let builder = RedisBagpipe::builder(client, "unit", 2)
        .lease(lease)
        .poll_interval(lease / 4);
    Arc::new(builder.shared().expect("valid options").0)
}
