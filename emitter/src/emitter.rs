//! The emitter handle: Node's listener API.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use crate::list::{Callback, PayloadFn};
use crate::listener::same_function;
use crate::registry::{Inner, Key, Target, refuse_meta_name};
use crate::{Error, EventName, Listener, ListenerId, MaxListenersExceeded, Mode};

/// Node's `EventEmitter`: named events, each with listeners called synchronously in order.
///
/// `T` is the payload every event carries (use an enum for several kinds of payload). A handle
/// is cheap to clone; clones share one listener table. `Emitter<T>` is `Send + Sync` whatever
/// `T` is, since payloads are only lent to listeners during [`emit`](Self::emit).
///
/// # Promises
///
/// - **Order.** Listeners run in registration order; `prepend_*` puts one at the head.
/// - **Snapshot.** An emit calls the listeners registered when it started: one added during the
///   emit is not called by it, one removed during it still is, except a `once` listener that has
///   already fired (through a nested emit, or on another thread), which is never called twice.
/// - **Re-entrancy.** A listener may emit, add and remove listeners on the same emitter; no lock
///   is held while listeners run.
/// - **The `"error"` event.** Emitting `"error"` with no `"error"` listener returns
///   [`Error::Unhandled`] with the payload, where Node throws.
/// - **Panics.** A panicking listener propagates out of `emit`, as a throwing listener does in
///   Node: later listeners of that emit are not called, a `once` listener that panicked has
///   already been removed, and the emitter stays fully usable (no poisoned lock, no lost listener).
/// - **Async listeners** ([`on_async`](Self::on_async)) run on the tokio runtime, one call at a
///   time per listener in emit order; their errors and panics are captured and routed to the
///   rejection hook, the `"error"` event or the report, never lost.
/// - **Meta events.** `"newListener"` and `"removeListener"` listeners receive a
///   [`ListenerChange`](crate::ListenerChange); the payload API refuses those two names with a
///   panic that names the right method (see [`on`](Self::on)).
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use nodebook_emitter::Emitter;
///
/// let emitter: Emitter<String> = Emitter::new();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// emitter.on("greet", move |name: &String| log.lock().unwrap().push(format!("hello {name}")));
/// assert_eq!(emitter.emit("greet", "ada".to_string()), Ok(true));
/// assert_eq!(emitter.emit("nobody-listens", "x".to_string()), Ok(false));
/// assert_eq!(*seen.lock().unwrap(), ["hello ada"]);
/// ```
pub struct Emitter<T> {
    pub(crate) inner: Arc<Inner<T>>,
}

