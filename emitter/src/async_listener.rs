//! `on_async`: listeners that return a future, run on the tokio runtime, with their failures
//! captured (Node's async listeners under `captureRejections: true`).
//!
//! # Implementation details
//!
//! Each async registration owns a queue: `running` says whether a task is working through it.
//! An emit that finds no task running spawns one with its payload; an emit that finds one
//! running appends its payload (up to [`ASYNC_BACKLOG`]) and the task takes it when the call before
//! it ends. So one listener's calls run one at a time, in emit order, with no task per waiting
//! call. The task holds the emitter strongly while it runs, so the failure of a call that ends
//! after the last handle was dropped still reaches the `"error"` listeners or the hook.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, Location, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll};

use crate::list::{AsyncCall, Callback};
use crate::registry::{ERROR, Inner, Target, refuse_meta_name};
use crate::rejection::AsyncFailure;
use crate::{Emitter, EventName, ListenerId};

/// How many emits may wait for one async listener while a call of it runs; beyond that an emit
/// skips the listener and reports [`AsyncFailure::Overloaded`] with its payload.
///
/// # Examples
///
/// ```
/// // A burst of up to this many emits per listener is absorbed without loss.
/// assert_eq!(nodebook_emitter::ASYNC_BACKLOG, 1024);
/// ```
pub const ASYNC_BACKLOG: usize = 1024;

struct AsyncListener<T, F> {
    inner: Weak<Inner<T>>,
    event: EventName,
    runtime: tokio::runtime::Handle,
    listener: F,
    queue: Mutex<Queue<T>>,
}

struct Queue<T> {
    pending: VecDeque<T>,
    running: bool,
}

impl<T, F> AsyncListener<T, F> {
    fn queue(&self) -> MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next waiting payload, or `None` after marking the queue idle.
    fn next(&self) -> Option<T> {
        let mut queue = self.queue();
        let next = queue.pending.pop_front();
        if next.is_none() {
            queue.running = false;
        }
        next
    }
}

impl<T, F, Fut> AsyncListener<T, F>
where
    T: Clone + Send + fmt::Debug + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), T>> + Send + 'static,
{
    /// One call: the listener's function, then its future, with a panic in either captured.
    async fn call(&self, payload: T) -> Result<(), AsyncFailure<T>> {
        let panicked = |panic| AsyncFailure::Panic {
            event: self.event.clone(),
            panic,
        };
        let future =
            catch_unwind(AssertUnwindSafe(|| (self.listener)(payload))).map_err(panicked)?;
        match (CatchUnwind(Box::pin(future))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(AsyncFailure::Err {
                event: self.event.clone(),
                error,
            }),
            Err(panic) => Err(panicked(panic)),
        }
    }

    /// Works through the queue, starting with `first`; each failure goes to the emitter.
    ///
    /// The guard is made before the task exists, so that a task dropped even before its first
    /// poll (its runtime shut down) leaves the queue idle rather than stuck as running.
    fn run(self: Arc<Self>, inner: Arc<Inner<T>>, first: T) -> impl Future<Output = ()> + Send {
        let idle = IdleOnDrop {
            listener: Arc::clone(&self),
            armed: true,
        };
        async move {
            // The whole guard moves into the task (a use of one field would capture only it).
            let mut idle = idle;
            let mut payload = first;
            loop {
                if let Err(failure) = self.call(payload).await {
                    // A panicking "error" listener or hook must not end the queue's task: its
                    // panic is reported (not routed again, which could loop) and the queue goes
                    // on.
                    let routed = catch_unwind(AssertUnwindSafe(|| inner.reject(failure)));
                    if let Err(panic) = routed {
                        crate::rejection::report::<T>(&AsyncFailure::Panic {
                            event: EventName::from_static(ERROR),
                            panic,
                        });
                    }
                }
                match self.next() {
                    Some(next) => payload = next,
                    None => break,
                }
            }
            idle.armed = false;
        }
    }
}

/// Marks the queue idle and drops what waits in it if the task is dropped unfinished (its
/// runtime shut down), so that the listener's state stays consistent.
struct IdleOnDrop<T, F> {
    listener: Arc<AsyncListener<T, F>>,
    armed: bool,
}

impl<T, F> Drop for IdleOnDrop<T, F> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let dropped = {
            let mut queue = self.listener.queue();
            queue.running = false;
            std::mem::take(&mut queue.pending)
        };
        drop(dropped);
    }
}

impl<T, F, Fut> AsyncCall<T> for AsyncListener<T, F>
where
    T: Clone + Send + fmt::Debug + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), T>> + Send + 'static,
{
    fn start(self: Arc<Self>, payload: &T) {
        // The emit that calls this holds the emitter, so it is alive.
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        // Cloned before the queue is locked: a payload's `clone` is user code.
        let payload = payload.clone();
        let overloaded = {
            let mut queue = self.queue();
            if !queue.running {
                queue.running = true;
                drop(queue);
                let runtime = self.runtime.clone();
                drop(runtime.spawn(self.run(inner, payload)));
                return;
            }
            if queue.pending.len() < ASYNC_BACKLOG {
                queue.pending.push_back(payload);
                return;
            }
            AsyncFailure::Overloaded {
                event: self.event.clone(),
                payload,
            }
        };
        inner.reject(overloaded);
    }
}

/// A future whose panics come back as `Err` with the panic's payload.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn std::any::Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let future = self.0.as_mut();
        match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

