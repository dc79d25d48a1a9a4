//! [`Bridge`]: the handle of a running bridge, and the listener that publishes local emits.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::builder::BridgeBuilder;
use super::codec::Codec;
use super::event::{BridgeEvent, Notices};
use super::outbox::{Outbox, Refused};
use super::stats::BridgeStats;
use super::{BridgeError, FlushError};
use crate::{Emitter, EventName, ListenerId};

/// Connects an [`Emitter`] to a Redis namespace for the events it names: local emits of those
/// events are published, remote ones are emitted locally, and none goes back to where it came
/// from.
///
/// See the [module documentation](super) for what it promises; build one with
/// [`Bridge::builder`].
///
/// - **Own events stay local.** A local emit reaches the local listeners the usual way, at
///   once; the bridge's listener (one per bridged event, counted by
///   [`listener_count`](Emitter::listener_count)) encodes the payload and queues it. The
///   bridge skips its own messages when they come back from Redis.
/// - **Remote events** are emitted by the bridge's receiving task, with the listeners running
///   on that task: keep them short, or hand work to a task of your own.
/// - Removing the bridge's listener (`remove_all_listeners`) stops publishing that event.
/// - Two bridges on one emitter (two namespaces) relay each other's remote events: a remote
///   event delivered by one is a local emit for the other. Bridge each namespace's events on
///   an emitter of their own if that is not wanted.
///
/// Dropping the bridge stops it at once: its listeners are removed, its tasks end, and queued
/// events are not sent; [`shutdown`](Self::shutdown) sends them first.
///
/// # Examples
///
/// ```no_run
/// use nodebook_emitter::Emitter;
/// use nodebook_emitter::redis::{Bridge, BridgeEvent, StrCodec};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let emitter: Emitter<String> = Emitter::new();
/// let client = redis::Client::open("redis://127.0.0.1:6379")?;
/// let bridge = Bridge::builder(client, "jobs", StrCodec).event("done").connect(&emitter).await?;
/// bridge.events().on(BridgeEvent::ERROR, |e: &BridgeEvent| eprintln!("bridge: {e:?}"));
///
/// for job in 0..100 {
///     emitter.emit("done", format!("job {job}"))?;
/// }
/// bridge.flush(Duration::from_secs(1)).await?; // all 100 are in Redis
/// assert_eq!(bridge.stats().published, 100);
/// bridge.shutdown(Duration::from_secs(1)).await?;
/// # Ok(())
/// # }
/// ```
pub struct Bridge<T> {
    origin: String,
    emitter: Emitter<T>,
    listeners: Vec<(EventName, ListenerId)>,
    outbox: Arc<Outbox>,
    notices: Notices,
    writer: Option<JoinHandle<()>>,
    reader: JoinHandle<()>,
}

impl<T> Bridge<T> {
    /// The options of a bridge for `namespace` on `client`'s Redis, with `codec` for payloads;
    /// end with [`connect`](BridgeBuilder::connect).
    ///
    /// Every bridge that names the same namespace (on the same Redis) shares its events. Each
    /// receives every message of the namespace and keeps those it names, so give unrelated
    /// event families their own namespace.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use nodebook_emitter::Emitter;
    /// use nodebook_emitter::redis::{Bridge, StrCodec};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let emitter: Emitter<String> = Emitter::new();
    /// let client = redis::Client::open("redis://127.0.0.1:6379")?;
    /// let bridge = Bridge::builder(client, "prices", StrCodec)
    ///     .event("changed")
    ///     .connect(&emitter)
    ///     .await?;
    /// emitter.emit("changed", "sku-7: 19.99".to_string())?; // here, and on every replica
    /// # drop(bridge);
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder<C>(
        client: redis::Client,
        namespace: impl Into<String>,
        codec: C,
    ) -> BridgeBuilder<T, C>
    where
        T: Send + 'static,
        C: Codec<T>,
    {
        BridgeBuilder::new(client, namespace.into(), codec)
    }

    pub(crate) fn new(
        origin: String,
        emitter: Emitter<T>,
        listeners: Vec<(EventName, ListenerId)>,
        outbox: Arc<Outbox>,
        notices: Notices,
        writer: JoinHandle<()>,
        reader: JoinHandle<()>,
    ) -> Self {
        Self {
            origin,
            emitter,
            listeners,
            outbox,
            notices,
            writer: Some(writer),
            reader,
        }
    }

