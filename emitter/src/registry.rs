//! # Implementation details
//!
//! The listener table behind every [`Emitter`](crate::Emitter) handle.
//!
//! Invariants:
//!
//! - One `std::sync::Mutex` guards the table. It is held only for table operations: never while
//!   a listener, a meta-event listener or the warning hook runs, and never while a removed
//!   registration is dropped (a listener's captured state may run code on drop, such as waking a
//!   subscription, and that code may call back into the emitter). So listeners may emit, add and
//!   remove on the same emitter without deadlock, and a panicking listener cannot poison the lock.
//!   Poison is ignored anyway: no code that can panic runs while the guard is held.
//! - Each event's listeners live in an `Arc<Vec<Registration>>`. An emit clones the `Arc` (the
//!   snapshot) and calls the listeners after unlocking; add and remove go through
//!   `Arc::make_mut`, which copies the list only when a snapshot is alive. This gives Node's
//!   snapshot rule (listeners added during an emit are not called by it, removed ones still are)
//!   and makes an emit cost one lock, one hash lookup and one reference-count increment.
//! - While every registration of a list is a payload listener without `once` (the common
//!   case), the list also keeps their functions in order as a plain `Vec` (`plain`), kept in
//!   step by insert and remove; an emit then calls them in a plain loop. Any other
//!   registration clears it until the list is plain again.
//! - An entry's list is never empty: the entry is removed with its last listener, so
//!   `event_names` and the meta-event checks read presence only.
//! - A `once` registration carries a shared `fired` flag. The emit that wins the flag's swap
//!   removes the registration and then calls it; any other snapshot (a nested emit, another
//!   thread) skips it. This is Node's `fired` guard, made atomic.
//! - Subscriptions are registrations too (for order, counts and the warning), but their payloads
//!   go through one hub per event (`subscribe.rs`): the snapshot carries the hub, and an emit
//!   stores the payload there once, before the synchronous listeners run, instead of once per
//!   subscription. A subscription made during an emit therefore misses it, as a listener would.
//!   An event with only subscriptions skips the snapshot: the payload moves into the hub's
//!   ring under the registry lock (lock order: registry, then ring; nothing takes them the
//!   other way round), so it is never cloned on emit; the payload the ring pushes out is
//!   dropped, and waiters are woken, after both locks are released.
//! - A generation counter moves, under the lock, before every change to the lists. A [`Route`]
//!   (an [`EventHandle`](crate::EventHandle)'s state) remembers the generation at which an
//!   emit by name found its event with only subscriptions, fed by the route's hub. While the
//!   generation is unchanged, an emit through the route stores the payload in that hub without
//!   the registry's lock, re-reading the generation under the hub's lock: a change that
//!   reached the hub first has moved it, and the emit falls back to the name. Any change,
//!   to any event, sends the next emit through the name, which verifies the route again.
//! - The emitter keeps such a route itself for the first [`HOT_ROUTES`] events that an emit
//!   by name finds with only subscriptions (written once each, under the lock, into a
//!   `OnceLock`), so emits by those names take the same direct path after an inline name
//!   compare. A hot route keeps its event's hub alive with the emitter: later subscriptions
//!   join it.
//! - The `warned` flag lives on the entry and is cleared when the list falls to one listener, as
//!   Node's flag lives on the listener array that collapses back to a bare function.

use std::any::Any;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};

use crate::listener::same_function;
use crate::table::{NameTable, same_name};
use crate::warning::{MaxListenersExceeded, WarningHook, default_max_listeners, report};
use crate::{Error, EventName, ListenerChange, ListenerId};

pub(crate) const NEW_LISTENER: &str = "newListener";
pub(crate) const REMOVE_LISTENER: &str = "removeListener";
pub(crate) const ERROR: &str = "error";
const ERROR_MONITOR: EventName = EventName::from_static("errorMonitor");

pub(crate) type PayloadFn<T> = Arc<dyn Fn(&T) + Send + Sync>;
pub(crate) type MetaFn = Arc<dyn Fn(&ListenerChange) + Send + Sync>;