impl<T: Clone + Send + fmt::Debug + 'static> Emitter<T> {
    /// Appends an async listener for `event`: each emit calls `listener` with a clone of the
    /// payload and runs the future it returns on the tokio runtime that was current when the
    /// listener was added (Node's `on(name, async fn)` with `captureRejections: true`).
    ///
    /// # Ordering and concurrency
    ///
    /// - One listener's calls run **one at a time, in emit order**: a call starts when the one
    ///   before it ended. Different async listeners (and different events) run concurrently.
    /// - The emit does not wait: it spawns the call, or queues the payload while a call runs.
    ///   At most [`ASYNC_BACKLOG`] payloads wait per listener; an emit beyond that skips this
    ///   listener and reports [`AsyncFailure::Overloaded`] with the payload (never silently).
    /// - The snapshot rule holds: removing the listener does not cancel calls already emitted
    ///   (running or waiting); emits after the removal do not call it.
    ///
    /// # Failures
    ///
    /// A call fails when its future returns `Err(e)` or when the listener or its future panics.
    /// A failure goes, exactly once:
    ///
    /// 1. to the rejection hook, if one is set ([`set_rejection_hook`](Self::set_rejection_hook),
    ///    Node's `Symbol.for('nodejs.rejection')`), with the event name;
    /// 2. otherwise an `Err(e)` is emitted as `"error"` with payload `e` (error monitors see it
    ///    too), unless the failing listener is itself an `"error"` listener (that would loop, so,
    ///    as in Node, it is not re-emitted);
    /// 3. otherwise (a panic, no `"error"` listener, or an `"error"` listener's own failure) it
    ///    is reported with the event name: through `tracing::error!` with the `tracing` feature,
    ///    or on standard error.
    ///
    /// A panic is not a `T`, so it never becomes an `"error"` payload: install the hook to
    /// handle panics in code. A synchronous `"error"` listener (or hook) that panics while
    /// handling a failure is reported as a panic of `"error"`; the queue goes on.
    ///
    /// # Dropping the emitter
    ///
    /// Calls are not cancelled when the last [`Emitter`] handle is dropped: a running call keeps
    /// the emitter's listeners alive until the calls of its queue end, so their failures still
    /// reach the `"error"` listeners or the hook. A runtime that shuts down drops its tasks, as
    /// it drops any task: the calls not finished then (running or waiting) end without a result,
    /// and the listener, bound to that runtime, is not called again.
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime (the listener needs one to run on), if `event` is
    /// `"newListener"` or `"removeListener"` (see [`on`](Self::on)), or if a `"newListener"`
    /// listener panics.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use nodebook_emitter::Emitter;
    ///
    /// let emitter: Emitter<String> = Emitter::new();
    /// let (tx, mut errors) = tokio::sync::mpsc::unbounded_channel();
    /// emitter.on("error", move |e: &String| tx.send(e.clone()).unwrap());
    /// emitter.on_async("upload", |file: String| async move {
    ///     tokio::task::yield_now().await;
    ///     if file.is_empty() { Err("empty file".to_string()) } else { Ok(()) }
    /// });
    /// emitter.emit("upload", "a.txt".to_string()).unwrap();
    /// emitter.emit("upload", String::new()).unwrap();
    /// assert_eq!(errors.recv().await.unwrap(), "empty file");
    /// # }
    /// ```
    #[track_caller]
    pub fn on_async<F, Fut>(&self, event: impl Into<EventName>, listener: F) -> ListenerId
    where
        F: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), T>> + Send + 'static,
    {
        let event = event.into();
        refuse_meta_name(&event, "on_async");
        let runtime = tokio::runtime::Handle::try_current().unwrap_or_else(|_| {
            panic!("Emitter::on_async({event:?}, ..) must be called within a tokio runtime")
        });
        let call = AsyncListener {
            inner: Arc::downgrade(&self.inner),
            event: event.clone(),
            runtime,
            listener,
            queue: Mutex::new(Queue {
                pending: VecDeque::new(),
                running: false,
            }),
        };
        self.inner.add(
            Target::Name(event),
            Callback::Async(Arc::new(call)),
            false,
            false,
            Location::caller(),
        )
    }

    /// Installs the function that receives every failure of this emitter's async listeners
    /// (Node's `emitter[Symbol.for('nodejs.rejection')]`), in place of the `"error"` event and
    /// the report. It runs on the task of the failed call.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use nodebook_emitter::{AsyncFailure, Emitter};
    ///
    /// let emitter: Emitter<u32> = Emitter::new();
    /// let (tx, mut failures) = tokio::sync::mpsc::unbounded_channel();
    /// emitter.set_rejection_hook(move |failure: AsyncFailure<u32>| {
    ///     tx.send(failure.panic_message().map(str::to_owned)).unwrap();
    /// });
    /// emitter.on_async("job", |n: u32| async move {
    ///     assert!(n < 10, "job {n} is too big");
    ///     Ok(())
    /// });
    /// emitter.emit("job", 12).unwrap();
    /// assert_eq!(failures.recv().await.unwrap().as_deref(), Some("job 12 is too big"));
    /// # }
    /// ```
    pub fn set_rejection_hook<H>(&self, hook: H)
    where
        H: Fn(AsyncFailure<T>) + Send + Sync + 'static,
    {
        self.inner.set_rejection_hook(Some(Arc::new(hook)));
    }

    /// Removes the hook installed by [`set_rejection_hook`](Self::set_rejection_hook).
    ///
    /// # Examples
    ///
    /// ```
    /// let emitter: nodebook_emitter::Emitter<u32> = nodebook_emitter::Emitter::new();
    /// emitter.set_rejection_hook(|failure| eprintln!("{failure}"));
    /// emitter.clear_rejection_hook();
    /// ```
    pub fn clear_rejection_hook(&self) {
        self.inner.set_rejection_hook(None);
    }
}
