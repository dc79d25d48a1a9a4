//! `subscribe`: an event's payloads as a bounded `Stream` for a task (Node's `events.on`).

use std::fmt;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};

use crate::hub::{Hub, Link, Position, Seat, shared_hub};
use crate::list::Callback;
use crate::registry::{ERROR, Inner, Key, Target, refuse_meta_name};
use crate::{Emitter, Error, EventName, ListenerId};

/// A stream of one event's payloads for an async task; made by [`Emitter::subscribe`].
///
/// Yields `Ok(payload)` for each emit, in emit order. The buffer holds `capacity` payloads; when
/// it is full, an emit drops the **oldest** buffered payload (the emitter never waits for a slow
/// subscriber) and the stream yields [`Error::Lagged`] with the number dropped before the next
/// payload, like tokio's broadcast channel.
///
/// An `"error"` event ends the stream: the buffered payloads come first, then
/// [`Error::ErrorEvent`], then `None`. The stream also ends (after its buffer) when its listener
/// is removed by someone else or every emitter handle is dropped. Dropping the subscription
/// removes its listeners.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use futures_util::StreamExt;
///
/// let emitter: nodebook_emitter::Emitter<u32> = nodebook_emitter::Emitter::new();
/// let mut ticks = emitter.subscribe("tick", 16).unwrap();
/// emitter.emit("tick", 1).unwrap();
/// emitter.emit("tick", 2).unwrap();
/// assert_eq!(ticks.next().await.unwrap().unwrap(), 1);
/// assert_eq!(ticks.next().await.unwrap().unwrap(), 2);
/// drop(ticks);
/// assert_eq!(emitter.listener_count("tick"), 0);
/// # }
/// ```
pub struct Subscription<T> {
    inner: Weak<Inner<T>>,
    event: EventName,
    event_id: ListenerId,
    error_id: Option<ListenerId>,
    hub: Arc<Hub<T>>,
    seat: Seat,
    position: Arc<Position>,
    capacity: usize,
}

impl<T: Clone + Send + 'static> Emitter<T> {
    /// Subscribes a task to `event` with a buffer of `capacity` payloads (Node's
    /// `events.on(emitter, name)`, bounded).
    ///
    /// The subscription is a listener like any other: it counts in
    /// [`listener_count`](Self::listener_count) and toward the max-listener warning. Payloads
    /// are stored once per emit for all the subscriptions of an event, before the synchronous
    /// listeners run, and cloned when a subscription reads them. Unless `event` is `"error"`, it
    /// also registers an `"error"` listener that ends the stream with the error, as Node's
    /// iterator does.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroCapacity`] if `capacity` is 0.
    ///
    /// # Panics
    ///
    /// If `event` is `"newListener"` or `"removeListener"`: those meta events carry a
    /// [`ListenerChange`](crate::ListenerChange), not a payload; the message names the method to
    /// use instead ([`on_new_listener`](Self::on_new_listener) and its kin). Also if a
    /// `"newListener"` listener panics.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use nodebook_emitter::Error;
    /// use futures_util::StreamExt;
    ///
    /// let emitter: nodebook_emitter::Emitter<u32> = nodebook_emitter::Emitter::new();
    /// assert!(matches!(emitter.subscribe("n", 0), Err(Error::ZeroCapacity)));
    /// let mut numbers = emitter.subscribe("n", 2).unwrap();
    /// for n in 1..=5 {
    ///     emitter.emit("n", n).unwrap();
    /// }
    /// assert!(matches!(numbers.next().await, Some(Err(Error::Lagged { missed: 3 }))));
    /// assert_eq!(numbers.next().await.unwrap().unwrap(), 4);
    /// assert_eq!(numbers.next().await.unwrap().unwrap(), 5);
    /// # }
    /// ```
    #[track_caller]
    pub fn subscribe(
        &self,
        event: impl Into<EventName>,
        capacity: usize,
    ) -> Result<Subscription<T>, Error<T>> {
        if capacity == 0 {
            return Err(Error::ZeroCapacity);
        }
        let event = event.into();
        refuse_meta_name(&event, "subscribe");
        let location = Location::caller();
        let hub = shared_hub(&self.inner, &event);
        let (seat, position) = hub.join(capacity);
        let link = Arc::new(Link {
            hub: Arc::clone(&hub),
            seat,
        });
        let event_id = self.inner.add(
            Target::Name(event.clone()),
            Callback::Subscriber(link),
            false,
            false,
            location,
        );
        let weak = Arc::downgrade(&self.inner);
        let error_id = (event != ERROR).then(|| {
            let own_id = Arc::new(OnceLock::new());
            let on_error = {
                let (hub, weak, event, own_id) = (
                    Arc::clone(&hub),
                    weak.clone(),
                    event.clone(),
                    Arc::clone(&own_id),
                );
                move |error: &T| {
                    hub.end(seat, Some(error.clone()));
                    // Node's iterator removes its listeners as soon as the error arrives.
                    if let Some(inner) = weak.upgrade() {
                        inner.remove(Key::Name(&event), event_id);
                        if let Some(&id) = own_id.get() {
                            inner.remove(Key::Name(ERROR), id);
                        }
                    }
                }
            };
            let id = self.inner.add(
                Target::Name(EventName::from_static(ERROR)),
                Callback::Payload(Arc::new(on_error)),
                false,
                false,
                location,
            );
            own_id.get_or_init(|| id);
            id
        });
        Ok(Subscription {
            inner: weak,
            event,
            event_id,
            error_id,
            hub,
            seat,
            position,
            capacity,
        })
    }
}

