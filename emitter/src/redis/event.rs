//! What a bridge tells the application: [`BridgeEvent`] and [`Gap`].

use std::sync::Arc;

use super::error::BridgeError;

/// Something a [`Bridge`](super::Bridge) reports, delivered through
/// [`Bridge::events`](super::Bridge::events) under the names in [`BridgeEvent::name`], so
/// listeners subscribe with `on("gap", ..)` as they would in Node.
///
/// # Examples
///
/// ```
/// use nodebook_emitter::Emitter;
/// use nodebook_emitter::redis::{BridgeEvent, Gap};
///
/// let events: Emitter<BridgeEvent> = Emitter::new(); // what `Bridge::events` returns
/// events.on(BridgeEvent::GAP, |event: &BridgeEvent| {
///     if let BridgeEvent::Gap(gap) = event {
///         eprintln!("remote events may be lost: {gap:?}; reload the state they carry");
///     }
/// });
/// let gap = BridgeEvent::Gap(Gap::Disconnected);
/// assert_eq!(gap.name(), "gap");
/// assert!(matches!(events.emit(gap.name(), gap), Ok(true)));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum BridgeEvent {
    /// The bridge receives remote events: first when [`connect`](super::BridgeBuilder::connect)
    /// returns (not reported, the caller knows), then after every reconnect (`"connected"`).
    Connected {
        /// Always `true` when reported: the bridge came back after losing its connection.
        resumed: bool,
    },
    /// Remote events were lost or may have been (`"gap"`). Listeners that keep state built
    /// from remote events should reload it.
    Gap(Gap),
    /// A message could not go out or come in, or a Redis call failed and is being retried
    /// (`"error"`). With no `"error"` listener, errors go to standard error (or
    /// `tracing::error!` with the `tracing` feature).
    Error(Arc<BridgeError>),
}

impl BridgeEvent {
    /// The event name of [`BridgeEvent::Connected`]: `"connected"`.
    pub const CONNECTED: &'static str = "connected";
    /// The event name of [`BridgeEvent::Gap`]: `"gap"`.
    pub const GAP: &'static str = "gap";
    /// The event name of [`BridgeEvent::Error`]: `"error"`.
    pub const ERROR: &'static str = "error";

    /// The name this event is emitted under.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::redis::BridgeEvent;
    ///
    /// assert_eq!(BridgeEvent::Connected { resumed: true }.name(), BridgeEvent::CONNECTED);
    /// ```
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connected { .. } => Self::CONNECTED,
            Self::Gap(_) => Self::GAP,
            Self::Error(_) => Self::ERROR,
        }
    }
}

/// Which remote events were lost, or may have been.
///
/// Every message carries its origin (the sending bridge's [`origin`](super::Bridge::origin))
/// and a sequence number that grows by one per published event, so a receiver sees a hole as
/// soon as the next message of that origin arrives ([`Gap::Missed`]). A hole at the end of an
/// origin's messages shows only as [`Gap::Disconnected`] or [`Gap::Trimmed`].
///
/// # Examples
///
/// ```
/// use nodebook_emitter::redis::Gap;
///
/// let gap = Gap::Missed { origin: "3f2a".into(), first: 10, last: 12 };
/// assert_eq!(gap.missed(), Some(3));
/// assert_eq!(Gap::Overflowed { lost: 40 }.missed(), Some(40));
/// assert_eq!(Gap::Disconnected.missed(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Gap {
    /// Pub/sub mode: the subscription was lost. Events published from now until the next
    /// `"connected"` are lost; holes that later messages reveal follow as [`Gap::Missed`].
    Disconnected,
    /// Events `first..=last` of `origin` never arrived (pub/sub: published while this bridge
    /// was not subscribed, dropped by this bridge's full intake, or dropped by a full queue at
    /// the origin; Streams: trimmed before they were read, or dropped at the origin).
    Missed {
        /// The bridge that published them.
        origin: Arc<str>,
        /// The first missing sequence number.
        first: u64,
        /// The last missing sequence number.
        last: u64,
    },
    /// Pub/sub mode: `lost` messages arrived while the bridge's intake was full (its listeners
    /// were slower than the namespace for longer than
    /// [`intake_capacity`](super::BridgeBuilder::intake_capacity) messages) and were dropped.
    /// Reported where the loss happened, before the next message delivered; which events they
    /// were follows as a [`Gap::Missed`] per origin once that origin's next message arrives.
    Overflowed {
        /// How many messages were dropped.
        lost: u64,
    },
    /// Streams mode: `lost` entries after this bridge's position were trimmed (`MAXLEN`)
    /// before it read them; it goes on from the oldest entry left.
    Trimmed {
        /// The id of the last entry this bridge had read.
        after: String,
        /// How many entries were trimmed unread.
        lost: u64,
    },
}

impl Gap {
    /// How many events were lost, when known.
    #[must_use]
    pub fn missed(&self) -> Option<u64> {
        match self {
            Self::Missed { first, last, .. } => Some(last - first + 1),
            Self::Trimmed { lost, .. } | Self::Overflowed { lost } => Some(*lost),
            Self::Disconnected => None,
        }
    }
}

/// How the bridge's tasks and listeners report: through the bridge's emitter, counted. A
/// panicking listener of these events is caught here, so it cannot stop the bridge's tasks.
#[derive(Clone)]
pub(crate) struct Notices {
    pub(crate) events: crate::Emitter<BridgeEvent>,
    pub(crate) counters: Arc<super::stats::Counters>,
}

impl Notices {
    fn emit(&self, event: BridgeEvent) -> bool {
        let name = event.name();
        let emitted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.events.emit(name, event)
        }));
        match emitted {
            Ok(emitted) => emitted.is_ok(),
            Err(_) => {
                report(&format!(
                    "a listener of the bridge's {name:?} event panicked"
                ));
                true
            }
        }
    }

    pub(crate) fn error(&self, error: BridgeError) {
        let error = Arc::new(error);
        if !self.emit(BridgeEvent::Error(Arc::clone(&error))) {
            report(&format!("unhandled bridge error: {error}"));
        }
    }

    pub(crate) fn gap(&self, gap: Gap) {
        self.counters.gap();
        self.emit(BridgeEvent::Gap(gap));
    }

    pub(crate) fn connected(&self) {
        self.counters.reconnect();
        self.emit(BridgeEvent::Connected { resumed: true });
    }
}

/// The last resort for a report nobody listens to: `tracing` (with the `tracing` feature) or
/// standard error.
fn report(message: &str) {
    #[cfg(feature = "tracing")]
    tracing::error!("{message}");
    #[cfg(not(feature = "tracing"))]
    eprintln!("{message}");
}