    /// This bridge's origin id, carried by every message it sends and named by the
    /// [`Gap::Missed`](super::Gap::Missed) reports of its receivers.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The bridge's own events: `"connected"`, `"gap"` and `"error"` (see [`BridgeEvent`]).
    ///
    /// Listeners run synchronously in the bridge's tasks (or, for a refused local event, in the
    /// `emit` that was refused); a panicking one is caught and reported to standard error.
    #[must_use]
    pub fn events(&self) -> &Emitter<BridgeEvent> {
        &self.notices.events
    }

    /// Local events waiting to be written to Redis.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.outbox.queued()
    }

    /// Pub/sub: remote messages read from Redis and waiting for this bridge's listeners, at
    /// most [`intake_capacity`](BridgeBuilder::intake_capacity); always 0 in Streams mode.
    #[must_use]
    pub fn backlog(&self) -> usize {
        self.notices.counters.backlog()
    }

    /// What the bridge has done so far.
    #[must_use]
    pub fn stats(&self) -> BridgeStats {
        self.notices.counters.snapshot()
    }

    /// Waits until every local event queued before the call is written to Redis, for at
    /// most `within`.
    ///
    /// # Errors
    ///
    /// [`FlushError::TimedOut`] with the number of events still queued or in flight; they stay
    /// queued and the bridge keeps trying.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future only stops the wait.
    pub async fn flush(&self, within: Duration) -> Result<(), FlushError> {
        tokio::time::timeout(within, self.outbox.flushed())
            .await
            .map_err(|_| FlushError::TimedOut {
                unsent: self.outbox.unsent(),
            })
    }

    /// Stops publishing and receiving, then writes what is still queued, for at most
    /// `within`.
    ///
    /// # Errors
    ///
    /// [`FlushError::TimedOut`] with the number of events that were not written; they are
    /// dropped.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the bridge: events not yet written are lost.
    pub async fn shutdown(mut self, within: Duration) -> Result<(), FlushError> {
        self.remove_listeners();
        self.reader.abort();
        self.outbox.close();
        let Some(mut writer) = self.writer.take() else {
            return Ok(());
        };
        if tokio::time::timeout(within, &mut writer).await.is_ok() {
            return Ok(());
        }
        writer.abort();
        Err(FlushError::TimedOut {
            unsent: self.outbox.unsent(),
        })
    }

    fn remove_listeners(&mut self) {
        for (event, id) in self.listeners.drain(..) {
            self.emitter.off(&event, id);
        }
    }
}

impl<T> Drop for Bridge<T> {
    fn drop(&mut self) {
        self.remove_listeners();
        self.reader.abort();
        self.outbox.close();
        if let Some(writer) = self.writer.take() {
            writer.abort();
        }
    }
}

impl<T> fmt::Debug for Bridge<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bridge")
            .field("origin", &self.origin)
            .field(
                "events",
                &self.listeners.iter().map(|(e, _)| e).collect::<Vec<_>>(),
            )
            .field("queued", &self.queued())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// The listener side: encodes a local emit and queues it, unless the emit is this bridge's
/// own delivery of a remote event.
pub(crate) struct Publisher<C> {
    pub(crate) bridge: u64,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) codec: Arc<C>,
    pub(crate) notices: Notices,
}

impl<C> Publisher<C> {
    pub(crate) fn publish<T>(&self, event: &EventName, payload: &T)
    where
        C: Codec<T>,
    {
        if crate::origin::delivering() == Some(self.bridge) {
            return;
        }
        let bytes = match self.codec.encode(payload) {
            Ok(bytes) => bytes,
            Err(source) => {
                self.notices.counters.dropped();
                self.notices.error(BridgeError::Encode {
                    event: event.clone(),
                    source,
                });
                return;
            }
        };
        match self.outbox.push(event, bytes) {
            Ok(()) => {}
            Err(Refused::Full) => {
                self.notices.counters.dropped();
                self.notices.error(BridgeError::QueueFull {
                    event: event.clone(),
                    capacity: self.outbox.capacity(),
                });
            }
            // Shutting down: the listener is being removed.
            Err(Refused::Closed) => self.notices.counters.dropped(),
        }
    }
}