/// What a registration calls: a payload listener, a meta-event listener (stored under
/// `"newListener"` / `"removeListener"` and called only by the announcements), or a
/// subscription (fed through its event's hub, once per emit for all subscriptions).
pub(crate) enum Callback<T> {
    Payload(PayloadFn<T>),
    Meta(MetaFn),
    Subscriber(Arc<dyn Subscriber<T>>),
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
    /// Stores the payload if the lists are still at generation `seen` once the hub is
    /// locked, then drops what the ring pushed out and wakes waiters; hands the payload back
    /// otherwise. The direct path of a hot route.
    fn store_if_current(&self, payload: T, generation: &AtomicU64, seen: u64) -> Result<(), T>;
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
        }
    }
}

struct Registration<T> {
    id: ListenerId,
    fired: Option<Arc<AtomicBool>>,
    callback: Callback<T>,
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

type List<T> = Arc<Listeners<T>>;

/// One event's registrations in call order, plus the hub of its subscriptions (present while
/// at least one subscription is registered), so that an emit publishes once to the hub.
struct Listeners<T> {
    registrations: Vec<Registration<T>>,
    hub: Option<Arc<dyn Publish<T>>>,
    subscribers: usize,
    /// How many registrations are payload listeners: an emit to subscriptions only skips the
    /// walk over the list.
    payloads: usize,
    /// The payload listeners, in order, while every registration is a payload listener without
    /// `once` (the common case): an emit then calls them as a plain list of functions, without
    /// looking at each registration's kind and `once` flag.
    plain: Option<Vec<PayloadFn<T>>>,
}

impl<T> Clone for Listeners<T> {
    fn clone(&self) -> Self {
        Self {
            registrations: self.registrations.clone(),
            hub: self.hub.clone(),
            subscribers: self.subscribers,
            payloads: self.payloads,
            plain: self.plain.clone(),
        }
    }
}

impl<T> Listeners<T> {
    fn new() -> Self {
        Self {
            registrations: Vec::new(),
            hub: None,
            subscribers: 0,
            payloads: 0,
            // An empty list is plain.
            plain: Some(Vec::new()),
        }
    }

    fn insert(&mut self, registration: Registration<T>, prepend: bool) {
        match &registration.callback {
            Callback::Subscriber(subscriber) => {
                self.subscribers += 1;
                if self.hub.is_none() {
                    self.hub = Some(subscriber.hub());
                }
            }
            Callback::Payload(_) => self.payloads += 1,
            Callback::Meta(_) => {}
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
    }

    fn plain_functions(&self) -> Option<Vec<PayloadFn<T>>> {
        self.registrations.iter().map(plain_function).collect()
    }

    fn remove(&mut self, position: usize) -> Registration<T> {
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
                if self.subscribers == 0 {
                    self.hub = None;
                }
            }
            Callback::Payload(_) => self.payloads -= 1,
            Callback::Meta(_) => {}
        }
        registration
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

struct Entry<T> {
    /// Insertion order of the name, for `event_names`.
    seq: u64,
    list: List<T>,
    warned: bool,
}

/// Which list an operation addresses.
#[derive(Clone, Copy)]
pub(crate) enum Key<'a> {
    Name(&'a str),
    ErrorMonitor,
}

struct State<T> {
    events: NameTable<Entry<T>>,
    error_monitor: Option<Entry<T>>,
    next_id: u64,
    next_seq: u64,
    max_listeners: Option<usize>,
    warning_hook: Option<WarningHook>,
    /// Each event's subscription hub, alive while a subscription holds it.
    hubs: NameTable<Weak<dyn Any + Send + Sync>>,
}

impl<T> State<T> {
    fn entry(&self, key: Key<'_>) -> Option<&Entry<T>> {
        match key {
            Key::Name(name) => self.events.get(name),
            Key::ErrorMonitor => self.error_monitor.as_ref(),
        }
    }

    fn entry_mut(&mut self, key: Key<'_>) -> Option<&mut Entry<T>> {
        match key {
            Key::Name(name) => self.events.get_mut(name),
            Key::ErrorMonitor => self.error_monitor.as_mut(),
        }
    }

