//! The limiter itself.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use nodebook_emitter::Emitter;

use crate::adaptive::Adaptivity;
use crate::error::{Error, TryAcquireError};
use crate::event::Event;
use crate::execute::{Execute, waited};
use crate::launch::launch;
use crate::options::Options;
use crate::permit::{Held, OwnedPermit, Permit};
use crate::push::{Push, QueuedCall};
use crate::shared::Shared;
use crate::stats::Stats;
use crate::waiter::{Acquire, AcquireOwned, Acquiring, Ticket};

/// A concurrency limiter: at most `limit` calls run at once, the rest wait in a FIFO queue.
///
/// The book's `Bagpipe` (sections 4.3.1 and 5.3.2) for tokio. `Bagpipe` is a cheap handle:
/// clones share one limit, one queue, one set of counters and one emitter.
///
/// Promises:
///
/// - **Limit.** No more than [`limit`](Bagpipe::limit) calls hold a slot at once. Lowering the
///   limit never preempts running calls; new admissions wait until fewer than the new limit run.
/// - **Fairness.** Calls are admitted in the order they arrived: once one waits, later calls
///   queue behind it, and a freed slot goes to the head of the queue.
/// - **Cancellation.** A caller that drops its [`Push`] handle or its [`run`](Bagpipe::run)
///   future while queued leaves the queue and its work never runs; while running, its future is
///   dropped and its slot freed.
/// - **Panics.** A panicking call frees its slot. Through `push` the handle resolves to
///   [`Error::Panicked`]; through `run` the panic unwinds into the caller, as any panic in its
///   own code would.
/// - **Timeouts.** The execution timeout and the queue timeout each free or give up exactly what
///   the call held. No sequence of drops, panics and timeouts leaks a slot.
/// - **No call left hanging.** Every queued call ends: it runs, or fails with
///   [`Error::Closed`] when no slot can free for it any more (after [`close`](Bagpipe::close),
///   or when the last handle is dropped while the limit is 0), or with [`Error::Cancelled`] when
///   its runtime shuts down. When the last handle is dropped with slots still held, queued calls
///   keep their turn.
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::Bagpipe;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pipe = Bagpipe::new(10);
/// let answer = pipe.run(async { 42 }).await.unwrap();
/// assert_eq!(answer, 42);
/// assert_eq!(pipe.active(), 0);
/// # }
/// ```
pub struct Bagpipe {
    shared: Arc<Shared>,
}

impl Clone for Bagpipe {
    fn clone(&self) -> Self {
        self.shared.handle_cloned();
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// When the last handle goes, calls still waiting get their turn as running calls free their
/// slots; at limit 0 nothing can free one, so they end with [`Error::Closed`].
impl Drop for Bagpipe {
    fn drop(&mut self) {
        self.shared.handle_dropped();
    }
}

impl Bagpipe {
    /// A bagpipe that runs at most `limit` calls at once, with the default options: the queue
    /// grows without refusing, no timeouts.
    ///
    /// A limit of 0 admits nothing until [`set_limit`](Bagpipe::set_limit) raises it (calls
    /// queue meanwhile). For the book's "limit below 1 disables the bagpipe", use
    /// [`Builder::disabled`](crate::Builder::disabled).
    ///
    /// # Examples
    ///
    /// ```
    /// let pipe = nodebook_bagpipe::Bagpipe::new(10);
    /// assert_eq!(pipe.limit(), 10);
    /// ```
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Self::from_options(limit, Options::new(limit), Adaptivity::default())
    }

    #[cfg(feature = "tower")]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn from_options(limit: usize, options: Options, adaptivity: Adaptivity) -> Self {
        Self {
            shared: Arc::new(Shared::new(limit, options, adaptivity)),
        }
    }

