//! Listener identity: ids, shareable listeners, registration modes and meta-event payloads.

use std::fmt;
use std::sync::Arc;

use crate::EventName;

/// Identifies one registration on one emitter; returned by every method that adds a listener.
///
/// A listener added twice is two registrations with two ids. Pass the id to [`Emitter::off`] to
/// remove exactly that registration. Ids are unique per emitter (and its clones) and never reused.
///
/// [`Emitter::off`]: crate::Emitter::off
///
/// # Examples
///
/// ```
/// use nodebook_emitter::Emitter;
///
/// let emitter: Emitter<u32> = Emitter::new();
/// let first = emitter.on("tick", |_| {});
/// let second = emitter.on("tick", |_| {});
/// assert_ne!(first, second);
/// assert!(emitter.off("tick", first));
/// assert_eq!(emitter.listener_count("tick"), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListenerId(pub(crate) u64);

/// A listener function with an identity, for code that removes listeners the way Node does: by
/// the function itself (`emitter.removeListener(name, fn)`).
///
/// Clones share the identity. [`Emitter::remove_listener`] removes the last registration of the
/// listener in call order, as Node's `removeListener` does. A `Listener<ListenerChange>` is a
/// meta-event listener with an identity ([`Emitter::register_meta`]).
///
/// [`Emitter::register_meta`]: crate::Emitter::register_meta
///
/// [`Emitter::remove_listener`]: crate::Emitter::remove_listener
///
/// # Examples
///
/// ```
/// use nodebook_emitter::{Emitter, Listener, Mode};
///
/// let emitter: Emitter<&str> = Emitter::new();
/// let pong = Listener::new(|msg: &&str| assert_eq!(*msg, "ping"));
/// emitter.register("ping", &pong, Mode::On);
/// emitter.register("ping", &pong, Mode::Once);
/// // Node's rule: the last instance in call order (here the `once` one) goes.
/// assert!(emitter.remove_listener("ping", &pong));
/// assert_eq!(emitter.listener_count("ping"), 1);
/// ```
pub struct Listener<T>(pub(crate) Arc<dyn Fn(&T) + Send + Sync>);

impl<T> Listener<T> {
    /// Wraps a function so that it can be registered and removed by identity.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::Listener;
    ///
    /// let log = Listener::new(|line: &String| println!("{line}"));
    /// assert!(log.same_as(&log.clone()));
    /// ```
    #[must_use]
    pub fn new<F>(listener: F) -> Self
    where
        F: Fn(&T) + Send + Sync + 'static,
    {
        Self(Arc::new(listener))
    }

    /// Whether `self` and `other` are the same listener (clones of one [`Listener::new`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::Listener;
    ///
    /// let a = Listener::new(|_: &u8| {});
    /// let b = Listener::new(|_: &u8| {});
    /// assert!(a.same_as(&a.clone()));
    /// assert!(!a.same_as(&b));
    /// ```
    #[must_use]
    pub fn same_as(&self, other: &Self) -> bool {
        same_function(&self.0, &other.0)
    }
}

/// Compares the data pointers only: vtable pointers of one closure may differ between codegen units.
pub(crate) fn same_function<T>(
    a: &Arc<dyn Fn(&T) + Send + Sync>,
    b: &Arc<dyn Fn(&T) + Send + Sync>,
) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

impl<T> Clone for Listener<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> fmt::Debug for Listener<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("ptr", &Arc::as_ptr(&self.0).cast::<()>())
            .finish_non_exhaustive()
    }
}

/// Where and how [`Emitter::register`] adds a [`Listener`]: Node's four registration methods.
///
/// [`Emitter::register`]: crate::Emitter::register
///
/// # Examples
///
/// ```
/// use nodebook_emitter::{Emitter, Listener, Mode};
///
/// let emitter: Emitter<()> = Emitter::new();
/// let noop = Listener::new(|_: &()| {});
/// emitter.register("ready", &noop, Mode::PrependOnce);
/// assert_eq!(emitter.listener_count("ready"), 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Append; called on every emit (Node's `on` / `addListener`).
    On,
    /// Append; removed just before its first call (Node's `once`).
    Once,
    /// Insert at the head (Node's `prependListener`).
    Prepend,
    /// Insert at the head; removed just before its first call (Node's `prependOnceListener`).
    PrependOnce,
}

impl Mode {
    pub(crate) fn once(self) -> bool {
        matches!(self, Self::Once | Self::PrependOnce)
    }

    pub(crate) fn prepend(self) -> bool {
        matches!(self, Self::Prepend | Self::PrependOnce)
    }

    /// The `Emitter` method of this mode, for messages.
    pub(crate) fn method(self) -> &'static str {
        match self {
            Self::On => "on",
            Self::Once => "once",
            Self::Prepend => "prepend_listener",
            Self::PrependOnce => "prepend_once_listener",
        }
    }
}

/// The payload of the meta events: which registration was added (Node's `'newListener'`) or
/// removed (Node's `'removeListener'`).
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use nodebook_emitter::Emitter;
///
/// let emitter: Emitter<u32> = Emitter::new();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// emitter.on_new_listener(move |change| {
///     log.lock().unwrap().push((change.event().to_string(), change.is_once()));
/// });
/// emitter.once("job", |_| {});
/// assert_eq!(*seen.lock().unwrap(), [("job".to_string(), true)]);
/// ```
#[derive(Clone, Debug)]
pub struct ListenerChange {
    pub(crate) event: EventName,
    pub(crate) id: ListenerId,
    pub(crate) once: bool,
}

impl ListenerChange {
    /// The event the listener is registered for.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use nodebook_emitter::Emitter;
    ///
    /// let emitter: Emitter<u32> = Emitter::new();
    /// let names = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&names);
    /// emitter.on_remove_listener(move |change| log.lock().unwrap().push(change.event().clone()));
    /// let id = emitter.on("tick", |_| {});
    /// emitter.off("tick", id);
    /// assert_eq!(*names.lock().unwrap(), ["tick"]);
    /// ```
    #[must_use]
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// The id of the registration that was added or removed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use nodebook_emitter::Emitter;
    ///
    /// let emitter: Emitter<u32> = Emitter::new();
    /// let ids = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&ids);
    /// emitter.on_new_listener(move |change| log.lock().unwrap().push(change.id()));
    /// let id = emitter.on("tick", |_| {});
    /// assert_eq!(*ids.lock().unwrap(), [id]);
    /// ```
    #[must_use]
    pub fn id(&self) -> ListenerId {
        self.id
    }

    /// Whether the registration is a `once` listener.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use nodebook_emitter::Emitter;
    ///
    /// let emitter: Emitter<u32> = Emitter::new();
    /// let flags = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&flags);
    /// emitter.on_new_listener(move |change| log.lock().unwrap().push(change.is_once()));
    /// emitter.on("a", |_| {});
    /// emitter.once("b", |_| {});
    /// assert_eq!(*flags.lock().unwrap(), [false, true]);
    /// ```
    #[must_use]
    pub fn is_once(&self) -> bool {
        self.once
    }
}
