//! The events a bagpipe reports: `full`, `outdated` and `drain`.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Something worth telling the application, delivered through [`Bagpipe::events`].
///
/// The book's bagpipe is an `EventEmitter` with a `full` and an `outdated` event; here the
/// events travel through an [`nodebook_emitter::Emitter<Event>`](nodebook_emitter::Emitter) under the names in
/// [`Event::name`], so listeners subscribe with `on("full", ..)` exactly as in Node.
///
/// [`Bagpipe::events`]: crate::Bagpipe::events
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::{Bagpipe, Event};
/// use std::sync::{Arc, Mutex};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pipe = Bagpipe::new(1);
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// pipe.events().on(Event::FULL, move |event: &Event| {
///     if let Event::Full { queued } = event {
///         log.lock().unwrap().push(*queued);
///     }
/// });
/// let (tx, rx) = tokio::sync::oneshot::channel::<()>();
/// let running = pipe.push(async move { rx.await.ok(); });
/// let waiting: Vec<_> = (0..3).map(|_| pipe.push(async {})).collect();
/// // The book's rule: `full` fires on each push that leaves two or more calls waiting.
/// assert_eq!(*seen.lock().unwrap(), [2, 3]);
/// tx.send(()).unwrap();
/// running.await.unwrap();
/// for call in waiting {
///     call.await.unwrap();
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A push left `queued` calls waiting, and `queued` is 2 or more (Node's `full` event with
    /// the queue length). It fires on every such push, and on a refusal while that many wait.
    Full {
        /// How many calls wait after the push.
        queued: usize,
    },
    /// A call that timed out under [`OnTimeout::Detach`](crate::OnTimeout::Detach) finished
    /// late (Node's `outdated` event). Unlike Node, late successes are reported too.
    Outdated(Outdated),
    /// The wait queue became empty: the last waiter got its slot, gave up or was closed out.
    Drain,
}

impl Event {
    /// The event name of [`Event::Full`]: `"full"`.
    pub const FULL: &'static str = "full";
    /// The event name of [`Event::Outdated`]: `"outdated"`.
    pub const OUTDATED: &'static str = "outdated";
    /// The event name of [`Event::Drain`]: `"drain"`.
    pub const DRAIN: &'static str = "drain";

    /// The name this event is emitted under.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Event;
    ///
    /// assert_eq!(Event::Drain.name(), "drain");
    /// assert_eq!(Event::Full { queued: 2 }.name(), Event::FULL);
    /// ```
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Full { .. } => Self::FULL,
            Self::Outdated(_) => Self::OUTDATED,
            Self::Drain => Self::DRAIN,
        }
    }
}

/// The late result of a detached call, carried by [`Event::Outdated`].
///
/// The output's type is erased, because one bagpipe runs futures of any output type. A
/// listener that knows the type takes the value with [`Outdated::take`]; the first such
/// listener gets it. A call that panicked after its timeout carries the panic message instead.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::{Bagpipe, Error, Event, OnTimeout};
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let pipe = Bagpipe::builder(1)
///     .timeout(Duration::from_millis(10))
///     .on_timeout(OnTimeout::Detach)
///     .build();
/// let late = Arc::new(Mutex::new(None));
/// let sink = Arc::clone(&late);
/// pipe.events().on(Event::OUTDATED, move |event: &Event| {
///     if let Event::Outdated(outdated) = event {
///         *sink.lock().unwrap() = outdated.take::<Result<u32, String>>();
///     }
/// });
/// let slow = pipe.push(async {
///     tokio::time::sleep(Duration::from_millis(50)).await;
///     Ok::<u32, String>(7)
/// });
/// assert!(matches!(slow.await, Err(Error::Timeout { .. })));
/// tokio::time::sleep(Duration::from_millis(100)).await;
/// assert_eq!(*late.lock().unwrap(), Some(Ok(7)));
/// # }
/// ```
#[derive(Clone)]
pub struct Outdated {
    inner: Arc<OutdatedInner>,
}

struct OutdatedInner {
    timeout: Duration,
    elapsed: Duration,
    output_type: &'static str,
    panic: Option<String>,
    output: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Outdated {
    pub(crate) fn finished<T: Send + 'static>(
        timeout: Duration,
        elapsed: Duration,
        output: T,
    ) -> Self {
        Self::new::<T>(timeout, elapsed, None, Some(Box::new(output)))
    }