impl<T> Emitter<T> {
    /// A new emitter with no listeners and no limit of its own (the process-wide
    /// [`default_max_listeners`](crate::default_max_listeners) applies).
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<u32> = nodebook_emitter::Emitter::new();
    /// assert!(emitter.event_names().is_empty());
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner::new()),
        }
    }

    /// Appends a listener for `event` (Node's `on` / `addListener`).
    ///
    /// Announces the listener to `"newListener"` listeners before adding it, and warns if the add
    /// takes the event past the max-listener limit. Adding the same function twice makes two
    /// registrations, called twice per emit.
    ///
    /// # Panics
    ///
    /// If `event` is `"newListener"` or `"removeListener"`: the emitter announces listener
    /// changes to those meta events with a [`ListenerChange`](crate::ListenerChange), never with a payload, so a payload
    /// listener there would never be called. The message names the method to use instead
    /// ([`on_new_listener`](Self::on_new_listener), [`on_remove_listener`](Self::on_remove_listener)
    /// and their `once_` / `prepend_` / `prepend_once_` forms). Also if a `"newListener"`
    /// listener panics; the listener is then not added.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    ///
    /// let emitter: nodebook_emitter::Emitter<u32> = nodebook_emitter::Emitter::new();
    /// let total = Arc::new(AtomicU32::new(0));
    /// let sum = Arc::clone(&total);
    /// emitter.on("add", move |n| {
    ///     sum.fetch_add(*n, Ordering::Relaxed);
    /// });
    /// emitter.emit("add", 2).unwrap();
    /// emitter.emit("add", 3).unwrap();
    /// assert_eq!(total.load(Ordering::Relaxed), 5);
    /// ```
    #[track_caller]
    pub fn on<F>(&self, event: impl Into<EventName>, listener: F) -> ListenerId
    where
        F: Fn(&T) + Send + Sync + 'static,
    {
        self.add(
            event.into(),
            Arc::new(listener),
            Mode::On,
            Location::caller(),
        )
    }

    /// Appends a listener that is removed just before its first call (Node's `once`).
    ///
    /// # Panics
    ///
    /// If `event` is `"newListener"` or `"removeListener"`: the emitter announces listener
    /// changes to those meta events with a [`ListenerChange`](crate::ListenerChange), never with a payload, so a payload
    /// listener there would never be called. The message names the method to use instead
    /// ([`on_new_listener`](Self::on_new_listener), [`on_remove_listener`](Self::on_remove_listener)
    /// and their `once_` / `prepend_` / `prepend_once_` forms). Also if a `"newListener"`
    /// listener panics; the listener is then not added.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    ///
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// let calls = Arc::new(AtomicU32::new(0));
    /// let count = Arc::clone(&calls);
    /// emitter.once("ready", move |_| {
    ///     count.fetch_add(1, Ordering::Relaxed);
    /// });
    /// assert_eq!(emitter.emit("ready", ()), Ok(true));
    /// assert_eq!(emitter.emit("ready", ()), Ok(false));
    /// assert_eq!(calls.load(Ordering::Relaxed), 1);
    /// ```
    #[track_caller]
    pub fn once<F>(&self, event: impl Into<EventName>, listener: F) -> ListenerId
    where
        F: Fn(&T) + Send + Sync + 'static,
    {
        self.add(
            event.into(),
            Arc::new(listener),
            Mode::Once,
            Location::caller(),
        )
    }

    /// Inserts a listener at the head of `event`'s list (Node's `prependListener`).
    ///
    /// # Panics
    ///
    /// If `event` is `"newListener"` or `"removeListener"`: the emitter announces listener
    /// changes to those meta events with a [`ListenerChange`](crate::ListenerChange), never with a payload, so a payload
    /// listener there would never be called. The message names the method to use instead
    /// ([`on_new_listener`](Self::on_new_listener), [`on_remove_listener`](Self::on_remove_listener)
    /// and their `once_` / `prepend_` / `prepend_once_` forms). Also if a `"newListener"`
    /// listener panics; the listener is then not added.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// let order = Arc::new(Mutex::new(Vec::new()));
    /// let (a, b) = (Arc::clone(&order), Arc::clone(&order));
    /// emitter.on("go", move |_| a.lock().unwrap().push("a"));
    /// emitter.prepend_listener("go", move |_| b.lock().unwrap().push("b"));
    /// emitter.emit("go", ()).unwrap();
    /// assert_eq!(*order.lock().unwrap(), ["b", "a"]);
    /// ```
    #[track_caller]
    pub fn prepend_listener<F>(&self, event: impl Into<EventName>, listener: F) -> ListenerId
    where
        F: Fn(&T) + Send + Sync + 'static,
    {
        self.add(
            event.into(),
            Arc::new(listener),
            Mode::Prepend,
            Location::caller(),
        )
    }

    /// Inserts a `once` listener at the head of `event`'s list (Node's `prependOnceListener`).
    ///
    /// # Panics
    ///
    /// If `event` is `"newListener"` or `"removeListener"`: the emitter announces listener
    /// changes to those meta events with a [`ListenerChange`](crate::ListenerChange), never with a payload, so a payload
    /// listener there would never be called. The message names the method to use instead
    /// ([`on_new_listener`](Self::on_new_listener), [`on_remove_listener`](Self::on_remove_listener)
    /// and their `once_` / `prepend_` / `prepend_once_` forms). Also if a `"newListener"`
    /// listener panics; the listener is then not added.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// let order = Arc::new(Mutex::new(Vec::new()));
    /// let (a, c) = (Arc::clone(&order), Arc::clone(&order));
    /// emitter.on("go", move |_| a.lock().unwrap().push("a"));
    /// emitter.prepend_once_listener("go", move |_| c.lock().unwrap().push("c"));
    /// emitter.emit("go", ()).unwrap();
    /// emitter.emit("go", ()).unwrap();
    /// assert_eq!(*order.lock().unwrap(), ["c", "a", "a"]);
    /// ```
    #[track_caller]
    pub fn prepend_once_listener<F>(&self, event: impl Into<EventName>, listener: F) -> ListenerId
    where
        F: Fn(&T) + Send + Sync + 'static,
    {
        self.add(
            event.into(),
            Arc::new(listener),
            Mode::PrependOnce,
            Location::caller(),
        )
    }

    /// Registers a [`Listener`] (a function with an identity) in one of Node's four ways, so that
    /// it can later be removed with [`remove_listener`](Self::remove_listener).
    ///
    /// # Panics
    ///
    /// If `event` is `"newListener"` or `"removeListener"`: the emitter announces listener
    /// changes to those meta events with a [`ListenerChange`](crate::ListenerChange), never with a payload, so a payload
    /// listener there would never be called. The message names the method to use instead
    /// ([`on_new_listener`](Self::on_new_listener), [`on_remove_listener`](Self::on_remove_listener)
    /// and their `once_` / `prepend_` / `prepend_once_` forms). Also if a `"newListener"`
    /// listener panics; the listener is then not added.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::{Emitter, Listener, Mode};
    ///
    /// let emitter: Emitter<u32> = Emitter::new();
    /// let log = Listener::new(|n: &u32| println!("{n}"));
    /// emitter.register("n", &log, Mode::On);
    /// emitter.register("n", &log, Mode::Prepend);
    /// assert_eq!(emitter.listener_count_of("n", &log), 2);
    /// ```
    #[track_caller]
    pub fn register(
        &self,
        event: impl Into<EventName>,
        listener: &Listener<T>,
        mode: Mode,
    ) -> ListenerId {
        let event = event.into();
        refuse_meta_name(&event, "register");
        self.add(event, Arc::clone(&listener.0), mode, Location::caller())
    }

    #[track_caller]
    fn add(
        &self,
        event: EventName,
        listener: PayloadFn<T>,
        mode: Mode,
        location: &'static Location<'static>,
    ) -> ListenerId {
        refuse_meta_name(&event, mode.method());
        self.inner.add(
            Target::Name(event),
            Callback::Payload(listener),
            mode.once(),
            mode.prepend(),
            location,
        )
    }

    /// Removes the registration `id` from `event` (Node's `off` / `removeListener`, by id).
    ///
    /// Returns whether it was registered there. A removal is announced to `"removeListener"`
    /// listeners after it happened. An emit already running still calls the removed listener (the
    /// snapshot rule).
    ///
    /// # Panics
    ///
    /// Only if a `"removeListener"` listener panics; the removal has happened by then.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// let id = emitter.on("tick", |_| {});
    /// assert!(emitter.off("tick", id));
    /// assert!(!emitter.off("tick", id));
    /// assert_eq!(emitter.listener_count("tick"), 0);
    /// ```
    #[allow(
        clippy::must_use_candidate,
        reason = "whether anything was removed is optional information, as in Node"
    )]
    pub fn off(&self, event: &str, id: ListenerId) -> bool {
        self.inner.remove(Key::Name(event), id)
    }

    /// Removes the last registration of `listener` in call order from `event` (Node's
    /// `removeListener(name, fn)`, which scans the list from its end), whether it was added as
    /// `on`, `once` or `prepend*`. After a `prepend`, the last in call order is not the most
    /// recently added: `register(on)` then `register(prepend)` removes the `on` registration.
    ///
    /// Returns whether one was found. Removing a listener that is not registered does nothing.
    ///
    /// # Panics
    ///
    /// Only if a `"removeListener"` listener panics; the removal has happened by then.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::{Emitter, Listener, Mode};
    ///
    /// let emitter: Emitter<()> = Emitter::new();
    /// let l1 = Listener::new(|_: &()| {});
    /// let l2 = Listener::new(|_: &()| {});
    /// let first = emitter.register("e", &l1, Mode::On);
    /// let second = emitter.register("e", &l2, Mode::On);
    /// assert!(emitter.remove_listener("e", &l1));
    /// let third = emitter.register("e", &l1, Mode::On);
    /// assert_eq!(emitter.listeners("e"), [second, third]);
    /// # let _ = first;
    /// ```
    #[allow(
        clippy::must_use_candidate,
        reason = "whether anything was removed is optional information, as in Node"
    )]
    pub fn remove_listener(&self, event: &str, listener: &Listener<T>) -> bool {
        self.inner.remove_last(
            event,
            |callback| matches!(callback, Callback::Payload(f) if same_function(f, &listener.0)),
        )
    }

    /// Removes every listener of `event`, or of every event with `None` (Node's
    /// `removeAllListeners([name])`).
    ///
    /// With `"removeListener"` listeners present, removes one registration at a time, from the
    /// end of the list (the last in call order first, as Node does), announcing each; with
    /// `None`, the `"removeListener"` listeners go last. Error monitors are not affected.
    ///
    /// # Panics
    ///
    /// Only if a `"removeListener"` listener panics; the remaining removals are then not done.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// emitter.on("a", |_| {});
    /// emitter.on("b", |_| {});
    /// emitter.remove_all_listeners(Some("a"));
    /// assert_eq!(emitter.event_names(), ["b"]);
    /// emitter.remove_all_listeners(None);
    /// assert!(emitter.event_names().is_empty());
    /// ```
    pub fn remove_all_listeners(&self, event: Option<&str>) {
        self.inner.remove_all(event);
    }

    /// Calls every listener of `event` with `payload`, synchronously and in order, and returns
    /// whether there were any (Node's `emit`).
    ///
    /// Listeners run on the caller's thread, on a snapshot of the list taken when the emit
    /// starts; `once` listeners are removed just before they run.
    ///
    /// For `"error"`: error monitors run first; then, if no `"error"` listener is registered, the
    /// payload comes back as [`Error::Unhandled`] instead of being dropped.
    ///
    /// # Errors
    ///
    /// [`Error::Unhandled`] when `event` is `"error"` and nobody listens for it. Other events
    /// never fail.
    ///
    /// # Panics
    ///
    /// If a listener panics, the panic propagates (later listeners of this emit are not called);
    /// the emitter stays usable.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::{Emitter, Error};
    ///
    /// let emitter: Emitter<&str> = Emitter::new();
    /// assert_eq!(emitter.emit("data", "x"), Ok(false));
    /// assert!(matches!(emitter.emit("error", "boom"), Err(Error::Unhandled("boom"))));
    /// emitter.on("error", |e| eprintln!("handled: {e}"));
    /// assert_eq!(emitter.emit("error", "boom"), Ok(true));
    /// ```
    pub fn emit(&self, event: &str, payload: T) -> Result<bool, Error<T>> {
        self.inner.emit(event, payload)
    }

    /// How many registrations `event` has, listeners of every kind included (Node's
    /// `listenerCount(name)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// emitter.on("a", |_| {});
    /// emitter.once("a", |_| {});
    /// assert_eq!(emitter.listener_count("a"), 2);
    /// assert_eq!(emitter.listener_count("b"), 0);
    /// ```
    #[must_use]
    pub fn listener_count(&self, event: &str) -> usize {
        self.inner.listener_count(Key::Name(event))
    }

    /// How many registrations of `listener` `event` has (Node's `listenerCount(name, fn)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::{Emitter, Listener, Mode};
    ///
    /// let emitter: Emitter<()> = Emitter::new();
    /// let h = Listener::new(|_: &()| {});
    /// emitter.register("e", &h, Mode::On);
    /// emitter.register("e", &h, Mode::Once);
    /// emitter.on("e", |_| {});
    /// assert_eq!(emitter.listener_count_of("e", &h), 2);
    /// ```
    #[must_use]
    pub fn listener_count_of(&self, event: &str, listener: &Listener<T>) -> usize {
        self.inner.count_matching(
            event,
            |callback| matches!(callback, Callback::Payload(f) if same_function(f, &listener.0)),
        )
    }

    /// The ids of `event`'s registrations, in call order (Node's `listeners(name)`, which returns
    /// the functions). The vector is a copy: later changes do not touch it.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// let a = emitter.on("e", |_| {});
    /// let b = emitter.prepend_listener("e", |_| {});
    /// assert_eq!(emitter.listeners("e"), [b, a]);
    /// ```
    #[must_use]
    pub fn listeners(&self, event: &str) -> Vec<ListenerId> {
        self.inner.listeners(event)
    }

    /// The names that have listeners, in Node's order (`eventNames()`): names that are array
    /// indices (`"0"`, `"42"`) ascending, then the others in the order they were first added.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// emitter.on("foo", |_| {});
    /// emitter.on("bar", |_| {});
    /// emitter.on("7", |_| {});
    /// assert_eq!(emitter.event_names(), ["7", "foo", "bar"]);
    /// ```
    #[must_use]
    pub fn event_names(&self) -> Vec<EventName> {
        self.inner.event_names()
    }

    /// Whether registration `id` is still registered for `event`.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// let id = emitter.once("e", |_| {});
    /// assert!(emitter.contains("e", id));
    /// emitter.emit("e", ()).unwrap();
    /// assert!(!emitter.contains("e", id));
    /// ```
    #[must_use]
    pub fn contains(&self, event: &str, id: ListenerId) -> bool {
        self.inner.contains(event, id)
    }

    /// Sets this emitter's max-listener limit (Node's `setMaxListeners`); 0 means unlimited.
    /// Takes precedence over the process-wide default. Lowering it below a current count warns
    /// only at the next add, as in Node.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// assert_eq!(emitter.set_max_listeners(0).max_listeners(), 0);
    /// ```
    #[allow(
        clippy::must_use_candidate,
        reason = "chaining, as Node's setMaxListeners returns this"
    )]
    pub fn set_max_listeners(&self, limit: usize) -> &Self {
        self.inner.set_max_listeners(limit);
        self
    }

    /// The limit in force (Node's `getMaxListeners`): this emitter's own, or the process-wide
    /// default when none was set.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// assert_eq!(emitter.max_listeners(), nodebook_emitter::default_max_listeners());
    /// ```
    #[must_use]
    pub fn max_listeners(&self) -> usize {
        self.inner.max_listeners()
    }

    /// Installs the function that receives this emitter's max-listener warnings, in place of the
    /// default report (standard error, or `tracing` with the `tracing` feature, which still logs).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// let warnings = Arc::new(AtomicUsize::new(0));
    /// let count = Arc::clone(&warnings);
    /// emitter.set_warning_hook(move |_| {
    ///     count.fetch_add(1, Ordering::Relaxed);
    /// });
    /// emitter.set_max_listeners(1);
    /// for _ in 0..5 {
    ///     emitter.on("e", |_| {});
    /// }
    /// assert_eq!(warnings.load(Ordering::Relaxed), 1);
    /// ```
    pub fn set_warning_hook<F>(&self, hook: F)
    where
        F: Fn(&MaxListenersExceeded) + Send + Sync + 'static,
    {
        self.inner.set_warning_hook(Some(Arc::new(hook)));
    }

    /// Removes the hook installed by [`set_warning_hook`](Self::set_warning_hook); warnings go
    /// to the default report again.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// emitter.set_warning_hook(|w| println!("{w}"));
    /// emitter.clear_warning_hook();
    /// ```
    pub fn clear_warning_hook(&self) {
        self.inner.set_warning_hook(None);
    }
}

impl<T> Clone for Emitter<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> Default for Emitter<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Emitter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