impl<T> Subscription<T> {
    /// The event this subscription receives.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<u8> = nodebook_emitter::Emitter::new();
    /// let sub = emitter.subscribe("data", 8).unwrap();
    /// assert_eq!(sub.event(), "data");
    /// ```
    #[must_use]
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// The id of the subscription's listener, as seen by [`Emitter::listeners`] and the meta
    /// events.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<u8> = nodebook_emitter::Emitter::new();
    /// let sub = emitter.subscribe("data", 8).unwrap();
    /// assert_eq!(emitter.listeners("data"), [sub.id()]);
    /// ```
    #[must_use]
    pub fn id(&self) -> ListenerId {
        self.event_id
    }

    /// The most payloads the subscription keeps unread.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<u8> = nodebook_emitter::Emitter::new();
    /// assert_eq!(emitter.subscribe("data", 8).unwrap().capacity(), 8);
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many payloads are waiting to be read (at most the capacity).
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<u8> = nodebook_emitter::Emitter::new();
    /// let sub = emitter.subscribe("data", 8).unwrap();
    /// emitter.emit("data", 1).unwrap();
    /// assert_eq!(sub.len(), 1);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.hub.buffered(self.seat)
    }

    /// Whether no payload is waiting to be read.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<u8> = nodebook_emitter::Emitter::new();
    /// assert!(emitter.subscribe("data", 8).unwrap().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn remove_listeners(&self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.remove(Key::Name(&self.event), self.event_id);
            if let Some(id) = self.error_id {
                inner.remove(Key::Name(ERROR), id);
            }
        }
    }
}

impl<T: Clone> Stream for Subscription<T> {
    type Item = Result<T, Error<T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // A subscription that always has a payload ready takes part in tokio's cooperative
        // budget, as tokio's own channels do, so a busy reader still lets its neighbours run.
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        let this = self.get_mut();
        let ring = match this.hub.next_ready(&this.position, this.capacity) {
            Ok(payload) => {
                coop.made_progress();
                return Poll::Ready(Some(Ok(payload)));
            }
            Err(ring) => ring,
        };
        let polled = Hub::poll_read(ring, this.seat, cx);
        if polled.is_ready() {
            coop.made_progress();
        }
        if matches!(
            polled,
            Poll::Ready(None) | Poll::Ready(Some(Err(Error::ErrorEvent(_))))
        ) {
            this.remove_listeners();
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), None)
    }
}

impl<T: Clone> FusedStream for Subscription<T> {
    fn is_terminated(&self) -> bool {
        self.hub.is_finished(self.seat)
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        // Leave first, so that the listener's removal has no unread payloads to set aside.
        self.hub.leave(self.seat);
        self.remove_listeners();
    }
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("event", &self.event)
            .field("id", &self.event_id)
            .finish_non_exhaustive()
    }
}
