//! `EventHandle`: one event of an emitter, resolved once, for a hot emit path.

use std::fmt;
use std::sync::Arc;

use crate::registry::{Inner, Route};
use crate::subscribe::{Hub, shared_hub};
use crate::{Emitter, Error, EventName};

/// One event of an [`Emitter`], resolved once; made by [`Emitter::event`].
///
/// [`emit`](Self::emit) through a handle does exactly what [`Emitter::emit`] does with the
/// handle's event name, and is faster for an event that only [subscriptions](Emitter::subscribe)
/// listen to: while the event's listeners stay the same, the payload goes straight into the
/// subscriptions' buffer, without the emitter's lock or a lookup of the name. Any change to the
/// emitter's listeners (on any event) sends the next emit through the name again, which
/// re-checks the event; so a handle never misses a listener added after it was made.
///
/// The emitter gives emits by name the same direct path for the first four events it finds
/// with only subscriptions; a handle has it for any event, and skips comparing the name.
///
/// A handle keeps the emitter alive, as an [`Emitter`] clone does, and is cheap to clone.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use futures_util::StreamExt;
///
/// let emitter: nodebook_emitter::Emitter<u64> = nodebook_emitter::Emitter::new();
/// let mut ticks = emitter.subscribe("tick", 16).unwrap();
/// let tick = emitter.event("tick");
/// for n in 1..=3 {
///     tick.emit(n).unwrap();
/// }
/// // A listener added later is called by the handle's next emit.
/// emitter.on("tick", |n| assert_eq!(*n, 4));
/// assert_eq!(tick.emit(4), Ok(true));
/// let got: Vec<u64> = ticks.by_ref().take(4).map(Result::unwrap).collect().await;
/// assert_eq!(got, [1, 2, 3, 4]);
/// # }
/// ```
pub struct EventHandle<T> {
    inner: Arc<Inner<T>>,
    hub: Arc<Hub<T>>,
    route: Route,
}

impl<T: Clone + Send + 'static> Emitter<T> {
    /// A handle for emitting `event` without naming it each time (see [`EventHandle`]).
    ///
    /// Requires what [`subscribe`](Self::subscribe) requires of `T`: the handle shares the
    /// buffer that the event's subscriptions read from.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<u32> = nodebook_emitter::Emitter::new();
    /// let data = emitter.event("data");
    /// assert_eq!(data.name(), "data");
    /// assert_eq!(data.emit(1), Ok(false)); // nobody listens yet
    /// emitter.on("data", |_| {});
    /// assert_eq!(data.emit(2), Ok(true));
    /// ```
    #[must_use]
    pub fn event(&self, event: impl Into<EventName>) -> EventHandle<T> {
        let name = event.into();
        let hub = shared_hub(&self.inner, &name);
        EventHandle {
            inner: Arc::clone(&self.inner),
            route: Route::new(name, &hub),
            hub,
        }
    }
}

impl<T> EventHandle<T> {
    /// Emits the handle's event: the same as [`Emitter::emit`] with [`name`](Self::name).
    ///
    /// # Errors
    ///
    /// [`Error::Unhandled`] when the event is `"error"` and nobody listens for it. Other events
    /// never fail.
    ///
    /// # Panics
    ///
    /// If a listener panics, as [`Emitter::emit`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::{Emitter, Error};
    ///
    /// let emitter: Emitter<&'static str> = Emitter::new();
    /// let errors = emitter.event("error");
    /// assert!(matches!(errors.emit("boom"), Err(Error::Unhandled("boom"))));
    /// ```
    pub fn emit(&self, payload: T) -> Result<bool, Error<T>> {
        self.inner
            .emit_routed(&self.route, payload, |payload, seen| {
                self.hub
                    .store_if(payload, || self.inner.unchanged_since(seen))
            })
    }

    /// The event this handle emits.
    #[must_use]
    pub fn name(&self) -> &EventName {
        &self.route.name
    }

    /// A handle to the whole emitter.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<u8> = nodebook_emitter::Emitter::new();
    /// let data = emitter.event("data");
    /// data.emitter().on("data", |_| {});
    /// assert_eq!(emitter.listener_count("data"), 1);
    /// ```
    #[must_use]
    pub fn emitter(&self) -> Emitter<T> {
        Emitter {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> Clone for EventHandle<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            hub: Arc::clone(&self.hub),
            route: self.route.clone(),
        }
    }
}

impl<T> fmt::Debug for EventHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventHandle")
            .field("event", &self.route.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct<T>(handle: &EventHandle<T>) -> bool {
        handle.inner.is_direct(&handle.route)
    }

    #[test]
    fn the_direct_path_is_armed_by_an_emit_to_subscriptions_alone_and_disarmed_by_any_change() {
        let emitter: Emitter<u32> = Emitter::new();
        let tick = emitter.event("tick");
        assert!(!direct(&tick), "nothing verified yet");
        assert_eq!(tick.emit(0), Ok(false));
        assert!(!direct(&tick), "no listeners: nothing to send to directly");

        let _subscription = emitter.subscribe("tick", 4).unwrap();
        assert_eq!(tick.emit(1), Ok(true));
        assert!(
            direct(&tick),
            "only subscriptions: the next emit goes straight to them"
        );
        assert_eq!(tick.emit(2), Ok(true));
        assert!(direct(&tick));

        let id = emitter.on("other", |_| {});
        assert!(!direct(&tick), "a change on any event disarms it");
        assert_eq!(tick.emit(3), Ok(true));
        assert!(direct(&tick));

        let listener = emitter.on("tick", |_| {});
        assert_eq!(tick.emit(4), Ok(true));
        assert!(
            !direct(&tick),
            "a listener of the event keeps emits on the named path"
        );
        assert!(emitter.off("tick", listener));
        assert!(emitter.off("other", id));
        assert_eq!(tick.emit(5), Ok(true));
        assert!(direct(&tick));

        let clone = tick.clone();
        assert!(
            direct(&clone),
            "a clone starts from what the original verified"
        );
        emitter.remove_all_listeners(None);
        assert!(!direct(&tick));
        assert_eq!(tick.emit(6), Ok(false));
    }

    #[test]
    fn the_error_event_never_takes_the_direct_path() {
        let emitter: Emitter<u32> = Emitter::new();
        let errors = emitter.event("error");
        let _subscription = emitter.subscribe("error", 4).unwrap();
        assert_eq!(errors.emit(1), Ok(true));
        assert!(!direct(&errors));
    }
}
