//! The handle of a pushed call.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures_util::task::AtomicWaker;
use tokio::task::JoinHandle;

use crate::error::{Error, panic_message};
use crate::launch::{Launched, Pending};
use crate::shared::Shared;
use crate::slots::{Left, Node};

/// A call handed to [`Bagpipe::push`](crate::Bagpipe::push): a future that resolves to the
/// call's output, or to the [`Error`] that kept it from one.
///
/// The call itself runs on its own tokio task whether or not the handle is polled. Dropping the
/// handle cancels the call: if it still waits, it leaves the queue at once and never runs (its
/// future is dropped right there, unless it waits in a task of its own under a queue deadline,
/// where the runtime drops it when it handles the abort); if it runs, its task is aborted, so its
/// future is dropped and its slot freed as soon as the runtime handles the abort (at once if the
/// task is idle, after its current poll if it is being polled). [`detach`](Push::detach) lets it
/// finish instead. A handle polled again after it resolved stays pending.
///
/// Every handle resolves: a queued call that can never get a slot (the bagpipe was closed, or
/// its last [`Bagpipe`](crate::Bagpipe) handle was dropped at limit 0) resolves to
/// [`Error::Closed`], and a call whose runtime shut down to [`Error::Cancelled`].
///
/// # Examples
///
/// ```
/// use nodebook_bagpipe::Bagpipe;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let pipe = Bagpipe::new(2);
/// let call = pipe.push(async { 6 * 7 });
/// assert_eq!(call.await.unwrap(), 42);
/// # }
/// ```
#[must_use = "dropping a push handle cancels its call; use `detach` to let it run"]
pub struct Push<T> {
    state: State<T>,
}

enum State<T> {
    Failed(Option<Error>),
    /// Waiting for a slot, without a task yet.
    Queued(Arc<dyn Pending<T>>),
    /// A task of its own; the queued call, if it still waits for its slot in that task.
    Running(JoinHandle<Result<T, Error>>, Option<QueuedCall>),
    Detached,
}

impl<T> Push<T> {
    pub(crate) fn failed(error: Error) -> Self {
        Self {
            state: State::Failed(Some(error)),
        }
    }

    pub(crate) fn running(
        handle: JoinHandle<Result<T, Error>>,
        queued: Option<QueuedCall>,
    ) -> Self {
        Self {
            state: State::Running(handle, queued),
        }
    }

    pub(crate) fn launched(launched: Launched<T>) -> Self {
        let state = match launched {
            Launched::Running(task) => State::Running(task, None),
            Launched::Parked(call) => State::Queued(call),
        };
        Self { state }
    }

    /// Lets the call run to its end without anyone awaiting it (the book's `push` without a
    /// callback). Its slot is released when it ends, as usual.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::new(1);
    /// let (tx, rx) = tokio::sync::oneshot::channel();
    /// pipe.push(async move { tx.send("done").unwrap() }).detach();
    /// assert_eq!(rx.await.unwrap(), "done");
    /// # }
    /// ```
    pub fn detach(mut self) {
        self.state = State::Detached;
    }

    /// Whether the call has ended (or was refused), so that awaiting the handle will not wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use nodebook_bagpipe::Bagpipe;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let pipe = Bagpipe::new(1);
    /// pipe.close();
    /// let refused = pipe.push(async {});
    /// assert!(refused.is_finished());
    /// # }
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        match &self.state {
            State::Failed(_) | State::Detached => true,
            State::Queued(call) => call.is_finished(),
            State::Running(handle, _) => handle.is_finished(),
        }
    }
}

impl<T> Future for Push<T> {
    type Output = Result<T, Error>;

    /// Polls the call.
    ///
    /// A handle polled again after it resolved stays pending.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let State::Queued(call) = &self.state {
            match ready!(call.poll_start(cx)) {
                Ok(handle) => self.state = State::Running(handle, None),
                Err(error) => {
                    self.state = State::Failed(None);
                    return Poll::Ready(Err(error));
                }
            }
        }
        match &mut self.state {
            State::Failed(error) => match error.take() {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Pending,
            },
            State::Queued(_) | State::Detached => Poll::Pending,
            State::Running(handle, _) => {
                let joined = ready!(Pin::new(handle).poll(cx));
                self.state = State::Failed(None);
                Poll::Ready(match joined {
                    Ok(result) => result,
                    Err(error) if error.is_panic() => Err(Error::Panicked {
                        message: panic_message(&*error.into_panic()),
                    }),
                    Err(_) => Err(Error::Cancelled),
                })
            }
        }
    }
}

impl<T> Drop for Push<T> {
    fn drop(&mut self) {
        match &self.state {
            State::Queued(call) => call.cancel(),
            State::Running(handle, queued) => {
                handle.abort();
                if let Some(queued) = queued {
                    queued.cancel();
                }
            }
            State::Failed(_) | State::Detached => {}
        }
    }
}

impl<T> fmt::Debug for Push<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Failed(Some(_)) => "failed",
            State::Failed(None) => "resolved",
            State::Queued(_) => "queued",
            State::Running(..) => "running",
            State::Detached => "detached",
        };
        f.debug_struct("Push")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

/// Lets a push handle take its call out of the queue at once when the handle is dropped, when
/// the call waits in a task of its own, rather than when the runtime gets round to dropping the
/// aborted task.
#[derive(Debug)]
pub(crate) struct QueuedCall {
    shared: Arc<Shared>,
    node: Arc<Node<AtomicWaker>>,
}

impl QueuedCall {
    pub(crate) fn new(shared: Arc<Shared>, node: Arc<Node<AtomicWaker>>) -> Self {
        Self { shared, node }
    }

    /// Leaves the queue if still waiting; a slot granted meanwhile is left to the task, whose
    /// waiter releases it when the task is dropped.
    fn cancel(&self) {
        if let Left::Waiting(drained) = self.shared.slots.leave(&self.node) {
            self.shared.drained(drained);
        }
    }
}
