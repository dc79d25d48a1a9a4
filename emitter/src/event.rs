//! `EventHandle`: one event of an emitter, resolved once, for a hot emit path.

use std::fmt;
use std::sync::Arc;

use crate::hub::{Hub, shared_hub};
use crate::registry::Inner;
use crate::{Emitter, Error, EventName};

/// One event of an [`Emitter`], resolved once; made by [`Emitter::event`].
///
/// [`emit`](Self::emit) through a handle does exactly what [`Emitter::emit`] does with the
/// handle's event name, and is faster for an event that only [subscriptions](Emitter::subscribe)
/// listen to: the payload goes straight into the subscriptions' shared buffer, under that
/// buffer's lock alone, without the emitter's lock or a lookup of the name. The emitter keeps a
/// mark on that buffer, changed under both locks whenever the event's listeners change: while
/// the event has anything but subscriptions (or is `"error"`), the handle emits by name. So a
/// handle never misses a listener added before its emit, on any thread.
///
/// It is the like-for-like peer of a channel's sender: an event resolved once.
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
    name: EventName,
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
            hub,
            name,
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
        match self.hub.store_direct(payload) {
            Ok(()) => Ok(true),
            Err(payload) => self.inner.emit(&self.name, payload),
        }
    }

    /// The event this handle emits.
    #[must_use]
    pub fn name(&self) -> &EventName {
        &self.name
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
            name: self.name.clone(),
        }
    }
}

impl<T> fmt::Debug for EventHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventHandle")
            .field("event", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct<T>(handle: &EventHandle<T>) -> bool {
        handle.hub.is_direct()
    }

    #[test]
    fn the_direct_mark_follows_whether_only_subscriptions_listen() {
        let emitter: Emitter<u32> = Emitter::new();
        let tick = emitter.event("tick");
        assert!(!direct(&tick), "no listeners: nothing to send to directly");
        assert_eq!(tick.emit(0), Ok(false));

        let subscription = emitter.subscribe("tick", 4).unwrap();
        assert!(direct(&tick), "only a subscription");
        let other = emitter.on("other", |_| {});
        assert!(direct(&tick), "a change on another event leaves it");

        let listener = emitter.on("tick", |_| {});
        assert!(
            !direct(&tick),
            "a listener of the event keeps emits on the named path"
        );
        assert!(emitter.off("tick", listener));
        assert!(direct(&tick));

        let meta = emitter.on_new_listener(|_| {});
        let second = emitter.subscribe("tick", 4).unwrap();
        assert!(direct(&tick), "a second subscription joins the same buffer");
        assert!(emitter.off("newListener", meta));
        assert!(emitter.off("other", other));

        drop(second);
        assert!(direct(&tick));
        drop(subscription);
        assert!(
            !direct(&tick),
            "the last subscription took the mark with it"
        );

        let _again = emitter.subscribe("tick", 4).unwrap();
        assert!(direct(&tick));
        emitter.remove_all_listeners(None);
        assert!(!direct(&tick), "a plain clear takes it too");
        assert_eq!(tick.emit(6), Ok(false));
    }

    #[test]
    fn the_error_event_is_never_direct() {
        let emitter: Emitter<u32> = Emitter::new();
        let errors = emitter.event("error");
        let _subscription = emitter.subscribe("error", 4).unwrap();
        assert!(!direct(&errors));
        assert_eq!(errors.emit(1), Ok(true));
    }
}