    fn take_entry(&mut self, key: Key<'_>) -> Option<Entry<T>> {
        match key {
            Key::Name(name) => self.events.remove(name),
            Key::ErrorMonitor => self.error_monitor.take(),
        }
    }

    fn snapshot(&self, key: Key<'_>) -> Option<List<T>> {
        self.entry(key).map(|entry| Arc::clone(&entry.list))
    }
}

/// Where `add` puts a registration.
pub(crate) enum Target {
    Name(EventName),
    ErrorMonitor,
}

pub(crate) struct Inner<T> {
    state: Mutex<State<T>>,
    /// Bumped under the lock before every change to the listener lists, so that a [`Route`]
    /// can tell, without the lock, that the lists are as it last saw them.
    generation: AtomicU64,
    /// Routes for the first [`HOT_ROUTES`] events that an emit by name found with only
    /// subscriptions: later emits by those names take the direct path of an
    /// [`EventHandle`](crate::EventHandle). Each is written once, under the lock, and read
    /// without it; `hot_count` says how many are written.
    hot: [OnceLock<HotRoute<T>>; HOT_ROUTES],
    hot_count: AtomicUsize,
}

/// How many events an emitter keeps a hot route for. A hot route keeps its event's hub
/// alive for as long as the emitter lives, so the number is small and fixed.
const HOT_ROUTES: usize = 4;

/// A [`Route`] kept by the emitter itself, with the hub it stores into.
struct HotRoute<T> {
    route: Route,
    hub: Arc<dyn Publish<T>>,
}

/// One event resolved once (the state behind an [`EventHandle`](crate::EventHandle)): its
/// name, the address of the hub its subscriptions read from (the handle keeps that hub alive),
/// and the generation at which the registry was last seen sending this event to that hub alone.
pub(crate) struct Route {
    pub(crate) name: EventName,
    hub: usize,
    verified: AtomicU64,
}

impl Route {
    pub(crate) fn new<H: ?Sized>(name: EventName, hub: &Arc<H>) -> Self {
        Self {
            name,
            hub: address(hub),
            verified: AtomicU64::new(NEVER),
        }
    }
}

impl Clone for Route {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            hub: self.hub,
            verified: AtomicU64::new(self.verified.load(Ordering::Relaxed)),
        }
    }
}

/// Where a hub lives, to tell whether the registry's hub for an event is a route's.
fn address<H: ?Sized>(hub: &Arc<H>) -> usize {
    Arc::as_ptr(hub).cast::<()>() as usize
}

/// A generation the registry never reaches.
const NEVER: u64 = u64::MAX;

impl<T> Inner<T> {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(State {
                events: NameTable::new(),
                error_monitor: None,
                next_id: 0,
                next_seq: 0,
                max_listeners: None,
                warning_hook: None,
                hubs: NameTable::new(),
            }),
            generation: AtomicU64::new(0),
            hot: Default::default(),
            hot_count: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the listener lists as about to change. Called with the lock held, so the
    /// generation only moves under it (a plain store suffices).
    fn changing(&self) {
        let next = self.generation.load(Ordering::Relaxed) + 1;
        self.generation.store(next, Ordering::Release);
    }

    /// Adds a registration: announces it to `"newListener"` first, inserts it, then warns if the
    /// insert crossed the limit (Node's order in `_addListener`). Without `"newListener"`
    /// listeners, all of it happens under one lock.
    pub(crate) fn add(
        &self,
        target: Target,
        callback: Callback<T>,
        once: bool,
        prepend: bool,
        location: &'static Location<'static>,
    ) -> ListenerId {
        let mut state = self.lock();
        let id = ListenerId(state.next_id);
        state.next_id += 1;
        if let Target::Name(name) = &target
            && let Some(list) = state.snapshot(Key::Name(NEW_LISTENER))
        {
            drop(state);
            let change = ListenerChange {
                event: name.clone(),
                id,
                once,
            };
            self.announce(NEW_LISTENER, &list, &change);
            state = self.lock();
        }
        let registration = Registration {
            id,
            fired: once.then(|| Arc::new(AtomicBool::new(false))),
            callback,
        };
        self.changing();
        let warning = insert(&mut state, target, registration, prepend, location);
        drop(state);
        if let Some((warning, hook)) = warning {
            report(&warning, hook);
        }
        id
    }

