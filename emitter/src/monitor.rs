//! Node's `events.errorMonitor`: listeners that see every `"error"` payload first.

use std::panic::Location;
use std::sync::Arc;

use crate::Emitter;
use crate::ListenerId;
use crate::list::Callback;
use crate::registry::{Key, Target};

impl<T> Emitter<T> {
    /// Adds an error monitor (Node's `on(events.errorMonitor, fn)`): it sees every `"error"`
    /// payload before the `"error"` listeners, and does not count as handling it, so an emit of
    /// `"error"` with only monitors still returns [`Error::Unhandled`](crate::Error::Unhandled).
    ///
    /// Monitors are kept apart from named events: they are not in
    /// [`event_names`](Self::event_names), not announced by the meta events, and not touched by
    /// [`remove_all_listeners`](Self::remove_all_listeners).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let emitter: nodebook_emitter::Emitter<&str> = nodebook_emitter::Emitter::new();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// emitter.on_error_monitor(move |e| log.lock().unwrap().push(*e));
    /// assert!(emitter.emit("error", "boom").is_err());
    /// assert_eq!(*seen.lock().unwrap(), ["boom"]);
    /// ```
    #[track_caller]
    pub fn on_error_monitor<F>(&self, listener: F) -> ListenerId
    where
        F: Fn(&T) + Send + Sync + 'static,
    {
        self.inner.add(
            Target::ErrorMonitor,
            Callback::Payload(Arc::new(listener)),
            false,
            false,
            Location::caller(),
        )
    }

    /// Removes an error monitor added by [`on_error_monitor`](Self::on_error_monitor); returns
    /// whether it was registered.
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// let id = emitter.on_error_monitor(|_| {});
    /// assert!(emitter.off_error_monitor(id));
    /// assert_eq!(emitter.error_monitor_count(), 0);
    /// ```
    #[allow(
        clippy::must_use_candidate,
        reason = "whether anything was removed is optional information, as in Node"
    )]
    pub fn off_error_monitor(&self, id: ListenerId) -> bool {
        self.inner.remove(Key::ErrorMonitor, id)
    }

    /// How many error monitors are registered (Node's `listenerCount(events.errorMonitor)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<()> = nodebook_emitter::Emitter::new();
    /// emitter.on_error_monitor(|_| {});
    /// assert_eq!(emitter.error_monitor_count(), 1);
    /// ```
    #[must_use]
    pub fn error_monitor_count(&self) -> usize {
        self.inner.listener_count(Key::ErrorMonitor)
    }
}
