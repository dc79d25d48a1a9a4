//! RAII registrations: a guard that removes its listener when dropped.

use std::fmt;
use std::sync::{Arc, Weak};

use crate::registry::{Inner, Key};
use crate::{Emitter, EventName, ListenerId};

/// Removes one registration when dropped; made by [`Emitter::guard`].
///
/// The guard holds the emitter weakly: it does not keep the emitter alive, and dropping it after
/// every emitter handle is gone does nothing.
///
/// # Examples
///
/// ```
/// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
/// {
///     let _guard = emitter.guard("tick", emitter.on("tick", |_| {}));
///     assert_eq!(emitter.listener_count("tick"), 1);
/// }
/// assert_eq!(emitter.listener_count("tick"), 0);
/// ```
#[must_use = "dropping the guard removes the listener at once"]
#[clippy::has_significant_drop]
pub struct ListenerGuard<T> {
    inner: Weak<Inner<T>>,
    event: EventName,
    id: ListenerId,
    armed: bool,
}

impl<T> Emitter<T> {
    /// Ties registration `id` of `event` to a guard that removes it (like [`off`](Self::off))
    /// when dropped. Works for any registration: `on`, `once`, `prepend_*`, `register`.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<u8> = nodebook_emitter::Emitter::new();
    /// let guard = emitter.guard("data", emitter.once("data", |_| {}));
    /// drop(guard);
    /// assert_eq!(emitter.emit("data", 1), Ok(false));
    /// ```
    pub fn guard(&self, event: impl Into<EventName>, id: ListenerId) -> ListenerGuard<T> {
        ListenerGuard {
            inner: Arc::downgrade(&self.inner),
            event: event.into(),
            id,
            armed: true,
        }
    }
}

impl<T> ListenerGuard<T> {
    /// The guarded registration.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// let id = emitter.on("e", |_| {});
    /// assert_eq!(emitter.guard("e", id).id(), id);
    /// ```
    #[must_use]
    pub fn id(&self) -> ListenerId {
        self.id
    }

    /// The event the registration belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// let guard = emitter.guard("e", emitter.on("e", |_| {}));
    /// assert_eq!(guard.event(), "e");
    /// ```
    #[must_use]
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// Gives up the guard without removing the listener, returning its id.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// let guard = emitter.guard("e", emitter.on("e", |_| {}));
    /// let id = guard.disarm();
    /// assert!(emitter.contains("e", id));
    /// ```
    #[must_use = "the id is the only way left to remove the listener"]
    pub fn disarm(mut self) -> ListenerId {
        self.armed = false;
        self.id
    }
}

impl<T> Drop for ListenerGuard<T> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(inner) = self.inner.upgrade() {
            inner.remove(Key::Name(&self.event), self.id);
        }
    }
}

impl<T> fmt::Debug for ListenerGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerGuard")
            .field("event", &self.event)
            .field("id", &self.id)
            .field("armed", &self.armed)
            .finish_non_exhaustive()
    }
}