    /// Pushes a call: decides before it returns whether the call is admitted, queued or
    /// refused, and hands back a [`Push`] handle that resolves to its output.
    ///
    /// The call runs on its own tokio task (so it needs `Send + 'static`), spawned on the
    /// runtime `push` was called from: at once when admitted, and when its slot is granted when
    /// queued. A queued call is only its future and a few words of bookkeeping in the queue
    /// until then; on a bagpipe with a [`queue_timeout`](crate::Builder::queue_timeout) it waits
    /// in its own task instead, where the deadline's timer runs. Either way it waits as a
    /// permit does, and its future is first polled once the slot is held. A queued call that can
    /// never get a slot ends with [`Error::Closed`] (see [`Push`]).
    ///
    /// A refusal ([`Error::TooMuchAsyncCall`]), a closed bagpipe ([`Error::Closed`]) or a
    /// missing runtime ([`Error::NoRuntime`]) resolve the handle at once. A push that leaves
    /// two or more calls waiting emits [`Event::Full`].
    ///
    /// # Errors
    ///
    /// The handle resolves to [`Error::TooMuchAsyncCall`], [`Error::Closed`],
    /// [`Error::QueueTimeout`], [`Error::Timeout`], [`Error::Panicked`], [`Error::Cancelled`]
    /// (the runtime shut down) or [`Error::NoRuntime`].
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// // The book's test: limit 2, queue 2 (the default), refuse mode.
    /// let pipe = Bagpipe::builder(2).refuse(true).build();
    /// let (tx, rx) = tokio::sync::watch::channel(false);
    /// let calls: Vec<_> = (0..5)
    ///     .map(|_| {
    ///         let mut open = rx.clone();
    ///         pipe.push(async move { open.wait_for(|open| *open).await.is_ok() })
    ///     })
    ///     .collect();
    /// assert_eq!((pipe.active(), pipe.queued()), (2, 2));
    /// tx.send(true).unwrap();
    /// let mut results = Vec::new();
    /// for call in calls {
    ///     results.push(call.await);
    /// }
    /// assert!(results[..4].iter().all(|result| matches!(result, Ok(true))));
    /// assert!(matches!(results[4], Err(Error::TooMuchAsyncCall { .. })));
    /// # }
    /// ```
    pub fn push<F>(&self, future: F) -> Push<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Push::failed(Error::NoRuntime);
        };
        let shared = &self.shared;
        if shared.options.queue_timeout.is_none() && !shared.options.disabled {
            return match launch(shared, runtime, future) {
                Ok(launched) => Push::launched(launched),
                Err(error) => Push::failed(error),
            };
        }
        // The queue deadline needs a timer that fires whether or not anyone polls the handle,
        // so the call waits in its own task (a disabled bagpipe admits it at once).
        match Ticket::admit(Arc::clone(shared)) {
            Ok(ticket) => {
                let queued = match &ticket {
                    Ticket::Queued(waiter) => waiter
                        .node()
                        .map(|node| QueuedCall::new(Arc::clone(shared), Arc::clone(node))),
                    Ticket::Admitted(_) => None,
                };
                Push::running(runtime.spawn(waited(ticket, future)), queued)
            }
            Err(error) => Push::failed(error),
        }
    }

    /// Runs a call in the caller's task once it gets a slot, and returns its output.
    ///
    /// Waits in the queue like [`push`](Bagpipe::push), but the future is polled right here,
    /// so it may borrow (no `'static`, no `Send`). An execution timeout cancels the future even
    /// under [`OnTimeout::Detach`](crate::OnTimeout::Detach), since a borrowed future cannot outlive this call. A panic
    /// in the future frees the slot and unwinds into the caller.
    ///
    /// # Errors
    ///
    /// [`Error::TooMuchAsyncCall`] when refused, [`Error::Closed`] when closed before the call
    /// got a slot, [`Error::QueueTimeout`] and [`Error::Timeout`] when a deadline passed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future while it waits removes the call from the queue (or, if a
    /// slot was granted a moment before, hands the slot on) and the call never runs. Dropping it
    /// while the call runs drops the call's future and frees its slot.
    ///
    /// # Timers start when the future is made
    ///
    /// The limiter decides when a call is first polled, not when its future was made, and a
    /// timer future (`tokio::time::sleep`, `timeout`, an `Interval` tick) takes its deadline
    /// when it is made. So `pipe.run(sleep(d))` counts its time in the queue toward `d`. Wrap
    /// time-based work in an `async` block to start its clock when the call gets its slot (the
    /// same holds for [`push`](Bagpipe::push)):
    ///
    /// ```
    /// use std::time::Duration;
    /// use nodebook_bagpipe::Bagpipe;
    /// use tokio::time::{Instant, sleep};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let pipe = Bagpipe::new(1);
    /// let ms = Duration::from_millis;
    /// let start = Instant::now();
    /// let (_, _, _) = tokio::join!(
    ///     pipe.run(sleep(ms(10))),                   // runs from 0 to 10 ms
    ///     pipe.run(sleep(ms(10))),                   // made at 0: done when it gets the slot
    ///     pipe.run(async { sleep(ms(10)).await }),   // made at 10 ms: runs from 10 to 20 ms
    /// );
    /// assert_eq!(start.elapsed(), ms(20));
    /// # }
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::new(1);
    /// let rows = vec![1, 2, 3];
    /// let total = pipe.run(async { rows.iter().sum::<i32>() }).await.unwrap();
    /// assert_eq!(total, 6);
    /// # }
    /// ```
    pub async fn run<F: Future>(&self, future: F) -> Result<F::Output, Error> {
        // A free slot makes `run` ready at once: it spends tokio's cooperative budget, as an
        // acquire does, so a loop of uncontended runs still yields.
        std::future::poll_fn(|cx| tokio::task::coop::poll_proceed(cx).map(|c| c.made_progress()))
            .await;
        let permit = match try_held(&*self.shared) {
            Ok(permit) => permit,
            Err(_) => Acquiring::new(&*self.shared).await?,
        };
        Execute::new(permit, future).await
    }

    /// Waits for a slot and returns it as a [`Permit`] that frees it when dropped.
    ///
    /// The permit API in tokio's shape (`Semaphore::acquire`), for work that must hold one slot
    /// across several awaits, such as a database transaction. The wait is the same as every
    /// other call's: FIFO behind earlier callers, refused at once in `refuse` mode when the queue
    /// is full, bounded by [`queue_timeout`](crate::Builder::queue_timeout), ended by
    /// [`close`](Bagpipe::close), and granted as soon as [`set_limit`](Bagpipe::set_limit)
    /// raises the limit. The admission is decided on the first poll. The execution timeout does
    /// not apply: the bagpipe cannot know when a permit's work ends.
    ///
    /// # Errors
    ///
    /// [`Error::TooMuchAsyncCall`] when refused, [`Error::QueueTimeout`] when the queue deadline
    /// passed, [`Error::Closed`] when the bagpipe was closed before a slot was granted.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future while it waits removes it from the queue; if a slot was granted a
    /// moment before, the slot goes on to the next waiter. Nothing leaks and no waiter loses its
    /// place.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::new(4);
    /// let permit = pipe.acquire().await.unwrap();
    /// // BEGIN; UPDATE ..; UPDATE ..; COMMIT — all on one slot.
    /// assert_eq!(pipe.active(), 1);
    /// drop(permit);
    /// assert_eq!(pipe.active(), 0);
    /// # }
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire::new(&self.shared)
    }

    /// Waits for a slot and returns it as an [`OwnedPermit`], which can move into a spawned
    /// task (tokio's `Semaphore::acquire_owned`). Waits as [`acquire`](Bagpipe::acquire) does.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Bagpipe::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Bagpipe::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::new(2);
    /// let mut tasks = Vec::new();
    /// for n in 0..4 {
    ///     let permit = pipe.acquire_owned().await.unwrap();
    ///     tasks.push(tokio::spawn(async move {
    ///         let _slot = permit;
    ///         n * 10
    ///     }));
    /// }
    /// let mut total = 0;
    /// for task in tasks {
    ///     total += task.await.unwrap();
    /// }
    /// assert_eq!(total, 60);
    /// # }
    /// ```
    pub fn acquire_owned(&self) -> AcquireOwned {
        AcquireOwned::new(Arc::clone(&self.shared))
    }

    /// Takes a slot if one is free and nobody waits, without waiting (tokio's
    /// `Semaphore::try_acquire`). It never overtakes a waiter, so the queue stays FIFO.
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoSlot`] when every slot is held or callers wait;
    /// [`TryAcquireError::Closed`] when the bagpipe is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, TryAcquireError};
    ///
    /// let pipe = Bagpipe::new(1);
    /// let permit = pipe.try_acquire().unwrap();
    /// assert_eq!(pipe.try_acquire().unwrap_err(), TryAcquireError::NoSlot);
    /// drop(permit);
    /// pipe.close();
    /// assert_eq!(pipe.try_acquire().unwrap_err(), TryAcquireError::Closed);
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, TryAcquireError> {
        try_held(&*self.shared).map(Permit::new)
    }

    /// As [`try_acquire`](Bagpipe::try_acquire), returning an [`OwnedPermit`].
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Bagpipe::try_acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    ///
    /// let pipe = Bagpipe::new(1);
    /// let permit = pipe.try_acquire_owned().unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(pipe.active(), 0);
    /// ```
    #[inline]
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, TryAcquireError> {
        try_held(Arc::clone(&self.shared)).map(OwnedPermit::new)
    }

    /// How many calls hold a slot now (Node's `active`).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::new(2);
    /// let inside = pipe.run(async { pipe.active() }).await.unwrap();
    /// assert_eq!((inside, pipe.active()), (1, 0));
    /// # }
    /// ```
    #[must_use]
    pub fn active(&self) -> usize {
        if self.shared.options.disabled {
            return 0;
        }
        self.shared.slots.active()
    }

    /// How many calls wait in the queue now (Node's `queue.length`).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::new(0);
    /// let waiting = pipe.push(async {});
    /// assert_eq!(pipe.queued(), 1);
    /// drop(waiting);
    /// assert_eq!(pipe.queued(), 0);
    /// # }
    /// ```
    #[must_use]
    pub fn queued(&self) -> usize {
        self.shared.slots.queued()
    }

    /// The current limit on running calls: the fixed one, or where the adaptive
    /// [`Limit`](crate::limit::Limit) strategy has moved it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(nodebook_bagpipe::Bagpipe::new(5).limit(), 5);
    /// ```
    #[must_use]
    pub fn limit(&self) -> usize {
        self.shared.slots.limit()
    }

    /// The queue length at which `refuse` mode turns calls away (Node's `queueLength`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(nodebook_bagpipe::Bagpipe::new(5).queue_length(), 5);
    /// ```
    #[must_use]
    pub fn queue_length(&self) -> usize {
        self.shared.options.queue_length
    }

    /// Changes the limit at runtime, for every clone.
    ///
    /// Raising it admits waiting calls at once, head first. Lowering it never preempts running
    /// calls: new admissions wait until fewer than `limit` run. A limit of 0 pauses admission.
    /// A change is reported as [`Event::Limit`]. Under an adaptive
    /// [`Limit`](crate::limit::Limit) strategy the strategy goes on from the new limit with the
    /// next completed call (and clamps it to its `[min, max]` then).
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::new(0);
    /// let call = pipe.push(async { "ran" });
    /// assert_eq!(pipe.queued(), 1);
    /// pipe.set_limit(1);
    /// assert_eq!((pipe.active(), pipe.queued()), (1, 0));
    /// assert_eq!(call.await.unwrap(), "ran");
    /// # }
    /// ```
    pub fn set_limit(&self, limit: usize) {
        self.shared.set_limit(limit);
    }

    /// Closes the bagpipe for every clone: waiting calls fail with [`Error::Closed`] and never
    /// run, new calls fail the same way, running calls finish normally.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::new(0);
    /// let waiting = pipe.push(async {});
    /// pipe.close();
    /// assert!(matches!(waiting.await, Err(Error::Closed)));
    /// assert!(pipe.is_closed());
    /// # }
    /// ```
    pub fn close(&self) {
        self.shared.close();
    }

    /// Whether [`close`](Bagpipe::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!nodebook_bagpipe::Bagpipe::new(1).is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.slots.is_closed()
    }

    /// Whether the bagpipe was built [`disabled`](crate::Builder::disabled).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!nodebook_bagpipe::Bagpipe::new(1).is_disabled());
    /// ```
    #[must_use]
    pub fn is_disabled(&self) -> bool {
        self.shared.options.disabled
    }

    /// A snapshot of the counters.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::builder(0).refuse(true).queue_length(0).build();
    /// assert!(pipe.run(async {}).await.is_err());
    /// assert_eq!(pipe.stats().refused, 1);
    /// # }
    /// ```
    #[must_use]
    pub fn stats(&self) -> Stats {
        let (released, active) = self.shared.slots.released_and_active();
        let adaptive = self
            .shared
            .adaptive
            .as_ref()
            .map(|controller| &controller.counters);
        self.shared.counters.snapshot(released, active, adaptive)
    }

    /// The emitter that reports [`Event::Full`], [`Event::Outdated`], [`Event::Drain`] and
    /// [`Event::Limit`] under the names `"full"`, `"outdated"`, `"drain"` and `"limit"` (the
    /// book's `bagpipe.on(..)`).
    ///
    /// Listeners run synchronously in the task that caused the event, after the bagpipe's
    /// locks are released, so they may call back into the bagpipe; keep them short.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::{Bagpipe, Event};
    ///
    /// let pipe = Bagpipe::new(10);
    /// pipe.events().on(Event::FULL, |event: &Event| eprintln!("busy: {event:?}"));
    /// assert_eq!(pipe.events().listener_count(Event::FULL), 1);
    /// ```
    #[must_use]
    pub fn events(&self) -> &Emitter<Event> {
        &self.shared.events
    }
}

impl fmt::Debug for Bagpipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bagpipe")
            .field("limit", &self.limit())
            .field("active", &self.active())
            .field("queued", &self.queued())
            .field("closed", &self.is_closed())
            .field("options", &self.shared.options)
            .field("adaptive", &self.shared.adaptive)
            .finish_non_exhaustive()
    }
}

/// A slot without waiting, if one is free and nobody waits.
#[inline]
fn try_held<S: std::borrow::Borrow<Shared>>(shared: S) -> Result<Held<S>, TryAcquireError> {
    match Held::try_take(shared) {
        Ok(held) => Ok(held),
        Err(shared) if shared.borrow().slots.is_closed() => Err(TryAcquireError::Closed),
        Err(_) => Err(TryAcquireError::NoSlot),
    }
}