    pub(crate) fn panicked<T: 'static>(
        timeout: Duration,
        elapsed: Duration,
        message: String,
    ) -> Self {
        Self::new::<T>(timeout, elapsed, Some(message), None)
    }

    fn new<T: 'static>(
        timeout: Duration,
        elapsed: Duration,
        panic: Option<String>,
        output: Option<Box<dyn Any + Send>>,
    ) -> Self {
        Self {
            inner: Arc::new(OutdatedInner {
                timeout,
                elapsed,
                output_type: std::any::type_name::<T>(),
                panic,
                output: Mutex::new(output),
            }),
        }
    }

    /// Takes the late output if it is a `T` and no listener took it before.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, Event, OnTimeout};
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let pipe = Bagpipe::builder(1)
    ///     .timeout(Duration::from_millis(1))
    ///     .on_timeout(OnTimeout::Detach)
    ///     .build();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = Arc::clone(&seen);
    /// pipe.events().on(Event::OUTDATED, move |event: &Event| {
    ///     if let Event::Outdated(late) = event {
    ///         let wrong_type = late.take::<String>();
    ///         let right_type = late.take::<&str>();
    ///         let again = late.take::<&str>();
    ///         sink.lock().unwrap().push((wrong_type, right_type, again));
    ///     }
    /// });
    /// let call = pipe.push(async {
    ///     tokio::time::sleep(Duration::from_millis(5)).await;
    ///     "late rows"
    /// });
    /// assert!(call.await.is_err());
    /// tokio::time::sleep(Duration::from_millis(10)).await;
    /// assert_eq!(*seen.lock().unwrap(), [(None, Some("late rows"), None)]);
    /// # }
    /// ```
    #[must_use]
    pub fn take<T: 'static>(&self) -> Option<T> {
        let mut slot = self
            .inner
            .output
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match slot.take()?.downcast::<T>() {
            Ok(output) => Some(*output),
            Err(other) => {
                *slot = Some(other);
                None
            }
        }
    }

    /// Whether the late output is a `T` and still there to take.
    ///
    /// # Examples
    ///
    /// See [`Outdated`]; `outdated.is::<Result<u32, String>>()` is true there before `take`.
    #[must_use]
    pub fn is<T: 'static>(&self) -> bool {
        self.inner
            .output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|output| output.is::<T>())
    }

    /// The panic message, if the late call panicked instead of finishing.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, Event, OnTimeout};
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let pipe = Bagpipe::builder(1)
    ///     .timeout(Duration::from_millis(1))
    ///     .on_timeout(OnTimeout::Detach)
    ///     .build();
    /// let seen = Arc::new(Mutex::new(None));
    /// let sink = Arc::clone(&seen);
    /// pipe.events().on(Event::OUTDATED, move |event: &Event| {
    ///     if let Event::Outdated(late) = event {
    ///         *sink.lock().unwrap() = late.panic_message().map(str::to_owned);
    ///     }
    /// });
    /// let call = pipe.push(async {
    ///     tokio::time::sleep(Duration::from_millis(5)).await;
    ///     panic!("the connection broke late");
    /// });
    /// assert!(call.await.is_err());
    /// tokio::time::sleep(Duration::from_millis(10)).await;
    /// assert_eq!(seen.lock().unwrap().as_deref(), Some("the connection broke late"));
    /// # }
    /// ```
    #[must_use]
    pub fn panic_message(&self) -> Option<&str> {
        self.inner.panic.as_deref()
    }

    /// The name of the output type, as `std::any::type_name` spells it, for logs.
    ///
    /// # Examples
    ///
    /// See [`Outdated`].
    #[must_use]
    pub fn output_type(&self) -> &'static str {
        self.inner.output_type
    }

    /// The execution timeout the call exceeded.
    ///
    /// # Examples
    ///
    /// See [`Outdated`].
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// How long the call ran, from dispatch to its late end.
    ///
    /// # Examples
    ///
    /// See [`Outdated`].
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.inner.elapsed
    }
}

impl fmt::Debug for Outdated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outdated")
            .field("output_type", &self.inner.output_type)
            .field("timeout", &self.inner.timeout)
            .field("elapsed", &self.inner.elapsed)
            .field("panic", &self.inner.panic)
            .finish_non_exhaustive()
    }
}
