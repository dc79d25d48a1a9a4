//! # Implementation details
//!
//! One event's registrations, in call order, and what the registry needs to know about them.
//!
//! Invariants (all kept under the registry's lock, which is the only place a list changes):
//!
//! - `calls` counts the registrations an emit must call one by one (payload and async
//!   listeners); `subscribers` counts subscriptions, which share one hub (`hub`, present while
//!   `subscribers > 0`).
//! - While every registration is a payload listener without `once` (the common case), `plain`
//!   holds their functions in order, kept in step by insert and remove; an emit then calls them
//!   in a plain loop. Any other registration clears it until the list is plain again.
//! - The hub's *direct* flag says that the event has subscriptions and nothing else (and is not
//!   `"error"`, whose emit has its own rule): an [`EventHandle`](crate::EventHandle) may then
//!   store its payload into the hub under the hub's lock alone. The flag is set and cleared by
//!   [`Listeners::insert`] and [`Listeners::remove`] (and by the registry when it drops a whole
//!   list), under the registry's lock and then the hub's (the one lock order there is).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::{ListenerChange, ListenerId};

pub(crate) type PayloadFn<T> = Arc<dyn Fn(&T) + Send + Sync>;
pub(crate) type MetaFn = Arc<dyn Fn(&ListenerChange) + Send + Sync>;

/// What a registration calls: a payload listener, a meta-event listener (stored under
/// `"newListener"` / `"removeListener"` and called only by the announcements), a subscription
/// (fed through its event's hub, once per emit for all subscriptions), or an async listener
/// (started on the runtime by each emit).
pub(crate) enum Callback<T> {
    Payload(PayloadFn<T>),
    Meta(MetaFn),
    Subscriber(Arc<dyn Subscriber<T>>),
    Async(Arc<dyn AsyncCall<T>>),
}

/// The registry's view of a subscription: the hub its payloads go through.
pub(crate) trait Subscriber<T>: Send + Sync {
    fn hub(&self) -> Arc<dyn Publish<T>>;
}

/// A hub that stores each payload once for all the subscriptions of one event.
pub(crate) trait Publish<T>: Send + Sync {
    fn publish(&self, payload: &T);
    /// Stores the payload itself, for an event with only subscriptions. Runs under the
    /// registry's lock, so it runs no user code: nothing is cloned or dropped here.
    fn store(&self, payload: T) -> Stored<T>;
    /// Wakes the subscriptions waiting for a payload.
    fn wake_waiting(&self);
    /// Whether the event has these subscriptions and nothing else, so that an emit through an
    /// [`EventHandle`](crate::EventHandle) may store into the hub directly.
    fn set_direct(&self, direct: bool);
}

/// An async listener, as the registry sees it: something an emit starts with its payload.
pub(crate) trait AsyncCall<T>: Send + Sync {
    fn start(self: Arc<Self>, payload: &T);
}

/// What a [`Publish::store`] leaves for after the lock: the payload it pushed out of the ring
/// (its drop may run user code) and whether subscriptions wait to be woken.
pub(crate) struct Stored<T> {
    pub(crate) evicted: Option<T>,
    pub(crate) waiting: bool,
}

impl<T> Clone for Callback<T> {
    fn clone(&self) -> Self {
        match self {
            Self::Payload(f) => Self::Payload(Arc::clone(f)),
            Self::Meta(f) => Self::Meta(Arc::clone(f)),
            Self::Subscriber(s) => Self::Subscriber(Arc::clone(s)),
            Self::Async(a) => Self::Async(Arc::clone(a)),
        }
    }
}

pub(crate) struct Registration<T> {
    pub(crate) id: ListenerId,
    pub(crate) fired: Option<Arc<AtomicBool>>,
    pub(crate) callback: Callback<T>,
}

impl<T> Clone for Registration<T> {
    fn clone(&self) -> Self {
        Self {
            id: self.id,
            fired: self.fired.clone(),
            callback: self.callback.clone(),
        }
    }
}

