//! `subscribe`: an event's payloads as a bounded `Stream` for a task (Node's `events.on`).

use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use futures_core::{FusedStream, Stream};

use crate::registry::{Callback, ERROR, Inner, Key, Target};
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
/// let emitter: emitter::Emitter<u32> = emitter::Emitter::new();
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
    shared: Arc<Shared<T>>,
}

struct Queue<T> {
    items: VecDeque<T>,
    capacity: usize,
    missed: u64,
    error: Option<T>,
    /// An `"error"` arrived: later payloads are ignored.
    failed: bool,
    /// The payload listener is gone: nothing more will be pushed.
    closed: bool,
    /// The stream has yielded `None` (or its error and will yield `None` next).
    finished: bool,
    waker: Option<Waker>,
}

struct Shared<T> {
    queue: Mutex<Queue<T>>,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `change` on the queue and wakes the task after unlocking.
    fn update(&self, change: impl FnOnce(&mut Queue<T>)) {
        let waker = {
            let mut queue = self.lock();
            change(&mut queue);
            queue.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Held by the payload listener: when the listener is dropped, the stream ends after its buffer.
struct CloseOnDrop<T>(Arc<Shared<T>>);

impl<T> Drop for CloseOnDrop<T> {
    fn drop(&mut self) {
        self.0.update(|queue| queue.closed = true);
    }
}

impl<T: Clone + Send + 'static> Emitter<T> {
    /// Subscribes a task to `event` with a buffer of `capacity` payloads (Node's
    /// `events.on(emitter, name)`, bounded).
    ///
    /// The subscription is a listener like any other: it counts in
    /// [`listener_count`](Self::listener_count) and toward the max-listener warning, and runs
    /// (as a cheap clone into its buffer) in registration order. Unless `event` is `"error"`, it
    /// also registers an `"error"` listener that ends the stream with the error, as Node's
    /// iterator does.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroCapacity`] if `capacity` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use emitter::Error;
    /// use futures_util::StreamExt;
    ///
    /// let emitter: emitter::Emitter<u32> = emitter::Emitter::new();
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
        let location = Location::caller();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                items: VecDeque::with_capacity(capacity.min(1024)),
                capacity,
                missed: 0,
                error: None,
                failed: false,
                closed: false,
                finished: false,
                waker: None,
            }),
        });

        let on_event = {
            let closer = CloseOnDrop(Arc::clone(&shared));
            move |payload: &T| {
                closer.0.update(|queue| {
                    if queue.failed || queue.finished {
                        return;
                    }
                    if queue.items.len() == queue.capacity {
                        queue.items.pop_front();
                        queue.missed += 1;
                    }
                    queue.items.push_back(payload.clone());
                });
            }
        };
        let event_id = self.inner.add(
            Target::Name(event.clone()),
            Callback::Payload(Arc::new(on_event)),
            false,
            false,
            location,
        );
        let weak = Arc::downgrade(&self.inner);
        let error_id = (event != ERROR).then(|| {
            let own_id = Arc::new(OnceLock::new());
            let on_error = {
                let (shared, weak, event, own_id) = (
                    Arc::clone(&shared),
                    weak.clone(),
                    event.clone(),
                    Arc::clone(&own_id),
                );
                move |error: &T| {
                    let mut first = false;
                    shared.update(|queue| {
                        if !queue.failed && !queue.finished {
                            queue.failed = true;
                            queue.error = Some(error.clone());
                            first = true;
                        }
                    });
                    // Node's iterator removes its listeners as soon as the error arrives.
                    if let (true, Some(inner)) = (first, weak.upgrade()) {
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
            inner: Arc::downgrade(&self.inner),
            event,
            event_id,
            error_id,
            shared,
        })
    }
}

impl<T> Subscription<T> {
    /// The event this subscription receives.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: emitter::Emitter<u8> = emitter::Emitter::new();
    /// let sub = emitter.subscribe("data", 8).unwrap();
    /// assert_eq!(sub.event(), "data");
    /// ```
    #[must_use]
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// The id of the payload listener, as seen by [`Emitter::listeners`] and the meta events.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: emitter::Emitter<u8> = emitter::Emitter::new();
    /// let sub = emitter.subscribe("data", 8).unwrap();
    /// assert_eq!(emitter.listeners("data"), [sub.id()]);
    /// ```
    #[must_use]
    pub fn id(&self) -> ListenerId {
        self.event_id
    }

    /// The most payloads the buffer holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: emitter::Emitter<u8> = emitter::Emitter::new();
    /// assert_eq!(emitter.subscribe("data", 8).unwrap().capacity(), 8);
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.lock().capacity
    }

    /// How many payloads are buffered and not yet taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: emitter::Emitter<u8> = emitter::Emitter::new();
    /// let sub = emitter.subscribe("data", 8).unwrap();
    /// emitter.emit("data", 1).unwrap();
    /// assert_eq!(sub.len(), 1);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared.lock().items.len()
    }

    /// Whether no payload is buffered.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: emitter::Emitter<u8> = emitter::Emitter::new();
    /// assert!(emitter.subscribe("data", 8).unwrap().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.shared.lock().items.is_empty()
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

impl<T> Stream for Subscription<T> {
    type Item = Result<T, Error<T>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let (item, ended) = {
            let mut queue = this.shared.lock();
            if queue.finished {
                return Poll::Ready(None);
            }
            if queue.missed > 0 {
                let missed = std::mem::take(&mut queue.missed);
                return Poll::Ready(Some(Err(Error::Lagged { missed })));
            }
            if let Some(item) = queue.items.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            if let Some(error) = queue.error.take() {
                queue.finished = true;
                (Some(Err(Error::ErrorEvent(error))), true)
            } else if queue.closed || queue.failed {
                queue.finished = true;
                (None, true)
            } else {
                if !queue
                    .waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    queue.waker = Some(cx.waker().clone());
                }
                return Poll::Pending;
            }
        };
        if ended {
            this.remove_listeners();
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), None)
    }
}

impl<T> FusedStream for Subscription<T> {
    fn is_terminated(&self) -> bool {
        self.shared.lock().finished
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        self.remove_listeners();
    }
}

impl<T> fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let queue = self.shared.lock();
        f.debug_struct("Subscription")
            .field("event", &self.event)
            .field("id", &self.event_id)
            .field("buffered", &queue.items.len())
            .field("capacity", &queue.capacity)
            .field("missed", &queue.missed)
            .field("finished", &queue.finished)
            .finish_non_exhaustive()
    }
}