    /// Removes one registration by id and announces it to `"removeListener"` afterwards.
    pub(crate) fn remove(&self, key: Key<'_>, id: ListenerId) -> bool {
        let (removed, announcement) = {
            let mut state = self.lock();
            let Some(entry) = state.entry_mut(key) else {
                return false;
            };
            let Some(position) = entry.list.iter().position(|r| r.id == id) else {
                return false;
            };
            self.changing();
            let list = Arc::make_mut(&mut entry.list);
            let registration = list.remove(position);
            let remaining = list.len();
            if remaining <= 1 {
                entry.warned = false;
            }
            let emptied = if remaining == 0 {
                state.take_entry(key)
            } else {
                None
            };
            let announcement = match key {
                Key::Name(name) => state.snapshot(Key::Name(REMOVE_LISTENER)).map(|list| {
                    let change = ListenerChange {
                        event: EventName::from(name),
                        id,
                        once: registration.fired.is_some(),
                    };
                    (list, change)
                }),
                Key::ErrorMonitor => None,
            };
            ((registration, emptied), announcement)
        };
        drop(removed);
        if let Some((list, change)) = announcement {
            self.announce(REMOVE_LISTENER, &list, &change);
        }
        true
    }

    /// Removes the most recently added registration of `listener` (Node's `removeListener(fn)`).
    pub(crate) fn remove_function(&self, name: &str, listener: &PayloadFn<T>) -> bool {
        let id = {
            let state = self.lock();
            state.events.get(name).and_then(|entry| {
                entry.list.iter().rev().find_map(|r| match &r.callback {
                    Callback::Payload(f) if same_function(f, listener) => Some(r.id),
                    _ => None,
                })
            })
        };
        id.is_some_and(|id| self.remove(Key::Name(name), id))
    }

    /// Node's `removeAllListeners([name])`: a plain clear when nobody listens for
    /// `"removeListener"`, otherwise one removal at a time, newest first, each announced.
    pub(crate) fn remove_all(&self, name: Option<&str>) {
        let announced = {
            let mut state = self.lock();
            if state.events.contains(REMOVE_LISTENER) {
                true
            } else {
                self.changing();
                let removed = match name {
                    Some(name) => state.events.remove(name).into_iter().collect(),
                    None => state.events.take_values(),
                };
                drop(state);
                drop(removed);
                false
            }
        };
        if !announced {
            return;
        }
        match name {
            Some(name) => self.remove_each(name),
            None => {
                for name in self.event_names() {
                    if name != REMOVE_LISTENER {
                        self.remove_each(&name);
                    }
                }
                self.remove_each(REMOVE_LISTENER);
                let removed = {
                    let mut state = self.lock();
                    self.changing();
                    state.events.take_values()
                };
                drop(removed);
            }
        }
    }

    fn remove_each(&self, name: &str) {
        let ids: Vec<ListenerId> = match self.lock().events.get(name) {
            Some(entry) => entry.list.iter().map(|r| r.id).collect(),
            None => return,
        };
        for id in ids.into_iter().rev() {
            self.remove(Key::Name(name), id);
        }
    }

    /// Calls the meta-event listeners of a snapshot (payload listeners under the meta names are
    /// only for explicit emits and are skipped).
    fn announce(&self, name: &str, list: &[Registration<T>], change: &ListenerChange) {
        for registration in list {
            let Callback::Meta(f) = &registration.callback else {
                continue;
            };
            if self.claim(Key::Name(name), registration) {
                f(change);
            }
        }
    }

