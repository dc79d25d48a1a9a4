//! [`BridgeBuilder`]: the options of a bridge, and [`connect`](BridgeBuilder::connect).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::bridge::{Bridge, Publisher};
use super::codec::Codec;
use super::event::Notices;
use super::inbox::Inbox;
use super::outbox::{Outbox, Writer};
use super::pubsub::{Subscriber, Subscription};
use super::stats::Counters;
use super::streams::Reader;
use super::{BridgeError, ConnectError, wire};
use crate::registry::{ERROR, NEW_LISTENER, REMOVE_LISTENER};
use crate::{Emitter, EventName};

/// How events travel between bridges.
///
/// | | [`PubSub`](Delivery::PubSub) | [`Streams`](Delivery::Streams) |
/// |---|---|---|
/// | on the wire | `PUBLISH` on `ns:events` | `XADD ns:stream MAXLEN ~ max_len` |
/// | delivery | at most once | at least once on the wire, once to listeners |
/// | a receiver's connection drops | events published meanwhile are lost; [`Gap::Disconnected`](super::Gap::Disconnected) | it resumes from its last entry: nothing lost |
/// | listeners slower than the namespace | past [`intake_capacity`](BridgeBuilder::intake_capacity) waiting messages, new ones are dropped: [`Gap::Overflowed`](super::Gap::Overflowed) | the bridge reads at its listeners' pace; entries wait in Redis until trimmed |
/// | latency | one hop | one hop (a blocked `XREAD` returns at once) |
/// | Redis memory | none | up to about `max_len` entries |
///
/// # Examples
///
/// ```
/// use nodebook_emitter::redis::Delivery;
///
/// assert_eq!(Delivery::default(), Delivery::PubSub);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Redis pub/sub: at most once, the lowest latency, nothing kept in Redis. The
    /// subscription speaks RESP3, whatever the client's URL says: Redis 6 or later.
    #[default]
    PubSub,
    /// Redis Streams: survives a reconnect, kept up to [`max_len`](BridgeBuilder::max_len).
    Streams,
}

/// Tells apart the bridges of this process, for the echo check (`origin.rs`).
static NEXT_BRIDGE: AtomicU64 = AtomicU64::new(1);

/// The options of a [`Bridge`], from [`Bridge::builder`].
///
/// # Examples
///
/// ```no_run
/// use nodebook_emitter::Emitter;
/// use nodebook_emitter::redis::{Bridge, Delivery, StrCodec};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let emitter: Emitter<String> = Emitter::new();
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let bridge = Bridge::builder(client, "orders", StrCodec)
///     .events(["created", "shipped"])
///     .delivery(Delivery::Streams)
///     .max_len(50_000)
///     .queue_capacity(4_096)
///     .timeout(Duration::from_millis(500))
///     .connect(&emitter)
///     .await?;
/// # drop(bridge);
/// # Ok(())
/// # }
/// ```
pub struct BridgeBuilder<T, C> {
    client: redis::Client,
    namespace: String,
    codec: C,
    events: Vec<EventName>,
    delivery: Delivery,
    capacity: usize,
    intake_capacity: usize,
    batch: usize,
    timeout: Duration,
    heartbeat: Duration,
    block: Duration,
    max_len: usize,
    max_origins: usize,
    _payload: PhantomData<fn(T) -> T>,
}

