//! Node's meta events, `'newListener'` and `'removeListener'`: every registration form, and
//! removal by function.

use std::panic::Location;
use std::sync::Arc;

use crate::list::{Callback, MetaFn};
use crate::listener::same_function;
use crate::registry::{NEW_LISTENER, REMOVE_LISTENER, Target};
use crate::{Emitter, EventName, Listener, ListenerChange, ListenerId, Mode};

/// One of Node's two meta events, for the meta-event methods that take a [`Listener`].
///
/// # Examples
///
/// ```
/// use nodebook_emitter::MetaEvent;
///
/// assert_eq!(MetaEvent::NewListener.name(), "newListener");
/// assert_eq!(MetaEvent::RemoveListener.name(), "removeListener");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetaEvent {
    /// `'newListener'`: announced just **before** a registration is added.
    NewListener,
    /// `'removeListener'`: announced just **after** a registration was removed.
    RemoveListener,
}

impl MetaEvent {
    /// The event's name, under which its listeners are counted and listed.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::{Emitter, MetaEvent};
    ///
    /// let emitter: Emitter<()> = Emitter::new();
    /// emitter.on_new_listener(|_| {});
    /// assert_eq!(emitter.listener_count(MetaEvent::NewListener.name()), 1);
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::NewListener => NEW_LISTENER,
            Self::RemoveListener => REMOVE_LISTENER,
        }
    }
}