    /// Whether this snapshot may call the registration; a `once` one is removed first.
    fn claim(&self, key: Key<'_>, registration: &Registration<T>) -> bool {
        match &registration.fired {
            None => true,
            Some(fired) => self.claim_once(key, fired, registration.id),
        }
    }

    /// Kept out of line so that the emit loop stays small: `once` listeners are the rare case.
    #[cold]
    #[inline(never)]
    fn claim_once(&self, key: Key<'_>, fired: &AtomicBool, id: ListenerId) -> bool {
        if fired.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.remove(key, id);
        true
    }

    fn run(&self, key: Key<'_>, list: &Listeners<T>, payload: &T) {
        match &list.plain {
            Some(plain) => {
                for f in plain {
                    f(payload);
                }
            }
            None => self.run_each(key, list, payload),
        }
    }

    /// The general case: subscriptions, `once` listeners and meta-event listeners among them.
    #[inline(always)]
    fn run_each(&self, key: Key<'_>, list: &Listeners<T>, payload: &T) {
        if let Some(hub) = &list.hub {
            hub.publish(payload);
        }
        if list.payloads == 0 {
            return;
        }
        for registration in list.iter() {
            let Callback::Payload(f) = &registration.callback else {
                continue;
            };
            if self.claim(key, registration) {
                f(payload);
            }
        }
    }

    #[inline]
    pub(crate) fn emit(&self, name: &str, payload: T) -> Result<bool, Error<T>> {
        let hot = self.hot_count.load(Ordering::Acquire);
        if hot > 0 {
            return self.emit_hot(hot, name, payload);
        }
        self.emit_by_name(name, payload, None)
    }

    /// An emit by name once the emitter keeps hot routes: the direct path if `name` has one.
    #[inline(never)]
    fn emit_hot(&self, hot: usize, name: &str, payload: T) -> Result<bool, Error<T>> {
        match self.hot[..hot]
            .iter()
            .filter_map(OnceLock::get)
            .find(|slot| same_name(&slot.route.name, name))
        {
            Some(slot) => self.emit_routed(&slot.route, payload, |payload, seen| {
                slot.hub.store_if_current(payload, &self.generation, seen)
            }),
            None => self.emit_by_name(name, payload, None),
        }
    }

    /// Keeps a hot route for `name`, found with only subscriptions fed by `hub`; the caller saw
    /// room for one. Called with the lock held, which orders the writers of the slots.
    #[cold]
    #[inline(never)]
    fn keep_hot(&self, name: &str, hub: &Arc<dyn Publish<T>>) {
        let count = self.hot_count.load(Ordering::Relaxed);
        // Another emit by this name may have kept it while this one waited for the lock.
        let kept = |slot: &HotRoute<T>| same_name(&slot.route.name, name);
        if self.hot[..count].iter().filter_map(OnceLock::get).any(kept) {
            return;
        }
        let route = Route::new(EventName::from(name), hub);
        route
            .verified
            .store(self.generation.load(Ordering::Relaxed), Ordering::Relaxed);
        let written = self.hot[count].set(HotRoute {
            route,
            hub: Arc::clone(hub),
        });
        if written.is_ok() {
            self.hot_count.store(count + 1, Ordering::Release);
        }
    }

    /// The generation at which `route` was verified, if nothing changed since: an emit through
    /// it may then store its payload in the route's hub directly, provided
    /// [`unchanged_since`](Self::unchanged_since) still holds under the hub's lock (a change
    /// that reached the hub first has moved the generation).
    #[inline]
    fn direct(&self, route: &Route) -> Option<u64> {
        let seen = self.generation.load(Ordering::Acquire);
        (seen == route.verified.load(Ordering::Relaxed)).then_some(seen)
    }

    /// Whether the listener lists are still at generation `seen`.
    #[inline]
    pub(crate) fn unchanged_since(&self, seen: u64) -> bool {
        self.generation.load(Ordering::Acquire) == seen
    }

