//! What happens to an async listener's failure (Node's `captureRejections`).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::EventName;

/// A failed call of an async listener ([`Emitter::on_async`](crate::Emitter::on_async)), as
/// given to the rejection hook (Node's `emitter[Symbol.for('nodejs.rejection')](err, event)`).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use nodebook_emitter::{AsyncFailure, Emitter};
///
/// let emitter: Emitter<String> = Emitter::new();
/// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
/// emitter.set_rejection_hook(move |failure: AsyncFailure<String>| {
///     tx.send(failure.to_string()).unwrap();
/// });
/// emitter.on_async("save", |name: String| async move { Err(format!("cannot save {name}")) });
/// emitter.emit("save", "report".to_string()).unwrap();
/// assert_eq!(
///     rx.recv().await.unwrap(),
///     r#"async listener of "save" failed: "cannot save report""#
/// );
/// # }
/// ```
#[non_exhaustive]
pub enum AsyncFailure<T> {
    /// The listener's future returned `Err(error)`.
    Err {
        /// The event whose listener failed.
        event: EventName,
        /// What the listener returned.
        error: T,
    },
    /// The listener, or its future, panicked.
    Panic {
        /// The event whose listener panicked.
        event: EventName,
        /// The panic's payload (a `&'static str` or a `String` for `panic!` with a message).
        panic: Box<dyn Any + Send + 'static>,
    },
    /// The listener already had [`ASYNC_BACKLOG`](crate::ASYNC_BACKLOG) emits waiting, so this
    /// emit did not call it; `payload` is the emit's payload.
    Overloaded {
        /// The event whose listener was skipped.
        event: EventName,
        /// The payload it was not called with.
        payload: T,
    },
}

impl<T> AsyncFailure<T> {
    /// The event whose listener failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::{AsyncFailure, EventName};
    ///
    /// let failure: AsyncFailure<u8> = AsyncFailure::Err { event: EventName::from("job"), error: 1 };
    /// assert_eq!(failure.event(), "job");
    /// ```
    #[must_use]
    pub fn event(&self) -> &EventName {
        match self {
            Self::Err { event, .. }
            | Self::Panic { event, .. }
            | Self::Overloaded { event, .. } => event,
        }
    }

    /// The panic's message, for a panic with a text payload (`panic!("...")`).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::{AsyncFailure, EventName};
    ///
    /// let failure: AsyncFailure<u8> =
    ///     AsyncFailure::Panic { event: EventName::from("job"), panic: Box::new("boom") };
    /// assert_eq!(failure.panic_message(), Some("boom"));
    /// ```
    #[must_use]
    pub fn panic_message(&self) -> Option<&str> {
        let Self::Panic { panic, .. } = self else {
            return None;
        };
        panic
            .downcast_ref::<&'static str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
    }
}

impl<T: fmt::Debug> fmt::Debug for AsyncFailure<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Err { event, error } => f
                .debug_struct("Err")
                .field("event", event)
                .field("error", error)
                .finish(),
            Self::Panic { event, .. } => f
                .debug_struct("Panic")
                .field("event", event)
                .field("message", &self.panic_message())
                .finish_non_exhaustive(),
            Self::Overloaded { event, payload } => f
                .debug_struct("Overloaded")
                .field("event", event)
                .field("payload", payload)
                .finish(),
        }
    }
}

impl<T: fmt::Debug> fmt::Display for AsyncFailure<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Err { event, error } => {
                write!(f, "async listener of {event:?} failed: {error:?}")
            }
            Self::Panic { event, .. } => match self.panic_message() {
                Some(message) => write!(f, "async listener of {event:?} panicked: {message}"),
                None => write!(f, "async listener of {event:?} panicked"),
            },
            Self::Overloaded { event, payload } => write!(
                f,
                "async listener of {event:?} skipped: {} emits were already waiting; \
                 payload {payload:?} not handled",
                crate::ASYNC_BACKLOG
            ),
        }
    }
}

/// A function that receives async listeners' failures, as installed by
/// [`Emitter::set_rejection_hook`](crate::Emitter::set_rejection_hook).
pub(crate) type RejectionHook<T> = Arc<dyn Fn(AsyncFailure<T>) + Send + Sync>;

/// The last resort for a failure nobody handles: `tracing` (with the `tracing` feature) or
/// standard error, with the event's name.
pub(crate) fn report<T: fmt::Debug>(failure: &AsyncFailure<T>) {
    #[cfg(feature = "tracing")]
    tracing::error!(event = %failure.event(), "unhandled async listener failure: {failure}");
    #[cfg(not(feature = "tracing"))]
    eprintln!("unhandled async listener failure: {failure}");
}
