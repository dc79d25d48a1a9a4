//! The max-listener leak warning (Node's `MaxListenersExceededWarning`) and the process-wide
//! default limit (Node's `EventEmitter.defaultMaxListeners`).

use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::EventName;

static DEFAULT_MAX_LISTENERS: AtomicUsize = AtomicUsize::new(10);

/// The process-wide max-listener limit used by every emitter that has no
/// [`set_max_listeners`](crate::Emitter::set_max_listeners) of its own (Node's
/// `EventEmitter.defaultMaxListeners`). Starts at 10; 0 means unlimited.
///
/// # Examples
///
/// ```
/// assert_eq!(nodebook_emitter::default_max_listeners(), 10);
/// ```
#[must_use]
pub fn default_max_listeners() -> usize {
    DEFAULT_MAX_LISTENERS.load(Ordering::Relaxed)
}

/// Changes the process-wide max-listener limit (Node's `EventEmitter.defaultMaxListeners = n`);
/// 0 means unlimited.
///
/// The limit is read each time a listener is added, so it also applies to existing emitters that
/// have no limit of their own.
///
/// # Examples
///
/// ```
/// nodebook_emitter::set_default_max_listeners(50);
/// assert_eq!(nodebook_emitter::default_max_listeners(), 50);
/// ```
pub fn set_default_max_listeners(limit: usize) {
    DEFAULT_MAX_LISTENERS.store(limit, Ordering::Relaxed);
}

/// A function that receives max-listener warnings, as installed by
/// [`Emitter::set_warning_hook`](crate::Emitter::set_warning_hook).
pub(crate) type WarningHook = Arc<dyn Fn(&MaxListenersExceeded) + Send + Sync>;

/// The leak warning: an event got more listeners than the emitter's limit (Node's
/// `MaxListenersExceededWarning`).
///
/// Sent once per event name, when the add that crosses the limit happens; sent again only after
/// the name's list fell back to one listener (or was emptied) and then crossed the limit again,
/// as in Node. Beyond Node it names the call site of the add that crossed the limit.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use nodebook_emitter::Emitter;
///
/// let emitter: Emitter<()> = Emitter::new();
/// let warnings = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&warnings);
/// emitter.set_warning_hook(move |w| {
///     sink.lock().unwrap().push((w.event().to_string(), w.count(), w.limit()));
/// });
/// emitter.set_max_listeners(1);
/// emitter.on("data", |_| {});
/// emitter.on("data", |_| {});
/// assert_eq!(*warnings.lock().unwrap(), [("data".to_string(), 2, 1)]);
/// ```
#[derive(Clone, Debug)]
pub struct MaxListenersExceeded {
    pub(crate) event: EventName,
    pub(crate) count: usize,
    pub(crate) limit: usize,
    pub(crate) location: &'static Location<'static>,
}

impl MaxListenersExceeded {
    /// The event that got too many listeners.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use nodebook_emitter::Emitter;
    ///
    /// let emitter: Emitter<()> = Emitter::new();
    /// let seen = Arc::new(Mutex::new(None));
    /// let sink = Arc::clone(&seen);
    /// emitter.set_warning_hook(move |w| *sink.lock().unwrap() = Some(w.clone()));
    /// emitter.set_max_listeners(2);
    /// for _ in 0..3 {
    ///     emitter.on("job", |_| {});
    /// }
    /// let warning = seen.lock().unwrap().clone().unwrap();
    /// assert_eq!(warning.event(), "job");
    /// ```
    #[must_use]
    pub fn event(&self) -> &EventName {
        &self.event
    }

    /// How many listeners the event had after the add that crossed the limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use nodebook_emitter::Emitter;
    ///
    /// let emitter: Emitter<()> = Emitter::new();
    /// let seen = Arc::new(Mutex::new(None));
    /// let sink = Arc::clone(&seen);
    /// emitter.set_warning_hook(move |w| *sink.lock().unwrap() = Some(w.clone()));
    /// emitter.set_max_listeners(2);
    /// for _ in 0..3 {
    ///     emitter.on("job", |_| {});
    /// }
    /// let warning = seen.lock().unwrap().clone().unwrap();
    /// assert_eq!(warning.count(), 3);
    /// ```
    #[must_use]
    pub fn count(&self) -> usize {
        self.count
    }

    /// The limit in force at that add.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use nodebook_emitter::Emitter;
    ///
    /// let emitter: Emitter<()> = Emitter::new();
    /// let seen = Arc::new(Mutex::new(None));
    /// let sink = Arc::clone(&seen);
    /// emitter.set_warning_hook(move |w| *sink.lock().unwrap() = Some(w.clone()));
    /// emitter.set_max_listeners(2);
    /// for _ in 0..3 {
    ///     emitter.on("job", |_| {});
    /// }
    /// let warning = seen.lock().unwrap().clone().unwrap();
    /// assert_eq!(warning.limit(), 2);
    /// ```
    #[must_use]
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The source location of the `on` / `once` / `prepend_*` / `subscribe` call that crossed the
    /// limit.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use nodebook_emitter::Emitter;
    ///
    /// let emitter: Emitter<()> = Emitter::new();
    /// let lines = Arc::new(Mutex::new(Vec::new()));
    /// let sink = Arc::clone(&lines);
    /// emitter.set_warning_hook(move |w| sink.lock().unwrap().push(w.location().line()));
    /// emitter.set_max_listeners(1);
    /// emitter.on("data", |_| {});
    /// let line = line!(); emitter.on("data", |_| {});
    /// assert_eq!(*lines.lock().unwrap(), [line]);
    /// ```
    #[must_use]
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }
}

impl fmt::Display for MaxListenersExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "possible EventEmitter memory leak detected: {} {:?} listeners added, the last at {}; \
             max listeners is {}; use set_max_listeners() to increase the limit",
            self.count, self.event, self.location, self.limit
        )
    }
}

/// Delivers a warning: to the hook when one is installed, to `tracing` when the feature is on,
/// and to standard error (as Node's `process.emitWarning` does) when neither is available.
pub(crate) fn report(warning: &MaxListenersExceeded, hook: Option<WarningHook>) {
    #[cfg(feature = "tracing")]
    tracing::warn!(
        event = %warning.event,
        count = warning.count,
        limit = warning.limit,
        location = %warning.location,
        "MaxListenersExceededWarning: {warning}"
    );
    match hook {
        Some(hook) => hook(warning),
        None if cfg!(feature = "tracing") => {}
        None => eprintln!("MaxListenersExceededWarning: {warning}"),
    }
}
