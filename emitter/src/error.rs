//! The crate's error type.

/// Everything that can go wrong in this crate, carrying what the caller needs back.
///
/// The payload-carrying variants hand the payload back instead of dropping it.
///
/// # Examples
///
/// ```
/// use nodebook_emitter::{Emitter, Error};
///
/// let emitter: Emitter<String> = Emitter::new();
/// let err = emitter.emit("error", "disk full".to_string()).unwrap_err();
/// assert_eq!(err.to_string(), r#"unhandled "error" event: "disk full""#);
/// assert!(matches!(err, Error::Unhandled(payload) if payload == "disk full"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error<T> {
    /// An `"error"` event was emitted while no `"error"` listener was registered; the payload is
    /// handed back (Node throws here, with `ERR_UNHANDLED_ERROR` or the error itself).
    /// Register an `"error"` listener, or handle the returned payload.
    #[error("unhandled \"error\" event: {0:?}")]
    Unhandled(T),
    /// An `"error"` event arrived before the event that [`Emitter::once_event`] or a
    /// [`Subscription`] was waiting for (Node rejects `events.once` and `events.on` with it).
    ///
    /// [`Emitter::once_event`]: crate::Emitter::once_event
    /// [`Subscription`]: crate::Subscription
    #[error("an \"error\" event arrived before the awaited event")]
    ErrorEvent(T),
    /// A [`Subscription`] whose buffer was full dropped its oldest payloads; `missed` counts them.
    /// Subscribe with a larger capacity, or consume faster.
    ///
    /// [`Subscription`]: crate::Subscription
    #[error("subscriber fell behind and missed {missed} events")]
    Lagged {
        /// How many payloads were dropped since the last item the subscriber received.
        missed: u64,
    },
    /// The listener behind a future or stream was removed (by `remove_all_listeners`, or because
    /// every handle to the emitter was dropped) before the awaited event arrived.
    #[error("the listener was removed before the awaited event arrived")]
    Closed,
    /// [`Emitter::subscribe`] was asked for a buffer of zero payloads; a subscription must be able
    /// to hold at least one.
    ///
    /// [`Emitter::subscribe`]: crate::Emitter::subscribe
    #[error("subscription capacity must be at least 1, got 0")]
    ZeroCapacity,
}