/// Doc text shared by the eight forms.
macro_rules! meta_form {
    ($(#[$doc:meta])* $name:ident, $meta:expr, $mode:expr) => {
        $(#[$doc])*
        ///
        /// # Panics
        ///
        /// Only if a `"newListener"` listener already registered panics; this one is then not
        /// added.
        #[track_caller]
        pub fn $name<F>(&self, listener: F) -> ListenerId
        where
            F: Fn(&ListenerChange) + Send + Sync + 'static,
        {
            self.add_meta($meta, Arc::new(listener), $mode, Location::caller())
        }
    };
}

impl<T> Emitter<T> {
    meta_form! {
        /// Listens for Node's `'newListener'` meta event: `listener` learns of every
        /// registration just **before** it is added (so a listener it adds for the same event
        /// goes first). Node's `on('newListener', fn)`.
        ///
        /// Stored under the name `"newListener"`, so it counts in
        /// `listener_count("newListener")` and can be removed with [`off`](Self::off). Adding
        /// it announces it to the `"newListener"` listeners already present, as in Node.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::{Arc, Mutex};
        ///
        /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
        /// let counts = Arc::new(Mutex::new(Vec::new()));
        /// let (log, handle) = (Arc::clone(&counts), emitter.clone());
        /// emitter.on_new_listener(move |change| {
        ///     log.lock().unwrap().push(handle.listener_count(change.event()));
        /// });
        /// emitter.on("hello", |_| {});
        /// assert_eq!(*counts.lock().unwrap(), [0]); // announced before it was added
        /// ```
        on_new_listener, MetaEvent::NewListener, Mode::On
    }

    meta_form! {
        /// Like [`on_new_listener`](Self::on_new_listener), removed just before its first call
        /// (Node's `once('newListener', fn)`); its removal is announced to `"removeListener"`
        /// listeners before it runs, as in Node.
        ///
        /// # Examples
        ///
        /// ```
        /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
        /// emitter.once_new_listener(|change| assert_eq!(change.event(), "first"));
        /// emitter.on("first", |_| {});
        /// emitter.on("second", |_| {});
        /// assert_eq!(emitter.listener_count("newListener"), 0);
        /// ```
        once_new_listener, MetaEvent::NewListener, Mode::Once
    }

    meta_form! {
        /// Like [`on_new_listener`](Self::on_new_listener), at the head of the
        /// `"newListener"` list, so it runs before those already there (Node's
        /// `prependListener('newListener', fn)`).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::{Arc, Mutex};
        ///
        /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
        /// let order = Arc::new(Mutex::new(Vec::new()));
        /// let (a, b) = (Arc::clone(&order), Arc::clone(&order));
        /// emitter.on_new_listener(move |_| a.lock().unwrap().push("a"));
        /// emitter.prepend_new_listener(move |_| b.lock().unwrap().push("b"));
        /// order.lock().unwrap().clear(); // the second one was announced to the first
        /// emitter.on("x", |_| {});
        /// assert_eq!(*order.lock().unwrap(), ["b", "a"]);
        /// ```
        prepend_new_listener, MetaEvent::NewListener, Mode::Prepend
    }

    meta_form! {
        /// A `once` `"newListener"` listener at the head of the list (Node's
        /// `prependOnceListener('newListener', fn)`).
        ///
        /// # Examples
        ///
        /// ```
        /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
        /// emitter.on_new_listener(|_| {});
        /// emitter.prepend_once_new_listener(|change| assert_eq!(change.event(), "x"));
        /// assert_eq!(emitter.listener_count("newListener"), 2);
        /// emitter.on("x", |_| {});
        /// assert_eq!(emitter.listener_count("newListener"), 1);
        /// ```
        prepend_once_new_listener, MetaEvent::NewListener, Mode::PrependOnce
    }

    meta_form! {
        /// Listens for Node's `'removeListener'` meta event: `listener` learns of every
        /// registration just **after** it was removed (by `off`, `remove_listener`,
        /// `remove_all_listeners`, a `once` listener firing, or a dropped guard, future or
        /// subscription). Node's `on('removeListener', fn)`.
        ///
        /// Stored under the name `"removeListener"`; removable with [`off`](Self::off) or
        /// [`remove_meta_listener`](Self::remove_meta_listener).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::{Arc, Mutex};
        ///
        /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
        /// let counts = Arc::new(Mutex::new(Vec::new()));
        /// let (log, handle) = (Arc::clone(&counts), emitter.clone());
        /// emitter.on_remove_listener(move |change| {
        ///     log.lock().unwrap().push(handle.listener_count(change.event()));
        /// });
        /// let id = emitter.on("hello", |_| {});
        /// emitter.off("hello", id);
        /// assert_eq!(*counts.lock().unwrap(), [0]); // announced after it was removed
        /// ```
        on_remove_listener, MetaEvent::RemoveListener, Mode::On
    }

    meta_form! {
        /// Like [`on_remove_listener`](Self::on_remove_listener), removed just before its first
        /// call (Node's `once('removeListener', fn)`). Its own removal is announced first, to
        /// the other `"removeListener"` listeners, then it runs for the removal that fired it.
        ///
        /// # Examples
        ///
        /// ```
        /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
        /// emitter.once_remove_listener(|change| assert_eq!(change.event(), "a"));
        /// let a = emitter.on("a", |_| {});
        /// let b = emitter.on("b", |_| {});
        /// emitter.off("a", a);
        /// emitter.off("b", b);
        /// assert_eq!(emitter.listener_count("removeListener"), 0);
        /// ```
        once_remove_listener, MetaEvent::RemoveListener, Mode::Once
    }

    meta_form! {
        /// Like [`on_remove_listener`](Self::on_remove_listener), at the head of the
        /// `"removeListener"` list (Node's `prependListener('removeListener', fn)`).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::{Arc, Mutex};
        ///
        /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
        /// let order = Arc::new(Mutex::new(Vec::new()));
        /// let (a, b) = (Arc::clone(&order), Arc::clone(&order));
        /// emitter.on_remove_listener(move |_| a.lock().unwrap().push("a"));
        /// emitter.prepend_remove_listener(move |_| b.lock().unwrap().push("b"));
        /// let id = emitter.on("x", |_| {});
        /// emitter.off("x", id);
        /// assert_eq!(*order.lock().unwrap(), ["b", "a"]);
        /// ```
        prepend_remove_listener, MetaEvent::RemoveListener, Mode::Prepend
    }

    meta_form! {
        /// A `once` `"removeListener"` listener at the head of the list (Node's
        /// `prependOnceListener('removeListener', fn)`).
        ///
        /// # Examples
        ///
        /// ```
        /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
        /// emitter.prepend_once_remove_listener(|change| assert_eq!(change.event(), "x"));
        /// let id = emitter.on("x", |_| {});
        /// emitter.off("x", id);
        /// assert_eq!(emitter.listener_count("removeListener"), 0);
        /// ```
        prepend_once_remove_listener, MetaEvent::RemoveListener, Mode::PrependOnce
    }

    /// Registers a meta-event [`Listener`] (a function with an identity) in one of Node's four
    /// ways, so that it can later be removed by the function with
    /// [`remove_meta_listener`](Self::remove_meta_listener).
    ///
    /// # Panics
    ///
    /// Only if a `"newListener"` listener already registered panics; this one is then not added.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::{Emitter, Listener, ListenerChange, MetaEvent, Mode};
    ///
    /// let emitter: Emitter<u32> = Emitter::new();
    /// let audit = Listener::new(|change: &ListenerChange| println!("removed from {}", change.event()));
    /// emitter.register_meta(MetaEvent::RemoveListener, &audit, Mode::Prepend);
    /// assert_eq!(emitter.listener_count("removeListener"), 1);
    /// ```
    #[track_caller]
    #[allow(
        clippy::must_use_candidate,
        reason = "the id is needed only to remove by id, as with every add"
    )]
    pub fn register_meta(
        &self,
        meta: MetaEvent,
        listener: &Listener<ListenerChange>,
        mode: Mode,
    ) -> ListenerId {
        self.add_meta(meta, Arc::clone(&listener.0), mode, Location::caller())
    }

    /// Removes the last registration of `listener` in call order from the meta event (Node's
    /// `removeListener('newListener', fn)` / `removeListener('removeListener', fn)`), whatever
    /// form added it. Returns whether one was found.
    ///
    /// Removing a `"removeListener"` listener is announced to the remaining `"removeListener"`
    /// listeners, as any removal is.
    ///
    /// # Panics
    ///
    /// Only if a `"removeListener"` listener panics; the removal has happened by then.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_emitter::{Emitter, Listener, ListenerChange, MetaEvent, Mode};
    ///
    /// let emitter: Emitter<u32> = Emitter::new();
    /// let audit = Listener::new(|_: &ListenerChange| {});
    /// emitter.register_meta(MetaEvent::NewListener, &audit, Mode::On);
    /// emitter.register_meta(MetaEvent::NewListener, &audit, Mode::Once);
    /// assert!(emitter.remove_meta_listener(MetaEvent::NewListener, &audit));
    /// assert_eq!(emitter.listener_count("newListener"), 1);
    /// ```
    #[allow(
        clippy::must_use_candidate,
        reason = "whether anything was removed is optional information, as in Node"
    )]
    pub fn remove_meta_listener(
        &self,
        meta: MetaEvent,
        listener: &Listener<ListenerChange>,
    ) -> bool {
        self.inner.remove_last(
            meta.name(),
            |callback| matches!(callback, Callback::Meta(f) if same_function(f, &listener.0)),
        )
    }

    fn add_meta(
        &self,
        meta: MetaEvent,
        listener: MetaFn,
        mode: Mode,
        location: &'static Location<'static>,
    ) -> ListenerId {
        self.inner.add(
            Target::Name(EventName::from_static(meta.name())),
            Callback::Meta(listener),
            mode.once(),
            mode.prepend(),
            location,
        )
    }
}