/// One event's registrations in call order, plus the hub of its subscriptions (present while
/// at least one subscription is registered), so that an emit publishes once to the hub.
pub(crate) struct Listeners<T> {
    registrations: Vec<Registration<T>>,
    pub(crate) hub: Option<Arc<dyn Publish<T>>>,
    subscribers: usize,
    /// How many registrations an emit calls one by one (payload and async listeners): an emit
    /// to subscriptions only skips the walk over the list.
    pub(crate) calls: usize,
    /// The payload listeners, in order, while every registration is a payload listener without
    /// `once` (the common case): an emit then calls them as a plain list of functions, without
    /// looking at each registration's kind and `once` flag.
    pub(crate) plain: Option<Vec<PayloadFn<T>>>,
    /// Whether an emit of this event may go straight to the hub when only subscriptions listen
    /// (false for `"error"`).
    may_be_direct: bool,
}

impl<T> Clone for Listeners<T> {
    fn clone(&self) -> Self {
        Self {
            registrations: self.registrations.clone(),
            hub: self.hub.clone(),
            subscribers: self.subscribers,
            calls: self.calls,
            plain: self.plain.clone(),
            may_be_direct: self.may_be_direct,
        }
    }
}

impl<T> Listeners<T> {
    pub(crate) fn new(may_be_direct: bool) -> Self {
        Self {
            registrations: Vec::new(),
            hub: None,
            subscribers: 0,
            calls: 0,
            // An empty list is plain.
            plain: Some(Vec::new()),
            may_be_direct,
        }
    }

    /// Whether only subscriptions listen, and an emit may store into their hub directly.
    fn direct(&self) -> bool {
        self.may_be_direct && self.subscribers == self.registrations.len()
    }

    pub(crate) fn insert(&mut self, registration: Registration<T>, prepend: bool) {
        let new_hub = match &registration.callback {
            Callback::Subscriber(subscriber) => {
                self.subscribers += 1;
                self.hub.is_none().then(|| subscriber.hub())
            }
            Callback::Payload(_) | Callback::Async(_) => {
                self.calls += 1;
                None
            }
            Callback::Meta(_) => None,
        };
        if new_hub.is_some() {
            self.hub = new_hub;
        }
        match (&mut self.plain, plain_function(&registration)) {
            (Some(plain), Some(f)) if prepend => plain.insert(0, f),
            (Some(plain), Some(f)) => plain.push(f),
            (plain, None) => *plain = None,
            (None, Some(_)) => {}
        }
        if prepend {
            self.registrations.insert(0, registration);
        } else {
            self.registrations.push(registration);
        }
        if let Some(hub) = &self.hub {
            hub.set_direct(self.direct());
        }
    }

    fn plain_functions(&self) -> Option<Vec<PayloadFn<T>>> {
        self.registrations.iter().map(plain_function).collect()
    }

    pub(crate) fn remove(&mut self, position: usize) -> Registration<T> {
        let registration = self.registrations.remove(position);
        match &mut self.plain {
            Some(plain) => drop(plain.remove(position)),
            // Removing the one registration that was not plain makes the list plain again.
            None if plain_function(&registration).is_none() => {
                self.plain = self.plain_functions();
            }
            None => {}
        }
        match registration.callback {
            Callback::Subscriber(_) => {
                self.subscribers -= 1;
                if self.subscribers == 0
                    && let Some(hub) = self.hub.take()
                {
                    hub.set_direct(false);
                }
            }
            Callback::Payload(_) | Callback::Async(_) => self.calls -= 1,
            Callback::Meta(_) => {}
        }
        if let Some(hub) = &self.hub {
            hub.set_direct(self.direct());
        }
        registration
    }

    /// Called when the whole list is dropped at once (`remove_all_listeners` without
    /// announcements): its hub no longer receives this event's emits.
    pub(crate) fn detach(&self) {
        if let Some(hub) = &self.hub {
            hub.set_direct(false);
        }
    }
}

/// A registration's function, if it is a payload listener without `once`.
fn plain_function<T>(registration: &Registration<T>) -> Option<PayloadFn<T>> {
    match (&registration.callback, &registration.fired) {
        (Callback::Payload(f), None) => Some(Arc::clone(f)),
        _ => None,
    }
}

impl<T> std::ops::Deref for Listeners<T> {
    type Target = [Registration<T>];

    fn deref(&self) -> &[Registration<T>] {
        &self.registrations
    }
}
