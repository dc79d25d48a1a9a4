//! `once_event`: the next payload of an event as a future (Node's `events.once`).

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Waker};

use crate::list::Callback;
use crate::registry::{ERROR, Inner, Key, Target, refuse_meta_name};
use crate::{Emitter, Error, EventName, ListenerId};

/// A future of the next payload of one event; made by [`Emitter::once_event`].
///
/// Resolves to `Ok(payload)`, to [`Error::ErrorEvent`] if an `"error"` event comes first, or to
/// [`Error::Closed`] if its listener is removed by someone else (for example
/// `remove_all_listeners`, or every emitter handle being dropped). Dropping it removes its
/// listeners.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let emitter: nodebook_emitter::Emitter<u32> = nodebook_emitter::Emitter::new();
/// let next = emitter.once_event("ready");
/// emitter.emit("ready", 42).unwrap();
/// assert_eq!(next.await.unwrap(), 42);
/// assert_eq!(emitter.listener_count("ready"), 0);
/// # }
/// ```
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct OnceEvent<T> {
    inner: Weak<Inner<T>>,
    event: EventName,
    event_id: ListenerId,
    error_id: Option<ListenerId>,
    shared: Arc<Shared<T>>,
    done: bool,
}

struct Slot<T> {
    outcome: Option<Result<T, Error<T>>>,
    settled: bool,
    waker: Option<Waker>,
}

struct Shared<T> {
    slot: Mutex<Slot<T>>,
    ids: Mutex<(Option<ListenerId>, Option<ListenerId>)>,
}

impl<T> Shared<T> {
    /// Stores the first outcome only; wakes the task after unlocking.
    fn settle(&self, outcome: Result<T, Error<T>>) {
        let waker = {
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.settled {
                return;
            }
            slot.settled = true;
            slot.outcome = Some(outcome);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn ids(&self) -> (Option<ListenerId>, Option<ListenerId>) {
        *self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Held by the event's listener: when the listener is dropped unfired, the future learns that
/// nothing will come.
struct CloseOnDrop<T>(Arc<Shared<T>>);

impl<T> Drop for CloseOnDrop<T> {
    fn drop(&mut self) {
        self.0.settle(Err(Error::Closed));
    }
}

fn remove<T>(inner: &Weak<Inner<T>>, name: &str, id: Option<ListenerId>) {
    if let (Some(inner), Some(id)) = (inner.upgrade(), id) {
        inner.remove(Key::Name(name), id);
    }
}

impl<T: Clone + Send + 'static> Emitter<T> {
    /// A future of the next payload of `event` (Node's `events.once(emitter, name)`).
    ///
    /// The listeners are registered now, not at the first poll, so an emit between this call and
    /// the first poll is not missed. Unless `event` is `"error"`, an `"error"` listener is
    /// registered too: an error emitted first resolves the future to [`Error::ErrorEvent`] (and
    /// counts as handled). Once settled, both listeners are gone.
    ///
    /// # Panics
    ///
    /// If `event` is `"newListener"` or `"removeListener"` (see [`on`](Self::on)), or if a
    /// `"newListener"` listener panics.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future removes both listeners at once. A payload that had already arrived
    /// but was not yet taken by a poll is dropped with the future.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use nodebook_emitter::{Emitter, Error};
    ///
    /// let emitter: Emitter<String> = Emitter::new();
    /// let next = emitter.once_event("selected");
    /// emitter.emit("error", "db down".to_string()).unwrap();
    /// assert!(matches!(next.await, Err(Error::ErrorEvent(e)) if e == "db down"));
    /// assert_eq!(emitter.listener_count("error"), 0);
    /// # }
    /// ```
    #[track_caller]
    pub fn once_event(&self, event: impl Into<EventName>) -> OnceEvent<T> {
        let event = event.into();
        refuse_meta_name(&event, "once_event");
        let location = Location::caller();
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot {
                outcome: None,
                settled: false,
                waker: None,
            }),
            ids: Mutex::new((None, None)),
        });
        let weak = Arc::downgrade(&self.inner);
        let watches_errors = event != ERROR;

        let on_event = {
            let shared = Arc::clone(&shared);
            let closer = CloseOnDrop(Arc::clone(&shared));
            let weak = weak.clone();
            move |payload: &T| {
                closer.0.settle(Ok(payload.clone()));
                remove(&weak, ERROR, shared.ids().1);
            }
        };
        let event_id = self.inner.add(
            Target::Name(event.clone()),
            Callback::Payload(Arc::new(on_event)),
            true,
            false,
            location,
        );
        shared.ids.lock().unwrap_or_else(PoisonError::into_inner).0 = Some(event_id);

        let error_id = watches_errors.then(|| {
            let on_error = {
                let shared = Arc::clone(&shared);
                let weak = weak.clone();
                let event = event.clone();
                move |error: &T| {
                    shared.settle(Err(Error::ErrorEvent(error.clone())));
                    remove(&weak, &event, shared.ids().0);
                }
            };
            let id = self.inner.add(
                Target::Name(EventName::from_static(ERROR)),
                Callback::Payload(Arc::new(on_error)),
                true,
                false,
                location,
            );
            shared.ids.lock().unwrap_or_else(PoisonError::into_inner).1 = Some(id);
            id
        });

        let future = OnceEvent {
            inner: weak,
            event,
            event_id,
            error_id,
            shared,
            done: false,
        };
        if future
            .shared
            .slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .settled
        {
            future.remove_listeners();
        }
        future
    }
}

impl<T> OnceEvent<T> {
    fn remove_listeners(&self) {
        remove(&self.inner, &self.event, Some(self.event_id));
        remove(&self.inner, ERROR, self.error_id);
    }
}

impl<T> Future for OnceEvent<T> {
    type Output = Result<T, Error<T>>;

    /// Polling again after completion stays pending: the payload was handed out once.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.done {
            return Poll::Pending;
        }
        let outcome = {
            let mut slot = this
                .shared
                .slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match slot.outcome.take() {
                Some(outcome) => outcome,
                None => {
                    if !slot.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        slot.waker = Some(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
            }
        };
        this.done = true;
        this.remove_listeners();
        Poll::Ready(outcome)
    }
}

impl<T> Drop for OnceEvent<T> {
    fn drop(&mut self) {
        if !self.done {
            self.remove_listeners();
        }
    }
}

impl<T> fmt::Debug for OnceEvent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceEvent")
            .field("event", &self.event)
            .field("event_id", &self.event_id)
            .field("error_id", &self.error_id)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
