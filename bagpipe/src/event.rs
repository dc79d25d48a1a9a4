//! The events a bagpipe reports: `full`, `outdated` and `drain`.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::error::OutputError;

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
    /// The limit changed, by the adaptive [`Limit`](crate::limit::Limit) strategy or by
    /// [`Bagpipe::set_limit`](crate::Bagpipe::set_limit).
    Limit {
        /// The limit before.
        from: usize,
        /// The limit now.
        to: usize,
    },
    /// A permit of the shared limit outlived its lease (feature `redis`): its process stalled
    /// or could not reach Redis for a whole lease, or Redis lost its data and the slot was
    /// taken meanwhile. Its slot may serve another holder now; the permit's `lease_lost` flag
    /// is set.
    LeaseLost {
        /// The permit's fencing token: writes carrying it should now be refused.
        fencing_token: u64,
    },
}

impl Event {
    /// The event name of [`Event::Full`]: `"full"`.
    pub const FULL: &'static str = "full";
    /// The event name of [`Event::Outdated`]: `"outdated"`.
    pub const OUTDATED: &'static str = "outdated";
    /// The event name of [`Event::Drain`]: `"drain"`.
    pub const DRAIN: &'static str = "drain";
    /// The event name of [`Event::Limit`]: `"limit"`.
    pub const LIMIT: &'static str = "limit";
    /// The event name of [`Event::LeaseLost`]: `"lease_lost"`.
    pub const LEASE_LOST: &'static str = "lease_lost";

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
            Self::Limit { .. } => Self::LIMIT,
            Self::LeaseLost { .. } => Self::LEASE_LOST,
        }
    }
}

/// The late result of a detached call, carried by [`Event::Outdated`].
///
/// The output's type is erased, because one bagpipe runs futures of any output type. Every
/// listener sees the same output, through [`Outdated::output`] with the type it expects; asking
/// for another type is an error that names both types, so a mistake does not pass silently. A
/// call that panicked after its timeout carries the panic message instead. Clones share the one
/// output.
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
/// let late = Arc::new(Mutex::new(Vec::new()));
/// for listener in 0..2 {
///     let sink = Arc::clone(&late);
///     pipe.events().on(Event::OUTDATED, move |event: &Event| {
///         if let Event::Outdated(outdated) = event {
///             let output = outdated.output::<Result<u32, String>>().map(|rows| rows.clone());
///             sink.lock().unwrap().push((listener, output.unwrap()));
///         }
///     });
/// }
/// let slow = pipe.push(async {
///     tokio::time::sleep(Duration::from_millis(50)).await;
///     Ok::<u32, String>(7)
/// });
/// assert!(matches!(slow.await, Err(Error::Timeout { .. })));
/// tokio::time::sleep(Duration::from_millis(100)).await;
/// assert_eq!(*late.lock().unwrap(), [(0, Ok(7)), (1, Ok(7))]);
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
    late: Late,
}

enum Late {
    Finished(Mutex<Box<dyn Any + Send>>),
    Panicked(String),
}

impl Outdated {
    pub(crate) fn finished<T: Send + 'static>(
        timeout: Duration,
        elapsed: Duration,
        output: T,
    ) -> Self {
        Self::new::<T>(
            timeout,
            elapsed,
            Late::Finished(Mutex::new(Box::new(output))),
        )
    }

    pub(crate) fn panicked<T: 'static>(
        timeout: Duration,
        elapsed: Duration,
        message: String,
    ) -> Self {
        Self::new::<T>(timeout, elapsed, Late::Panicked(message))
    }

    fn new<T: 'static>(timeout: Duration, elapsed: Duration, late: Late) -> Self {
        Self {
            inner: Arc::new(OutdatedInner {
                timeout,
                elapsed,
                output_type: std::any::type_name::<T>(),
                late,
            }),
        }
    }

    /// The late output, seen as a `T`; every listener (and every clone) sees it.
    ///
    /// The output stays locked while the returned [`LateOutput`] lives, so read it and let it
    /// go (clone what you keep); another listener asking meanwhile, from another thread, waits.
    ///
    /// # Errors
    ///
    /// [`OutputError::WrongType`] when the output is not a `T` (it names the output's type),
    /// [`OutputError::Panicked`] when the late call panicked instead of finishing.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, Event, OnTimeout, OutputError};
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
    ///         let wrong_type = late.output::<String>().map(|text| text.clone());
    ///         let right_type = late.output::<&str>().map(|text| *text);
    ///         sink.lock().unwrap().push((wrong_type, right_type));
    ///     }
    /// });
    /// let call = pipe.push(async {
    ///     tokio::time::sleep(Duration::from_millis(5)).await;
    ///     "late rows"
    /// });
    /// assert!(call.await.is_err());
    /// tokio::time::sleep(Duration::from_millis(10)).await;
    /// let wrong = Err(OutputError::WrongType {
    ///     expected: "alloc::string::String",
    ///     actual: "&str",
    /// });
    /// assert_eq!(*seen.lock().unwrap(), [(wrong, Ok("late rows"))]);
    /// # }
    /// ```
    pub fn output<T: 'static>(&self) -> Result<LateOutput<'_, T>, OutputError> {
        match &self.inner.late {
            Late::Panicked(message) => Err(OutputError::Panicked {
                message: message.clone(),
            }),
            Late::Finished(output) => {
                let guard = output.lock().unwrap_or_else(PoisonError::into_inner);
                if guard.is::<T>() {
                    Ok(LateOutput {
                        guard,
                        output: PhantomData,
                    })
                } else {
                    Err(OutputError::WrongType {
                        expected: std::any::type_name::<T>(),
                        actual: self.inner.output_type,
                    })
                }
            }
        }
    }

    /// Whether the late output is a `T`.
    ///
    /// # Examples
    ///
    /// See [`Outdated`]; `outdated.is::<Result<u32, String>>()` is true there.
    #[must_use]
    pub fn is<T: 'static>(&self) -> bool {
        match &self.inner.late {
            Late::Finished(output) => output
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is::<T>(),
            Late::Panicked(_) => false,
        }
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
        match &self.inner.late {
            Late::Panicked(message) => Some(message),
            Late::Finished(_) => None,
        }
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
            .field("panic", &self.panic_message())
            .finish_non_exhaustive()
    }
}

/// The late output of an [`Outdated`] event, seen as a `T`; from [`Outdated::output`].
///
/// It dereferences to the output and keeps it locked while it lives.
///
/// # Examples
///
/// See [`Outdated::output`].
#[must_use = "the output is only visible through the value"]
#[clippy::has_significant_drop]
pub struct LateOutput<'a, T> {
    guard: MutexGuard<'a, Box<dyn Any + Send>>,
    output: PhantomData<fn() -> T>,
}

impl<T: 'static> Deref for LateOutput<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self.guard.downcast_ref::<T>() {
            Some(output) => output,
            // `Outdated::output` checked the type, and the box never changes.
            None => unreachable!("the late output changed its type"),
        }
    }
}

impl<T: fmt::Debug + 'static> fmt::Debug for LateOutput<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LateOutput").field(&**self).finish()
    }
}