    /// An emit through a route (an [`EventHandle`](crate::EventHandle)'s or a hot one).
    ///
    /// While the route is verified and nothing changed since, `store(payload, seen)` puts the
    /// payload straight into the route's hub; it must check
    /// [`unchanged_since(seen)`](Self::unchanged_since) under the hub's lock and hand the
    /// payload back if that fails. Otherwise, or then, it is an emit by the route's name, which
    /// verifies the route again: if the event has only subscriptions, fed by the route's hub,
    /// later emits through the route may go directly.
    #[inline]
    pub(crate) fn emit_routed(
        &self,
        route: &Route,
        payload: T,
        store: impl FnOnce(T, u64) -> Result<(), T>,
    ) -> Result<bool, Error<T>> {
        let payload = match self.direct(route) {
            Some(seen) => match store(payload, seen) {
                Ok(()) => return Ok(true),
                Err(payload) => payload,
            },
            None => payload,
        };
        self.emit_by_name(&route.name, payload, Some(route))
    }

    /// Whether the route's next emit takes the fast path (for tests of the route itself).
    #[cfg(test)]
    pub(crate) fn is_direct(&self, route: &Route) -> bool {
        self.direct(route).is_some()
    }

    #[inline]
    fn emit_by_name(
        &self,
        name: &str,
        payload: T,
        route: Option<&Route>,
    ) -> Result<bool, Error<T>> {
        if name == ERROR {
            return self.emit_error(payload);
        }
        let state = self.lock();
        let Some(entry) = state.events.get(name) else {
            return Ok(false);
        };
        if entry.list.payloads == 0
            && let Some(hub) = &entry.list.hub
        {
            // Only subscriptions: the payload moves into their ring, without a snapshot or a
            // clone; what the ring pushed out is dropped and waiters are woken after unlocking.
            match route {
                Some(route) if address(hub) == route.hub => {
                    let now = self.generation.load(Ordering::Relaxed);
                    route.verified.store(now, Ordering::Relaxed);
                }
                Some(_) => {}
                None if self.hot_count.load(Ordering::Relaxed) < HOT_ROUTES => {
                    self.keep_hot(name, hub);
                }
                None => {}
            }
            let Stored { evicted, waiting } = hub.store(payload);
            let to_wake = waiting.then(|| Arc::clone(hub));
            drop(state);
            drop(evicted);
            if let Some(hub) = to_wake {
                hub.wake_waiting();
            }
            return Ok(true);
        }
        let list = Arc::clone(&entry.list);
        drop(state);
        self.run(Key::Name(name), &list, &payload);
        Ok(true)
    }

    /// Node's `'error'` rule: monitors first, then the handlers; nobody to handle it is an error
    /// that hands the payload back.
    #[cold]
    #[inline(never)]
    fn emit_error(&self, payload: T) -> Result<bool, Error<T>> {
        let monitors = self.lock().snapshot(Key::ErrorMonitor);
        if let Some(list) = monitors {
            self.run(Key::ErrorMonitor, &list, &payload);
        }
        let handlers = self.lock().snapshot(Key::Name(ERROR));
        match handlers {
            Some(list) => {
                self.run(Key::Name(ERROR), &list, &payload);
                Ok(true)
            }
            None => Err(Error::Unhandled(payload)),
        }
    }

    pub(crate) fn listener_count(&self, key: Key<'_>) -> usize {
        self.lock().entry(key).map_or(0, |entry| entry.list.len())
    }

    pub(crate) fn count_function(&self, name: &str, listener: &PayloadFn<T>) -> usize {
        self.lock().events.get(name).map_or(0, |entry| {
            entry
                .list
                .iter()
                .filter(
                    |r| matches!(&r.callback, Callback::Payload(f) if same_function(f, listener)),
                )
                .count()
        })
    }

    pub(crate) fn listeners(&self, name: &str) -> Vec<ListenerId> {
        self.lock()
            .events
            .get(name)
            .map_or_else(Vec::new, |entry| entry.list.iter().map(|r| r.id).collect())
    }

