//! # Implementation details
//!
//! The listener table behind every [`Emitter`](crate::Emitter) handle.
//!
//! Invariants:
//!
//! - One `std::sync::Mutex` guards the table. It is held only for table operations: never while
//!   a listener, a meta-event listener or a hook runs, and never while a removed registration is
//!   dropped (a listener's captured state may run code on drop, such as waking a subscription,
//!   and that code may call back into the emitter). So listeners may emit, add and remove on the
//!   same emitter without deadlock, and a panicking listener cannot poison the lock. Poison is
//!   ignored anyway: no code that can panic runs while the guard is held.
//! - Each event's listeners live in an `Arc<Listeners>` (`list.rs`). An emit clones the `Arc`
//!   (the snapshot) and calls the listeners after unlocking; add and remove go through
//!   `Arc::make_mut`, which copies the list only when a snapshot is alive. This gives Node's
//!   snapshot rule (listeners added during an emit are not called by it, removed ones still are)
//!   and makes an emit cost one lock, one hash lookup and one reference-count increment.
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
//!   other way round), so it is never cloned on emit; the payload the ring pushed out is
//!   dropped, and waiters are woken, after both locks are released.
//! - An [`EventHandle`](crate::EventHandle) emit takes the ring lock alone while the hub is
//!   marked *direct* (the event has subscriptions and nothing else); the list keeps that mark
//!   in step under this lock (`list.rs`), so a listener added before the emit is never missed.
//! - The `warned` flag lives on the entry and is cleared when the list falls to one listener, as
//!   Node's flag lives on the listener array that collapses back to a bare function.

use std::any::Any;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::list::{Callback, Listeners, Registration, Stored};
use crate::rejection::{AsyncFailure, RejectionHook};
use crate::table::NameTable;
use crate::warning::{MaxListenersExceeded, WarningHook, default_max_listeners, report};
use crate::{Error, EventName, ListenerChange, ListenerId};

pub(crate) const NEW_LISTENER: &str = "newListener";
pub(crate) const REMOVE_LISTENER: &str = "removeListener";
pub(crate) const ERROR: &str = "error";
const ERROR_MONITOR: EventName = EventName::from_static("errorMonitor");

/// Refuses the two meta-event names for payload listeners: the emitter announces listener
/// changes with a [`ListenerChange`], never with a payload, so such a listener would never be
/// called (Node's `on('newListener', fn)` habit).
#[track_caller]
pub(crate) fn refuse_meta_name(event: &str, method: &str) {
    let right = match event {
        NEW_LISTENER => "on_new_listener (or once_/prepend_/prepend_once_new_listener)",
        REMOVE_LISTENER => "on_remove_listener (or once_/prepend_/prepend_once_remove_listener)",
        _ => return,
    };
    panic!(
        "Emitter::{method}({event:?}, ..): {event:?} is a meta event whose listeners receive a \
         ListenerChange, not a payload; use Emitter::{right}"
    );
}

