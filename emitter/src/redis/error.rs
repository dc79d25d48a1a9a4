//! What can go wrong: [`ConnectError`] when a bridge starts, [`BridgeError`] while it runs,
//! [`FlushError`] when it is flushed or shut down.

use std::time::Duration;

use super::codec::CodecError;
use crate::EventName;

/// Why [`BridgeBuilder::connect`](super::BridgeBuilder::connect) failed.
///
/// # Examples
///
/// ```
/// use nodebook_emitter::redis::ConnectError;
///
/// let err = ConnectError::ReservedEvent { event: "error".into() };
/// assert!(err.to_string().contains("cannot be bridged"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The namespace is empty.
    #[error("the namespace is empty: give the bridge a name its replicas share")]
    EmptyNamespace,
    /// No event was named.
    #[error("no event to bridge: name at least one with `event`")]
    NoEvents,
    /// `"error"`, `"newListener"` and `"removeListener"` have rules of their own.
    #[error(
        "{event:?} cannot be bridged: it has rules of its own; bridge an ordinary event and emit \"error\" from its listener"
    )]
    ReservedEvent {
        /// The refused name.
        event: EventName,
    },
    /// A size or duration option is zero.
    #[error("`{option}` must be above zero")]
    Zero {
        /// The option's builder method.
        option: &'static str,
    },
    /// `connect` was called outside a tokio runtime.
    #[error("a bridge runs tasks on tokio: connect inside a runtime")]
    NoRuntime,
    /// Redis refused or failed the first connection or subscription.
    #[error("redis: {0}; check the URL and that the server runs")]
    Redis(#[source] redis::RedisError),
    /// Redis did not answer within the timeout.
    #[error("redis did not answer within {0:?}; check the server, or raise `timeout`")]
    Timeout(Duration),
}

/// A problem a running [`Bridge`](super::Bridge) reports on its `"error"` event; the bridge
/// goes on.
///
/// # Examples
///
/// ```
/// use nodebook_emitter::redis::BridgeError;
///
/// let err = BridgeError::QueueFull { event: "price".into(), capacity: 1024 };
/// assert_eq!(
///     err.to_string(),
///     "\"price\" was not published: the outgoing queue is full (1024 events); Redis is slow or \
///      down, or the queue is too small"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// A local emit was not published: its payload did not encode. Local listeners got it.
    #[error("{event:?} was not published: {source}")]
    Encode {
        /// The event.
        event: EventName,
        /// The codec's error.
        source: CodecError,
    },
    /// A remote event was not emitted: its payload did not decode.
    #[error("{event:?} from {origin} (#{seq}) was not emitted: {source}")]
    Decode {
        /// The event.
        event: EventName,
        /// The bridge that sent it.
        origin: String,
        /// Its sequence number.
        seq: u64,
        /// The codec's error.
        source: CodecError,
    },
    /// A message in the namespace that no bridge of this version wrote; it was skipped.
    #[error(
        "a message in the namespace is not a bridge message ({0}); is another program using this namespace?"
    )]
    Malformed(&'static str),
    /// A local emit was not published: the outgoing queue was full (the overflow policy drops
    /// the newest). Local listeners got it; remote receivers will report a [`Gap::Missed`](super::Gap::Missed).
    #[error(
        "{event:?} was not published: the outgoing queue is full ({capacity} events); Redis is slow or down, or the queue is too small"
    )]
    QueueFull {
        /// The event.
        event: EventName,
        /// The queue's capacity.
        capacity: usize,
    },
    /// A Redis call failed; the bridge retries (sending) or reconnects (receiving).
    #[error("redis {operation}: {source}")]
    Redis {
        /// What the bridge was doing.
        operation: &'static str,
        /// redis-rs's error.
        source: redis::RedisError,
    },
    /// A Redis call did not answer within the timeout; the bridge retries or reconnects.
    #[error("redis {operation} did not answer within {after:?}")]
    Timeout {
        /// What the bridge was doing.
        operation: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// Pub/sub: the server closed the subscription (`CLIENT KILL`, a restart, or the output
    /// buffer limit of a slow reader); the bridge reported a gap and subscribes again.
    #[error(
        "the subscription was closed by the server (killed, restarted, or the reader was too slow for its output buffer limit)"
    )]
    SubscriptionClosed,
    /// A local listener panicked while a remote event was delivered; the bridge goes on with
    /// the next event (in a plain emit the panic would reach the caller, who is the bridge).
    #[error("a listener of {event:?} panicked on a remote event")]
    ListenerPanicked {
        /// The event.
        event: EventName,
    },
}

/// Why [`Bridge::flush`](super::Bridge::flush) or [`Bridge::shutdown`](super::Bridge::shutdown)
/// did not see every queued event written to Redis.
///
/// # Examples
///
/// ```
/// use nodebook_emitter::redis::FlushError;
///
/// let err = FlushError::TimedOut { unsent: 3 };
/// assert_eq!(err.to_string(), "3 events were not written to Redis in time");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// Time ran out with `unsent` events still queued or in flight (for `shutdown`: they are
    /// dropped, not published).
    #[error("{unsent} events were not written to Redis in time")]
    TimedOut {
        /// How many.
        unsent: usize,
    },
}