    /// Node's order (`Reflect.ownKeys`): array-index names ascending, then the others in the
    /// order they were first added.
    pub(crate) fn event_names(&self) -> Vec<EventName> {
        let mut names: Vec<(Option<u32>, u64, EventName)> = self
            .lock()
            .events
            .iter()
            .map(|(name, entry)| (array_index(name), entry.seq, name.clone()))
            .collect();
        names.sort_by_key(|(index, seq, _)| (index.is_none(), *index, *seq));
        names.into_iter().map(|(_, _, name)| name).collect()
    }

    pub(crate) fn contains(&self, name: &str, id: ListenerId) -> bool {
        self.lock()
            .events
            .get(name)
            .is_some_and(|entry| entry.list.iter().any(|r| r.id == id))
    }

    /// The hub shared by the subscriptions of `name`: the live one, or a new one from `make`.
    pub(crate) fn hub<H: Any + Send + Sync>(
        &self,
        name: &EventName,
        make: impl FnOnce() -> H,
    ) -> Arc<H> {
        let (hub, replaced) = {
            let mut state = self.lock();
            let existing = state.hubs.get(name).and_then(Weak::upgrade);
            match existing.map(Arc::downcast::<H>) {
                Some(Ok(hub)) => (hub, None),
                replaced => {
                    let hub = Arc::new(make());
                    let weak: Weak<dyn Any + Send + Sync> = Arc::downgrade(&hub) as Weak<_>;
                    state.hubs.retain(|hub| hub.strong_count() > 0);
                    state.hubs.insert(name, weak);
                    (hub, replaced)
                }
            }
        };
        // A hub released by its last subscription meanwhile is dropped here, not under the lock.
        drop(replaced);
        hub
    }

    pub(crate) fn set_max_listeners(&self, limit: usize) {
        self.lock().max_listeners = Some(limit);
    }

    pub(crate) fn max_listeners(&self) -> usize {
        self.lock()
            .max_listeners
            .unwrap_or_else(default_max_listeners)
    }

    pub(crate) fn set_warning_hook(&self, hook: Option<WarningHook>) {
        let previous = std::mem::replace(&mut self.lock().warning_hook, hook);
        drop(previous);
    }
}

/// Puts a registration into its list and applies Node's warning rule to the new count.
fn insert<T>(
    state: &mut State<T>,
    target: Target,
    registration: Registration<T>,
    prepend: bool,
    location: &'static Location<'static>,
) -> Option<(MaxListenersExceeded, Option<WarningHook>)> {
    let limit = state.max_listeners.unwrap_or_else(default_max_listeners);
    let seq = state.next_seq;
    let fresh_entry = || Entry {
        seq,
        list: Arc::new(Listeners::new()),
        warned: false,
    };
    let (entry, event) = match target {
        Target::Name(name) => (state.events.get_or_insert_with(&name, fresh_entry), name),
        Target::ErrorMonitor => (
            state.error_monitor.get_or_insert_with(fresh_entry),
            ERROR_MONITOR,
        ),
    };
    // A new entry took the next number; every older one has a smaller one.
    if entry.seq == seq {
        state.next_seq += 1;
    }
    let list = Arc::make_mut(&mut entry.list);
    list.insert(registration, prepend);
    let count = list.len();
    if limit == 0 || count <= limit || entry.warned {
        return None;
    }
    entry.warned = true;
    let warning = MaxListenersExceeded {
        event,
        count,
        limit,
        location,
    };
    Some((warning, state.warning_hook.clone()))
}

/// A JavaScript array index: the canonical decimal form of an integer below 2^32 - 1.
fn array_index(name: &str) -> Option<u32> {
    if name.is_empty() || (name.len() > 1 && name.starts_with('0')) {
        return None;
    }
    if !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse::<u32>().ok().filter(|&index| index != u32::MAX)
}