type List<T> = Arc<Listeners<T>>;

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
    rejection_hook: Option<RejectionHook<T>>,
    /// Each event's subscription hub, alive while a subscription or a handle holds it.
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
    /// A Redis bridge was connected to this emitter: its emits mark the thread (`origin.rs`).
    #[cfg(feature = "redis")]
    bridged: AtomicBool,
}

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
                rejection_hook: None,
                hubs: NameTable::new(),
            }),
            #[cfg(feature = "redis")]
            bridged: AtomicBool::new(false),
        }
    }

    /// Makes this emitter's emits mark the thread for the echo check; set before a bridge adds
    /// its listeners, never cleared.
    #[cfg(feature = "redis")]
    pub(crate) fn mark_bridged(&self) {
        self.bridged.store(true, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// Removes the last registration, in call order, whose callback `matches` (Node's
    /// `removeListener(name, fn)`, which scans from the end).
    pub(crate) fn remove_last(&self, name: &str, matches: impl Fn(&Callback<T>) -> bool) -> bool {
        let id = self.lock().events.get(name).and_then(|entry| {
            entry
                .list
                .iter()
                .rev()
                .find(|r| matches(&r.callback))
                .map(|r| r.id)
        });
        id.is_some_and(|id| self.remove(Key::Name(name), id))
    }

    /// Node's `removeAllListeners([name])`: a plain clear when nobody listens for
    /// `"removeListener"`, otherwise one removal at a time from the end of each list, each announced.
    pub(crate) fn remove_all(&self, name: Option<&str>) {
        let announced = {
            let mut state = self.lock();
            if state.events.contains(REMOVE_LISTENER) {
                true
            } else {
                let removed: Vec<Entry<T>> = match name {
                    Some(name) => state.events.remove(name).into_iter().collect(),
                    None => state.events.take_values(),
                };
                for entry in &removed {
                    entry.list.detach();
                }
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
                // Listeners added by the announcements themselves go without announcement.
                let removed = {
                    let mut state = self.lock();
                    let removed = state.events.take_values();
                    for entry in &removed {
                        entry.list.detach();
                    }
                    removed
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

    /// Calls the meta-event listeners of a snapshot.
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

    /// The general case: subscriptions, `once` listeners, async and meta-event listeners.
    #[inline(always)]
    fn run_each(&self, key: Key<'_>, list: &Listeners<T>, payload: &T) {
        if let Some(hub) = &list.hub {
            hub.publish(payload);
        }
        if list.calls == 0 {
            return;
        }
        for registration in list.iter() {
            match &registration.callback {
                Callback::Payload(f) => {
                    if self.claim(key, registration) {
                        f(payload);
                    }
                }
                Callback::Async(call) => {
                    if self.claim(key, registration) {
                        Arc::clone(call).start(payload);
                    }
                }
                Callback::Meta(_) | Callback::Subscriber(_) => {}
            }
        }
    }

    /// Node's `emit(name, payload)`.
    #[inline]
    pub(crate) fn emit(&self, name: &str, payload: T) -> Result<bool, Error<T>> {
        #[cfg(feature = "redis")]
        return self.emit_marked(name, payload, None);
        #[cfg(not(feature = "redis"))]
        self.emit_marked(name, payload)
    }

    /// An emit whose listeners see which bridge delivers it (`remote`; `None` for a local emit):
    /// see `origin.rs`.
    #[inline]
    pub(crate) fn emit_marked(
        &self,
        name: &str,
        payload: T,
        #[cfg(feature = "redis")] remote: Option<u64>,
    ) -> Result<bool, Error<T>> {
        if name == ERROR {
            return self.emit_error(payload);
        }
        let state = self.lock();
        let Some(entry) = state.events.get(name) else {
            return Ok(false);
        };
        if entry.list.calls == 0
            && let Some(hub) = &entry.list.hub
        {
            // Only subscriptions: the payload moves into their ring, without a snapshot or a
            // clone; what the ring pushed out is dropped and waiters are woken after unlocking.
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
        // Only a bridged emitter's listeners look at the mark. The registry lock taken above
        // orders this load after the `mark_bridged` that preceded the bridge's listeners.
        #[cfg(feature = "redis")]
        if remote.is_some() || self.bridged.load(Ordering::Relaxed) {
            crate::origin::marked(remote, || self.run(Key::Name(name), &list, &payload));
            return Ok(true);
        }
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

    /// How many registrations of `name` have a callback that `matches`.
    pub(crate) fn count_matching(
        &self,
        name: &str,
        matches: impl Fn(&Callback<T>) -> bool,
    ) -> usize {
        self.lock().events.get(name).map_or(0, |entry| {
            entry.list.iter().filter(|r| matches(&r.callback)).count()
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

    pub(crate) fn set_rejection_hook(&self, hook: Option<RejectionHook<T>>) {
        let previous = std::mem::replace(&mut self.lock().rejection_hook, hook);
        drop(previous);
    }

    /// Where an async listener's failure goes (Node's `captureRejections`): the rejection hook
    /// if one is set; else an `Err` is emitted as `"error"` (unless the failing listener listens
    /// for `"error"` itself, which would loop); what is left is reported, never dropped unseen.
    pub(crate) fn reject(&self, failure: AsyncFailure<T>)
    where
        T: fmt::Debug,
    {
        let hook = self.lock().rejection_hook.clone();
        if let Some(hook) = hook {
            hook(failure);
            return;
        }
        let failure = match failure {
            AsyncFailure::Err { event, error } if event != ERROR => match self.emit(ERROR, error) {
                Ok(_) => return,
                Err(Error::Unhandled(error)) => AsyncFailure::Err { event, error },
                Err(_) => unreachable!("an emit fails only with Error::Unhandled"),
            },
            failure => failure,
        };
        crate::rejection::report(&failure);
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
    let fresh_entry = |direct: bool| Entry {
        seq,
        list: Arc::new(Listeners::new(direct)),
        warned: false,
    };
    let (entry, event) = match target {
        Target::Name(name) => {
            let direct = name != ERROR;
            let entry = state
                .events
                .get_or_insert_with(&name, || fresh_entry(direct));
            (entry, name)
        }
        Target::ErrorMonitor => (
            state
                .error_monitor
                .get_or_insert_with(|| fresh_entry(false)),
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