impl<T, C> BridgeBuilder<T, C>
where
    T: Send + 'static,
    C: Codec<T>,
{
    pub(crate) fn new(client: redis::Client, namespace: String, codec: C) -> Self {
        Self {
            client,
            namespace,
            codec,
            events: Vec::new(),
            delivery: Delivery::PubSub,
            capacity: 1_024,
            intake_capacity: 1_024,
            batch: 256,
            timeout: Duration::from_secs(1),
            heartbeat: Duration::from_secs(1),
            block: Duration::from_secs(1),
            max_len: 100_000,
            max_origins: 1_024,
            _payload: PhantomData,
        }
    }

    /// Bridges `event`: its local emits are published, its remote ones emitted here.
    #[must_use]
    pub fn event(mut self, event: impl Into<EventName>) -> Self {
        let event = event.into();
        if !self.events.contains(&event) {
            self.events.push(event);
        }
        self
    }

    /// Bridges each of `events`.
    #[must_use]
    pub fn events<I>(self, events: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<EventName>,
    {
        events.into_iter().fold(self, Self::event)
    }

    /// Pub/sub (the default) or Streams; see [`Delivery`]. Every bridge of a namespace must use
    /// the same.
    #[must_use]
    pub fn delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// How many local events may wait to be written, the batch being written included (default
    /// 1024). When it is full, the newest event is not published and is reported as
    /// [`BridgeError::QueueFull`]; remote receivers see the hole as a
    /// [`Gap::Missed`](super::Gap::Missed). [`Bridge::flush`] is the way to wait for room.
    #[must_use]
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Pub/sub: how many remote messages may wait for this bridge's listeners (default 1024).
    ///
    /// The subscription is read as fast as Redis sends, into an intake of this many messages
    /// that the bridge's task empties by running the listeners. When listeners stay slower than
    /// the namespace's message rate, the intake fills and further messages are dropped as they
    /// arrive: counted in [`BridgeStats::overflowed`](super::BridgeStats::overflowed) and
    /// reported as a [`Gap::Overflowed`](super::Gap::Overflowed) before the next message
    /// delivered, then per origin as [`Gap::Missed`](super::Gap::Missed). So memory holds at
    /// most this many messages, whatever the listeners do. [`Bridge::backlog`] tells how many
    /// wait now.
    ///
    /// Streams mode has no intake: it reads a [`batch`](Self::batch) only once it delivered the
    /// last, and entries wait in Redis.
    #[must_use]
    pub fn intake_capacity(mut self, capacity: usize) -> Self {
        self.intake_capacity = capacity;
        self
    }

    /// How many events go to Redis in one pipeline, and how many a Streams read takes (default
    /// 256).
    #[must_use]
    pub fn batch(mut self, batch: usize) -> Self {
        self.batch = batch;
        self
    }

    /// The bound of every Redis call (default 1 s); a blocking read gets its
    /// [`block`](Self::block) time on top.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Pub/sub: how often the subscription is pinged to find a dead connection (default 1 s).
    #[must_use]
    pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// Streams: how long one `XREAD` waits for entries (default 1 s).
    #[must_use]
    pub fn block(mut self, block: Duration) -> Self {
        self.block = block;
        self
    }

    /// Streams: the stream is trimmed to about this many entries (`MAXLEN ~`, default
    /// 100 000). A bridge that falls further behind than this loses entries and reports a
    /// [`Gap::Trimmed`](super::Gap::Trimmed).
    #[must_use]
    pub fn max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len;
        self
    }

    /// How many origins (other bridges) the de-duplication remembers (default 1024); past that,
    /// the least recently heard is forgotten.
    #[must_use]
    pub fn max_origins(mut self, max_origins: usize) -> Self {
        self.max_origins = max_origins;
        self
    }

    fn check(&self) -> Result<(), ConnectError> {
        if self.namespace.is_empty() {
            return Err(ConnectError::EmptyNamespace);
        }
        if self.events.is_empty() {
            return Err(ConnectError::NoEvents);
        }
        if let Some(event) = self
            .events
            .iter()
            .find(|e| [ERROR, NEW_LISTENER, REMOVE_LISTENER].contains(&e.as_str()))
        {
            return Err(ConnectError::ReservedEvent {
                event: event.clone(),
            });
        }
        for (option, value) in [
            ("queue_capacity", self.capacity),
            ("intake_capacity", self.intake_capacity),
            ("batch", self.batch),
            ("max_len", self.max_len),
            ("max_origins", self.max_origins),
        ] {
            if value == 0 {
                return Err(ConnectError::Zero { option });
            }
        }
        for (option, value) in [
            ("timeout", self.timeout),
            ("heartbeat", self.heartbeat),
            ("block", self.block),
        ] {
            if value.is_zero() {
                return Err(ConnectError::Zero { option });
            }
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConnectError::NoRuntime);
        }
        Ok(())
    }

    async fn manager(&self, response: Duration) -> Result<ConnectionManager, ConnectError> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(response))
            .set_max_delay(Duration::from_secs(1));
        match tokio::time::timeout(
            self.timeout,
            ConnectionManager::new_with_config(self.client.clone(), config),
        )
        .await
        {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(error)) => Err(ConnectError::Redis(error)),
            Err(_) => Err(ConnectError::Timeout(self.timeout)),
        }
    }

    /// Connects to Redis, subscribes (pub/sub) or finds the stream's end (Streams), then adds
    /// one listener per bridged event to `emitter` and starts the bridge's tasks.
    ///
    /// When it returns, every event published afterwards by another bridge of the namespace
    /// reaches `emitter`'s listeners (pub/sub: while the subscription holds).
    ///
    /// # Errors
    ///
    /// A [`ConnectError`]: an invalid option, a reserved event name, no tokio runtime, or Redis
    /// failing or not answering within [`timeout`](Self::timeout) (per step).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes leaves nothing behind: the listeners are added
    /// and the tasks started only at its very end, after the last `.await`.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::Emitter;
    /// use nodebook_emitter::redis::{Bridge, ConnectError, StrCodec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), redis::RedisError> {
    /// let emitter: Emitter<String> = Emitter::new();
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// // Checked before Redis is contacted.
    /// let refused = Bridge::builder(client, "orders", StrCodec).event("error").connect(&emitter).await;
    /// assert!(matches!(refused, Err(ConnectError::ReservedEvent { .. })));
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect(
        self,
        emitter: &Emitter<T>,
    ) -> impl Future<Output = Result<Bridge<T>, ConnectError>> + Send + 'static + use<T, C>
    where
        T: Sync,
    {
        let emitter = emitter.clone();
        self.connect_owned(emitter)
    }

    async fn connect_owned(self, emitter: Emitter<T>) -> Result<Bridge<T>, ConnectError>
    where
        T: Sync,
    {
        self.check()?;
        let origin = format!("{:016x}", random_u64());
        let channel = wire::channel(&self.namespace);
        let stream = wire::stream(&self.namespace);
        let writer_conn = self.manager(self.timeout).await?;
        let counters = Arc::new(Counters::default());
        let receiving = match self.delivery {
            Delivery::PubSub => {
                let subscriber = Subscriber::new(
                    &self.client,
                    channel.clone(),
                    self.timeout,
                    self.heartbeat,
                    self.intake_capacity,
                    origin.clone(),
                    Arc::clone(&counters),
                );
                let first = subscriber.subscribe().await.map_err(connect_error)?;
                Receiving::PubSub(subscriber, Box::new(first))
            }
            Delivery::Streams => {
                let mut conn = self.manager(self.block + self.timeout).await?;
                let start = Reader::info(&mut conn, &stream, self.timeout)
                    .await
                    .map_err(connect_error)?;
                Receiving::Streams(Reader {
                    conn,
                    stream: stream.clone(),
                    last_id: start.last_generated_id,
                    timeout: self.timeout,
                    block: self.block,
                    count: self.batch,
                    added_at_start: start.entries_added,
                    read: 0,
                    reported_lost: 0,
                })
            }
        };

        // No `.await` from here on: cancel-safe.
        let bridge_id = NEXT_BRIDGE.fetch_add(1, Ordering::Relaxed);
        let notices = Notices {
            events: Emitter::new(),
            counters: Arc::clone(&counters),
        };
        let codec = Arc::new(self.codec);
        let outbox = Arc::new(Outbox::new(self.capacity));
        let publisher = Arc::new(Publisher {
            bridge: bridge_id,
            outbox: Arc::clone(&outbox),
            codec: Arc::clone(&codec),
            notices: notices.clone(),
        });
        let inbox = Inbox::new(
            emitter.clone(),
            codec,
            self.events.clone(),
            origin.clone(),
            bridge_id,
            notices.clone(),
            self.max_origins,
        );
        let writer = Writer {
            conn: writer_conn,
            delivery: self.delivery,
            origin: origin.clone(),
            channel,
            stream,
            max_len: self.max_len,
            batch: self.batch,
            timeout: self.timeout,
        };
        let writer = {
            let (outbox, notices) = (Arc::clone(&outbox), notices.clone());
            tokio::spawn(async move {
                writer
                    .run(&outbox, &notices.counters, |error| notices.error(error))
                    .await;
            })
        };
        let reader = match receiving {
            Receiving::PubSub(subscriber, first) => tokio::spawn(subscriber.run(*first, inbox)),
            Receiving::Streams(reader) => tokio::spawn(reader.run(inbox)),
        };
        emitter.inner.mark_bridged();
        let listeners = self
            .events
            .iter()
            .map(|event| {
                let publisher = Arc::clone(&publisher);
                let name = event.clone();
                let id = emitter.on(event, move |payload: &T| publisher.publish(&name, payload));
                (event.clone(), id)
            })
            .collect();
        Ok(Bridge::new(
            origin, emitter, listeners, outbox, notices, writer, reader,
        ))
    }
}

enum Receiving {
    /// Boxed: a connection is large, and this lives only until the tasks start.
    PubSub(Subscriber, Box<Subscription>),
    Streams(Reader),
}

fn connect_error(error: BridgeError) -> ConnectError {
    match error {
        BridgeError::Redis { source, .. } => ConnectError::Redis(source),
        BridgeError::Timeout { after, .. } => ConnectError::Timeout(after),
        other => ConnectError::Redis(redis::RedisError::from((
            redis::ErrorKind::Parse,
            "unexpected reply",
            other.to_string(),
        ))),
    }
}

/// A fresh random number (std's per-instance random hasher keys).
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

impl<T, C> fmt::Debug for BridgeBuilder<T, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BridgeBuilder")
            .field("namespace", &self.namespace)
            .field("events", &self.events)
            .field("delivery", &self.delivery)
            .field("queue_capacity", &self.capacity)
            .field("intake_capacity", &self.intake_capacity)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