impl<T> fmt::Debug for Inner<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: Vec<(EventName, usize)> = self
            .event_names()
            .into_iter()
            .map(|name| {
                let count = self.listener_count(Key::Name(&name));
                (name, count)
            })
            .collect();
        f.debug_struct("Emitter")
            .field("listeners", &counts)
            .field("max_listeners", &self.max_listeners())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use crate::Emitter;

    /// Everything the subscription can read right now.
    fn drain(subscription: &mut crate::Subscription<u32>) -> Vec<u32> {
        std::iter::from_fn(|| {
            futures_util::FutureExt::now_or_never(futures_util::StreamExt::next(&mut *subscription))
                .flatten()
                .map(Result::unwrap)
        })
        .collect()
    }

    fn hot_names<T>(emitter: &Emitter<T>) -> Vec<String> {
        let inner = &emitter.inner;
        let count = inner.hot_count.load(super::Ordering::Acquire);
        inner.hot[..count]
            .iter()
            .filter_map(std::sync::OnceLock::get)
            .map(|slot| slot.route.name.to_string())
            .collect()
    }

    #[test]
    fn an_emit_by_name_to_subscriptions_alone_keeps_a_hot_route_for_the_next_ones() {
        let emitter: Emitter<u32> = Emitter::new();
        let mut a = emitter.subscribe("a", 8).unwrap();
        assert!(hot_names(&emitter).is_empty());
        assert_eq!(emitter.emit("a", 1), Ok(true));
        assert_eq!(hot_names(&emitter), ["a"]);
        let slot = emitter.inner.hot[0].get().unwrap();
        assert!(
            emitter.inner.direct(&slot.route).is_some(),
            "the next emit goes directly"
        );

        emitter.on("b", |_| {});
        assert!(
            emitter.inner.direct(&slot.route).is_none(),
            "any change disarms it"
        );
        let _b = emitter.subscribe("b", 8).unwrap();
        assert_eq!(emitter.emit("b", 2), Ok(true));
        assert_eq!(hot_names(&emitter), ["a"], "b has a listener too");
        assert_eq!(emitter.emit("a", 4), Ok(true));
        assert!(
            emitter.inner.direct(&slot.route).is_some(),
            "re-verified by that emit"
        );
        assert_eq!(drain(&mut a), [1, 4]);

        let _error = emitter.subscribe("error", 8).unwrap();
        assert_eq!(emitter.emit("error", 3), Ok(true));
        assert_eq!(emitter.emit("error", 5), Ok(true));
        assert_eq!(hot_names(&emitter), ["a"], "\"error\" never gets one");
    }

    #[test]
    fn two_emits_that_both_found_no_hot_route_keep_one() {
        // As when two threads read the hot routes before either had taken the lock.
        let emitter: Emitter<u32> = Emitter::new();
        let _a = emitter.subscribe("a", 8).unwrap();
        assert_eq!(emitter.inner.emit_by_name("a", 1, None), Ok(true));
        assert_eq!(emitter.inner.emit_by_name("a", 2, None), Ok(true));
        assert_eq!(hot_names(&emitter), ["a"]);
    }

    #[test]
    fn hot_routes_are_kept_for_the_first_four_events_and_the_others_still_deliver() {
        let emitter: Emitter<u32> = Emitter::new();
        let names = ["e0", "e1", "e2", "e3", "e4", "e5"];
        let mut subscriptions: Vec<_> = names
            .iter()
            .map(|name| emitter.subscribe(*name, 8).unwrap())
            .collect();
        for round in 0..3 {
            for (i, name) in names.iter().enumerate() {
                assert_eq!(emitter.emit(name, round * 10 + i as u32), Ok(true));
            }
        }
        assert_eq!(hot_names(&emitter), ["e0", "e1", "e2", "e3"]);
        for (i, subscription) in subscriptions.iter_mut().enumerate() {
            let expected: Vec<u32> = (0..3).map(|round| round * 10 + i as u32).collect();
            assert_eq!(drain(subscription), expected, "{}", names[i]);
        }
        // A hot route outlives its subscriptions: a new one joins the same buffer.
        drop(subscriptions);
        assert_eq!(emitter.emit("e0", 7), Ok(false));
        let mut again = emitter.subscribe("e0", 8).unwrap();
        assert_eq!(emitter.emit("e0", 8), Ok(true));
        assert_eq!(emitter.emit("e0", 9), Ok(true));
        assert_eq!(drain(&mut again), [8, 9]);
    }
}
